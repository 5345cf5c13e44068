"""Micro-batch accumulation gives the full-minibatch gradient (single process and DDP with 2 processes on CPU)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from lit_coderl.cli import main
from tests.test_module import REPO_ROOT, write_config


def _config(tmp_path, model_dir, name: str, micro: int | None, **extra):
    run = tmp_path / name
    run.mkdir()
    callbacks = [
        {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.1}},
        {"class_path": "tests.user_rewards.GradientRecorder", "init_args": {"path": str(run / "grads")}},
    ]
    return run, write_config(
        run,
        model_dir,
        **{
            "trainer.callbacks": callbacks,
            "model.max_iterations": 1,
            "model.ppo.ppo_epochs": 1,
            "model.ppo.minibatch_size": 4,
            "model.ppo.micro_batch_size": micro,
            **extra,
        },
    )


def _assert_same_grads(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6, msg=name)


def test_accumulated_gradient_equals_full_batch(tmp_path, random_model_dir):
    full, full_cfg = _config(tmp_path, random_model_dir, "full", None)
    micro, micro_cfg = _config(tmp_path, random_model_dir, "micro", 1)
    main(["fit", "--config", str(full_cfg)])
    main(["fit", "--config", str(micro_cfg)])
    _assert_same_grads(torch.load(full / "grads.rank0.pt"), torch.load(micro / "grads.rank0.pt"))


DEEPSPEED_ZERO2 = {
    "class_path": "tests.cpu_deepspeed.CPUDeepSpeedStrategy",
    "init_args": {
        "process_group_backend": "gloo",
        # clipping must live in the DeepSpeed config: self.clip_gradients is a no-op under DeepSpeed
        "config": {"zero_optimization": {"stage": 2}, "gradient_clipping": 1.0, "train_micro_batch_size_per_gpu": 1},
    },
}


@pytest.mark.parametrize(
    "strategy",
    [
        "ddp",
        pytest.param(
            DEEPSPEED_ZERO2,
            marks=pytest.mark.skipif(
                __import__("importlib").util.find_spec("deepspeed") is None,
                reason="deepspeed is not installed (pip install -e '.[deepspeed]')",
            ),
            id="deepspeed-zero2",
        ),
    ],
)
def test_two_processes_accumulation(tmp_path, random_model_dir, strategy):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}
    runs = {}
    for name, micro, iterations in (("full", None, 2), ("micro", 1, 1)):
        run, cfg = _config(
            tmp_path,
            random_model_dir,
            name,
            micro,
            **{"trainer.devices": 2, "trainer.strategy": strategy, "model.max_iterations": iterations},
        )
        done = subprocess.run(
            [sys.executable, "-m", "lit_coderl", "fit", "--config", str(cfg)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = run
    for rank in (0, 1):
        _assert_same_grads(
            torch.load(runs["full"] / f"grads.rank{rank}.pt"), torch.load(runs["micro"] / f"grads.rank{rank}.pt")
        )
    # the gradients were averaged across ranks: both hold the same values
    assert "iteration" in (runs["full"] / "logs" / "version_0" / "metrics.csv").read_text()
    _assert_same_grads(torch.load(runs["full"] / "grads.rank0.pt"), torch.load(runs["full"] / "grads.rank1.pt"))
