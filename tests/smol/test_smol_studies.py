"""scripts/smol_studies.py without running it: the scaled configs it writes, and the tables it computes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from lit_coderl.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smol_studies.py"


@pytest.fixture(scope="module")
def studies():
    spec = importlib.util.spec_from_file_location("smol_studies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scale", ["gpu", "dry"])
def test_scaled_configs_parse_and_keep_the_shipped_rewards(studies, scale, tmp_path, capsys):
    gae, group = studies.scaled_configs(studies.SCALE[scale], tmp_path)
    for path, batch, k in ((gae, studies.SCALE[scale]["batch"], 1),
                           (group, studies.SCALE[scale]["group_batch"], studies.SCALE[scale]["samples_per_prompt"])):
        with pytest.raises(SystemExit):
            main(["fit", "--config", str(path), "--print_config"])
        config = yaml.safe_load(capsys.readouterr().out)
        assert config["trainer"]["accelerator"] == studies.SCALE[scale]["accelerator"]
        assert config["data"]["batch_size"] == batch and config["model"]["generation"]["samples_per_prompt"] == k
        assert config["model"]["model"]["name_or_path"] == "smollm2-135m-instruct"
        rewards = {c["class_path"].rsplit(".", 1)[-1] for c in config["trainer"]["callbacks"]}
        assert {"UnitTestReward", "SyntaxReward", "LintReward"} <= rewards


def test_summary_pairs_dense_and_eos_by_seed(studies):
    def run(estimator, placement, seed, curve):
        return {"estimator": estimator, "placement": placement, "seed": seed, "curve": curve,
                "seconds_per_iteration": 1.0}  # fmt: skip

    results = [
        run("gae", "dense", 0, [0.0] * 5 + [0.4] * 5),  # final (last 5) 0.4; the 5-mean ending at iteration 9 is 0.32
        run("gae", "eos", 0, [0.1] * 10),  # final 0.1, never reaches 0.3
        run("gae", "dense", 1, [0.2] * 10),
        run("grpo", "dense", 0, [0.5] * 10),
    ]
    summary = studies.summarize(results, None, 0.3, {})
    paired = summary["dense_vs_eos"]["paired_final_difference_dense_minus_eos"]
    assert paired == {0: pytest.approx(0.3)}  # seed 1 has no eos run: not paired
    assert summary["estimators"]["gae-dense"]["iterations_to_target"] == [9, None]
    assert summary["estimators"]["grpo-dense"]["final_train_pass_rate"] == [0.5]
    assert "rloo-dense" not in summary["estimators"]
