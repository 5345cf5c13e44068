"""Sizes and counts checked when the config is built, before any model loads: one error line naming the key.

`check_sizes` walks the parsed config (``data.batch_size``, ``model.ppo.minibatch_size``, a callback's
``init_args.worlds``, ...) and raises a `ValueError` for the first value out of range, e.g.
``data.batch_size must be an integer >= 1, got 0``.
"""

from __future__ import annotations

from typing import Any

#: key name -> smallest allowed value (an int key anywhere in the config with this last name)
AT_LEAST: dict[str, int] = {
    # data, PPO and generation sizes
    "batch_size": 1,
    "val_batch_size": 1,
    "minibatch_size": 1,
    "micro_batch_size": 1,
    "ppo_epochs": 1,
    "max_iterations": 1,
    "forward_batch_size": 1,
    "max_new_tokens": 1,
    "max_prompt_tokens": 1,
    # reward components, sources, callbacks
    "worlds": 1,
    "n": 1,
    "max_samples": 1,
    "workers": 1,
    "r": 1,
    "alpha": 1,
    "every_n_iterations": 0,
    "warmup_iterations": 0,
    "limit": 0,
    "val_limit": 0,
    "top_k": 0,
    # trainer
    "num_nodes": 1,
    "log_every_n_steps": 1,
}

#: Lightning's "no limit" value -1, or at least 1 (0 would train nothing and exit 0)
MINUS_ONE_OR_POSITIVE = {"trainer.max_epochs", "trainer.max_steps"}

#: float keys that must be > 0 (a timeout of 0 would fail every program)
POSITIVE_SUFFIXES = ("_timeout_s",)


def _walk(value: Any, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def check_sizes(config: dict[str, Any]) -> None:
    """Raise `ValueError` naming the first size or count out of range in ``config`` (a plain nested dict)."""
    for path, value in _walk(config, ""):
        name = path.rsplit(".", 1)[-1]
        if value is None or isinstance(value, bool):
            continue
        if path in MINUS_ONE_OR_POSITIVE:
            if isinstance(value, int) and not (value == -1 or value >= 1):
                raise ValueError(f"{path} must be -1 (no limit) or >= 1, got {value}")
            continue
        if name in AT_LEAST and isinstance(value, (int, float)):
            low = AT_LEAST[name]
            if not float(value).is_integer() or value < low:
                raise ValueError(f"{path} must be an integer >= {low}, got {value}")
        elif name.endswith(POSITIVE_SUFFIXES) and isinstance(value, (int, float)) and not value > 0:
            raise ValueError(f"{path} must be > 0, got {value}")
