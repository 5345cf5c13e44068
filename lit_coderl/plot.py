"""``python -m lit_coderl plot RUN_DIR``: a run's main curves as one PNG, from its ``metrics.csv`` (no W&B needed).

RUN_DIR is a run's output root (``runs/demo``: its newest ``csv/version_*``), a version folder, or the CSV file.
The PNG goes next to the CSV (``curves.png``) unless ``--out`` says otherwise. Needs matplotlib
(``pip install "lit_coderl[plot]"``).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

#: panels of the default figure: (title, key patterns); each panel shows every logged key that matches
PANELS = [
    ("reward", [r"reward/total", r"valid/reward/total"]),
    ("reward components (mean per sample)", [r"reward/[^/]+/mean"]),
    ("rates", [r"(valid/)?reward/[^/]+/(success_rate|pass_rate|valid_share)"]),
    ("KL to the reference", [r"objective/kl"]),
    ("policy entropy", [r"policy/entropy_avg"]),
    ("losses", [r"loss/policy_avg", r"loss/value_avg"]),
]


def find_metrics(path: Path) -> Path:
    """The ``metrics.csv`` a run folder, version folder or file names (a run's newest version)."""
    if path.is_file():
        return path
    if (path / "metrics.csv").is_file():
        return path / "metrics.csv"
    found = sorted(path.glob("**/version_*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no metrics.csv under {path} (give a run folder such as runs/demo, or the CSV file)")
    return found[-1]


def read_curves(metrics: Path) -> dict[str, tuple[list[float], list[float]]]:
    """Every numeric column as (iterations, values), over the rows that have both (training and validation rows)."""
    curves: dict[str, tuple[list[float], list[float]]] = {}
    with open(metrics, newline="") as f:
        for row in csv.DictReader(f):
            try:
                x = float(row.get("iteration") or "nan")
            except ValueError:
                continue
            if x != x:  # a row without an iteration (NaN)
                continue
            for key, value in row.items():
                if key in ("iteration", "epoch", "step") or not value:
                    continue
                try:
                    y = float(value)
                except ValueError:
                    continue
                xs, ys = curves.setdefault(key, ([], []))
                xs.append(x)
                ys.append(y)
    return curves


def panels(curves: dict, patterns: list[tuple[str, list[str]]] = PANELS) -> list[tuple[str, list[str]]]:
    """(title, keys) for each panel with at least one logged key, in the order of ``patterns``."""
    chosen = []
    for title, regexes in patterns:
        keys = [k for regex in regexes for k in sorted(curves) if re.fullmatch(regex, k)]
        if keys:
            chosen.append((title, list(dict.fromkeys(keys))))
    return chosen


def plot_run(path: Path, out: Path | None = None, keys: list[str] | None = None) -> Path:
    """Write the PNG of the run at ``path`` and return its path."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plot needs matplotlib: pip install "lit_coderl[plot]"') from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    metrics = find_metrics(path)
    curves = read_curves(metrics)
    chosen = [(key, [key]) for key in keys] if keys else panels(curves)
    missing = [key for _, group in chosen for key in group if key not in curves]
    if missing or not chosen:
        have = ", ".join(sorted(curves))
        raise ValueError(f"{metrics}: no column {', '.join(missing) or 'to plot'} (it has: {have})")
    columns = min(3, len(chosen))
    rows = -(-len(chosen) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.2 * rows), squeeze=False)
    for ax, (title, group) in zip(axes.flat, chosen, strict=False):
        for key in group:
            xs, ys = curves[key]
            ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, markersize=3, label=key)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.axis("off")
    fig.suptitle(str(metrics), fontsize=8)
    fig.tight_layout()
    out = out or metrics.with_name("curves.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lit_coderl plot", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder (runs/demo), version folder or metrics.csv")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: curves.png next to the CSV)")
    parser.add_argument("--metrics", nargs="+", default=None, help="columns to plot, one panel each")
    args = parser.parse_args(argv)
    try:
        out = plot_run(args.run, args.out, args.metrics)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
