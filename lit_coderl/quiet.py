"""Warnings a user cannot act on: fixed at their source where we can, else filtered here with the reason."""

from __future__ import annotations

import logging
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
        r"`is_gradient_checkpointing` is deprecated",
        # peft's LoRA wrapper reads the attribute transformers 5 renamed; gradient checkpointing itself is unaffected
        "peft-internal transformers deprecation",
    ),
]


class _NoAdvert(logging.Filter):
    """Drops two info lines that come before anything a user needs (so an error line is the first line printed).

    - Lightning 2.6 prints a "Tip: try installing litlogger" advertisement at every fit: not a diagnostic.
    - "Seed set to N": the seed is in the config (``seed_everything``) and in the saved ``config.yaml``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return "litlogger" not in text and not text.startswith("Seed set to")


def filter_harmless_warnings() -> None:
    """Install the filters (idempotent: `warnings.filterwarnings` de-duplicates equal filters)."""
    for pattern, _why in HARMLESS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.seed"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoAdvert) for f in logger.filters):
            logger.addFilter(_NoAdvert())


def tidy_wandb_loggers(trainer) -> None:
    """Fix two W&B warnings at their source, before the (lazy) W&B run starts.

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
        if isinstance(init, dict):
            if init.get("anonymous") is None:
                init.pop("anonymous", None)
            if init.get("dir"):
                Path(init["dir"]).mkdir(parents=True, exist_ok=True)
