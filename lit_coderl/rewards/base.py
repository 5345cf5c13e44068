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

The module multiplies ``score`` by ``weight`` and adds it to the per-token reward (``dense``), or puts the
component's ``sequence_score`` once on the last response token (``eos``, TRL's baseline).

How the two relate, per component (each documents it): the sequence score is the component's verdict on the whole
response, recorded by `score` with `record_sequence_scores`. Every shipped component spreads its verdicts
length-neutrally by default (``spreading: sum``): the token scores of a program sum to its verdict, so neither a
bonus that pays per token (padding, comments) nor a penalty that charges per token (shrinking to trivial programs)
depends on the program's length. ``spreading: constant`` (the paper's) puts the verdict on every token instead: a
unit-test, RoboSim or data-flow verdict then sums to verdict × code tokens, a syntax ``valid_bonus`` or lint
``clean_bonus`` to bonus × clean tokens, while TRL adds the verdict once. A component that records nothing gets
``Σ_t score_t``.
"""

from __future__ import annotations

import warnings
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

    def sequence_score(self, rollout: Rollout, scores: torch.Tensor) -> torch.Tensor:
        """``[B]`` one score per response, for ``reward_placement: eos`` (TRL's baseline adds it once, on the last
        token). ``scores`` are this component's ``[B, T]`` token scores of the same rollout. Default: the verdicts
        `score` recorded for this rollout (`record_sequence_scores`), else the sum of the token scores."""
        recorded = getattr(self, "_sequence_scores", None)
        if recorded is not None and recorded[0] is rollout:
            return recorded[1]
        return scores.sum(dim=1)

    def record_sequence_scores(self, rollout: Rollout, values) -> None:
        """Called from `score` by a component whose token scores spread a per-response verdict: ``values`` ``[B]``
        are the verdicts, which `sequence_score` returns for this rollout."""
        self._sequence_scores = (rollout, torch.as_tensor(values, dtype=torch.float32))

    def metrics(self) -> dict[str, float]:
        """Extra numbers from the last ``score`` call, logged as ``reward/<name>/<key>``."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, weight={self.weight})"


def score_components(rollout: Rollout, components: list[RewardComponent]):
    """Each component's ``[B, T]`` token scores (zero on padding) and ``[B]`` sequence scores, and how many NaN/inf
    entries were replaced by 0 (each warned about). A component that raises scores 0 this time, with a warning; a
    wrong shape is an error."""
    scores, sequence_scores, nonfinite = {}, {}, 0
    shape = tuple(rollout.response_ids.shape)
    for component in components:
        try:
            s = component.score(rollout)
        except Exception as err:  # a buggy reward must not end a long run
            warnings.warn(
                f"reward component {component.name!r} failed ({err!r}); it scores 0 this iteration", stacklevel=2
            )
            s = torch.zeros(shape)
        s = torch.as_tensor(s, dtype=torch.float32).cpu()
        if tuple(s.shape) != shape:
            raise ValueError(f"reward component {component.name!r} returned shape {tuple(s.shape)}, expected {shape}")
        bad = ~torch.isfinite(s)
        if bad.any():
            nonfinite += int(bad.sum())
            warnings.warn(
                f"reward component {component.name!r} returned {int(bad.sum())} NaN/inf values; replaced by 0",
                stacklevel=2,
            )
            s = torch.where(bad, torch.zeros_like(s), s)
        scores[component.name] = s * rollout.response_mask
        sequence = torch.as_tensor(component.sequence_score(rollout, scores[component.name]), dtype=torch.float32)
        sequence_scores[component.name] = torch.nan_to_num(sequence.cpu(), nan=0.0, posinf=0.0, neginf=0.0)
    return scores, sequence_scores, nonfinite
