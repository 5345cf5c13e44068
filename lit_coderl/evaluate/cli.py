"""``python -m lit_coderl evaluate KIND``: score samples (EvalPlus-style) or generate them first with ``--model``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lit_coderl.data.base import read_jsonl
from lit_coderl.evaluate import EVALUATORS, get_evaluator
from lit_coderl.evaluate.base import DEFAULT_DATA_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lit_coderl evaluate",
        description="Score generations of a benchmark. Input lines: {task_id, solution[, id]}; output: one result "
        "line per input line, in the same order.",
    )
    parser.add_argument("kind", choices=sorted(EVALUATORS), help="benchmark")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", type=Path, help="JSONL of generations to score")
    source.add_argument("--model", help="model dir or hub id (or `tiny`): generate the samples first")
    parser.add_argument("--out", type=Path, help="per-sample results (default: <samples>_eval.jsonl)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="benchmark data (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="parallel sandbox workers (default: CPU count)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tasks (with --model) or samples")
    parser.add_argument("--batch-size", type=int, default=8, help="generation batch size (with --model)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="override the benchmark's generation length")
    parser.add_argument("--temperature", type=float, default=None, help="override the benchmark's temperature")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="evaluator option (repeatable)"
    )
    return parser


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Sample lines; a malformed line is an error naming its number."""
    samples = read_jsonl(path)
    for number, sample in enumerate(samples, 1):
        if "task_id" not in sample:
            raise ValueError(f"{path}: sample {number} needs a 'task_id' field")
        if not isinstance(sample.get("solution", sample.get("completion")), str):
            raise ValueError(f"{path}: sample {number} needs a string 'solution' (or 'completion') field")
        sample.setdefault("solution", sample.get("completion"))
    return samples


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        evaluator = get_evaluator(args.kind)(
            data_dir=args.data_dir, workers=args.workers, **_parse_options(args.option)
        )
        if args.model:
            from lit_coderl.evaluate.generate import generate_samples

            settings = dict(evaluator.generation)
            if args.max_new_tokens is not None:
                settings["max_new_tokens"] = args.max_new_tokens
            if args.temperature is not None:
                settings["temperature"] = args.temperature
            samples = generate_samples(evaluator, args.model, settings, args.batch_size, args.limit)
            out = args.out or Path(f"{args.kind}_{Path(str(args.model)).name or 'model'}_eval.jsonl")
            write_jsonl(out.with_name(out.stem + "_samples.jsonl"), samples)
        else:
            samples = read_samples(args.samples)
            if args.limit:
                samples = samples[: args.limit]
            out = args.out or args.samples.with_name(args.samples.stem + "_eval.jsonl")
        start = time.perf_counter()
        results = evaluator.score(samples)
        elapsed = time.perf_counter() - start
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if len(results) != len(samples):
        print(f"error: evaluator returned {len(results)} results for {len(samples)} samples", file=sys.stderr)
        return 2
    write_jsonl(out, results)
    print(evaluator.summary(results))
    print(f"\n{len(results)} samples scored in {elapsed:.1f} s; per-sample results: {out}")
    return 0
