"""Resume continues the same run: the same CSV version (each iteration once), ``last`` naming the newest
checkpoint, a longer ``max_iterations`` extending a finished run, W&B resuming its run id, and a missing checkpoint
refused before any model loads."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from lit_coderl.cli import main
from lit_coderl.resume import continue_loggers, logger_identities
from tests.test_module import write_config

CHECKPOINT_EVERY_ITERATION = {
    "class_path": "lit_coderl.callbacks.IterationCheckpoint",
    "init_args": {"every_n_iterations": 1, "save_top_k": -1},
}


def _config(tmp_path: Path, model_dir: Path, iterations: int) -> Path:
    callbacks = [{"class_path": "lit_coderl.rewards.syntax.SyntaxReward"}, CHECKPOINT_EVERY_ITERATION]
    return write_config(tmp_path, model_dir, **{"model.max_iterations": iterations, "trainer.callbacks": callbacks})


def _rows(tmp_path: Path) -> list[dict[str, str]]:
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["version_0"]  # one run, one folder
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as f:
        return [row for row in csv.DictReader(f) if row.get("reward/total")]


def _last(tmp_path: Path) -> str:
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert not [n for n in names if "-v" in n], names  # no last-v1.ckpt, no iter-N-v1.ckpt
    return os.readlink(tmp_path / "checkpoints" / "last.ckpt")


def test_resume_from_an_earlier_checkpoint_continues_the_same_csv_and_last(tmp_path, random_model_dir):
    main(["fit", "--config", str(_config(tmp_path, random_model_dir, 2))])
    first = _rows(tmp_path)
    assert _last(tmp_path) == "iter-2.ckpt"
    # as if killed after iteration 2 was logged but only iteration 1 was saved
    main(["fit", "--config", str(_config(tmp_path, random_model_dir, 3)),
          "--ckpt_path", str(tmp_path / "checkpoints" / "iter-1.ckpt")])  # fmt: skip
    rows = _rows(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0, 3.0]  # iteration 2 logged once, by the resumed run
    assert rows[0] == first[0]
    assert rows[1]["reward/total"] == first[1]["reward/total"]  # the resumed iteration 2 is the same iteration 2
    assert _last(tmp_path) == "iter-3.ckpt"


def test_a_longer_max_iterations_extends_a_finished_run(tmp_path, random_model_dir, capsys):
    main(["fit", "--config", str(_config(tmp_path, random_model_dir, 1))])
    main(["fit", "--config", str(_config(tmp_path, random_model_dir, 1)), "--ckpt_path", "last"])
    assert "nothing to train: the run is at iteration 1 of model.max_iterations 1" in capsys.readouterr().out
    main(["fit", "--config", str(_config(tmp_path, random_model_dir, 2)), "--ckpt_path", "last"])
    assert [float(r["iteration"]) for r in _rows(tmp_path)] == [1.0, 2.0]
    assert _last(tmp_path) == "iter-2.ckpt"


def test_a_missing_checkpoint_fails_before_the_model_loads(tmp_path, capsys):
    # the model path does not exist either: the checkpoint must be the error, found before any model is built
    config = write_config(tmp_path, tmp_path / "no-model")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--ckpt_path", str(tmp_path / "nope.ckpt")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: --ckpt_path {tmp_path / 'nope.ckpt'}: no such checkpoint (`--ckpt_path last` resumes " \
        f"from the newest in {tmp_path / 'checkpoints'})"  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no run folder left behind


def test_wandb_resumes_the_checkpoints_run_id(tmp_path):
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    wandb = WandbLogger(project="p", name="demo", save_dir=str(tmp_path), offline=True)
    csv_logger = CSVLogger(str(tmp_path), name="csv")
    (tmp_path / "csv" / "version_3").mkdir(parents=True)
    trainer = SimpleNamespace(loggers=[wandb, csv_logger])
    state = {"loggers": [{"class": "WandbLogger", "name": "p", "version": "run123"},
                         {"class": "CSVLogger", "name": "csv", "version": 3}]}  # fmt: skip
    continue_loggers(trainer, state)
    assert wandb._wandb_init["id"] == "run123" and wandb._wandb_init["resume"] == "allow"
    assert csv_logger.version == 3
    assert logger_identities(trainer) == [
        {"class": "WandbLogger", "name": "p", "version": "run123"},
        {"class": "CSVLogger", "name": "csv", "version": 3},
    ]
