"""One log line per iteration when stdout is not a terminal; no unactionable warnings in a demo fit (#13)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_coderl.progress import IterationLog, format_line
from tests.reward_checks import assert_rewards_computed

REPO = Path(__file__).resolve().parents[1]

#: the warnings a user saw at every fit (issue 13 item 7)
UNACTIONABLE = (
    "LightningCLI's args parameter",
    "Total length of",
    "module(s) in eval mode",
    "anonymous setting has no effect",
    "git root",
    "LeafSpec",
    "litlogger",
)


def test_format_line():
    metrics = {"reward/total": 0.5, "objective/kl": 0.01, "reward/simulator/success_rate": 0.25, "loss/x": 3.0}
    line = format_line(3, 60, metrics, 1.234)
    assert line == "iteration 3/60  reward 0.5000  kl 0.0100  simulator/success_rate 0.250  1.23 s/iteration"
    assert format_line(1, 2, {}, 0.5) == "iteration 1/2  0.50 s/iteration"
    with pytest.raises(ValueError):
        IterationLog(when="sometimes")


@pytest.mark.slow
def test_demo_fit_redirected_logs_each_iteration_without_warnings(tmp_path):
    """The shipped demo, 2 iterations, stdout to a file, from an empty directory, W&B offline."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline", "LIT_CODERL_THREADS": "1"}
    env.pop("PYTHONWARNINGS", None)
    args = ["--model.max_iterations", "2", "--data.batch_size", "8", "--model.ppo.minibatch_size", "8"]
    # one more SampleTable, every iteration (nested keys apply to the appended callback)
    args += ["--trainer.callbacks+=lit_coderl.samples.SampleTable", "--trainer.callbacks.every_n_iterations", "1"]
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        done = subprocess.run(
            [sys.executable, "-m", "lit_coderl", "fit", "--config", "demo.yaml", *args],
            cwd=tmp_path, env=env, stdout=out, stderr=err, timeout=600,
        )  # fmt: skip
    stdout, stderr = (tmp_path / "out.log").read_text(), (tmp_path / "err.log").read_text()
    assert done.returncode == 0, stderr[-3000:]
    lines = [line for line in stdout.splitlines() if line.startswith("iteration ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert all("reward" in line and "kl" in line and "simulator/success_rate" in line for line in lines)
    for text in UNACTIONABLE:
        assert text not in stderr, text
    # outputs under ./runs/demo of the directory the user stands in
    run = tmp_path / "runs" / "demo"
    (metrics,) = run.glob("csv/version_0/metrics.csv")
    with open(metrics) as f:
        assert_rewards_computed([r for r in csv.DictReader(f) if r.get("reward/total")])
    page = next(run.glob("csv/version_0/samples/iter-2.html")).read_text(encoding="utf-8")
    assert "PPO iteration 2" in page and '<meta charset="utf-8">' in page
    # W&B: the heat-maps are HTML media files referenced from the samples table
    (wandb_run,) = run.glob("wandb/offline-run-*")
    assert list(wandb_run.glob("files/media/html/samples_heatmap_*.html"))
    table = json.loads(sorted(wandb_run.glob("files/media/table/samples_*.table.json"))[-1].read_text())
    column = table["columns"].index("heatmap")
    assert all((wandb_run / "files" / row[column]).is_file() for row in table["data"])
