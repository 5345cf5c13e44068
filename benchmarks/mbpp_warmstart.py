"""Warm-start a policy for the general-Python dense-vs-EOS arm: the tiny model, fine-tuned further on MBPP train.

The embedded tiny model passes none of MBPP's tests (its samples rarely even parse), so a unit-test reward gives
PPO nothing to climb. The paper starts RL from an instruct model that already solves part of its tasks; this script
puts the tiny model in that regime for MBPP's **train** split (task ids 601-974; test and validation stay unseen):
it continues SFT from ``lit_coderl/assets/tiny-coder`` on those tasks, prompted exactly as the RL run prompts them
(`lit_coderl.data.mbpp.MBPP`, the paper's instruction), then reports the sampled pass rate in the sandbox.

    python benchmarks/mbpp_warmstart.py [--epochs 60] [--out .bench/mbpp-coder]

Then: ``python benchmarks/dense_vs_eos.py --arm python`` (which runs this first when ``--out`` is missing).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from build_tiny_model import Pair, continue_sft, encode_pairs, normalise_mbpp_code  # noqa: E402

from lit_coderl.data.mbpp import MBPP  # noqa: E402
from lit_coderl.models import TINY_MODEL_DIR  # noqa: E402

DEFAULT_OUT = REPO / ".bench" / "mbpp-coder"


def train_pairs(data_dir: Path) -> tuple[list[Pair], list[dict]]:
    """SFT pairs (RL prompt → reference code) of the MBPP train rows whose reference parses, and the rows."""
    rows = MBPP(split="train", data_dir=data_dir).load()
    pairs = []
    for row in rows:
        code = normalise_mbpp_code(row["reference"])
        if code is not None:
            pairs.append(Pair("mbpp", row["messages"], code))
    return pairs, rows


def pass_rate(model, tokenizer, rows: list[dict], temperature: float, seed: int) -> dict:
    """Sample one response per row and run its tests in the sandbox (the RL run's own reward code)."""
    from lit_coderl.data.prompts import render_prompt
    from lit_coderl.rewards.tests import UnitTestReward
    from lit_coderl.rollout import GenerationOptions, generate

    torch.manual_seed(seed)
    reward = UnitTestReward(workers=2, timeout_s=2.0)
    fractions, all_pass = [], 0
    try:
        for start in range(0, len(rows), 32):
            chunk = rows[start : start + 32]
            rollout = generate(
                model,
                tokenizer,
                [render_prompt(r, tokenizer) for r in chunk],
                GenerationOptions(max_new_tokens=128, temperature=temperature, max_prompt_tokens=160),
                tasks=chunk,
            )
            for result in reward.results(rollout):
                fractions.append(result.fraction if result is not None else 0.0)
                all_pass += result is not None and result.status == "pass"
    finally:
        reward.close()
    return {"tasks": len(rows), "pass_rate": sum(fractions) / len(fractions), "all_pass": all_pass / len(rows)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR)
    pairs, rows = train_pairs(args.data_dir)
    examples = encode_pairs(pairs, tokenizer, max_prompt=160, max_response=256)
    print(f"{len(examples)} MBPP train pairs (of {len(rows)} tasks) for {args.epochs} epochs", flush=True)

    sft_args = (args.out, args.epochs, args.lr, args.batch_tokens, args.seed)
    mean_loss, seconds = continue_sft(model, tokenizer, examples, *sft_args)
    report = {
        "epochs": args.epochs,
        "lr": args.lr,
        "seconds": round(seconds, 1),
        "final_loss": round(mean_loss, 4),
        "sampled_t1": pass_rate(model, tokenizer, rows, temperature=1.0, seed=args.seed),
    }
    (args.out / "warmstart.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
