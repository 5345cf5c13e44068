"""Host-side work of one PPO iteration that is not the model, at paper shapes (B responses of T tokens).

    python benchmarks/host_overhead.py [--batch 64] [--lengths 256 512] [--repeats 3]

Synthetic responses (fenced Python from the standard library's own source, cut to exactly T tokens of the embedded
tiny model's tokenizer; robot programs from our generator, repeated to T tokens) go through the real pieces:
token offsets (`token_char_offsets`, streaming vs the quadratic prefix-decoding reference), building the `Rollout`,
and each reward component's ``submit`` + ``score`` (syntax, lint, data flow, unit tests in the sandbox, RoboSim in
the sandbox). For sandboxed components the trainer thread only pays ``submit`` and the wait in ``score``; in
training that wait overlaps the reference and value forward passes. Prints the median seconds per phase for each T
and how each grows from the first T to the last (1.0 linear would double with T doubled: the ratio is shown).
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from lit_coderl.rewards.dataflow import DataFlowReward  # noqa: E402
from lit_coderl.rewards.lint import LintReward  # noqa: E402
from lit_coderl.rewards.simulator import SimulatorReward  # noqa: E402
from lit_coderl.rewards.spans import prefix_char_offsets, token_char_offsets  # noqa: E402
from lit_coderl.rewards.syntax import SyntaxReward  # noqa: E402
from lit_coderl.rewards.tests import UnitTestReward  # noqa: E402
from lit_coderl.robot.generator import generate_pairs  # noqa: E402
from lit_coderl.rollout import Rollout  # noqa: E402

TOKENIZER = REPO / "lit_coderl" / "assets" / "tiny-coder"


def python_responses(tokenizer, batch: int, length: int) -> tuple[list[str], list[dict]]:
    import heapq
    import json
    import shlex
    import textwrap

    source = "".join(inspect.getsource(m) for m in (textwrap, heapq, shlex, json.decoder, json.encoder))
    ids = tokenizer(source, add_special_tokens=False)["input_ids"]
    texts, rows = [], []
    for b in range(batch):
        start = (b * 997) % max(1, len(ids) - length)
        body = tokenizer.decode(ids[start : start + length - 8])
        texts.append(f"```python\n{body}\n```")
        rows.append({"tests": ["assert dedent('  x') == 'x'"], "reference": body})
    return texts, rows


def robot_responses(batch: int, length: int, tokenizer) -> list[str]:
    programs = [p for _, p in generate_pairs(batch, 0)]
    out = []
    for program in programs:
        body = program.split("\n", 1)[1]
        text = program
        while len(tokenizer(text, add_special_tokens=False)["input_ids"]) < length - 40:
            text += "\n" + body
        out.append(f"```python\n{text}\n```")
    return out


def timed(fn, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def score(component, rollout: Rollout) -> None:
    if hasattr(component, "submit"):
        component.submit(rollout)
    component.score(rollout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    components = {
        "syntax (cpython)": SyntaxReward(),
        "lint (ruff)": LintReward(),
        "dataflow": DataFlowReward(),
        "unit tests (sandbox)": UnitTestReward(workers=args.workers),
    }
    robot = SimulatorReward(workers=args.workers)
    table: dict[str, dict[int, float]] = {}
    for length in args.lengths:
        texts, rows = python_responses(tokenizer, args.batch, length)
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in encoded]
        tokens = sum(map(len, encoded)) / len(encoded)
        print(f"B={args.batch}, T={length} (mean {tokens:.0f} tokens per response)")
        table.setdefault("offsets, streaming", {})[length] = timed(
            lambda e=encoded, d=decoded: [token_char_offsets(tokenizer, i, t) for i, t in zip(e, d, strict=True)],
            args.repeats)
        table.setdefault("offsets, prefix decoding (before)", {})[length] = timed(
            lambda e=encoded, d=decoded: [prefix_char_offsets(tokenizer, i, t) for i, t in zip(e, d, strict=True)], 1)
        table.setdefault("Rollout.from_texts (decode, offsets, spans)", {})[length] = timed(
            lambda t=texts, r=rows: Rollout.from_texts(tokenizer, t, r), args.repeats)
        rollout = Rollout.from_texts(tokenizer, texts, rows)
        for name, component in components.items():
            score(component, rollout)  # warm-up (sandbox pools start here)
            table.setdefault(name, {})[length] = timed(lambda c=component, r=rollout: score(c, r), args.repeats)
        robot_rollout = Rollout.from_texts(tokenizer, robot_responses(args.batch, length, tokenizer))
        score(robot, robot_rollout)
        table.setdefault("robosim, 5 worlds (sandbox)", {})[length] = timed(
            lambda r=robot_rollout: score(robot, r), args.repeats)
    for component in (*components.values(), robot):
        if hasattr(component, "close"):
            component.close()
    first, last = args.lengths[0], args.lengths[-1]
    header = " ".join(f"{f'T={t} (s)':>11}" for t in args.lengths)
    print(f"\n{'phase':<46} {header} {f'x{last}/{first}':>9}")
    for name, row in table.items():
        cells = " ".join(f"{row[t]:>11.3f}" for t in args.lengths)
        print(f"{name:<46} {cells} {row[last] / max(row[first], 1e-9):>9.2f}")


if __name__ == "__main__":
    main()
