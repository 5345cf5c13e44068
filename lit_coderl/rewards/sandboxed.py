"""`SandboxedReward`: the part every code-executing component shares — a lazily started sandbox pool, closed at the
end of a stage, the futures of the rollout that is being scored, and infrastructure errors kept apart.

**Infrastructure errors are not scores.** A job that failed before its program started (the sandbox server died,
could not import its package or fork; `lit_coderl.sandbox.INFRA_ERROR`, already retried once on a fresh server by
the pool) says nothing about the program. Its sample gets no score from the component (0 on every token: neither
the pass value nor the failure penalty), is left out of the component's rates, and is counted in
``reward/<name>/infra_errors`` (share of the batch, logged every iteration). `check_infra_errors` stops training
when they recur: by default any in 2 consecutive iterations of one process (a resumed run counts afresh).
"""

from __future__ import annotations

import logging

from lit_coderl.rewards.base import RewardComponent
from lit_coderl.sandbox import Limits, SandboxPool
from lit_coderl.sandbox.pool import UNISOLATED_WARNING

log = logging.getLogger(__name__)


class SandboxedReward(RewardComponent):
    """Base of components that run generated code. Subclasses set ``self.limits`` and ``self.workers`` (and may set
    ``self.reuse_workers``) in ``__init__``; ``submit`` stores ``(id(rollout), futures)`` in ``self._pending``."""

    limits: Limits
    workers: int | None = None
    reuse_workers: bool = True
    _pool: SandboxPool | None = None
    _pending = None

    @property
    def pool(self) -> SandboxPool:
        """The sandbox pool, started on first use."""
        if self._pool is None:
            self._pool = SandboxPool(workers=self.workers, limits=self.limits, reuse_workers=self.reuse_workers)
        return self._pool

    def started(self) -> SandboxPool:
        """The pool, for a new batch: says so every time it runs without kernel isolation (explicit opt-out)."""
        pool = self.pool
        if not pool.isolated:
            log.warning("%s: %s", self.name, UNISOLATED_WARNING)
        return pool

    def note_infra_errors(self, errors: list[str]) -> None:
        """Record this scoring's infrastructure errors (one text per affected sample) for `check_infra_errors`."""
        self.infra_errors = list(errors)
        for error in errors[:1]:
            log.warning("%s: %d sample(s) got no score, the sandbox failed before their program ran: %s",
                        self.name, len(errors), error)

    infra_errors: list[str] = []
    """The last scoring's infrastructure errors, one per affected sample."""

    def close(self) -> None:
        """Stop the sandbox pool (a new one starts if the component is used again)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._pending = None

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.close()


class SandboxInfrastructureFailure(OSError):
    """Training stops: the sandbox kept failing before programs ran (an `OSError`, so the command line prints it as
    one error line)."""


def infra_error_count(components: list[RewardComponent]) -> int:
    """Samples without a score because of sandbox infrastructure errors in the last scoring, over all sandboxed
    components (logged as ``sandbox/infra_errors`` every iteration)."""
    return sum(len(c.infra_errors) for c in components if isinstance(c, SandboxedReward))


def check_infra_errors(components: list[RewardComponent], streak: int, limit: int) -> int:
    """The number of consecutive iterations, this one included, in which a sandboxed component had infrastructure
    errors; `SandboxInfrastructureFailure` (one line naming the component and the failure) when it reaches
    ``limit`` (0: never stop)."""
    failing = [(c, c.infra_errors) for c in components if isinstance(c, SandboxedReward) and c.infra_errors]
    if not failing:
        return 0
    streak += 1
    if limit and streak >= limit:
        component, errors = failing[0]
        first = " ".join(str(errors[0]).split())[:300]
        raise SandboxInfrastructureFailure(
            f"sandbox infrastructure errors in {streak} consecutive iterations ({component.name}: {len(errors)} "
            f"sample(s) this iteration): {first}"
        )
    return streak
