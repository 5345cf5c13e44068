"""Validation during ``fit``: every N iterations, greedy answers to held-out prompts scored by the rewards, logged
under ``valid/`` (not the value head's ``val/``) with the iteration they were taken at."""

from __future__ import annotations

import csv
import json

from lit_coderl.cli import main
from tests.test_module import write_config

HELD_OUT = {"class_path": "lit_coderl.data.stdlib.StdlibFunctions", "init_args": {"split": "heldout", "limit": 4}}


def test_validation_during_fit_rows_carry_the_iteration(tmp_path, random_model_dir):
    config = write_config(tmp_path, random_model_dir, **{"model.max_iterations": 2})
    main(["fit", "--config", str(config), "--trainer.val_check_interval", "1",
          "--trainer.check_val_every_n_epoch", "null", "--data.val_sources", json.dumps([HELD_OUT]),
          "--data.val_batch_size", "4"])  # fmt: skip
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    valid = [r for r in rows if r.get("valid/reward/total")]
    assert [float(r["iteration"]) for r in valid] == [1.0, 2.0]  # after iterations 1 and 2
    assert all(r["valid/reward/syntax/mean"] != "" and r["valid/reward/lint/mean"] != "" for r in valid)
    assert not [key for key in rows[0] if key.startswith("val/reward")]  # the value head's namespace stays its own
    train = [r for r in rows if r.get("reward/total")]
    assert [float(r["iteration"]) for r in train] == [1.0, 2.0] and train[0]["val/ratio"] != ""
