"""The shipped demo config (shortened), killed with SIGKILL after a checkpoint, resumes with ``--ckpt_path last``
from its stable ``runs/demo/checkpoints`` and continues exactly as an uninterrupted run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.reward_checks import assert_rewards_computed
from tests.test_module import REPO_ROOT

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}


def _short_demo(path: Path, iterations: int) -> Path:
    config = yaml.safe_load((REPO_ROOT / "configs" / "demo.yaml").read_text())
    for callback in config["trainer"]["callbacks"]:
        if callback["class_path"].endswith("IterationCheckpoint"):
            callback["init_args"]["every_n_iterations"] = 1
    config["trainer"]["logger"] = [config["trainer"]["logger"][0]]  # CSV only
    config["trainer"]["enable_progress_bar"] = False
    config["model"]["max_iterations"] = iterations
    config["model"]["generation"]["max_new_tokens"] = 24
    config["model"]["ppo"]["minibatch_size"] = 4
    config["data"]["batch_size"] = 8
    out = path / f"demo-{iterations}.yaml"
    out.write_text(yaml.safe_dump(config))
    return out


def _fit(cwd: Path, config: Path, *extra: str, **kwargs):
    command = [sys.executable, "-m", "lit_coderl", "fit", "--config", str(config), *extra]
    return subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


def _rows(cwd: Path) -> dict[int, dict[str, str]]:
    rows = {}
    for path in sorted(cwd.glob("runs/demo/csv/version_*/metrics.csv")):
        with open(path) as f:
            rows |= {int(float(r["iteration"])): r for r in csv.DictReader(f) if r.get("reward/total")}
    return rows


def test_kill_9_then_ckpt_path_last_continues_exactly(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir(), killed.mkdir()
    done = _fit(straight, _short_demo(tmp_path, 4))
    run = _fit(killed, _short_demo(tmp_path, 4))
    checkpoints = killed / "runs" / "demo" / "checkpoints"
    deadline = time.time() + 600
    while not (checkpoints / "iter-2.ckpt").exists() and run.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert (checkpoints / "last.ckpt").exists(), run.stderr.read().decode()[-3000:]
    saved = int(os.readlink(checkpoints / "last.ckpt").split("-")[1].split(".")[0])
    resumed = _fit(killed, _short_demo(tmp_path, 4), "--ckpt_path", "last")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-3000:]
    assert done.wait(timeout=600) == 0, done.stderr.read().decode()[-3000:]
    after = {i: r for i, r in _rows(killed).items() if i > saved}
    assert sorted(after) == list(range(saved + 1, 5))  # continued at the saved iteration, not at 1
    reference = _rows(straight)
    assert_rewards_computed(list(reference.values()))
    assert_rewards_computed(list(after.values()))
    for i, row in after.items():
        assert row["reward/total"] == reference[i]["reward/total"], i
