"""Checkpoint sizes at Qwen2.5-Coder-1.5B, computed from the code: the model is built on the meta device (no weights,
no download) with the configured LoRA and value head, and the trained parameters are counted.

    python benchmarks/checkpoint_sizes.py            # LoRA r16 on the 7 target modules (the shipped configs)

A checkpoint file (single device, DDP) holds the trained weights in float32 and AdamW's two moments; a DeepSpeed
bf16 checkpoint folder holds them in bf16 plus the optimizer's float32 master weights and moments (split in one
shard per rank). Neither holds the frozen base, which is rebuilt from ``model.name_or_path``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def counts(r: int) -> dict[str, int]:
    import torch
    from peft import get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from lit_coderl.models import LoraOptions, ValueHead, lora_config
    from scripts.gpu_check import QWEN25_CODER_15B

    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**QWEN25_CODER_15B))
        base = sum(p.numel() for p in model.parameters())
        lora = sum(p.numel() for p in get_peft_model(model, lora_config(LoraOptions(r=r), model)).parameters()
                   if p.requires_grad)  # fmt: skip
        head = sum(p.numel() for p in ValueHead(QWEN25_CODER_15B["hidden_size"]).parameters())
    return {"base": base, "lora": lora, "value_head": head}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--r", type=int, default=16, help="LoRA rank")
    args = parser.parse_args()
    n = counts(args.r)
    print(f"base parameters {n['base']:,}; LoRA r{args.r} {n['lora']:,}; value head {n['value_head']:,}")
    print("| critic | trained parameters | checkpoint file (fp32 + 2 moments) | DeepSpeed folder (bf16 + fp32 master + "
          "2 moments) |")
    print("|---|---|---|---|")
    for critic, trained in (("head", n["lora"] + n["value_head"]), ("adapter", 2 * n["lora"] + n["value_head"])):
        print(f"| {critic} | {trained:,} | {12 * trained / 1e9:.3f} GB | {14 * trained / 1e9:.3f} GB |")
    print(f"frozen base in bf16 (not saved): {2 * n['base'] / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
