"""lit_coderl's GRPO iteration against TRL's GRPOTrainer: the same tiny work, timed on this machine.

    python benchmarks/vs_trl_grpo.py [--iterations 8] [--warmup 2] [--repeats 2] [--threads 1]

The workload is `vs_trl.py`'s (`_workload.py`: the embedded tiny Qwen2 model, Python-prefix prompts, 64 sampled
tokens per answer with EOS suppressed, +1/−1 if prompt + answer parses, at the last token) in GRPO form
(`_workload.GRPO_SETTINGS`): 4 prompts × 4 answers per iteration, advantages (R − group mean)/(group std + 1e-4),
β = 0.2 k3 KL in the loss, clip 0.2, one optimizer step on all 16 answers (TRL's default ``num_iterations`` 1), AdamW
lr 1e-5, gradient norm clipped to 1, full fine-tuning (frozen reference copy), no critic on either side.

- *ours*: ``_ours_grpo_side.py`` in this project's venv, through the CLI (`model.ppo.advantage: grpo`).
- *TRL*: ``_trl_grpo_side.py`` in ``.bench/trl-grpo-venv`` (``requirements-trl-grpo.txt``: trl 1.16.0 and what it
  pulls), ``GRPOTrainer.train()``; one trainer step is one iteration (it generates inside the step). The venv is
  created on first use (PyPI; torch 2.13.0 CPU first).

Sides alternate (TRL, ours, ours, TRL, …); per run the median iteration after ``--warmup``, in wall time and in the
process's CPU time (at 1 thread it hardly moves when other jobs load the machine, unlike wall time); reported: the
median over ``--repeats`` runs and the peak RSS of each side's process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vs_trl import BENCH, REPO, ours_python, venv_python, workload_model  # noqa: E402

TRL_VENV = BENCH / "trl-grpo-venv"
TRL_VERSION = "1.16.0"


def trl_python() -> Path:
    """The GRPO venv's interpreter, created from requirements-trl-grpo.txt if missing or broken."""
    check = f"import trl; assert trl.__version__ == '{TRL_VERSION}'; from trl import GRPOTrainer"
    return venv_python(TRL_VENV, HERE / "requirements-trl-grpo.txt", check, f"trl {TRL_VERSION}; a few minutes")


def run_side(side: str, python: Path, threads: int, iterations: int, model: Path, log) -> dict:
    out = BENCH / f"result-grpo-{side}-{threads}t.json"
    out.unlink(missing_ok=True)
    script = HERE / ("_trl_grpo_side.py" if side == "trl" else "_ours_grpo_side.py")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env |= {"TOKENIZERS_PARALLELISM": "false", "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    cmd = [str(python), str(script), str(model), str(out), "--iterations", str(iterations), "--threads", str(threads)]
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"{side} side failed (exit {done.returncode}); see {log.name}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(BENCH / "vs_trl_grpo.json"))
    args = parser.parse_args()
    BENCH.mkdir(exist_ok=True)
    pythons = {"trl": trl_python(), "ours": ours_python()}
    model = workload_model()
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start", flush=True)
    runs: dict[str, list[dict]] = {"trl": [], "ours": []}
    with open(BENCH / "vs_trl_grpo.log", "w") as log:
        for repeat in range(args.repeats):
            for side in ("trl", "ours") if repeat % 2 == 0 else ("ours", "trl"):
                start = time.perf_counter()
                run = run_side(side, pythons[side], args.threads, args.iterations, model, log)
                its = run["iterations"][args.warmup :]
                run["summary"] = {
                    "wall": statistics.median(it["wall"] for it in its),
                    "cpu": statistics.median(it.get("cpu", float("nan")) for it in its),
                    "process_s": time.perf_counter() - start,
                }
                runs[side].append(run)
                s = run["summary"]
                print(f"  run {repeat + 1}, {side:>4}: {s['wall']:.3f} s/iteration, cpu {s['cpu']:.3f} s", flush=True)
    load = os.getloadavg()
    table = {
        side: {
            "s_per_iteration": statistics.median(r["summary"]["wall"] for r in side_runs),
            "cpu_s_per_iteration": statistics.median(r["summary"]["cpu"] for r in side_runs),
            "spread": [min(r["summary"]["wall"] for r in side_runs), max(r["summary"]["wall"] for r in side_runs)],
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in side_runs),
            "versions": side_runs[0]["versions"],
        }
        for side, side_runs in runs.items()
    }
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end; {args.threads} thread(s)")
    for side, row in table.items():
        print(
            f"{side:>5}: {row['s_per_iteration']:.3f} s/iteration ({row['spread'][0]:.3f}-{row['spread'][1]:.3f}), "
            f"cpu {row['cpu_s_per_iteration']:.3f} s, "
            f"peak RSS {row['peak_rss_mib']:.0f} MiB, {row['versions']}"
        )
    ratio = table["ours"]["s_per_iteration"] / table["trl"]["s_per_iteration"]
    cpu_ratio = table["ours"]["cpu_s_per_iteration"] / table["trl"]["cpu_s_per_iteration"]
    print(f"ratio ours / TRL GRPOTrainer: {ratio:.2f}x wall time, {cpu_ratio:.2f}x CPU time per iteration")
    Path(args.out).write_text(json.dumps({"table": table, "ratio": ratio, "runs": runs, "args": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
