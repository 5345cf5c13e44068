"""Resume continues the same run: the checkpoint is found (or refused) before any model loads, and the loggers go on
where it left off.

A checkpoint records its loggers (``checkpoint["loggers"]``: class, name, version or W&B run id; written by
`lit_coderl.callbacks.IterationCheckpoint`). ``fit --ckpt_path X`` then:

- refuses a path that does not exist before anything is built (no model load, no empty run folder);
- logs CSV into the same ``version_N`` folder, its ``metrics.csv`` cut back to the checkpoint's iteration (rows a
  killed run wrote after its last checkpoint are logged again by the resumed run, not twice);
- resumes the W&B run of the same id, so the curves continue in one run.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path
from typing import Any

#: ``--ckpt_path`` values Lightning resolves itself
SPECIAL = ("last", "best", "hpc", "registry")


def logger_identities(trainer) -> list[dict[str, Any]]:
    """What identifies each of the trainer's loggers' runs: ``{class, name, version}`` (W&B: the run id)."""
    found = []
    for logger in trainer.loggers:
        try:
            version = logger.version
        except Exception:  # noqa: BLE001 - a logger whose version cannot be read is simply not continued
            version = None
        if isinstance(version, (int, str)):
            found.append({"class": type(logger).__name__, "name": str(logger.name or ""), "version": version})
    return found


def checkpoint_dir(config) -> Path:
    """Where the config's `IterationCheckpoint` writes (its ``dirpath``, else ``<default_root_dir>/checkpoints``)."""
    for entry in config.trainer.get("callbacks") or []:
        if str(entry.get("class_path", "")).endswith("IterationCheckpoint"):
            dirpath = (entry.get("init_args") or {}).get("dirpath")
            if dirpath:
                return Path(dirpath)
    return Path(config.trainer.get("default_root_dir") or os.getcwd()) / "checkpoints"


def resolve_checkpoint(config) -> Path | None:
    """The checkpoint ``fit --ckpt_path`` will load, or None (no ``ckpt_path``; ``last`` with no checkpoint yet:
    a fresh start, as Lightning does). A path that does not exist is a `FileNotFoundError`."""
    ckpt_path = config.get("ckpt_path")
    if not ckpt_path:
        return None
    if ckpt_path == "last":
        last = checkpoint_dir(config) / "last.ckpt"
        return last if last.exists() else None
    if ckpt_path in SPECIAL:
        return None
    path = Path(ckpt_path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"--ckpt_path {ckpt_path}: no such checkpoint (`--ckpt_path last` resumes from the newest in "
            f"{checkpoint_dir(config)})"
        )
    return path


def read_run_state(path: Path) -> dict[str, Any]:
    """The checkpoint's loggers, iteration and global step (memory-mapped: the weights are not read)."""
    import torch

    if path.is_dir():  # a DeepSpeed checkpoint folder: Lightning reads it; its loggers are not recorded here
        return {}
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        message = f"--ckpt_path {path}: not a checkpoint written by fit ({type(err).__name__}: {reason})"
        raise ValueError(message) from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f"--ckpt_path {path}: not a checkpoint written by fit")
    return {
        "loggers": checkpoint.get("loggers") or [],
        "iteration": (checkpoint.get("lit_coderl") or {}).get("iteration"),
        "global_step": checkpoint.get("global_step"),
    }


def _saved(state: dict, logger) -> dict | None:
    for entry in state.get("loggers", []):
        if entry.get("class") == type(logger).__name__ and entry.get("name") == str(logger.name or ""):
            return entry
    return None


def continue_loggers(trainer, state: dict[str, Any]) -> None:
    """Point the trainer's CSV and W&B loggers at the runs the checkpoint was logging to."""
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    for logger in trainer.loggers:
        saved = _saved(state, logger)
        if saved is None:
            continue
        if isinstance(logger, CSVLogger) and logger._version is None:
            logger._version = saved["version"]
            if getattr(trainer, "is_global_zero", True):  # the file is rank 0's (other ranks log nothing)
                continue_csv(logger, state.get("iteration"), state.get("global_step"))
        elif isinstance(logger, WandbLogger) and logger._experiment is None and not logger._wandb_init.get("id"):
            logger._wandb_init["id"] = logger._id = str(saved["version"])
            logger._wandb_init["resume"] = "allow"


def _keep(row: dict[str, str], iteration: int | None, global_step: int | None) -> bool:
    if iteration is not None and row.get("iteration"):
        return float(row["iteration"]) <= iteration
    if global_step is not None and row.get("step"):
        return float(row["step"]) <= global_step
    return True


def continue_csv(logger, iteration: int | None, global_step: int | None) -> None:
    """Open the CSV logger's writer on its existing ``metrics.csv`` (Lightning's writer deletes the file of a folder
    it finds not empty), keeping the rows up to the checkpoint."""
    metrics = Path(logger.log_dir) / "metrics.csv"
    if not metrics.is_file():
        return
    with open(metrics, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = [row for row in reader if _keep(row, iteration, global_step)]
    with warnings.catch_warnings():
        # "Experiment logs directory ... exists and is not empty. Previous log files ... will be deleted": the
        # rows are written back below
        warnings.simplefilter("ignore")
        writer = logger.experiment
    text = io.StringIO()
    out = csv.DictWriter(text, fieldnames=header)
    out.writeheader()
    out.writerows(rows)
    metrics.write_text(text.getvalue())
    writer.metrics_keys = header  # new keys later rewrite the header with the old rows, as Lightning does
