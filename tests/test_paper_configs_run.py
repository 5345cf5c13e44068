"""Every shipped config runs 2 PPO iterations as shipped: its own precision, LoRA, rewards and strategy overlay.

Only the model path (the paper configs get the offline Qwen2.5-Coder stand-in: real tokenizer, tiny random bf16
model), the data source (the hub's OpenCodeInstruct becomes unit-test tasks of our own, so no benchmark data is
needed), the lengths and the run length are overridden. DDP runs as 2 CPU processes (the nearest runnable form of
``accelerator: gpu, devices: -1``).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_coderl.cli import main
from tests.reward_checks import assert_rewards_computed

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def _metrics(root: Path) -> list[dict[str, str]]:
    files = sorted(root.glob("runs/*/csv/version_*/metrics.csv"))
    assert files, f"no metrics under {root}"
    with open(files[-1]) as f:
        return [row for row in csv.DictReader(f) if row.get("reward/total")]


@pytest.fixture(scope="module")
def task_file(tmp_path_factory) -> Path:
    """Unit-test tasks of our own (instruction, reference, asserts), so these runs need no benchmark data."""
    from tests.benchmark_fixtures import MBPP_TASKS

    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for task_id, text, code, tests in MBPP_TASKS:
            f.write(json.dumps({"task_id": task_id, "instruction": text, "reference": code, "tests": tests}) + "\n")
    return path


def _tasks(path: Path, limit: int) -> dict:
    return {"class_path": "lit_coderl.data.mbpp.JsonlTasks", "init_args": {"path": str(path), "limit": limit}}


def _paper_args(config: str, standin: Path, task_file: Path, devices: int = 1) -> list[str]:
    args = ["--config", str(CONFIGS / config), "--model.model.name_or_path", str(standin)]
    batch = {"robo.yaml": 4, "mbpp.yaml": 8}[config]
    args += ["--model.generation.max_new_tokens", "16", "--model.max_prompts", str(2 * batch * devices), *QUIET]
    if config == "mbpp.yaml":  # OpenCodeInstruct comes from the hub: tasks of our own with unit tests instead
        args += ["--data.sources", json.dumps([_tasks(task_file, 32)]),
                 "--data.val_sources", json.dumps([_tasks(task_file, 2)])]
    return args


@pytest.mark.parametrize("config", ["robo.yaml", "mbpp.yaml"])
def test_paper_config_runs_as_shipped_on_the_standin(config, qwen_standin_dir, task_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs log to runs/<name>
    main(["fit", *_paper_args(config, qwen_standin_dir, task_file)])
    rows = _metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert_rewards_computed(rows)
    assert all(float(r["train/skipped_updates"]) == 0.0 for r in rows)
    assert list((tmp_path / "runs").rglob("*.ckpt")), "the final checkpoint was not written"


@pytest.mark.parametrize("config", ["demo.yaml", "demo-python.yaml", "mbpp-tiny.yaml", "demo-robot-task.yaml"])
def test_demo_config_runs_as_shipped(config, task_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(CONFIGS / config), "--model.max_iterations", "2", *QUIET]
    args += ["--model.generation.max_new_tokens", "24"]
    if config == "mbpp-tiny.yaml":
        args += ["--data.sources", json.dumps([_tasks(task_file, 64)])]
    main(["fit", *args])
    rows = _metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert_rewards_computed(rows)
    if config.startswith("demo"):  # reward hacking is visible: trivial-program share and response length logged
        assert all(r["response/length_mean"] for r in rows)
    if config == "demo-robot-task.yaml":
        # every sample carries its task's spec: each one is checked (a program, or the no-program penalty)
        assert all(float(r["reward/task_check/checked"]) == 1.0 for r in rows)
        assert all(float(r["reward/task_check/trivial_share"]) == float(r["reward/simulator/trivial_share"])
                   for r in rows)  # the same programs, counted by both components


def test_robo_config_with_the_ddp_overlay_runs_on_two_cpu_processes(qwen_standin_dir, task_file, tmp_path):
    args = _paper_args("robo.yaml", qwen_standin_dir, task_file, devices=2)
    args += ["--config", str(CONFIGS / "strategies" / "ddp.yaml"), "--trainer.accelerator", "cpu"]
    args += ["--trainer.devices", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-m", "lit_coderl", "fit", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert [float(r["iteration"]) for r in _metrics(tmp_path)] == [1.0, 2.0]
    assert_rewards_computed(_metrics(tmp_path))


def test_validate_logs_each_components_metrics(task_file, tmp_path, monkeypatch):
    """``validate`` scores held-out prompts greedily and logs, beside each component's mean sequence score, its own
    metrics (the unit-test pass rate), averaged over the batches by their size."""
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(CONFIGS / "mbpp-tiny.yaml"), *QUIET, "--model.generation.max_new_tokens", "24"]
    args += ["--data.sources", json.dumps([_tasks(task_file, 8)])]
    args += ["--data.val_sources", json.dumps([_tasks(task_file, 5)]), "--data.val_batch_size", "2"]
    main(["validate", *args])
    files = sorted(tmp_path.glob("runs/*/csv/version_*/metrics.csv"))
    assert files, "validate wrote no metrics"
    with open(files[-1]) as f:
        (row,) = [r for r in csv.DictReader(f) if r.get("valid/reward/total")]
    assert_rewards_computed([row], prefix="valid/reward/")
    for key in ("valid/reward/unit_tests/mean", "valid/reward/syntax/mean", "valid/reward/lint/mean"):
        float(row[key])  # logged as a number
