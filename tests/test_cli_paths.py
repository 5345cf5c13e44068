"""Where a run reads and writes: one output root for every logger and checkpoint, ``fit --data-dir`` for benchmark
data, and the ``configs`` listing saying which configs need data."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_coderl.cli import main
from lit_coderl.configs import list_configs
from tests.benchmark_fixtures import write_mbpp

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--model.max_iterations", "1", "--data.batch_size", "4", "--model.ppo.minibatch_size", "4",
    "--model.generation.max_new_tokens", "16", "--trainer.enable_progress_bar", "false",
]  # fmt: skip


@pytest.mark.slow
def test_default_root_dir_moves_every_logger_and_the_checkpoints(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "offline"}
    command = [sys.executable, "-m", "lit_coderl", "fit", "--config", "demo", *TINY]
    done = subprocess.run([*command, "--trainer.default_root_dir", "out/swap"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    root = tmp_path / "out" / "swap"
    assert (root / "csv" / "version_0" / "metrics.csv").is_file()
    assert (root / "checkpoints" / "last.ckpt").resolve().name == "iter-1.ckpt"
    assert len(list((root / "wandb").glob("offline-run-*"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing under ./runs/demo


def test_an_explicit_logger_save_dir_still_wins():
    from jsonargparse import Namespace

    from lit_coderl.cli import loggers_follow_root

    config = Namespace(trainer=Namespace(default_root_dir="runs/swap", logger=[
        Namespace(class_path="CSVLogger", init_args=Namespace(save_dir="runs/demo", name="csv")),  # the config's root
        Namespace(class_path="WandbLogger", init_args=Namespace(save_dir=None)),  # unset
        Namespace(class_path="CSVLogger", init_args=Namespace(save_dir="elsewhere")),  # the user's own choice
    ]))  # fmt: skip
    loggers_follow_root(config, {"runs/demo"})
    assert [entry.init_args.save_dir for entry in config.trainer.logger] == ["runs/swap", "runs/swap", "elsewhere"]


def test_fit_data_dir_reads_benchmark_data_from_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIT_CODERL_DATA_DIR", raising=False)
    monkeypatch.setenv("LIT_CODERL_CACHE", str(tmp_path / "empty-cache"))  # not from the user's cache
    # our own tasks in the train split's id range (the mbpp-tiny config trains on 601-974)
    data = write_mbpp(tmp_path / "data")
    rows = [{"task_id": 600 + i, "text": f"Write a function to add {i}.", "code": f"def f(x):\n    return x + {i}",
             "test_list": [f"assert f(1) == {1 + i}"], "test_setup_code": "", "challenge_test_list": []}
            for i in range(1, 9)]  # fmt: skip
    with open(data / "mbpp" / "mbpp.jsonl", "a") as f:
        f.writelines(__import__("json").dumps(row) + "\n" for row in rows)
    main(["fit", "--config", "mbpp-tiny", "--data-dir", str(data), *TINY])
    assert "LIT_CODERL_DATA_DIR" not in os.environ  # set for the command only
    with open(tmp_path / "runs" / "mbpp-tiny" / "csv" / "version_0" / "metrics.csv") as f:
        (row,) = [r for r in csv.DictReader(f) if r.get("reward/total")]
    assert row["reward/unit_tests/mean"] != ""


def test_fit_data_dir_that_is_not_a_folder_is_one_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "mbpp-tiny", f"--data-dir={tmp_path / 'nope'}"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[0] == f"error: --data-dir {tmp_path / 'nope'}: no such folder"


def test_configs_listing_names_what_each_config_needs():
    lines = {line.split()[0]: line for line in list_configs().splitlines()[1:] if line.startswith("  ")}
    assert lines["mbpp-tiny"].endswith("[needs MBPP data]")
    needs = "[needs the dataset hub, MBPP data, the model hub (Qwen/Qwen2.5-Coder-1.5B-Instruct)]"
    assert lines["mbpp"].endswith(needs)
    for offline in ("demo", "demo-python", "demo-robot-task", "demo-grpo", "strategies/ddp"):
        assert "[needs" not in lines[offline], offline
    assert "fit --data-dir DIR" in list_configs()


def test_fit_help_names_data_dir(capsys):
    """`--data-dir` is taken before the parser sees the arguments, so the parser's help must say it itself."""
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--data-dir DIR: benchmark data folder" in out
