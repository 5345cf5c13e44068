"""Integration: the CLI runs PPO iterations on a random tiny model; YAML swaps rewards; resume is exact."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from lit_coderl.cli import main

BASE_CONFIG = {
    "seed_everything": 0,
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [
            {"class_path": "lit_coderl.rewards.syntax.SyntaxReward", "init_args": {"valid_bonus": 0.1}},
            {"class_path": "lit_coderl.rewards.lint.LintReward"},
        ],
    },
    "model": {
        "model": {"name_or_path": None, "lora": {"r": 4, "alpha": 8}},
        "generation": {"max_new_tokens": 16, "temperature": 1.0},
        "ppo": {"ppo_epochs": 2, "minibatch_size": 2},
        "max_iterations": 2,
        "learning_rate": 1.0e-3,
        "log_samples_every": 1,
    },
    "data": {
        "sources": [
            {
                "class_path": "lit_coderl.data.stdlib.StdlibFunctions",
                "init_args": {"split": "heldout", "limit": 16},
            }
        ],
        "batch_size": 4,
    },
}


def write_config(tmp_path: Path, model_dir: Path, **overrides) -> Path:
    config = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    config["model"]["model"]["name_or_path"] = str(model_dir)
    config["trainer"]["default_root_dir"] = str(tmp_path)
    config["trainer"]["logger"] = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(tmp_path), "name": "logs"},
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def read_metrics(tmp_path: Path) -> list[dict[str, str]]:
    files = sorted(tmp_path.glob("logs/version_*/metrics.csv"))
    assert files, "no CSV metrics written"
    with open(files[-1]) as f:
        return [row for row in csv.DictReader(f) if row.get("reward/total")]


def test_fit_runs_ppo_iterations_and_logs(tmp_path, random_model_dir):
    main(["fit", "--config", str(write_config(tmp_path, random_model_dir))])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    for key in (
        "objective/kl",
        "policy/clipfrac_avg",
        "policy/approxkl_avg",
        "loss/policy_avg",
        "loss/value_avg",
        "val/vf_explained_var",
        "reward/syntax/mean",
        "reward/lint/mean",
        "timing/generate",
        "timing/reward",
        "timing/update",
        "perf/gen_tokens_per_s",
        "perf/train_tokens_per_s",
    ):
        assert rows[-1][key] != "", key
    # first PPO epoch starts on-policy: the ratio is 1 before any update
    assert float(rows[0]["val/ratio"]) == pytest.approx(1.0, abs=0.1)
    assert (tmp_path / "logs" / "version_0" / "samples.jsonl").exists()
