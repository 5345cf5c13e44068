"""A callback that makes one rank's PPO loss NaN during the first iteration (the 2-process NaN test)."""

from __future__ import annotations

from lightning.pytorch import Callback


class NaNLossOnRank(Callback):
    def __init__(self, rank: int = 1, iteration: int = 0) -> None:
        self.rank, self.iteration = rank, iteration

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank != self.rank or getattr(pl_module, "_nan_patched", False):
            return
        original = pl_module._ppo_loss
        target = self.iteration

        def nan_loss(*args, **kwargs):
            loss, stats = original(*args, **kwargs)
            return (loss * float("nan") if pl_module.iteration == target else loss), stats

        pl_module._ppo_loss = nan_loss
        pl_module._nan_patched = True
