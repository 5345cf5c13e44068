"""Integration: the CLI runs PPO iterations on a random tiny model; YAML swaps rewards; resume is exact."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from lit_coderl.cli import main
from lit_coderl.rewards.base import RewardComponent

REPO_ROOT = Path(__file__).resolve().parents[1]

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
            {"class_path": "lit_coderl.samples.SampleTable", "init_args": {"every_n_iterations": 1}},
        ],
    },
    "model": {
        "model": {"name_or_path": None, "lora": {"r": 4, "alpha": 8}},
        "generation": {"max_new_tokens": 16, "temperature": 1.0},
        "ppo": {"ppo_epochs": 2, "minibatch_size": 2},
        "max_iterations": 2,
        "learning_rate": 1.0e-3,
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
    samples = (tmp_path / "logs" / "version_0" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 8  # 4 per iteration
    page = (tmp_path / "logs" / "version_0" / "samples" / "iter-2.html").read_text()
    assert "<span style=" in page and "syntax" in page


def test_yaml_removes_a_reward_and_adds_a_user_component(tmp_path, random_model_dir):
    callbacks = [
        {"class_path": "lit_coderl.rewards.syntax.SyntaxReward"},  # lint removed
        {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.5}},
    ]
    config = write_config(tmp_path, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": 1})
    main(["fit", "--config", str(config)])
    row = read_metrics(tmp_path)[-1]
    assert "reward/lint/mean" not in row or row["reward/lint/mean"] == ""
    assert float(row["reward/length/mean"]) > 0.0
    assert float(row["reward/syntax/mean"]) <= 0.0  # logged, and no bonus for valid code: a penalty or 0


def test_nan_rewards_are_counted_not_fatal(tmp_path, random_model_dir):
    callbacks = [{"class_path": "tests.user_rewards.NaNReward"}]
    config = write_config(tmp_path, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": 1})
    with pytest.warns(UserWarning, match="NaN/inf"):
        main(["fit", "--config", str(config)])
    row = read_metrics(tmp_path)[-1]
    assert float(row["train/nonfinite_rewards"]) > 0
    assert float(row["reward/nan/mean"]) == 0.0
    assert float(row["train/skipped_updates"]) == 0.0


def test_fit_stops_on_sandbox_infrastructure_errors_in_two_consecutive_iterations(tmp_path, random_model_dir, capsys):
    callbacks = [{"class_path": "tests.user_rewards.FailingSandboxReward"}]
    config = write_config(tmp_path, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": 4})
    with pytest.raises(SystemExit) as stopped:
        main(["fit", "--config", str(config)])
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: sandbox infrastructure errors in 2 consecutive iterations (broken_sandbox: 4 sample(s) "
                      "this iteration): sandbox server died before the program started"]
    rows = read_metrics(tmp_path)
    assert [float(r["sandbox/infra_errors"]) for r in rows] == [4.0]  # the first is logged; the second stops fit


def _final_state(ckpt_path: Path) -> dict:
    ckpt = torch.load(ckpt_path, weights_only=False)
    trainable = {k: v for k, v in ckpt["state_dict"].items() if "lora_" in k or "value_head" in k}
    rewards = {k: v for k, v in ckpt["callbacks"].items() if k.startswith("LengthReward")}
    return {"weights": trainable, "iteration": ckpt["lit_coderl"]["iteration"], "callbacks": rewards}


def test_resume_continues_with_identical_state(tmp_path, random_model_dir):
    def config_for(run: str, iterations: int) -> Path:
        run_dir = tmp_path / run
        run_dir.mkdir(exist_ok=True)
        callbacks = [
            {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.1}},
            {
                "class_path": "lit_coderl.callbacks.IterationCheckpoint",
                "init_args": {"every_n_iterations": 2, "dirpath": str(run_dir / "ckpt")},
            },
        ]
        return write_config(
            run_dir, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": iterations}
        )

    main(["fit", "--config", str(config_for("straight", 3))])
    main(["fit", "--config", str(config_for("resumed", 2))])
    first_leg = _final_state(tmp_path / "resumed" / "ckpt" / "last.ckpt")
    assert first_leg["iteration"] == 2
    main(["fit", "--config", str(config_for("resumed", 3)), "--ckpt_path", "last"])

    straight = _final_state(tmp_path / "straight" / "ckpt" / "last.ckpt")
    resumed = _final_state(tmp_path / "resumed" / "ckpt" / "last.ckpt")
    assert straight["iteration"] == resumed["iteration"] == 3
    assert straight["weights"].keys() == resumed["weights"].keys()
    for key, value in straight["weights"].items():
        assert torch.equal(value, resumed["weights"][key]), key
    # the reward callback's own state went through the checkpoint too (3 calls, 2 before the stop)
    assert straight["callbacks"] == resumed["callbacks"]
    assert list(resumed["callbacks"].values()) == [{"calls": 3}]
    straight_rows = read_metrics(tmp_path / "straight")
    resumed_rows = read_metrics(tmp_path / "resumed")
    assert straight_rows[-1]["reward/total"] == resumed_rows[-1]["reward/total"]


@pytest.mark.parametrize("critic", ["adapter", "model"])
def test_critic_modes_train(tmp_path, random_model_dir, critic):
    config = write_config(tmp_path, random_model_dir, **{"model.model.critic": critic})
    main(["fit", "--config", str(config)])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert all(r["loss/value_avg"] != "" for r in rows)


def test_old_logprobs_from_the_sampler_save_a_forward_and_match_recomputation(tmp_path, random_model_dir, monkeypatch):
    """``old_logprobs: sampler`` (the default) takes old log-probs and values from the sampling pass: one forward pass
    over the batch fewer than ``recompute``, and the same iteration up to rounding (same seed, same samples)."""
    import lit_coderl.module as module_mod

    calls = {"policy": 0}
    real = module_mod.response_logits_and_values

    def counting(*args, reference=False, **kwargs):
        calls["policy"] += not reference
        return real(*args, reference=reference, **kwargs)

    monkeypatch.setattr(module_mod, "response_logits_and_values", counting)
    rows, forwards = {}, {}
    for mode in ("sampler", "recompute"):
        calls["policy"] = 0
        out = tmp_path / mode
        out.mkdir()
        config = write_config(out, random_model_dir, **{"model.old_logprobs": mode, "model.max_iterations": 2})
        main(["fit", "--config", str(config)])
        rows[mode], forwards[mode] = read_metrics(out)[0], calls["policy"]
    # batch 4 in one forward chunk; the PPO update runs ppo_epochs × minibatches = 2 × 2 forwards per iteration.
    # recompute: one more per iteration; sampler: one check of its log-probs at the first iteration only
    assert forwards["recompute"] == 2 * (1 + 4)
    assert forwards["sampler"] == 1 + 2 * 4
    for key in ("objective/kl", "reward/total", "objective/entropy", "policy/entropy_avg"):
        assert float(rows["sampler"][key]) == pytest.approx(float(rows["recompute"][key]), abs=1e-4), key
    # sampler mode logs the gap its check measured (not the 0 of comparing the sampler's log-probs with themselves)
    measured = rows["sampler"]["policy/sampler_logprob_gap"]
    assert measured != "" and float(measured) < 1e-5
    assert float(rows["recompute"]["policy/sampler_logprob_gap"]) < 1e-5


@pytest.mark.parametrize("advantage", ["rloo", "grpo"])
def test_group_estimators_train_without_a_critic_and_resume(tmp_path, random_model_dir, advantage):
    """``ppo.advantage: rloo | grpo``: 2 prompts × 2 answers per iteration, no critic built, no value loss; a
    checkpoint holds no value head and resumes."""
    ppo_cfg = {"ppo_epochs": 2, "minibatch_size": 2, "advantage": advantage}
    if advantage == "grpo":
        ppo_cfg |= {"kl_in": "loss", "kl_estimator": "k2", "loss_aggregation": "seq_mean_token_mean"}
        ppo_cfg["skip_zero_spread"] = True
    callbacks = [
        *BASE_CONFIG["trainer"]["callbacks"],
        {"class_path": "lit_coderl.callbacks.IterationCheckpoint", "init_args": {"every_n_iterations": 1}},
    ]
    overrides = {
        "model.ppo": ppo_cfg,
        "model.generation": {"max_new_tokens": 16, "temperature": 1.0, "samples_per_prompt": 2},
        "data.batch_size": 2,
        "trainer.callbacks": callbacks,
    }
    main(["fit", "--config", str(write_config(tmp_path, random_model_dir, **overrides))])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    for row in rows:
        assert row.get("loss/value_avg", "") == "" and row.get("val/vf_explained_var", "") == ""
        # 2 groups of 2 answers: a share of whole groups; the policy loss is a number
        assert float(row["advantage/zero_spread"]) in (0.0, 0.5, 1.0) and float(row["loss/policy_avg"]) == float(
            row["loss/policy_avg"])
        assert (row.get("loss/kl_avg", "") != "") == (advantage == "grpo")
    samples = (tmp_path / "logs" / "version_0" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 8  # 2 prompts × 2 answers, 2 iterations
    ckpt = torch.load(next(tmp_path.rglob("last.ckpt")), weights_only=False)
    assert not any("value_head" in key for key in ckpt["state_dict"])
    assert [g["name"] for g in ckpt["optimizer_states"][0]["param_groups"]] == ["policy"]
    overrides["model.max_iterations"] = 3
    main(["fit", "--config", str(write_config(tmp_path, random_model_dir, **overrides)), "--ckpt_path", "last"])
    assert float(read_metrics(tmp_path)[-1]["iteration"]) == 3.0
    from lit_coderl.export import export_checkpoint

    exported = export_checkpoint(next(tmp_path.rglob("last.ckpt")), tmp_path / "export")
    assert (exported / "adapter_config.json").exists() and not (exported / "value_head.pt").exists()


def test_group_estimators_refuse_one_answer_per_prompt(tmp_path, random_model_dir, capsys):
    config = write_config(tmp_path, random_model_dir, **{"model.ppo": {"advantage": "grpo"}})
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config)])
    assert exit_info.value.code == 2 and "samples_per_prompt ≥ 2" in capsys.readouterr().err


class _SuppressEOS:
    """Never samples token 0..2 (EOS among them), and does not mirror it in constrain_logits."""

    def __call__(self, input_ids, scores):
        scores[:, :3] = -float("inf")
        return scores


class UnmirroredProcessor(RewardComponent):
    default_name = "unmirrored"

    def logits_processor(self, tokenizer):
        return _SuppressEOS()

    def score(self, rollout):
        return rollout.zeros()


def test_sampler_log_probs_that_training_cannot_reproduce_fall_back_to_recompute(tmp_path, random_model_dir):
    """A logits processor whose change ``constrain_logits`` does not mirror makes the sampler's log-probs differ from
    training's: the first iteration's check warns and the run recomputes (the first PPO ratio stays 1)."""
    config = write_config(tmp_path, random_model_dir, **{"model.max_iterations": 2})
    data = yaml.safe_load(config.read_text())
    data["trainer"]["callbacks"].append({"class_path": "tests.test_module.UnmirroredProcessor"})
    config.write_text(yaml.safe_dump(data))
    with pytest.warns(UserWarning, match="differ from training's"):
        main(["fit", "--config", str(config)])
    rows = read_metrics(tmp_path)
    assert all(float(r["policy/sampler_logprob_gap"]) > 1e-3 for r in rows)  # logged only when recomputing
    assert all(float(r["val/ratio"]) == pytest.approx(1.0, abs=0.05) for r in rows)
