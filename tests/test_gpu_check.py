"""``scripts/gpu_check.py`` runs in CI: without a GPU it says so, dry-runs one iteration on the CPU and exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_module import REPO_ROOT


def test_gpu_check_dry_runs_on_cpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: run scripts/gpu_check.py by hand (it takes minutes)")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gpu_check.py"), "--out", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no CUDA GPU" in done.stdout
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["gpu"] is False and report["dry_run"]["iterations"] == 1
    assert report["dry_run"]["seconds_per_iteration"]["generate"] > 0
