"""`RewardComponent`: the one interface every reward implements.

A component is a Lightning `Callback`, so it is listed under ``trainer.callbacks`` in YAML and swapped there, and its
``state_dict`` (running statistics, caches) travels in checkpoints. The module never parses code and a component never
reaches into the module: the `Rollout` is the contract between them.

Life of a component in one PPO iteration:

1. ``submit(rollout)`` right after generation: start slow work (sandboxed execution) so that it overlaps the
   reference and value forward passes. Optional.
2. ``score(rollout) -> Tensor[B, T]`` when the module needs the rewards: one value per response token, zero on
   padding and (by convention) on tokens outside the code. Must never raise for bad generations (empty, non-UTF-8,
   hostile): return a penalty instead. NaN/inf are replaced by 0 by the module and counted.
3. ``metrics()`` after scoring: extra per-component numbers to log (e.g. pass rate), as ``{name: float}``.

The module multiplies ``score`` by ``weight`` and adds it to the per-token reward (``dense``), or puts its sequence
total on the last response token (``eos``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch
from lightning.pytorch import Callback

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout


class RewardComponent(Callback, ABC):
    """Base class of reward components.

    Args:
        weight: λ_i, the coefficient of this component in ``R_t = Σ λ_i R_i(t) − β·KL_t``.
        name: Name used in logs (``reward/<name>/mean``); defaults to the class's ``default_name``.
    """

    default_name = "reward"

    def __init__(self, weight: float = 1.0, name: str | None = None) -> None:
        super().__init__()
        self.weight = float(weight)
        self.name = name or self.default_name

    @property
    def state_key(self) -> str:
        # two components of the same class (e.g. two linters with other rules) keep separate checkpoint state
        return f"{type(self).__qualname__}[{self.name}]"

    def submit(self, rollout: Rollout) -> None:
        """Start expensive work early (default: nothing)."""

    @abstractmethod
    def score(self, rollout: Rollout) -> torch.Tensor:
        """Per-token scores ``[B, T]`` aligned with ``rollout.response_ids``."""

    def logits_processor(self, tokenizer):
        """A `transformers.LogitsProcessor` to run during generation (per-token checks or constrained decoding), or
        None (default). A processor that changes the distribution must say so: the rollout's log-probs then come from
        the processed distribution."""
        return None

    def constrain_logits(self, rollout: Rollout, index, logits: torch.Tensor) -> torch.Tensor:
        """The response-token logits ``[b, T, V]`` of samples ``rollout[index]`` as the sampler saw them.

        A component whose logits processor changes the sampling distribution (constrained decoding) applies the same
        change here, so old and new log-probs in PPO come from the distribution the tokens were drawn from. Default:
        unchanged."""
        return logits

    def metrics(self) -> dict[str, float]:
        """Extra numbers from the last ``score`` call, logged as ``reward/<name>/<key>``."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, weight={self.weight})"
