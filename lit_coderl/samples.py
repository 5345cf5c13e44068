"""`SampleTable`: every N iterations, the batch's generations with a per-token reward heat-map.

Writes ``samples.jsonl`` (prompt, response, per-component scores) and ``samples/iter-N.html`` in the log directory:
a complete page (title, charset, legend, the iteration) with, per sample, the prompt, the response with each token
coloured by its total reward (green positive, red negative; each component's value on hover) and a table of the
per-component sequence scores and the total. With a `WandbLogger` attached, each sample's heat-map is saved as an
HTML media file of the run (``files/media/html/samples_heatmap_*.html``, the run's media panel), and the ``samples``
table references it by path in its ``heatmap`` column (wandb writes a `wandb.Html` placed inside a run table as the
bare string ``"Html"``, so the media is logged first and the table holds its path).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import torch
from lightning.pytorch import Callback

GREEN, RED = "0,160,0", "220,0,0"

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; max-width: 72em; }
pre { white-space: pre-wrap; font-family: ui-monospace, monospace; background: #fafafa; padding: .5em; }
table.scores { border-collapse: collapse; margin: .3em 0 1.5em; }
table.scores td, table.scores th { border: 1px solid #ccc; padding: .15em .6em; text-align: right; }
.legend span { display: inline-block; padding: 0 .6em; margin-right: .3em; font-family: monospace; }
section.sample { border-top: 2px solid #ddd; margin-top: 1em; }
"""


def _colour(value: float, scale: float) -> str:
    alpha = min(1.0, abs(value) / max(scale, 1e-6))
    return f"rgba({GREEN if value >= 0 else RED},{alpha:.2f})"


def token_heatmap_html(text: str, offsets, token_rewards: dict[str, torch.Tensor], total: torch.Tensor) -> str:
    """HTML of one response: each token a ``<span>`` coloured by ``total[t]``, components in its title."""
    scale = max(float(total.abs().max()) if total.numel() else 0.0, 1e-6)
    parts = []
    for t, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        value = float(total[t])
        hover = "; ".join(f"{name} {float(s[t]):+.3f}" for name, s in token_rewards.items())
        title = html.escape(f"total {value:+.3f} | {hover}", quote=True)
        parts.append(
            f'<span style="background:{_colour(value, scale)}" title="{title}" data-reward="{value:.4f}">'
            f"{html.escape(text[start:end])}</span>"
        )
    return '<pre class="heatmap">' + "".join(parts) + "</pre>"


def legend_html() -> str:
    """The colour legend (the scale is per sample: full colour = that sample's largest |reward| on one token)."""
    return (
        '<p class="legend">Token colour = total per-token reward R_t (all components and the KL penalty): '
        f'<span style="background:rgba({RED},1.00)">negative</span>'
        f'<span style="background:rgba({RED},0.30)">slightly negative</span>'
        '<span style="background:#fff;border:1px solid #ccc">0</span>'
        f'<span style="background:rgba({GREEN},0.30)">slightly positive</span>'
        f'<span style="background:rgba({GREEN},1.00)">positive</span>'
        " (full colour = the sample's largest |R_t|; hover a token for each component's value).</p>"
    )


def scores_table_html(row: dict) -> str:
    """Per-component sequence scores (unweighted) and the weighted total of one sample."""
    cells = "".join(f"<tr><th>{html.escape(n)}</th><td>{v:+.4f}</td></tr>" for n, v in row["scores"].items())
    total = f"<tr><th>total reward (weighted, with KL)</th><td><b>{row['total_reward']:+.4f}</b></td></tr>"
    return f'<table class="scores"><tr><th>component</th><th>score</th></tr>{cells}{total}</table>'


def sample_section_html(index: int, row: dict) -> str:
    return (
        f'<section class="sample" id="sample-{index}"><h2>Sample {index}: {html.escape(str(row["task_id"]))}</h2>'
        f'<h3>Prompt</h3><pre class="prompt">{html.escape(str(row["prompt"]))}</pre>'
        f"<h3>Response (per-token reward)</h3>{row['heatmap']}"
        f"<h3>Scores</h3>{scores_table_html(row)}</section>"
    )


def page_html(rows: list[dict], iteration: int, title: str = "lit_coderl samples") -> str:
    """A complete HTML document: title, charset, legend, the iteration, then each sample."""
    heading = f"{title}: PPO iteration {iteration}"
    body = "".join(sample_section_html(i, row) for i, row in enumerate(rows))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title><style>{PAGE_STYLE}</style></head><body>"
        f'<h1>{html.escape(heading)}</h1><p class="iteration">iteration <b>{iteration}</b>, {len(rows)} samples</p>'
        f"{legend_html()}{body}</body></html>\n"
    )


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
        (log_dir / "samples" / f"iter-{iteration}.html").write_text(page_html(rows, iteration), encoding="utf-8")
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

            run = logger.experiment
            pages = [
                wandb.Html(page_html([row], iteration, title=f"lit_coderl sample {i}"), data_is_not_path=True)
                for i, row in enumerate(rows)
            ]
            # first the heat-maps as HTML media of this step (<run dir>/files/media/html/samples_heatmap_*.html, shown
            # in the run's media panel), then the table that references each file by its path
            run.log({"samples_heatmap": pages}, commit=False)
            names = sorted({name for row in rows for name in row["scores"]})
            columns = ["iteration", "task_id", "prompt", "response", "heatmap", "total_reward", *names]
            table = wandb.Table(columns=columns)
            for row, media in zip(rows, pages, strict=True):
                table.add_data(
                    row["iteration"],
                    row["task_id"],
                    row["prompt"],
                    row["response"],
                    _media_path(media, run.dir),
                    row["total_reward"],
                    *[row["scores"].get(name, 0.0) for name in names],
                )
            run.log({"samples": table, "iteration": iteration})


def _media_path(media, run_dir: str) -> str:
    """The run-relative path of a logged media file (``media/html/...``)."""
    path = Path(getattr(media, "_path", "") or "")
    try:
        return path.resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return str(path)
