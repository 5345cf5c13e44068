"""SyntaxReward backends side by side: CPython's parser against SynCode 0.4.16, checked after or during generation.

    python benchmarks/syntax_backends.py [--n 100] [--max-tokens 160] [--during-subset 20] [--backends cpython,syncode]
        [--constrain-tokens 48] [--constrain-only]

Data: ``--n`` top-level functions from the standard library (40 to ``--max-tokens`` tokens with the demo model's
tokenizer, drawn with a fixed seed), and the same functions each with one injected syntax error (one of ``():[],=``
deleted or duplicated at a random place, kept only if the result no longer compiles). The code is the whole response.

Per backend (and for SynCode per flag rule) it reports: false flags on the valid functions (functions with any flag,
including the end-of-sequence "unfinished code" check), errors caught by the per-token flag and with the end check
added, the mean token distance from the injected error to the flag, the checker's cost per code token after
generation (``check="after"``) and inside generation (``check="during"``, the tokens fed through the logits-processor
hook one step at a time), and that cost as a share of the generation time per token of the demo model
(``lit_coderl/assets/tiny-coder``, batch 8, sampling 128 new tokens). The SynCode during-generation timing runs on
the first ``--during-subset`` texts of each set (it re-parses the output at every token); flags of both checks are
compared on every text that ran both.
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lit_coderl.rewards.syntax import SyntaxReward, compiles_exec, replay_through_processor  # noqa: E402
from lit_coderl.rollout import GenerationOptions, Rollout, generate  # noqa: E402

MODEL = REPO / "lit_coderl" / "assets" / "tiny-coder"
CORRUPTIBLE = "():[],="


def stdlib_functions(tokenizer, n: int, max_tokens: int, seed: int = 0) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
    found: list[str] = []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.decorator_list:
                segment = ast.get_source_segment(source, node)
                if segment and 40 <= len(tokenizer(segment)["input_ids"]) <= max_tokens:
                    found.append(segment + "\n")
    found = sorted(set(found))
    random.Random(seed).shuffle(found)
    return found[:n]


def corrupt(code: str, rng: random.Random) -> tuple[str, int] | None:
    """One deleted or duplicated bracket/comma/colon/equals sign; (text, char position of the error)."""
    positions = [i for i, ch in enumerate(code) if ch in CORRUPTIBLE]
    for _ in range(20):
        pos = rng.choice(positions)
        text = code[:pos] + code[pos + 1 :] if rng.random() < 0.5 else code[:pos] + code[pos] + code[pos:]
        if not compiles_exec(text):
            return text, pos
    return None


def flags_and_cost(reward: SyntaxReward, tokenizer, texts: list[str], during: bool) -> tuple[list, float, int]:
    """Per text: (index of the flagged code token or None, ended as unfinished code); seconds; code tokens."""
    results, seconds, n_tokens = [], 0.0, 0
    for text in texts:
        rollout = Rollout.from_texts(tokenizer, [text])
        started = time.perf_counter()
        if during:
            processor = reward.logits_processor(tokenizer)
            replay_through_processor(processor, rollout, len(tokenizer))
            reward.submit(rollout)
        code_tokens = rollout.code_token_indices(0)
        start, end = rollout.code_spans[0]
        ends = [min(rollout.offsets[0][t][1], end) - start for t in code_tokens]
        first = reward.first_flagged(rollout, 0, code_tokens, ends)
        seconds += time.perf_counter() - started
        n_tokens += len(code_tokens)
        results.append((first, not compiles_exec(rollout.code(0)), rollout, code_tokens))
    return results, seconds, n_tokens


def generation_ms_per_token(model, tokenizer, prompts: list[str], new_tokens: int) -> float:
    options = GenerationOptions(max_new_tokens=new_tokens, temperature=1.0)
    torch.manual_seed(0)
    generate(model, tokenizer, prompts[:2], GenerationOptions(max_new_tokens=8))  # warm-up
    started = time.perf_counter()
    rollout = generate(model, tokenizer, prompts, options)
    seconds = time.perf_counter() - started
    return 1000 * seconds / max(1, int(rollout.response_mask.sum()))


def constrained_demo(model, tokenizer, prompts: list[str], new_tokens: int, cache_dir: str | None) -> None:
    """Sample from the demo model with and without ``mode: constrain``; print the share of code-token prefixes that
    CPython accepts, the share of responses whose code compiles, and the cost per sampled token."""
    from lit_coderl.rewards.syntax import python_prefix_status

    print(f"\nconstrained decoding, tiny-coder, {len(prompts)} prompts x {new_tokens} new tokens\n")
    print("| decoding | valid code-token prefixes | responses that compile | ms/token (generation + hook) |")
    print("|---|---|---|---|")
    for mode in ("flag", "constrain"):
        reward = SyntaxReward(backend="syncode", mode=mode, syncode_cache_dir=cache_dir)
        reward.set_tokenizer(tokenizer)
        reward.syncode_checker()
        torch.manual_seed(0)
        started = time.perf_counter()
        processor = reward.logits_processor(tokenizer)
        rollout = generate(
            model,
            tokenizer,
            prompts,
            GenerationOptions(max_new_tokens=new_tokens, temperature=1.0),
            logits_processors=[processor] if processor is not None else [],
        )
        reward.submit(rollout)
        ms = 1000 * (time.perf_counter() - started) / max(1, int(rollout.response_mask.sum()))
        ok = total = compiled = 0
        for i in range(rollout.batch_size):
            code = rollout.code(i)
            compiled += compiles_exec(code)
            for t in rollout.code_token_indices(i):
                total += 1
                ok += python_prefix_status(code[: rollout.offsets[i][t][1] - rollout.code_spans[i][0]]) != "invalid"
        label = "SynCode mask + CPython check" if mode == "constrain" else "unconstrained"
        print(f"| {label} | {ok}/{total} | {compiled}/{rollout.batch_size} | {ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--during-subset", type=int, default=20)
    parser.add_argument("--backends", default="cpython,syncode")
    parser.add_argument("--syncode-cache-dir", default=None)
    parser.add_argument("--constrain-only", action="store_true", help="only the constrained-decoding table")
    parser.add_argument("--constrain-tokens", type=int, default=48, help="0: skip the constrained-decoding table")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL).eval()
    prompts = [f"def {name}(" for name in ("add", "parse", "main", "merge", "count", "split", "load", "check")]
    chat = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "Write a Python function."}], tokenize=False, add_generation_prompt=True
        )
        if tokenizer.chat_template
        else "# Python\n"
    ] * 4
    if args.constrain_only:
        constrained_demo(model, tokenizer, chat, args.constrain_tokens, args.syncode_cache_dir)
        return
    valid = stdlib_functions(tokenizer, args.n, args.max_tokens)
    rng = random.Random(1)
    broken, error_pos = [], []
    for code in valid:
        result = corrupt(code, rng)
        if result is not None:
            broken.append(result[0])
            error_pos.append(result[1])
    print(f"{len(valid)} valid functions, {len(broken)} with one injected error", file=sys.stderr)
    gen_ms = generation_ms_per_token(model, tokenizer, prompts, 128)
    print(f"generation: {gen_ms:.3f} ms/token (tiny-coder, batch 8, 128 new tokens)", file=sys.stderr)

    configs = []
    for backend in args.backends.split(","):
        if backend == "cpython":
            configs.append(("cpython", "first", len(valid)))
        else:
            configs.append(("syncode", "first", args.during_subset))
            configs.append(("syncode", "persistent", args.during_subset))
    rows = []
    timing: dict[str, tuple] = {}
    for backend, rule, during_n in configs:
        kwargs = dict(backend=backend, syncode_flag=rule, syncode_cache_dir=args.syncode_cache_dir)
        after = SyntaxReward(**kwargs)
        after.set_tokenizer(tokenizer)
        if backend == "syncode":
            checker = after.syncode_checker()  # mask store built or loaded outside the timings
            if not hasattr(checker, "memo"):  # both flag rules read the same is_valid sequence: compute it once
                checker.memo, uncached = {}, checker.flags

                def flags(ids, memo=checker.memo, f=uncached):
                    if tuple(ids) not in memo:
                        memo[tuple(ids)] = f(ids)
                    return memo[tuple(ids)]

                checker.flags = flags
        started = time.perf_counter()
        valid_res, t_valid, n_valid = flags_and_cost(after, tokenizer, valid, during=False)
        broken_res, t_broken, n_broken = flags_and_cost(after, tokenizer, broken, during=False)
        print(f"{backend}/{rule} after: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if backend not in timing:
            timing[backend] = (t_valid, t_broken, n_valid, n_broken)
        t_valid, t_broken, n_valid, n_broken = timing[backend]  # the first rule's (uncached) timing
        during = SyntaxReward(check="during", **kwargs)
        d_valid, td_valid, nd_valid = flags_and_cost(during, tokenizer, valid[:during_n], during=True)
        d_broken, td_broken, nd_broken = flags_and_cost(during, tokenizer, broken[:during_n], during=True)
        paired = zip(valid_res[:during_n] + broken_res[:during_n], d_valid + d_broken, strict=True)
        same = sum(a[0] == b[0] for a, b in paired)
        compared = len(d_valid) + len(d_broken)

        false_flags = sum(1 for first, unfinished, _, _ in valid_res if first is not None or unfinished)
        caught = caught_any = 0
        distances = []
        for (first, unfinished, rollout, code_tokens), pos in zip(broken_res, error_pos, strict=True):
            if first is not None:
                caught += 1
                error_token = next(k for k, t in enumerate(code_tokens) if rollout.offsets[0][t][1] > pos)
                distances.append(first - error_token)
            if first is not None or unfinished:
                caught_any += 1
        after_ms = 1000 * (t_valid + t_broken) / max(1, n_valid + n_broken)
        during_ms = 1000 * (td_valid + td_broken) / max(1, nd_valid + nd_broken)
        rows.append(
            (
                f"{backend}" + (f" ({rule})" if backend == "syncode" else ""),
                f"{false_flags}/{len(valid)}",
                f"{caught}/{len(broken)}",
                f"{caught_any}/{len(broken)}",
                f"{sum(distances) / max(1, len(distances)):.2f}",
                f"{after_ms:.3f}",
                f"{during_ms:.3f}",
                f"{100 * after_ms / gen_ms:.1f} %",
                f"{100 * during_ms / gen_ms:.1f} %",
                f"{same}/{compared}",
            )
        )
    header = (
        "backend",
        "false flags (valid)",
        "errors caught (per token)",
        "caught incl. end check",
        "mean distance error→flag (tokens)",
        "ms/token after",
        "ms/token during",
        "share of generation (after)",
        "share of generation (during)",
        "same flags after/during",
    )
    print(f"\ngeneration of the demo model: {gen_ms:.3f} ms/token (batch 8, 128 new tokens, CPU, 1 thread)\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if "syncode" in args.backends and args.constrain_tokens:
        constrained_demo(model, tokenizer, chat, args.constrain_tokens, args.syncode_cache_dir)


if __name__ == "__main__":
    main()
