"""`SandboxedReward`: the part every code-executing component shares — a lazily started sandbox pool, closed at the
end of a stage, and the futures of the rollout that is being scored."""

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

    def setup(self, trainer, pl_module, stage: str) -> None:
        """Per process of a multi-process run: the node's cores shared among its ranks' pools (unless ``workers``
        is set), and simulator worlds seeded per rank (rank 0 keeps ``seed``; `ranks.rank_seed`)."""
        from lit_coderl.ranks import local_world_size, rank_seed, sandbox_workers

        if self.workers is None:
            self.workers = sandbox_workers(local_world_size(trainer))
        if hasattr(self, "seed"):
            self._run_seed = getattr(self, "_run_seed", self.seed)
            self.seed = rank_seed(self._run_seed, trainer.global_rank)

    def started(self) -> SandboxPool:
        """The pool, for a new batch: says so every time it runs without kernel isolation (explicit opt-out)."""
        pool = self.pool
        if not pool.isolated:
            log.warning("%s: %s", self.name, UNISOLATED_WARNING)
        return pool

    def close(self) -> None:
        """Stop the sandbox pool (a new one starts if the component is used again)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._pending = None

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.close()
