"""``python -m lit_coderl evaluate KIND``: score samples (EvalPlus-style) or generate them first with ``--model``."""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from lit_coderl.evaluate import EVALUATORS, get_evaluator
from lit_coderl.evaluate.base import INFRA_ERROR, has_infra_error

#: per-line flags written into the result line (``"flags": [...]``) and counted in the summary
NON_UTF8, UNKNOWN_TASK = "non_utf8", "unknown_task_id"


def evaluator_options(kind: str) -> dict[str, str]:
    """``--option`` keys of one benchmark with their defaults: the evaluator's keyword arguments and the keys it reads
    from ``**options`` (taken from its signature and source, so the list cannot drift from the code)."""
    cls = get_evaluator(kind)
    keys: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not getattr(klass, "kind", "") and klass is not cls:
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name in ("self", "data_dir", "workers") or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            keys[name] = repr(param.default)
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        module = sys.modules.get(klass.__module__)
        for name, default in re.findall(r"options\.get\(\s*\"(\w+)\"\s*,\s*([^)]+)\)", source):
            default = default.strip()
            if default.isidentifier() and hasattr(module, default):  # a module constant: show its value
                default = repr(getattr(module, default))
            keys.setdefault(name, default)
    return keys


def options_epilog() -> str:
    lines = ["--option KEY=VALUE keys (VALUE is parsed as JSON when it can be):"]
    for kind in sorted(EVALUATORS):
        try:
            options = evaluator_options(kind)
        except Exception as err:  # noqa: BLE001 - --help must print even if one evaluator cannot be imported
            lines.append(f"  {kind}: (unavailable: {err})")
            continue
        lines.append(f"  {kind}: " + ", ".join(f"{k} (default {v})" for k, v in options.items()))
    lines.append(
        "\nBenchmark data: --data-dir, else $LIT_CODERL_DATA_DIR, else the user cache (~/.cache/lit_coderl/data), "
        "else fetched from upstream on first use (python -m lit_coderl data fetch KIND does it ahead of time)."
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lit_coderl evaluate",
        description="Score generations of a benchmark. Input lines: {task_id, solution[, id]}; output: one result "
        "line per input line, in the same order (lines that are not UTF-8 or name an unknown task id are flagged).",
        epilog=options_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=sorted(EVALUATORS), help="benchmark")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", type=Path, help="JSONL of generations to score")
    source.add_argument("--model", help="model dir or hub id (or `tiny`): generate the samples first")
    parser.add_argument(
        "--out",
        type=Path,
        help="per-sample results (default: <samples stem>.<kind>.eval.jsonl next to the samples; with --model: "
        "runs/eval/<model>/<kind>.eval.jsonl)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark data folder (default: resolved, below)")
    parser.add_argument("--workers", type=int, default=None, help="parallel sandbox workers (default: CPU count)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tasks (with --model) or samples")
    parser.add_argument("--batch-size", type=int, default=8, help="generation batch size (with --model)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="override the benchmark's generation length")
    parser.add_argument("--temperature", type=float, default=None, help="override the benchmark's temperature")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="evaluator option (repeatable; keys below)"
    )
    return parser


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Sample lines; a malformed line is an error naming its number; a line that is not UTF-8 is decoded with
    replacement characters and flagged ``non_utf8``."""
    from lit_coderl.data.base import read_jsonl_lines

    samples = []
    for number, sample, utf8 in read_jsonl_lines(path):
        if "task_id" not in sample:
            raise ValueError(f"{path}:{number}: the sample needs a 'task_id' field")
        if not isinstance(sample.get("solution", sample.get("completion")), str):
            raise ValueError(f"{path}:{number}: the sample needs a string 'solution' (or 'completion') field")
        sample.setdefault("solution", sample.get("completion"))
        if not utf8:
            sample["_flags"] = [NON_UTF8]
        samples.append(sample)
    return samples


def jsonl_line(row: dict[str, Any]) -> bytes:
    """One UTF-8 JSON line for ``row``, whatever its strings hold: a lone surrogate (a program's exception message
    can carry one) is written as its ``\\udXXX`` escape, which JSON readers read back as the same string."""
    return (json.dumps(row, ensure_ascii=False, default=str) + "\n").encode("utf-8", "backslashreplace")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """One line per row (`jsonl_line`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for row in rows:
            f.write(jsonl_line(row))


def _parse_options(pairs: list[str], kind: str) -> dict[str, Any]:
    valid = evaluator_options(kind)
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {pair!r}")
        if key not in valid:
            raise ValueError(f"unknown --option {key!r} for {kind}; its keys: {', '.join(valid)}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def known_task(kind: str, task_id: Any, tasks: dict[str, Any]) -> bool:
    """Whether ``task_id`` names a task of the benchmark (MBPP ids are matched by number, as the evaluator does)."""
    if str(task_id) in tasks:
        return True
    if kind in ("mbpp", "mbppplus"):
        from lit_coderl.evaluate.mbpp import task_number

        try:
            number = task_number(task_id)
        except ValueError:
            return False
        return any(task_number(known) == number for known in tasks)
    return False


def flag_results(kind: str, evaluator, samples: list[dict], results: list[dict]) -> dict[str, int]:
    """Add ``flags`` to the result lines of flagged samples; the count of each flag."""
    tasks = evaluator.tasks()
    counts = {NON_UTF8: 0, UNKNOWN_TASK: 0}
    for sample, result in zip(samples, results, strict=True):
        flags = list(sample.get("_flags", []))
        if not known_task(kind, sample.get("task_id"), tasks):
            flags.append(UNKNOWN_TASK)
        for flag in flags:
            counts[flag] += 1
        if flags:
            result["flags"] = flags
    return counts


def model_out_dir(model: str) -> Path:
    """``runs/eval/<model name>`` for ``--model`` runs (the last path or hub-id component)."""
    name = Path(str(model).rstrip("/")).name or "model"
    return Path("runs") / "eval" / name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        evaluator = get_evaluator(args.kind)(
            data_dir=args.data_dir, workers=args.workers, **_parse_options(args.option, args.kind)
        )
        if args.model:
            from lit_coderl.evaluate.generate import generate_samples

            settings = dict(evaluator.generation)
            if args.max_new_tokens is not None:
                settings["max_new_tokens"] = args.max_new_tokens
            if args.temperature is not None:
                settings["temperature"] = args.temperature
            samples = generate_samples(evaluator, args.model, settings, args.batch_size, args.limit)
            out = args.out or model_out_dir(args.model) / f"{args.kind}.eval.jsonl"
            write_jsonl(out.with_name(out.name.replace(".eval.jsonl", "") + ".samples.jsonl"), samples)
        else:
            samples = read_samples(args.samples)
            if args.limit:
                samples = samples[: args.limit]
            out = args.out or args.samples.with_name(f"{args.samples.stem}.{args.kind}.eval.jsonl")
        start = time.perf_counter()
        clean = [{k: v for k, v in s.items() if k != "_flags"} for s in samples]
        results = evaluator.score(clean)
        elapsed = time.perf_counter() - start
        if len(results) != len(samples):
            raise ValueError(f"evaluator returned {len(results)} results for {len(samples)} samples")
        counts = flag_results(args.kind, evaluator, samples, results)
    except (FileNotFoundError, ValueError, OSError, ImportError) as err:
        lines = str(err).strip().splitlines() or ["(no message)"]
        print(f"error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return 2
    write_jsonl(out, results)
    print(evaluator.summary(results))
    flagged = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    print(f"flagged lines: {flagged or 'none'} (see each result line's \"flags\")")
    print(f"\n{len(results)} samples scored in {elapsed:.1f} s; per-sample results: {out}")
    infra = [r for r in results if has_infra_error(r)]
    if infra:  # no verdict is not a failure: the scores above are incomplete, and the exit status says so
        print(f"error: {len(infra)} sample(s) could not be run, the sandbox failed before their program started "
              f"(marked {INFRA_ERROR!r}, left out of the scores): {infra[0].get('error')}", file=sys.stderr)
        return 3
    return 0
