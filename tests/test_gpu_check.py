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
    assert report["sandbox"] in ("isolated", "unisolated") and report["isolation"]
    assert report["dry_run"]["seconds_per_iteration"]["generate"] > 0


def _gpu_check():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_preflight_measures_unisolated_and_says_so_where_isolation_is_unavailable(monkeypatch, capsys):
    from lit_coderl.sandbox import isolation

    def blocked():
        raise isolation.IsolationUnavailable("bubblewrap cannot isolate sandbox jobs on this machine: no userns")

    monkeypatch.setattr(isolation, "check_isolation", blocked)
    monkeypatch.delenv("LIT_CODERL_SANDBOX", raising=False)
    report = _gpu_check().isolation_preflight()
    assert report["sandbox"] == "unisolated" and "no userns" in report["isolation"]
    assert os.environ["LIT_CODERL_SANDBOX"] == "unisolated"
    assert "cannot isolate" in capsys.readouterr().out


def test_robot_prompts_reach_their_real_length_with_the_qwen_tokenizer(tmp_path, qwen_standin_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(qwen_standin_dir)
    lengths = _gpu_check().long_robot_prompts(tmp_path / "tasks.jsonl", tokenizer, n=8, longest=1280)
    assert lengths["max"] <= 1280 and lengths["max"] > 1100  # the paper-style prompt alone is ~400 tokens
    assert lengths["min"] < 700 and lengths["prompts"] == 8
    rows = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(row["messages"][-1]["role"] == "user" for row in rows)
