"""Callbacks that are not rewards: checkpoints counted in PPO iterations."""

from __future__ import annotations

import os
import shutil

from lightning.pytorch.callbacks import ModelCheckpoint


class IterationCheckpoint(ModelCheckpoint):
    """Saves every ``every_n_iterations`` PPO iterations (``iter-N.ckpt``, and ``last.ckpt``, a link to the newest).

    Lightning's ``every_n_train_steps`` counts optimizer steps, of which one PPO iteration makes
    ``ppo_epochs × minibatches``; this callback counts iterations instead. ``fit --ckpt_path last`` resumes from it.

    Args:
        every_n_iterations: Save after every N PPO iterations (and always after the last one).
        dirpath: Directory of the checkpoints (default: ``<trainer.default_root_dir>/checkpoints``, e.g.
            ``runs/demo/checkpoints``: the same for every run of a config, so ``--ckpt_path last`` finds them).
        save_top_k: Iteration checkpoints to keep (-1: all; 1: only the newest).
    """

    def __init__(self, every_n_iterations: int = 50, dirpath: str | None = None, save_top_k: int = 1) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="iter-{iteration:.0f}",
            auto_insert_metric_name=False,
            save_last="link",  # a symlink to the newest iter-N.ckpt, not a second copy
            save_top_k=save_top_k,
            monitor="iteration" if save_top_k not in (0, -1) else None,
            mode="max",
            # iter-N names one iteration; a resumed run rewrites it rather than adding iter-N-v1 and last-v1
            enable_version_counter=False,
        )
        self.every_n_iterations = every_n_iterations
        self._last_iteration_saved = -1

    def _stable_dirpath(self, trainer) -> None:
        # Lightning's default is the logger's version_N/checkpoints, which a new run never looks into
        if self.dirpath is None:
            self.dirpath = os.path.realpath(os.path.join(trainer.default_root_dir, "checkpoints"))

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._stable_dirpath(trainer)
        super().setup(trainer, pl_module, stage)

    def _find_last_checkpoints(self, trainer) -> set[str]:
        self._stable_dirpath(trainer)  # `--ckpt_path last` is resolved before setup
        return super()._find_last_checkpoints(trainer)

    def on_train_start(self, trainer, pl_module) -> None:
        # the state a run starts from (a resumed checkpoint, or nothing trained yet) is not saved again
        self._last_iteration_saved = getattr(pl_module, "iteration", trainer.global_step)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # the loggers' runs, so `--ckpt_path` continues them (lit_coderl.resume)
        from lit_coderl.resume import logger_identities

        checkpoint["loggers"] = logger_identities(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        iteration = getattr(pl_module, "iteration", trainer.global_step)
        if self.every_n_iterations >= 1 and iteration % self.every_n_iterations == 0:
            self._save_at(trainer, iteration)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # the epoch ends when max_iterations is reached: keep the final state too
        self._save_at(trainer, getattr(pl_module, "iteration", trainer.global_step))

    def on_validation_end(self, trainer, pl_module) -> None:
        # saving is driven by iterations only
        return None

    def _save_at(self, trainer, iteration: int) -> None:
        if iteration == self._last_iteration_saved or trainer.sanity_checking or trainer.fast_dev_run:
            return
        self._last_iteration_saved = iteration
        candidates = self._monitor_candidates(trainer)
        # a process killed at any moment must leave `last` naming a whole checkpoint: the older iter-N it replaces
        # is removed only after the link names the new one (Lightning removes it first)
        self._deferred_removals: list[str] = []
        try:
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
        finally:
            removals, self._deferred_removals = self._deferred_removals, None
            for filepath in removals:
                super()._remove_checkpoint(trainer, filepath)

    def _remove_checkpoint(self, trainer, filepath: str) -> None:
        pending = getattr(self, "_deferred_removals", None)
        if pending is not None:
            pending.append(filepath)
        else:
            super()._remove_checkpoint(trainer, filepath)

    @staticmethod
    def _link_checkpoint(trainer, filepath: str, linkpath: str) -> None:
        """``last.ckpt`` → ``filepath``, replaced atomically (a new link renamed over the old one), so the link is
        never missing, whatever moment the process is killed at."""
        if trainer.is_global_zero and os.path.abspath(filepath) != os.path.abspath(linkpath):
            if os.path.isdir(linkpath) and not os.path.islink(linkpath):
                shutil.rmtree(linkpath)
            temporary = f"{linkpath}.{os.getpid()}.tmp"
            if os.path.lexists(temporary):
                os.remove(temporary)
            os.symlink(os.path.relpath(filepath, os.path.dirname(linkpath)), temporary)
            os.replace(temporary, linkpath)
        trainer.strategy.barrier()
