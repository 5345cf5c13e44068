"""The project's sampler vs HF ``generate`` on a real model (smollm2-135m-instruct), in one run.

Both decode the same left-padded batch of chat-formatted coding prompts for exactly ``--new-tokens`` tokens (EOS
switched off on both sides, so both do the same work), greedily (and so must produce the same ids: checked) and then
sampling at temperature 0.7 (the shipped configs' setting; ours also records each token's log-prob and entropy, which
PPO needs and ``generate`` does not compute). The two are timed alternately, ``--repeats`` times each, after a
warm-up; the ratio of medians is the result (a shared machine's load moves both alike).

    python -m lit_coderl models fetch smollm2-135m-instruct
    python benchmarks/smol_sampler.py --batch 4 --new-tokens 64 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from lit_coderl.models import load_tokenizer, resolve_model_path
from lit_coderl.sampling import GenerationOptions, sample

INSTRUCTIONS = [
    "Write a Python function `is_palindrome(s)` that returns True if the string s reads the same backwards.",
    "Write a Python function `second_largest(xs)` that returns the second largest number of a list.",
    "Write a Python function `count_vowels(s)` that counts the vowels in a string.",
    "Write a Python function `flatten(xss)` that flattens a list of lists into one list.",
    "Write a Python function `fib(n)` that returns the n-th Fibonacci number.",
    "Write a Python function `merge_dicts(a, b)` that merges two dictionaries, b winning on shared keys.",
    "Write a Python function `word_count(text)` that returns a dict of word frequencies.",
    "Write a Python function `is_prime(n)` that tells whether n is a prime number.",
]


def ours(model, enc, new_tokens: int, temperature: float, pad_id: int) -> torch.Tensor:
    options = GenerationOptions(max_new_tokens=new_tokens, temperature=temperature)
    out = sample(model, enc["input_ids"], enc["attention_mask"], options, eos_ids=set(), pad_id=pad_id)
    return out.tokens


def hf(model, enc, new_tokens: int, temperature: float, pad_id: int) -> torch.Tensor:
    kwargs = {"do_sample": False} if temperature <= 0 else {"do_sample": True, "temperature": temperature}
    out = model.generate(
        **enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad_id, top_k=None, top_p=None,
        **kwargs,
    )  # fmt: skip
    return out[:, enc["input_ids"].shape[1] :]


def timed(fn, *args) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    tokens = fn(*args)
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args()
    if os.environ.get("LIT_CODERL_THREADS"):
        torch.set_num_threads(int(os.environ["LIT_CODERL_THREADS"]))
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(args.model)
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(args.model), dtype=torch.float32).eval()
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": INSTRUCTIONS[i % len(INSTRUCTIONS)]}],
                                      tokenize=False, add_generation_prompt=True)
        for i in range(args.batch)
    ]  # fmt: skip
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    pad = tokenizer.pad_token_id
    load_before = os.getloadavg()[0]
    results = {}
    with torch.no_grad():
        for mode, temperature in (("greedy", 0.0), ("temperature 0.7", 0.7)):
            ours(model, enc, 4, temperature, pad), hf(model, enc, 4, temperature, pad)  # warm-up
            times = {"ours": [], "hf_generate": []}
            for _ in range(args.repeats):
                seconds, mine = timed(ours, model, enc, args.new_tokens, temperature, pad)
                times["ours"].append(seconds)
                seconds, theirs = timed(hf, model, enc, args.new_tokens, temperature, pad)
                times["hf_generate"].append(seconds)
                assert mine.shape == theirs.shape == (args.batch, args.new_tokens), (mine.shape, theirs.shape)
                if temperature <= 0 and not torch.equal(mine, theirs):
                    agree = (mine == theirs).float().mean().item()
                    print(f"note: greedy ids differ from generate's on {1 - agree:.1%} of positions (float ties)")
            tokens = args.batch * args.new_tokens
            median = {k: statistics.median(v) for k, v in times.items()}
            results[mode] = {
                "seconds": times,
                "tokens_per_s": {k: tokens / v for k, v in median.items()},
                "speedup_ours_over_hf": median["hf_generate"] / median["ours"],
            }
            print(
                f"{mode:16} ours {tokens / median['ours']:7.1f} tok/s   HF generate "
                f"{tokens / median['hf_generate']:7.1f} tok/s   ours is {results[mode]['speedup_ours_over_hf']:.2f}x"
            )
    report = {
        "model": args.model,
        "batch": args.batch,
        "new_tokens": args.new_tokens,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": results,
    }
    print(f"load average (1 min) before {load_before:.1f}, after {report['load_average_1min']['after']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
