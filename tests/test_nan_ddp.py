"""A NaN loss on one DDP rank: every rank skips the same updates together and the run finishes (no hang)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from tests.test_module import REPO_ROOT, write_config


def test_nan_on_one_rank_skips_on_all_and_finishes(tmp_path, random_model_dir):
    callbacks = [
        {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.1}},
        {"class_path": "tests.nan_loss.NaNLossOnRank", "init_args": {"rank": 1, "iteration": 0}},
    ]
    overrides = {
        "trainer.callbacks": callbacks,
        "trainer.devices": 2,
        "trainer.strategy": "ddp",
        "model.max_iterations": 2,
        "model.ppo.ppo_epochs": 1,
        "model.ppo.minibatch_size": 2,
    }
    config = write_config(tmp_path, random_model_dir, **overrides)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-m", "lit_coderl", "fit", "--config", str(config)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # before the fix, rank 0 waited forever in the gradient all-reduce
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("reward/total")]
    # rank 0 logs: its own loss was finite, yet it skipped both minibatches of iteration 1 with rank 1
    assert [float(r["train/skipped_updates"]) for r in rows] == [2.0, 2.0]
