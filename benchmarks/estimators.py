"""Advantage estimators × reward placement, same budget, several seeds: GAE (a critic) against the critic-free group
baselines RLOO and GRPO, each with dense per-token rewards and with the whole score on the last token (eos: TRL's).

Runs an arm's configs through the real CLI once per (estimator, placement, seed): ``gae`` runs the arm's plain config
(32 prompts × 1 answer, value head), ``rloo``/``grpo`` its ``-grpo`` twin (8 prompts × 4 answers, no critic) with
``--model.ppo.advantage`` set; everything else (rewards, learning rate, KL, epochs, minibatch) is the same. Reports,
per estimator and placement: iterations to a target (first iteration whose 5-iteration mean reaches it), the final
score (mean of the last 5 iterations), seconds per iteration (median ``timing/step`` after the first iteration) and
the training process's peak RSS; a PNG of score vs iteration with min–max seed bands.

    python benchmarks/estimators.py                     # robot demo (demo.yaml / demo-grpo.yaml), 3 seeds × 6 runs
    python benchmarks/estimators.py --arm python        # MBPP train prompts (mbpp-tiny.yaml / mbpp-tiny-grpo.yaml)

Finished runs are kept in ``<out>/runs.jsonl`` and skipped when the study is started again (kill and resume freely);
``--report-only`` re-tabulates them. ``--evaluate`` then scores every final policy greedily on fixed prompt sets
(python arm: all 374 MBPP train prompts, free of the batch-to-batch luck of the training curve, and the 90 held-out
validation prompts) and the starting model, through ``validate``; kept in the same file. ``--jobs 2`` runs two at a
time (each at ``LIT_CODERL_THREADS`` threads, 1 by default): the study takes about half as long on two cores, and
every run's seconds per iteration are then measured beside another run. ``--estimators grpo-seqbase`` adds the
ablation of GRPO with the constant per-answer baseline (``group_baseline: sequence``). The python arm needs
``.bench/mbpp-coder`` (``benchmarks/mbpp_warmstart.py``). Needs matplotlib for the plot; without it the table is
still written.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
ESTIMATORS = ("gae", "rloo", "grpo")
#: ablations beyond the three estimators (same runs, more overrides): the constant per-answer baseline
VARIANTS = {"grpo-seqbase": ("grpo", ["--model.ppo.group_baseline", "sequence"])}
PLACEMENTS = ("dense", "eos")

ARMS = {
    "robot": {
        "gae": CONFIGS / "demo.yaml",
        "group": CONFIGS / "demo-grpo.yaml",
        "metric": "reward/simulator/success_rate",
        "model": None,
        # the final policy, greedy, on 256 generated tasks of another draw than training's (seed 99, not 1)
        "evals": {
            "generated": {
                "class_path": "lit_coderl.data.robot.GeneratedRobotTasks",
                "init_args": {"n": 256, "seed": 99, "style": "compact"},
            },
        },
        # greedy decoding of a policy that learned to shrink its programs: the trivial share says how it succeeds
        "eval_metrics": ("valid/reward/simulator/success_rate", "valid/reward/simulator/trivial_share"),
    },
    "python": {
        "gae": CONFIGS / "mbpp-tiny.yaml",
        "group": CONFIGS / "mbpp-tiny-grpo.yaml",
        "metric": "reward/unit_tests/pass_rate",
        "model": REPO / ".bench" / "mbpp-coder",
        # the final policy, greedy, on fixed prompt sets: every MBPP train prompt (the training distribution without
        # the batch-to-batch luck of 8 or 32 prompts) and the held-out validation split
        "evals": {
            "train": {"class_path": "lit_coderl.data.mbpp.MBPP", "init_args": {"split": "train"}},
            "validation": {"class_path": "lit_coderl.data.mbpp.MBPP", "init_args": {"split": "validation"}},
        },
        "eval_metrics": ("valid/reward/unit_tests/pass_rate", "valid/reward/unit_tests/all_pass"),
    },
}

# the training process reports its own peak RSS (the sandbox workers it starts are other processes)
_PEAK_RSS = (
    "import atexit, resource, sys\n"
    "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "atexit.register(lambda: print('PEAK_RSS_KB', peak(), file=sys.stderr))\n"
    "from lit_coderl.cli import main\n"
    "main(sys.argv[1:])\n"
)


def _run_args(arm: dict, estimator: str) -> list[str]:
    """The config and overrides of an estimator's runs (shared by ``fit`` and the final ``validate``)."""
    advantage, extra = VARIANTS.get(estimator, (estimator, []))
    args = ["--config", str(arm["gae"] if advantage == "gae" else arm["group"])]
    if advantage != "gae":
        args += ["--model.ppo.advantage", advantage, *extra]
    if arm["model"] is not None:
        args += ["--model.model.name_or_path", str(arm["model"])]
    return args


def _cli(args: list[str], log_dir: Path) -> tuple[subprocess.CompletedProcess, Path | None]:
    """Run the CLI with a CSV logger under ``log_dir``; the process and the metrics file it wrote."""
    args = [*args, "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(log_dir)]
    args += ["--trainer.logger.name", "csv", "--trainer.enable_progress_bar", "false"]
    env = {**os.environ, "WANDB_MODE": "disabled", "LIT_CODERL_THREADS": os.environ.get("LIT_CODERL_THREADS", "1")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, *args], cwd=REPO, env=env, capture_output=True, text=True)
    metrics = sorted(log_dir.glob("csv/version_*/metrics.csv"))
    return done, (metrics[-1] if metrics else None)


def run_dir_of(out: Path, estimator: str, placement: str, seed: int) -> Path:
    return out / f"{estimator}-{placement}-seed{seed}"


def run_one(arm: dict, estimator: str, placement: str, seed: int, iterations: int, out: Path) -> dict:
    """One training run through the CLI; its curve, seconds per iteration and peak RSS."""
    run_dir = run_dir_of(out, estimator, placement, seed)
    args = ["fit", *_run_args(arm, estimator), "--seed_everything", str(seed), "--model.reward_placement", placement]
    args += ["--model.max_iterations", str(iterations), "--trainer.default_root_dir", str(run_dir)]
    start = time.perf_counter()
    done, metrics = _cli(args, run_dir)
    wall = time.perf_counter() - start
    if done.returncode != 0 or metrics is None:
        raise RuntimeError(f"run {run_dir.name} failed:\n{done.stderr[-3000:]}")
    peak_kb = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    with open(metrics) as f:
        rows = sorted((r for r in csv.DictReader(f) if r.get("reward/total")), key=lambda r: float(r["iteration"]))
    steps = [float(r["timing/step"]) for r in rows[1:]] or [float(rows[0]["timing/step"])]
    result = {
        "estimator": estimator,
        "placement": placement,
        "seed": seed,
        "curve": [float(r[arm["metric"]]) for r in rows],
        "seconds_per_iteration": statistics.median(steps),
        "peak_rss_mb": peak_kb / 1024,
        "wall_s": wall,
    }
    print(f"  {run_dir.name}: {wall:.0f} s, final {statistics.mean(result['curve'][-5:]):.3f}", flush=True)
    return result


def evaluate_policy(arm: dict, estimator: str, run_dir: Path, eval_dir: Path) -> dict[str, dict[str, float]]:
    """Greedy scores of a run's final checkpoint (the arm's starting model when ``run_dir`` is None) on each of the
    arm's evaluation sets, through ``validate``: ``{set: {metric: value}}``."""
    args = ["validate", *_run_args(arm, estimator), "--data.val_batch_size", "64"]
    if run_dir is not None:
        # the configs' IterationCheckpoint saves after the last iteration (older runs: Lightning's default callback)
        last = run_dir / "checkpoints" / "last.ckpt"
        checkpoints = [last] if last.exists() else sorted(run_dir.glob("csv/version_*/checkpoints/*.ckpt"))
        if not checkpoints:
            raise RuntimeError(f"{run_dir.name}: no checkpoint to evaluate")
        args += ["--ckpt_path", str(checkpoints[-1])]
    scores: dict[str, dict[str, float]] = {}
    for name, source in arm["evals"].items():
        done, metrics = _cli([*args, "--data.val_sources", json.dumps([source])], eval_dir / name)
        if done.returncode != 0 or metrics is None:
            raise RuntimeError(f"evaluation {eval_dir.name}/{name} failed:\n{done.stderr[-3000:]}")
        with open(metrics) as f:
            (row,) = [r for r in csv.DictReader(f) if r.get("valid/reward/total")]
        scores[name] = {key.rsplit("/", 1)[-1]: float(row[key]) for key in arm["eval_metrics"]}
    return scores


def _in_parallel(tasks: list[Callable[[], None]], jobs: int) -> list[str]:
    """Run ``tasks`` ``jobs`` at a time; the messages of those that failed (a failed one does not stop the others)."""

    def guarded(task: Callable[[], None]) -> str | None:
        try:
            task()
        except RuntimeError as exc:
            print(exc, file=sys.stderr, flush=True)
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [message for message in pool.map(guarded, tasks) if message is not None]


def evaluate_all(arm: dict, results: list[dict], out: Path, store: Path, jobs: int) -> None:
    """Fill in ``eval`` of every finished run that lacks it (rewriting ``store``: run no other study on ``out``
    meanwhile) and score the starting model once (``<out>/start_eval.json``)."""
    start_file = out / "start_eval.json"
    lock = threading.Lock()

    def one(result: dict) -> None:
        run_dir = run_dir_of(out, result["estimator"], result["placement"], result["seed"])
        scores = evaluate_policy(arm, result["estimator"], run_dir, run_dir / "eval")
        with lock:
            result["eval"] = scores
            tmp = store.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in results))
            tmp.replace(store)
        print(f"  {run_dir.name} evaluated: {json.dumps(scores)}", flush=True)

    def start() -> None:
        scores = evaluate_policy(arm, "gae", None, out / "start-eval")
        start_file.write_text(json.dumps(scores, indent=2) + "\n")
        print(f"  starting model evaluated: {json.dumps(scores)}", flush=True)

    tasks = [functools.partial(one, r) for r in results if "eval" not in r]
    if not start_file.exists():
        tasks.append(start)
    if failures := _in_parallel(tasks, jobs):
        raise SystemExit(f"{len(failures)} of {len(tasks)} evaluations failed (finished ones are kept in {store})")


def run_all(
    arm: dict, pending: list[tuple[str, str, int]], iterations: int, out: Path, store: Path, jobs: int
) -> list[dict]:
    """Run ``pending`` (estimator, placement, seed) ``jobs`` at a time; each finished run is appended to ``store`` at
    once. A failed run is reported and the others go on; the study then exits non-zero."""
    lock = threading.Lock()
    results: list[dict] = []

    def one(estimator: str, placement: str, seed: int) -> None:
        result = run_one(arm, estimator, placement, seed, iterations, out)
        with lock:
            results.append(result)
            with open(store, "a") as f:
                f.write(json.dumps(result) + "\n")

    if failures := _in_parallel([functools.partial(one, *job) for job in pending], jobs):
        raise SystemExit(f"{len(failures)} of {len(pending)} runs failed (finished ones are kept in {store})")
    return results


def iterations_to_target(curve: list[float], target: float, window: int = 5) -> int | None:
    for i in range(window - 1, len(curve)):
        if statistics.mean(curve[i - window + 1 : i + 1]) >= target:
            return i + 1
    return None


def _mean_sd(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def report(results: list[dict], metric: str, target: float, out: Path) -> str:
    lines = [
        f"| estimator | placement | seeds | iterations to {metric} ≥ {target} (per seed) | final (last 5, mean ± sd) "
        "| s / iteration | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for estimator in (*ESTIMATORS, *VARIANTS):
        for placement in PLACEMENTS:
            runs = sorted((r for r in results if (r["estimator"], r["placement"]) == (estimator, placement)),
                          key=lambda r: r["seed"])  # fmt: skip
            if not runs:
                continue
            reach = [iterations_to_target(r["curve"], target) for r in runs]
            reached = ", ".join("—" if x is None else str(x) for x in reach)
            finals = [statistics.mean(r["curve"][-5:]) for r in runs]
            seconds = statistics.mean(r["seconds_per_iteration"] for r in runs)
            rss = statistics.mean(r["peak_rss_mb"] for r in runs)
            lines.append(
                f"| {estimator} | {placement} | {len(runs)} | {reached} | {_mean_sd(finals)} | {seconds:.2f} "
                f"| {rss:.0f} |"
            )
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    return table


def eval_report(results: list[dict], start: dict, out: Path) -> str:
    """Table of the final policies' greedy scores on the arm's fixed evaluation sets, with the starting model's."""
    sets = list(start)
    metrics = list(start[sets[0]])
    columns = [f"{name} {metric}" for name in sets for metric in metrics]
    lines = ["| estimator | placement | seeds | " + " | ".join(columns) + " |", "|---" * (3 + len(columns)) + "|"]
    lines.append("| start | — | — | " + " | ".join(f"{start[n][m]:.3f}" for n in sets for m in metrics) + " |")
    for estimator in (*ESTIMATORS, *VARIANTS):
        for placement in PLACEMENTS:
            runs = [r for r in results if (r["estimator"], r["placement"]) == (estimator, placement) and "eval" in r]
            if runs:
                cells = [_mean_sd([r["eval"][n][m] for r in runs]) for n in sets for m in metrics]
                lines.append(f"| {estimator} | {placement} | {len(runs)} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (out / "eval_table.md").write_text(table + "\n")
    return table


def plot(results: list[dict], metric: str, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, placement in zip(axes, PLACEMENTS, strict=True):
        for estimator in (*ESTIMATORS, *VARIANTS):
            curves = [r["curve"] for r in results if (r["estimator"], r["placement"]) == (estimator, placement)]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            xs = list(range(1, length + 1))
            cols = [[c[i] for c in curves] for i in range(length)]
            ax.plot(xs, [statistics.mean(c) for c in cols], label=f"{estimator} ({len(curves)} seeds)")
            ax.fill_between(xs, [min(c) for c in cols], [max(c) for c in cols], alpha=0.15)
        ax.set_title(f"{placement} rewards")
        ax.set_xlabel("PPO iteration")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def plot_eval(results: list[dict], start: dict, path: Path) -> bool:
    """Each final policy's greedy score per evaluation set: a dot per seed, the mean as a bar, the start as a line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sets = list(start)
    metric = next(iter(start[sets[0]]))  # the arm's first evaluation metric (python: pass_rate)
    arms = [(e, p) for e in (*ESTIMATORS, *VARIANTS) for p in PLACEMENTS
            if any((r["estimator"], r["placement"]) == (e, p) and "eval" in r for r in results)]  # fmt: skip
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        shown = [start[name][metric]]
        for x, (estimator, placement) in enumerate(arms):
            values = [r["eval"][name][metric] for r in results
                      if (r["estimator"], r["placement"]) == (estimator, placement) and "eval" in r]  # fmt: skip
            colour = "C0" if placement == "dense" else "C1"
            ax.bar(x, statistics.mean(values), color=colour, alpha=0.35)
            ax.scatter([x] * len(values), values, color=colour, s=12, zorder=3)
            shown += values
        ax.axhline(start[name][metric], color="k", linestyle="--", linewidth=1, label="starting model")
        margin = 0.2 * (max(shown) - min(shown)) + 0.005  # zoom on the differences, not on the bars' zero
        ax.set_ylim(max(0.0, min(shown) - margin), min(1.0, max(shown) + margin))
        ax.set_xticks(range(len(arms)), [f"{e}\n{p}" for e, p in arms], fontsize=8)
        ax.set_title(f"{name} prompts, greedy: {metric}")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", choices=sorted(ARMS), default="robot")
    parser.add_argument("--estimators", nargs="+", choices=[*ESTIMATORS, *VARIANTS], default=list(ESTIMATORS))
    parser.add_argument("--placements", nargs="+", choices=PLACEMENTS, default=list(PLACEMENTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--target", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=None, help="default: runs/estimators/<arm>")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="score each final policy greedily on the arm's fixed prompt sets (python arm: all MBPP train prompts and "
        "the validation split), and the starting model; finished evaluations are kept",
    )
    parser.add_argument("--report-only", action="store_true", help="tabulate and plot the finished runs")
    args = parser.parse_args(argv)
    arm = ARMS[args.arm]
    out = args.out or REPO / "runs" / "estimators" / args.arm
    out.mkdir(parents=True, exist_ok=True)
    if arm["model"] is not None and not (arm["model"] / "config.json").exists():
        raise SystemExit(f"{arm['model']} is missing: build it with python benchmarks/mbpp_warmstart.py")
    store = out / "runs.jsonl"
    results = [json.loads(line) for line in store.read_text().splitlines()] if store.exists() else []
    if not args.report_only:
        done = {(r["estimator"], r["placement"], r["seed"]) for r in results}
        # a seed at a time, so an interrupted study still has every arm
        pending = [(e, p, seed) for seed in args.seeds for e in args.estimators for p in args.placements
                   if (e, p, seed) not in done]  # fmt: skip
        results += run_all(arm, pending, args.iterations, out, store, args.jobs)
    print(report(results, arm["metric"], args.target, out))
    if args.evaluate and not arm["evals"]:
        print(f"the {args.arm} arm has no evaluation sets: --evaluate skipped")
    elif args.evaluate:
        if not args.report_only:
            evaluate_all(arm, results, out, store, args.jobs)
        if (out / "start_eval.json").exists():
            start = json.loads((out / "start_eval.json").read_text())
            print(eval_report(results, start, out))
            if plot_eval(results, start, out / f"estimators_{args.arm}_eval.png"):
                print(f"plot: {out / f'estimators_{args.arm}_eval.png'}")
    if plot(results, arm["metric"], out / f"estimators_{args.arm}.png"):
        print(f"plot: {out / f'estimators_{args.arm}.png'}")


if __name__ == "__main__":
    main()
