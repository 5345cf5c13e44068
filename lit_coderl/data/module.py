"""`CodeRLDataModule`: task rows from one or more sources, served as one batch per PPO iteration."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache

import lightning as L
from torch.utils.data import DataLoader, IterableDataset

from lit_coderl import ranks
from lit_coderl.data.base import TaskRow, TaskSource


class IterationBatches(IterableDataset):
    """Yields the batch of iteration ``i`` for ``i = start, start+1, …`` forever.

    The batch of an iteration depends only on (seed, iteration, rank), so a resumed run sees exactly the prompts the
    uninterrupted run would have seen. Rows are drawn epoch by epoch from a seeded permutation.
    """

    def __init__(
        self, rows: list[TaskRow], batch_size: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if not rows:
            raise ValueError("the training sources produced no task rows")
        self.rows, self.batch_size, self.seed = rows, batch_size, seed
        self.start, self.rank, self.world_size = start, rank, world_size

    def batch(self, iteration: int) -> list[TaskRow]:
        global_batch = self.batch_size * self.world_size
        first = iteration * global_batch + self.rank * self.batch_size
        return [self._row(k) for k in range(first, first + self.batch_size)]

    def _row(self, k: int) -> TaskRow:
        epoch, index = divmod(k, len(self.rows))
        return self.rows[self._order(epoch)[index]]

    @lru_cache(maxsize=4)  # noqa: B019 - one dataset per fit; the cache dies with it
    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.rows)))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order

    def __iter__(self) -> Iterator[list[TaskRow]]:
        iteration = self.start
        while True:
            yield self.batch(iteration)
            iteration += 1


class ShardBatches(IterableDataset):
    """One rank's held-out rows in batches of ``batch_size``, in order (iterable: Lightning adds no sampler)."""

    def __init__(self, rows: list[TaskRow], batch_size: int) -> None:
        self.rows, self.batch_size = rows, batch_size

    def __len__(self) -> int:
        return max(1, -(-len(self.rows) // self.batch_size))

    def __iter__(self) -> Iterator[list[TaskRow]]:
        if not self.rows:  # fewer rows than ranks: one empty batch, so this rank still joins the epoch-end reduction
            yield []
        for start in range(0, len(self.rows), self.batch_size):
            yield self.rows[start : start + self.batch_size]


def _keep_rows(batch):
    return batch


class CodeRLDataModule(L.LightningDataModule):
    """Training prompts for PPO, and held-out prompts for ``validate``/``test``.

    Args:
        sources: Training task sources (``class_path`` entries in YAML), concatenated.
        val_sources: Held-out sources scored by ``validate`` and ``test`` (greedy generation, reward components).
        batch_size: Prompts per PPO iteration per process (the rollout batch).
        val_batch_size: Prompts per validation batch.
        limit: Use at most this many training rows (after concatenation; 0 = all).
        val_limit: Use at most this many validation rows (0 = all).
        seed: Seed of the order in which rows are drawn.
    """

    def __init__(
        self,
        sources: list[TaskSource],
        val_sources: list[TaskSource] | None = None,
        batch_size: int = 8,
        val_batch_size: int = 8,
        limit: int = 0,
        val_limit: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.sources, self.val_sources = sources, val_sources or []
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.limit, self.val_limit, self.seed = limit, val_limit, seed
        self._train_rows: list[TaskRow] | None = None
        self._val_rows: list[TaskRow] | None = None

    @staticmethod
    def _load(sources: list[TaskSource], limit: int) -> list[TaskRow]:
        rows = [row for source in sources for row in source.load()]
        return rows[:limit] if limit else rows

    def train_rows(self) -> list[TaskRow]:
        if self._train_rows is None:
            self._train_rows = self._load(self.sources, self.limit)
        return self._train_rows

    def val_rows(self) -> list[TaskRow]:
        if self._val_rows is None:
            self._val_rows = self._load(self.val_sources, self.val_limit)
        return self._val_rows

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        # resume: continue from the iteration the module was restored at
        start = getattr(trainer.lightning_module, "iteration", 0) if trainer is not None else 0
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        dataset = IterationBatches(self.train_rows(), self.batch_size, self.seed, start, rank, world)
        return DataLoader(dataset, batch_size=None, collate_fn=_keep_rows, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        rows = self.val_rows()
        if not rows:
            return []
        # this rank's share, each row on exactly one rank (Lightning's DistributedSampler would pad with duplicates)
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        shard = ShardBatches(ranks.shard(rows, rank, world), self.val_batch_size)
        return DataLoader(shard, batch_size=None, collate_fn=_keep_rows, num_workers=0)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def state_dict(self) -> dict:
        return {"seed": self.seed}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"resuming with data seed {self.seed}, but the checkpoint was trained with {state_dict['seed']}"
            )
