"""Dense vs EOS reward placement, same budget, several seeds: the study the paper left for future work.

Runs a config (default: the offline robot demo) once per (placement, seed) through the real CLI, reads each run's
``metrics.csv`` and reports, per placement: iterations to reach a target success rate (first iteration whose rolling
mean reaches it), the final success rate (mean of the last 5 iterations), and a PNG of success vs iteration with the
seed band (min–max) of each arm.

    python benchmarks/dense_vs_eos.py                   # robot demo (shipped config demo.yaml), 3 seeds × 2 arms
    python benchmarks/dense_vs_eos.py --arm python      # MBPP train prompts, unit-test reward (shipped mbpp-tiny.yaml)
    python benchmarks/dense_vs_eos.py --localised on    # with the simulator's error-line penalty
    python benchmarks/dense_vs_eos.py --localised on --eos-from runs/dense_vs_eos/robot-off --jobs 2

``--localised on|off`` switches the localised error-line signal of the arm's verdict component on or off (a
penalty on each token of the program line the traceback names: ``SimulatorReward`` / ``UnitTestReward``
``error_line_penalty``, ``--error-line-penalty`` per token, default −0.02). The script writes the config it runs, the
shipped one with that one value set, to the output directory (default ``runs/dense_vs_eos/<arm>-<localised>``).
Under ``eos`` the line penalty does not count (TRL's baseline puts only each component's verdict on the last token),
so the condition changes the dense arm only.

The python arm starts from ``.bench/mbpp-coder``, the tiny model warm-started on MBPP train by
``benchmarks/mbpp_warmstart.py`` (run first when missing, ~15 min): the embedded tiny model passes no MBPP test, so
a unit-test reward would be constant. ``--config/--metric/--model`` override an arm's defaults.

Needs matplotlib for the plot (``pip install matplotlib``); without it the table is still written.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"  # the shipped configs


ARMS = {
    "robot": {
        "config": CONFIGS / "demo.yaml",
        "metric": "reward/simulator/success_rate",
        "model": None,
        "verdict": "lit_coderl.rewards.simulator.SimulatorReward",  # the component with the localised signal
    },
    "python": {
        "config": CONFIGS / "mbpp-tiny.yaml",
        "metric": "reward/unit_tests/pass_rate",
        "model": REPO / ".bench" / "mbpp-coder",
        "verdict": "lit_coderl.rewards.tests.UnitTestReward",
    },
}


def localised_config(config: Path, component: str, error_line_penalty: float, out: Path) -> Path:
    """``config`` with ``error_line_penalty`` of the ``component`` callback set, written to ``out``."""
    import yaml

    data = yaml.safe_load(config.read_text())
    found = [c for c in data.get("trainer", {}).get("callbacks", []) if c.get("class_path") == component]
    if len(found) != 1:
        raise SystemExit(f"{config} lists {len(found)} {component} callbacks; expected 1")
    found[0].setdefault("init_args", {})["error_line_penalty"] = error_line_penalty
    header = f"# {config.name} with {component.rsplit('.', 1)[-1]}.error_line_penalty = {error_line_penalty}\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return out


def run_arm(
    config: Path,
    placement: str,
    seed: int,
    iterations: int,
    out: Path,
    model: Path | None,
    metric: str,
    data_dir: Path | None = None,
    reuse_from: Path | None = None,
) -> Path:
    """One training run; returns its metrics.csv. A run already in ``out`` (or in ``reuse_from``, a study whose runs
    of this placement are the same runs) with ``iterations`` logged is reused: an interrupted study resumes where it
    stopped."""
    for folder in (out, reuse_from):
        if folder is None:
            continue
        finished = sorted((folder / f"{placement}-seed{seed}").glob("csv/version_*/metrics.csv"))
        if finished and len(read_curve(finished[-1], metric)) >= iterations:
            print(f"  {placement}-seed{seed}: reused from {folder}", flush=True)
            return finished[-1]
    run_dir = out / f"{placement}-seed{seed}"
    cmd = [
        sys.executable,
        "-m",
        "lit_coderl",
        "fit",
        "--config",
        str(config),
        "--seed_everything",
        str(seed),
        "--model.reward_placement",
        placement,
        "--model.max_iterations",
        str(iterations),
        "--trainer.default_root_dir",
        str(run_dir),
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(run_dir),
        "--trainer.logger.name",
        "csv",
        "--trainer.enable_progress_bar",
        "false",
    ]
    if model is not None:
        cmd += ["--model.model.name_or_path", str(model)]
    env = {**os.environ, "WANDB_MODE": "disabled", "LIT_CODERL_THREADS": os.environ.get("LIT_CODERL_THREADS", "1")}
    if data_dir is not None and data_dir.is_dir() and "LIT_CODERL_DATA_DIR" not in env:
        env["LIT_CODERL_DATA_DIR"] = str(data_dir)  # the package never looks for ../shared itself
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run {run_dir.name} failed:\n{done.stderr[-3000:]}")
    print(f"  {run_dir.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return sorted(run_dir.glob("csv/version_*/metrics.csv"))[-1]


def read_curve(metrics: Path, metric: str) -> list[float]:
    with open(metrics) as f:
        rows = [r for r in csv.DictReader(f) if r.get(metric)]
    return [float(r[metric]) for r in sorted(rows, key=lambda r: float(r["iteration"]))]


def iterations_to_target(curve: list[float], target: float, window: int = 5) -> int | None:
    for i in range(len(curve)):
        recent = curve[max(0, i - window + 1) : i + 1]
        if len(recent) == window and statistics.mean(recent) >= target:
            return i + 1
    return None


def plot(curves: dict[str, list[list[float]]], metric: str, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for placement, runs in curves.items():
        length = min(len(c) for c in runs)
        xs = list(range(1, length + 1))
        cols = [[c[i] for c in runs] for i in range(length)]
        ax.plot(xs, [statistics.mean(c) for c in cols], label=f"{placement} (mean of {len(runs)} seeds)")
        ax.fill_between(xs, [min(c) for c in cols], [max(c) for c in cols], alpha=0.2)
    ax.set_xlabel("PPO iteration")
    ax.set_ylabel(metric)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", choices=sorted(ARMS), default="robot", help="which study (sets the defaults)")
    parser.add_argument("--config", type=Path, default=None, help="training config (default: the arm's)")
    parser.add_argument("--metric", default=None, help="logged metric to compare (default: the arm's)")
    parser.add_argument("--model", type=Path, default=None, help="policy to start from (default: the arm's)")
    parser.add_argument("--target", type=float, default=0.5, help="success rate to reach")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="benchmark data (MBPP) for the runs, unless LIT_CODERL_DATA_DIR is set",
    )
    parser.add_argument("--localised", choices=["off", "on"], default="off", help="the error-line penalty")
    parser.add_argument("--error-line-penalty", type=float, default=-0.02, help="per token, with --localised on")
    parser.add_argument("--out", type=Path, default=None, help="default: runs/dense_vs_eos/<arm>-<localised>")
    parser.add_argument("--from-summary", type=Path, default=None, help="re-report a finished study's summary.json")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each at LIT_CODERL_THREADS threads)")
    parser.add_argument(
        "--eos-from",
        type=Path,
        default=None,
        help="reuse the eos runs of the other --localised condition's output (the line penalty never reaches eos, so "
        "they are the same runs); runs missing there are run here",
    )
    args = parser.parse_args(argv)
    arm = ARMS[args.arm]
    args.config = args.config or arm["config"]
    args.metric = args.metric or arm["metric"]
    args.model = args.model or arm["model"]
    args.out = args.out or REPO / "runs" / "dense_vs_eos" / f"{args.arm}-{args.localised}"
    args.out.mkdir(parents=True, exist_ok=True)
    penalty = args.error_line_penalty if args.localised == "on" else 0.0
    args.config = localised_config(args.config, arm["verdict"], penalty, args.out / f"config-{args.localised}.yaml")
    if args.arm == "python" and args.model == arm["model"] and not (args.model / "config.json").exists():
        print(f"warm-starting {args.model} (benchmarks/mbpp_warmstart.py)", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(REPO / "benchmarks" / "mbpp_warmstart.py"),
                "--out",
                str(args.model),
                "--data-dir",
                str(args.data_dir),
            ],
            check=True,
        )

    if args.from_summary:  # re-tabulate and re-plot finished runs
        curves = {k: v["curves"] for k, v in json.loads(args.from_summary.read_text()).items() if k in ("dense", "eos")}
    else:
        # interleave the arms so machine load hits both alike; a failed run stops the study (no partial table)
        jobs = [(placement, seed) for seed in args.seeds for placement in ("dense", "eos")]

        def one(job: tuple[str, int]) -> list[float]:
            placement, seed = job
            reuse = args.eos_from if placement == "eos" else None
            metrics = run_arm(
                args.config, placement, seed, args.iterations, args.out, args.model, args.metric, args.data_dir, reuse
            )
            return read_curve(metrics, args.metric)

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            finished = list(pool.map(one, jobs))
        curves = {"dense": [], "eos": []}
        for (placement, _seed), curve in zip(jobs, finished, strict=True):
            curves[placement].append(curve)
    report(curves, args)


def paired_differences(dense: list[list[float]], eos: list[list[float]]) -> list[float]:
    """Per seed: mean over the second half of the iterations of (dense − eos) at the same iteration.

    Both arms of a seed see the same prompts in the same order (the data order depends on the seed only), so
    iteration-wise differences cancel most of the batch-to-batch difficulty that dominates each curve.
    """
    out = []
    for a, b in zip(dense, eos, strict=True):
        n = min(len(a), len(b))
        half = n // 2
        out.append(statistics.mean(x - y for x, y in zip(a[half:n], b[half:n], strict=True)))
    return out


def report(curves: dict[str, list[list[float]]], args: argparse.Namespace) -> None:
    summary = {}
    lines = [
        f"| placement | iterations to {args.metric} ≥ {args.target} (per seed) | final (last 5, mean ± sd) |",
        "|---|---|---|",
    ]
    for placement, runs in curves.items():
        reach = [iterations_to_target(c, args.target) for c in runs]
        finals = [statistics.mean(c[-5:]) for c in runs]
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        summary[placement] = {"iterations_to_target": reach, "final": finals, "curves": runs}
        reached = ", ".join("not reached" if r is None else str(r) for r in reach)
        lines.append(f"| {placement} | {reached} | {statistics.mean(finals):.3f} ± {spread:.3f} |")
    diffs = paired_differences(curves["dense"], curves["eos"])
    summary["paired_difference_second_half"] = diffs
    lines.append("")
    lines.append(
        "paired dense − eos, mean over the second half of the iterations, per seed: "
        + ", ".join(f"{d:+.3f}" for d in diffs)
        + f" (mean {statistics.mean(diffs):+.3f}; dense ahead in {sum(d > 0 for d in diffs)}/{len(diffs)} seeds)"
    )
    table = "\n".join(lines)
    print(table)
    (args.out / "summary.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **summary}))
    (args.out / "table.md").write_text(table + "\n")
    if plot(curves, args.metric, args.out / "dense_vs_eos.png"):
        print(f"plot: {args.out / 'dense_vs_eos.png'}")


if __name__ == "__main__":
    main()
