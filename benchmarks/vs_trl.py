"""lit_coderl's PPO iteration against TRL's classic PPOTrainer (0.11.4): the same work, timed on this machine.

    python benchmarks/vs_trl.py [--iterations 10] [--warmup 2] [--repeats 3] [--threads 1 2]

Both sides run the same workload (`_workload.py`): the embedded tiny Qwen2 model (`lit_coderl/assets/tiny-coder`,
copied to ``.bench/workload-model`` with a config transformers 4.46 also reads), 16 Python-prefix prompts, 64
sampled tokens per response (fixed length: EOS/pad suppressed, temperature 1, no top-k/top-p), a rule-based reward
(+1 if prompt + response parses as Python, else −1) given as one scalar at the last token, k1 KL per token in the
reward (β 0.2, fixed), GAE γ 1 / λ 0.95, whitened advantages, clip 0.2 / 0.2, vf_coef 0.1, 4 PPO epochs of
minibatches of 4 (16 optimizer steps per iteration), AdamW lr 1e-5, full fine-tuning (the reference is a frozen
copy), a value head on the shared backbone, same seed.

- *ours*: ``_ours_side.py`` in this project's venv, through ``lit_coderl.cli.main(["fit", ...])`` as a user runs it
  (Lightning loop included); wall time is measured batch end to batch end.
- *TRL*: ``_trl_side.py`` in ``.bench/trl-venv`` (``requirements-trl.txt``: trl 0.11.4, transformers 4.46.3, …),
  ``PPOTrainer.generate`` + ``PPOTrainer.step``. The venv is created on first use (~1–2 min, PyPI; torch 2.13.0 CPU
  is installed first so pip never pulls a CUDA build). To create it by hand:
  ``python -m venv .bench/trl-venv && .bench/trl-venv/bin/pip install torch==2.13.0 &&
  .bench/trl-venv/bin/pip install -r benchmarks/requirements-trl.txt``.

Each side runs in its own subprocess with ``torch.set_num_threads(N)``; runs are interleaved (TRL, ours, ours, TRL,
…) so that a burst of load from other processes hits both. Per run: the median of the iterations after ``--warmup``;
reported: the median over ``--repeats`` runs, per thread count. ``generate`` includes decoding (and, for ours, the
token-to-character offsets every reward component reads); ``forwards`` are the old-logprob/value and reference passes;
``update`` the PPO epochs; ``other`` the rest (rewards, GAE, the trainer loop). ``cpu`` is the process's CPU time
per iteration (all its threads): at 1 thread it hardly moves when other jobs load the machine, unlike wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH = REPO / ".bench"
TRL_VENV = BENCH / "trl-venv"
MODEL_DIR = BENCH / "workload-model"
TINY = REPO / "lit_coderl" / "assets" / "tiny-coder"
PHASES = ("wall", "cpu", "generate", "forwards", "update", "other")


def venv_python(venv: Path, requirements: Path, check_code: str, label: str) -> Path:
    """``venv``'s interpreter, creating the venv from ``requirements`` when it is missing or ``check_code`` fails
    in it (shared by the PPO and the GRPO comparisons, each with its own pinned TRL)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", check_code]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv.relative_to(REPO)} ({label})", flush=True)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # the CPU build first: never let pip pick a CUDA torch
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    subprocess.run(check, check=True)
    return python


def trl_python() -> Path:
    """The TRL venv's interpreter, creating the venv from requirements-trl.txt if it is missing or broken."""
    check = "import trl, transformers; assert trl.__version__ == '0.11.4'"
    label = "trl 0.11.4, transformers 4.46.3; about 1-2 minutes"
    return venv_python(TRL_VENV, HERE / "requirements-trl.txt", check, label)


def ours_python() -> Path:
    venv = REPO / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def workload_model() -> Path:
    """The tiny model in a directory both transformers 4.46 and 5.x read (``rope_theta`` at the top level too)."""
    if (MODEL_DIR / "config.json").exists():
        return MODEL_DIR
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy2(TINY / name, MODEL_DIR / name)
    config = json.loads((TINY / "config.json").read_text())
    rope = config.get("rope_parameters") or {}
    config.setdefault("rope_theta", rope.get("rope_theta", 10000.0))
    config.setdefault("torch_dtype", config.get("dtype", "float32"))
    (MODEL_DIR / "config.json").write_text(json.dumps(config, indent=2))
    return MODEL_DIR


def run_side(side: str, python: Path, threads: int, iterations: int, model: Path, log, baseline: Path | None) -> dict:
    out = BENCH / f"result-{side}-{threads}t.json"
    out.unlink(missing_ok=True)
    script = HERE / ("_trl_side.py" if side == "trl" else "_ours_side.py")
    if side == "baseline":  # the same benchmark against another checkout's lit_coderl (before/after a change)
        script = baseline / "benchmarks" / "_ours_side.py"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "WANDB_MODE": "disabled",
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [str(python), str(script), str(model), str(out), "--iterations", str(iterations), "--threads", str(threads)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"{side} side failed (exit {done.returncode}); see {log.name}")
    result = json.loads(out.read_text())
    result["process_s"] = time.perf_counter() - start
    return result


def summarise(run: dict, warmup: int) -> dict:
    its = run["iterations"][warmup:] or run["iterations"]
    summary = {phase: statistics.median(it.get(phase, float("nan")) for it in its) for phase in PHASES}
    summary["peak_rss_mib"] = run["peak_rss_mib"]
    summary["reward_mean"] = statistics.mean(it["reward_mean"] for it in run["iterations"])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10, help="PPO iterations per run (>= warmup + 3)")
    parser.add_argument("--warmup", type=int, default=2, help="first iterations left out of the median")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per side and thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads (each reported)")
    parser.add_argument("--out", default=str(BENCH / "vs_trl.json"), help="all runs and the summary as JSON")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run our side from this other checkout (with this benchmarks/ copied in), e.g. before a speed edit",
    )
    args = parser.parse_args()
    if args.iterations < args.warmup + 3:
        parser.error("--iterations must leave at least 3 iterations after --warmup")

    BENCH.mkdir(exist_ok=True)
    pythons = {"trl": trl_python(), "ours": ours_python(), "baseline": ours_python()}
    sides = ("trl", "ours", "baseline") if args.baseline else ("trl", "ours")
    model = workload_model()
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start", flush=True)

    runs: dict[str, list[dict]] = {}
    with open(BENCH / "vs_trl.log", "w") as log:
        for threads in args.threads:
            for repeat in range(args.repeats):
                order = sides if repeat % 2 == 0 else sides[::-1]
                for side in order:
                    run = run_side(side, pythons[side], threads, args.iterations, model, log, args.baseline)
                    s = summarise(run, args.warmup)
                    runs.setdefault(f"{side}/{threads}", []).append({**run, "summary": s})
                    print(
                        f"  {threads} thread(s), run {repeat + 1}/{args.repeats}, {side:>4}: "
                        f"{s['wall']:.3f} s/iteration (generate {s['generate']:.3f}, update {s['update']:.3f})",
                        flush=True,
                    )

    table = {}
    for key, side_runs in runs.items():
        table[key] = {
            phase: statistics.median(r["summary"][phase] for r in side_runs) for phase in (*PHASES, "peak_rss_mib")
        }
        table[key]["spread"] = (
            min(r["summary"]["wall"] for r in side_runs),
            max(r["summary"]["wall"] for r in side_runs),
        )
    load = os.getloadavg()
    print(
        f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end; medians of {args.repeats} runs, "
        f"each the median of iterations {args.warmup + 1}-{args.iterations}\n"
    )
    header = (
        f"{'side':<14}{'threads':>8}{'s/iter':>9}{'(min-max)':>15}{'cpu s':>8}{'generate':>10}{'forwards':>10}"
        f"{'update':>9}{'other':>8}{'peak RSS':>11}"
    )
    print(header)
    print("-" * len(header))
    for threads in args.threads:
        labels = {"trl": "TRL 0.11.4", "ours": "lit_coderl", "baseline": "baseline"}
        for side in sides:
            label = labels[side]
            row = table[f"{side}/{threads}"]
            spread = f"{row['spread'][0]:.2f}-{row['spread'][1]:.2f}"
            print(
                f"{label:<14}{threads:>8}{row['wall']:>9.3f}{spread:>15}{row['cpu']:>8.3f}{row['generate']:>10.3f}"
                f"{row['forwards']:>10.3f}{row['update']:>9.3f}{row['other']:>8.3f}{row['peak_rss_mib']:>8.0f} MiB"
            )
    print()
    for threads in args.threads:
        ratio = table[f"ours/{threads}"]["wall"] / table[f"trl/{threads}"]["wall"]
        table[f"ratio/{threads}"] = ratio
        cpu_ratio = table[f"ours/{threads}"]["cpu"] / table[f"trl/{threads}"]["cpu"]
        table[f"cpu_ratio/{threads}"] = cpu_ratio
        print(f"ratio ours / TRL, {threads} thread(s): {ratio:.2f}x time per iteration ({1 / ratio:.2f}x the speed)")
        print(f"  process CPU time per iteration: {cpu_ratio:.2f}x (steadier than wall time on a loaded machine)")
        if args.baseline:
            base = table[f"baseline/{threads}"]["wall"]
            print(
                f"ratio baseline / TRL, {threads} thread(s): {base / table[f'trl/{threads}']['wall']:.2f}x; "
                f"ours / baseline: {table[f'ours/{threads}']['wall'] / base:.2f}x"
            )
    Path(args.out).write_text(json.dumps({"table": table, "runs": runs, "args": vars(args)}, indent=1, default=str))
    print(f"\nall runs: {args.out}")


if __name__ == "__main__":
    main()
