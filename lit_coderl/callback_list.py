"""Editing ``trainer.callbacks`` without re-listing it: remove one entry by name; checkpointing always present.

Adding is jsonargparse's list append: ``--trainer.callbacks+=my_reward.MyReward`` on the command line, or a
``callbacks+:`` key in an overlay config. Removing is ``remove_callbacks: [LintReward]`` (a config key, or
``--remove_callbacks '[LintReward]'``): each name is a class name, a full ``class_path`` or a reward's name
(``lint``). `IterationCheckpoint` is added when the list has none, so an edited list never silently falls back to
Lightning's own checkpoint, which ``--ckpt_path last`` does not find.
"""

from __future__ import annotations

import importlib
from typing import Any

CHECKPOINT_CLASS = "lit_coderl.callbacks.IterationCheckpoint"


def _get(entry: Any, key: str, default: Any = None) -> Any:
    if isinstance(entry, dict):
        return entry.get(key, default)
    return getattr(entry, key, default)


def callback_class(entry: Any) -> type | None:
    """The class a config entry (``{class_path, init_args}``) names, or None when it does not import."""
    class_path = _get(entry, "class_path")
    if not isinstance(class_path, str) or "." not in class_path:
        return None
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def entry_names(entry: Any) -> set[str]:
    """The names an entry answers to: its class_path, its class name and, for a reward, its reward name."""
    class_path = str(_get(entry, "class_path", ""))
    names = {class_path, class_path.rpartition(".")[2]}
    init_args = _get(entry, "init_args") or {}
    reward_name = _get(init_args, "name") or getattr(callback_class(entry), "default_name", None)
    if reward_name:
        names.add(str(reward_name))
    return names


def remove_callbacks(callbacks: list, names: list[str]) -> list:
    """``callbacks`` without the entries that answer to one of ``names``; a name matching none is an error."""
    if not names:
        return list(callbacks)
    present = [_get(entry, "class_path", "?").rpartition(".")[2] for entry in callbacks]
    for name in names:
        if name in (CHECKPOINT_CLASS, CHECKPOINT_CLASS.rpartition(".")[2]):
            raise ValueError(
                "remove_callbacks: IterationCheckpoint is always present (resume needs it); set its "
                "every_n_iterations, or switch checkpoints off with --trainer.enable_checkpointing false"
            )
        if not any(name in entry_names(entry) for entry in callbacks):
            raise ValueError(
                f"remove_callbacks: no callback named {name!r} in trainer.callbacks "
                f"(present: {', '.join(present) or 'none'})"
            )
    return [entry for entry in callbacks if not entry_names(entry) & set(names)]


def has_checkpoint(callbacks: list) -> bool:
    """Whether an entry is an `IterationCheckpoint` (or a subclass of it)."""
    from lit_coderl.callbacks import IterationCheckpoint

    for entry in callbacks:
        cls = callback_class(entry)
        if _get(entry, "class_path") == CHECKPOINT_CLASS or (
            isinstance(cls, type) and issubclass(cls, IterationCheckpoint)
        ):
            return True
    return False
