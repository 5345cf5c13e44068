"""What a run prints: a progress bar counted in PPO iterations on a terminal, one plain line per iteration otherwise.

`IterationProgressBar` shows ``iteration 3/60 ━━━━ 0:00:05 • 0:01:32`` (elapsed, remaining) with reward and KL; it
stays silent when stdout is not a terminal, where the final frame of a bar would only be a garbled line in the log.
`IterationLog` then prints ``iteration 3/60  reward 0.123  kl 0.0012  simulator/success_rate 0.250  1.6 s/iteration``
instead, a one-line model summary at the start and where the outputs are at the end. The CLI adds both to every
``fit`` (the bar unless ``trainer.enable_progress_bar: false`` or the config brings its own).
"""

from __future__ import annotations

import os
import sys
import time

from lightning.pytorch import Callback
from lightning.pytorch.callbacks import RichProgressBar

#: per-component rates worth a column (``reward/<component>/<rate>``)
RATES = ("success_rate", "pass_rate")


def format_line(iteration: int, total: int, metrics: dict[str, float], seconds: float) -> str:
    """The log line of one iteration, from the logged metrics (absent metrics are left out)."""
    parts = [f"iteration {iteration}/{total}"]
    if "reward/total" in metrics:
        parts.append(f"reward {metrics['reward/total']:.4f}")
    if "objective/kl" in metrics:
        parts.append(f"kl {metrics['objective/kl']:.4f}")
    for key in sorted(metrics):
        if key.startswith("reward/") and key.rsplit("/", 1)[-1] in RATES:
            parts.append(f"{key.removeprefix('reward/')} {metrics[key]:.3f}")
    parts.append(f"{seconds:.2f} s/iteration")
    return "  ".join(parts)


class IterationLog(Callback):
    """Prints one line per PPO iteration: reward, KL, success/pass rates and seconds per iteration.

    Args:
        when: ``not_tty`` (default): only when stdout is not a terminal; ``always``; ``never``.
    """

    def __init__(self, when: str = "not_tty") -> None:
        if when not in ("not_tty", "always", "never"):
            raise ValueError(f"IterationLog.when must be not_tty, always or never, got {when!r}")
        self.when = when
        self._last: float | None = None

    def _active(self) -> bool:
        if self.when == "never":
            return False
        return self.when == "always" or not sys.stdout.isatty()

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = self._start = time.perf_counter()
        self._first_iteration = int(getattr(pl_module, "iteration", 0))
        if trainer.is_global_zero and self.when != "never":
            print(model_summary(pl_module, trainer), flush=True)

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or self.when == "never":
            return
        done, total = int(getattr(pl_module, "iteration", 0)), int(getattr(pl_module, "max_iterations", 0))
        seconds = time.perf_counter() - (getattr(self, "_start", None) or time.perf_counter())
        if done == self._first_iteration:
            print(f"nothing to train: the run is at iteration {done} of model.max_iterations {total} (raise it to "
                  "go on)", flush=True)  # fmt: skip
        else:
            print(f"done: iteration {done}/{total} ({done - self._first_iteration} in this run, {seconds:.1f} s)",
                  flush=True)  # fmt: skip
        for what, where in outputs(trainer):
            print(f"  {what}: {where}", flush=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        seconds = now - (self._last if self._last is not None else now)
        self._last = now
        if not trainer.is_global_zero or not self._active():
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
        iteration = int(getattr(pl_module, "iteration", batch_idx + 1))
        total = int(getattr(pl_module, "max_iterations", 0))
        print(format_line(iteration, total, metrics, seconds), flush=True)


def model_summary(pl_module, trainer) -> str:
    """One line instead of Lightning's module table: parameters, the trained share, the device."""
    total = sum(p.numel() for p in pl_module.parameters())
    trained = sum(p.numel() for p in pl_module.parameters() if p.requires_grad)
    name = getattr(getattr(pl_module, "model_options", None), "name_or_path", type(pl_module).__name__)
    device = f"{trainer.strategy.root_device.type} × {trainer.world_size}"
    return f"model {name}: {total / 1e6:.1f} M parameters, {trained / 1e6:.2f} M trained; {device}"


def outputs(trainer) -> list[tuple[str, str]]:
    """Where a run wrote: its checkpoints and each logger's folder."""
    found = []
    callback = getattr(trainer, "checkpoint_callback", None)
    if callback is not None and getattr(callback, "dirpath", None):
        found.append(("checkpoints", _short(callback.dirpath)))
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger":
            run = getattr(logger, "_experiment", None)
            if run is None or logger._wandb_init.get("mode") == "disabled" or not getattr(run, "dir", None):
                continue
            found.append(("wandb", _short(os.path.dirname(run.dir))))  # offline-run-*/files -> offline-run-*
            continue
        folder = getattr(logger, "log_dir", None) or getattr(logger, "save_dir", None)
        if folder:
            found.append((type(logger).__name__.removesuffix("Logger").lower() or "logger", _short(folder)))
    return found


def _short(path: str) -> str:
    """``path`` relative to the current directory when it lies inside it."""
    relative = os.path.relpath(os.path.abspath(path))
    return path if relative.startswith("..") else relative


class IterationProgressBar(RichProgressBar):
    """Lightning's rich bar counted in PPO iterations: total ``max_iterations``, elapsed and remaining time.

    The training loader is endless (its length unknown), so Lightning's own bar shows ``Epoch 0/0 3/--`` with no
    remaining time. Disabled when stdout is not a terminal (`IterationLog` prints plain lines there).
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if not sys.stdout.isatty():
            self.disable()

    @property
    def total_train_batches(self) -> int | float:
        module = self.trainer.lightning_module
        return int(getattr(module, "max_iterations", 0)) or super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        return f"{'iteration':{len(self.validation_description)}}"

    def get_metrics(self, trainer, pl_module):
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the logger's version: not a training signal
        return metrics

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self.is_enabled and self.progress is not None and self.train_progress_bar_id is not None:
            # a resumed run starts at its saved iteration (rich leaves a first jump out of its speed estimate)
            self.progress.update(self.train_progress_bar_id, completed=int(getattr(pl_module, "iteration", 0)))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        iteration = int(getattr(pl_module, "iteration", batch_idx + 1))
        super().on_train_batch_end(trainer, pl_module, outputs, batch, iteration - 1)
