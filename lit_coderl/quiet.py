"""Warnings a user cannot act on: fixed at their source where we can, else filtered here with the reason."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

#: (message regex, why it is harmless)
HARMLESS = [
    (
        r".*isinstance\(treespec, LeafSpec\)` is deprecated",
        # Lightning 2.6's own _pytree helper calls the API torch deprecated; nothing in lit_coderl or the user's
        # config touches it, and it keeps working until Lightning updates the call
        "Lightning-internal torch deprecation",
    ),
    (
        r"Total length of `.*` across ranks is zero",
        # the training loader is endless and has no length; with no validation sources the val loader is an empty
        # list on purpose (validation is opt-in), which is what this message reports
        "empty validation loader by design",
    ),
    (
        r"Found \d+ module\(s\) in eval mode at the start of training",
        # the frozen reference policy (and a frozen critic base) are kept in eval mode deliberately; the trained
        # modules are in train mode and dropout is off everywhere, so PPO's first-epoch ratio stays exactly 1
        "frozen reference kept in eval mode on purpose",
    ),
    (
        r"Checkpoint directory .* exists and is not empty",
        # IterationCheckpoint writes every run of a config into the same folder on purpose: `--ckpt_path last`
        # finds it there
        "stable checkpoint folder by design",
    ),
    (
        r"`is_gradient_checkpointing` is deprecated",
        # peft's LoRA wrapper reads the attribute transformers 5 renamed; gradient checkpointing itself is unaffected
        "peft-internal transformers deprecation",
    ),
]


#: info lines dropped by `_NoAdvert` (see its docstring)
QUIET_PREFIXES = ("Seed set to", "GPU available:", "TPU available:", "HPU available:", "`Trainer.fit` stopped:")


class _NoAdvert(logging.Filter):
    """Drops two info lines that come before anything a user needs (so an error line is the first line printed).

    - Lightning 2.6 prints a "Tip: try installing litlogger" advertisement at every fit: not a diagnostic.
    - "Seed set to N": the seed is in the config (``seed_everything``) and in the saved ``config.yaml``.
    - "GPU available: ..., used: ...", "TPU available: ..." on every run: the device is in the run's one-line
      summary (`lit_coderl.progress.model_summary`).
    - "`Trainer.fit` stopped: ...": a run ends at ``model.max_iterations``, and says so itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return "litlogger" not in text and not text.startswith(QUIET_PREFIXES)


def filter_harmless_warnings() -> None:
    """Install the filters (idempotent: `warnings.filterwarnings` de-duplicates equal filters)."""
    for pattern, _why in HARMLESS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.seed"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoAdvert) for f in logger.filters):
            logger.addFilter(_NoAdvert())
    # transformers' "Loading weights" bar: one garbled line per model load in a redirected log, and the tiny model
    # loads in milliseconds
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def tidy_wandb_loggers(trainer) -> None:
    """Honour ``WANDB_MODE=disabled`` and fix two W&B warnings at their source, before the (lazy) W&B run starts.

    - Lightning's `WandbLogger` always passes ``anonymous=None``; wandb >= 0.2x warns "The anonymous setting has no
      effect" for any value passed, so an unset ``anonymous`` is dropped.
    - wandb looks for a git repository in the run's ``save_dir`` and warns "git root runs/<name> does not exist" when
      the folder is not created yet: it is created first.
    """
    from lightning.pytorch.loggers import WandbLogger

    for logger in trainer.loggers:
        if not isinstance(logger, WandbLogger):
            continue
        init = getattr(logger, "_wandb_init", None)
        if os.environ.get("WANDB_MODE") == "disabled" and isinstance(init, dict):
            # `offline: true` would otherwise overwrite WANDB_MODE with "dryrun" and log anyway
            logger._offline = False
            init["mode"] = "disabled"
        if isinstance(init, dict):
            if init.get("anonymous") is None:
                init.pop("anonymous", None)
            if init.get("dir"):
                Path(init["dir"]).mkdir(parents=True, exist_ok=True)
