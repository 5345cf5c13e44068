"""`SampleTable`: every N iterations, the batch's generations with a per-token reward heat-map.

Writes ``samples.jsonl`` (prompt, response, per-component scores) and ``samples/iter-N.html`` in the log directory,
and, when a `WandbLogger` is attached, a W&B table whose ``heatmap`` column shows each token coloured by its total
reward (green positive, red negative) with the per-component values on hover.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import torch
from lightning.pytorch import Callback


def token_heatmap_html(text: str, offsets, token_rewards: dict[str, torch.Tensor], total: torch.Tensor) -> str:
    """HTML of one response: each token a ``<span>`` coloured by ``total[t]``, components in its title."""
    scale = max(float(total.abs().max()) if total.numel() else 0.0, 1e-6)
    parts = []
    for t, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        value = float(total[t])
        alpha = min(1.0, abs(value) / scale)
        color = f"rgba(0,160,0,{alpha:.2f})" if value >= 0 else f"rgba(220,0,0,{alpha:.2f})"
        hover = "; ".join(f"{name} {float(s[t]):+.3f}" for name, s in token_rewards.items())
        title = html.escape(f"total {value:+.3f} | {hover}", quote=True)
        parts.append(f'<span style="background:{color}" title="{title}">{html.escape(text[start:end])}</span>')
    return '<pre style="white-space:pre-wrap;font-family:monospace">' + "".join(parts) + "</pre>"


class SampleTable(Callback):
    """Logs sample generations with per-token reward heat-maps.

    Args:
        every_n_iterations: Log after every N PPO iterations (0 = never).
        max_samples: Samples per logged batch.
    """

    def __init__(self, every_n_iterations: int = 10, max_samples: int = 8) -> None:
        self.every_n_iterations, self.max_samples = every_n_iterations, max_samples

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        record = getattr(pl_module, "last_iteration", None)
        iteration = getattr(pl_module, "iteration", 0)
        if record is None or not self.every_n_iterations or iteration % self.every_n_iterations:
            return
        if not trainer.is_global_zero:
            return
        rows = self.rows(record, iteration)
        log_dir = Path(trainer.log_dir or trainer.default_root_dir)
        (log_dir / "samples").mkdir(parents=True, exist_ok=True)
        with open(log_dir / "samples.jsonl", "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({k: v for k, v in row.items() if k != "heatmap"}, ensure_ascii=False) + "\n")
        page = "".join(f"<h3>{html.escape(str(r['task_id']))}</h3>{r['heatmap']}" for r in rows)
        (log_dir / "samples" / f"iter-{iteration}.html").write_text(page, encoding="utf-8")
        self._log_wandb(trainer, rows, iteration)

    def rows(self, record: dict, iteration: int) -> list[dict]:
        rollout = record["rollout"]
        weighted = {name: s * record["weights"][name] for name, s in record["scores"].items()}
        weighted["kl"] = record["kl_reward"]
        rows = []
        for i in range(min(self.max_samples, rollout.batch_size)):
            per_token = {name: s[i] for name, s in weighted.items()}
            rows.append(
                {
                    "iteration": iteration,
                    "task_id": rollout.tasks[i].get("task_id"),
                    "prompt": rollout.prompts[i],
                    "response": rollout.texts[i],
                    "scores": {name: float(s[i].sum()) for name, s in record["scores"].items()},
                    "total_reward": float(record["rewards"][i].sum()),
                    "heatmap": token_heatmap_html(
                        rollout.texts[i], rollout.offsets[i], per_token, record["rewards"][i]
                    ),
                }
            )
        return rows

    @staticmethod
    def _log_wandb(trainer, rows: list[dict], iteration: int) -> None:
        from lightning.pytorch.loggers import WandbLogger

        for logger in trainer.loggers:
            if not isinstance(logger, WandbLogger):
                continue
            import wandb

            names = sorted({name for row in rows for name in row["scores"]})
            columns = ["iteration", "task_id", "prompt", "response", "heatmap", "total_reward", *names]
            table = wandb.Table(columns=columns)
            for row in rows:
                table.add_data(
                    row["iteration"],
                    row["task_id"],
                    row["prompt"],
                    row["response"],
                    wandb.Html(row["heatmap"]),
                    row["total_reward"],
                    *[row["scores"].get(name, 0.0) for name in names],
                )
            logger.experiment.log({"samples": table, "iteration": iteration})
