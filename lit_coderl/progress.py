"""`IterationLog`: one plain line per PPO iteration when stdout is not a terminal (a job log, ``> run.log``).

The progress bar redraws one terminal line; redirected to a file it writes nothing readable per iteration. This
callback prints ``iteration 3/60  reward 0.123  kl 0.0012  simulator/success_rate 0.250  1.6 s/iteration`` instead.
The CLI adds it to every ``fit``.
"""

from __future__ import annotations

import sys
import time

from lightning.pytorch import Callback

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
        self._last = time.perf_counter()

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
