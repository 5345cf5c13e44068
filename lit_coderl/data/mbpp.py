"""General-Python task sources: MBPP, OpenCodeInstruct (hub) and any local JSONL/parquet file with a field mapping.

Every source yields task rows (see `lit_coderl.data.base`) with ``messages``, ``reference``, ``tests`` (assert
statements) and ``test_setup``, which `UnitTestReward` and `DataFlowReward` read.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from lit_coderl.data.base import TaskRow, TaskSource, read_jsonl, require_fields
from lit_coderl.rewards.spans import extract_code_span

#: no fixed folder: resolved by `lit_coderl.data.benchmarks.resolve_data_dir` (LIT_CODERL_DATA_DIR, user cache, fetch)
DEFAULT_DATA_DIR = None

#: MBPP's upstream split by task id (inclusive ranges)
MBPP_SPLITS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
}
MBPP_FIELDS = ("task_id", "text", "code", "test_list")
HUB_HINT = "the Hugging Face `datasets` package is needed for hub sources: pip install lit_coderl[hub]"


def mbpp_prompt(text: str, example_test: str | None) -> str:
    """The paper's MBPP instruction: the task text, the first test as an example, and a request for a code block."""
    prompt = f"You are an expert Python programmer, and here is your task: {text.strip()}"
    if example_test:
        prompt += f" Your code should pass this test:\n\n{example_test.strip()}\n"
    return prompt + "\nWrite the solution as a single ```python code block."


def normalize_newlines(text: str) -> str:
    """``\\r\\n`` and ``\\r`` to ``\\n`` (MBPP's reference code uses CRLF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_test_list(value: Any, where: str = "tests") -> list[str]:
    """Assert statements from a list, or from a string holding a Python/JSON list or one assert per line."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        for parse in (ast.literal_eval, json.loads):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(parsed, list):
                return [str(v) for v in parsed if str(v).strip()]
        raise ValueError(f"{where}: cannot parse the test list {text[:80]!r}")
    return [line for line in text.splitlines() if line.strip()]


def find_data_file(data_dir: Path | str, *candidates: str) -> Path:
    """The first of ``candidates`` (relative paths) that exists under ``data_dir``, or a clear `FileNotFoundError`."""
    data_dir = Path(data_dir)
    for candidate in candidates:
        path = data_dir / candidate
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"none of {', '.join(candidates)} found under data_dir={str(data_dir)!r} (set data_dir to the shared data)"
    )


def _load_hub(*args, **kwargs):
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(HUB_HINT) from exc
    return datasets.load_dataset(*args, **kwargs)


def mbpp_row(record: dict, where: str) -> TaskRow:
    """A task row from one MBPP record (fields ``task_id``, ``text``, ``code``, ``test_list``, ``test_setup_code``)."""
    require_fields(record, MBPP_FIELDS, where)
    tests = parse_test_list(record["test_list"], where)
    return {
        "task_id": f"mbpp/{int(record['task_id'])}",
        "messages": [{"role": "user", "content": mbpp_prompt(str(record["text"]), tests[0] if tests else None)}],
        "reference": normalize_newlines(str(record["code"])),
        "tests": tests,
        "test_setup": normalize_newlines(str(record.get("test_setup_code") or "")),
        "entry_point": _first_function_name(str(record["code"])),
    }


def _first_function_name(code: str) -> str | None:
    try:
        tree = ast.parse(normalize_newlines(code).expandtabs())
    except SyntaxError:
        return None
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return names[-1] if names else None


class MBPP(TaskSource):
    """MBPP (Austin et al. 2021) task rows.

    Args:
        split: ``train`` (task ids 601–974), ``test`` (11–510), ``validation`` (511–600) or ``prompt`` (1–10).
        data_dir: Folder holding ``mbpp/mbpp.jsonl`` (or ``mbpp.jsonl``), for ``source: local``; default: resolved
            (``$LIT_CODERL_DATA_DIR``, the user cache, else fetched: ``python -m lit_coderl data fetch mbpp``).
        source: ``local`` reads the JSONL file; ``hub`` loads ``google-research-datasets/mbpp`` with `datasets`.
        task_ids: Explicit ids (overrides ``split``).
        limit: Keep only the first ``limit`` rows.
    """

    def __init__(
        self,
        split: Literal["train", "test", "validation", "prompt"] = "train",
        data_dir: Path | str | None = DEFAULT_DATA_DIR,
        source: Literal["local", "hub"] = "local",
        task_ids: list[int] | None = None,
        limit: int | None = None,
    ) -> None:
        if split not in MBPP_SPLITS:
            raise ValueError(f"unknown MBPP split {split!r}; choose one of {', '.join(MBPP_SPLITS)}")
        if source not in ("local", "hub"):
            raise ValueError(f"source must be 'local' or 'hub', got {source!r}")
        self.split, self.source = split, source
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.task_ids = [int(t) for t in task_ids] if task_ids is not None else None
        self.limit = limit

    def records(self) -> tuple[list[dict], str]:
        """Raw MBPP records and where they came from."""
        if self.source == "hub":
            hub = _load_hub("google-research-datasets/mbpp", "full")
            return [dict(r) for part in hub.values() for r in part], "hub:google-research-datasets/mbpp"
        data_dir = self.data_dir
        if data_dir is None or not (data_dir / "mbpp.jsonl").is_file():
            from lit_coderl.data.benchmarks import resolve_data_dir

            data_dir = resolve_data_dir("mbpp", data_dir)
        path = find_data_file(data_dir, "mbpp/mbpp.jsonl", "mbpp.jsonl")
        return read_jsonl(path), str(path)

    def load(self) -> list[TaskRow]:
        records, where = self.records()
        if self.task_ids is not None:
            wanted = set(self.task_ids)
        else:
            low, high = MBPP_SPLITS[self.split]
            wanted = set(range(low, high + 1))
        rows = []
        for record in records:
            require_fields(record, ("task_id",), where)
            if int(record["task_id"]) in wanted:
                rows.append(mbpp_row(record, where))
        rows.sort(key=lambda r: int(r["task_id"].split("/")[-1]))
        return rows[: self.limit] if self.limit is not None else rows


def opencodeinstruct_row(record: dict, where: str = "nvidia/OpenCodeInstruct") -> TaskRow:
    """A task row from one OpenCodeInstruct record (``id``, ``input``, ``output``, ``unit_tests``)."""
    require_fields(record, ("id", "input", "output", "unit_tests"), where)
    output = str(record["output"])
    start, end = extract_code_span(output)
    return {
        "task_id": f"opencodeinstruct/{record['id']}",
        "messages": [{"role": "user", "content": str(record["input"])}],
        "reference": output[start:end],
        "tests": parse_test_list(record["unit_tests"], f"{where}: row {record['id']!r}"),
        "test_setup": "",
    }


def reservoir_sample(items: Iterable, n: int, seed: int, scan: int | None = None) -> list:
    """A seeded uniform sample of ``n`` items from the first ``scan`` items of a stream (all when ``None``), in
    stream order."""
    rng = random.Random(seed)
    reservoir: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        if scan is not None and index >= scan:
            break
        if len(reservoir) < n:
            reservoir.append((index, item))
        else:
            slot = rng.randint(0, index)
            if slot < n:
                reservoir[slot] = (index, item)
    return [item for _, item in sorted(reservoir, key=lambda pair: pair[0])]


class OpenCodeInstruct(TaskSource):
    """A seeded random subset of NVIDIA's OpenCodeInstruct (hub only, streamed; needs ``pip install lit_coderl[hub]``).

    Args:
        n: Rows to keep (paper: 5000).
        seed: Seed of the reservoir sample.
        scan: Rows of the stream the sample is drawn from (``None``: the whole 5M-row stream).
        min_test_score: Keep only rows whose ``average_test_score`` is at least this (``None``: keep all).
        dataset: Hub dataset name.
        split: Hub split.
    """

    def __init__(
        self,
        n: int = 5000,
        seed: int = 0,
        scan: int | None = 200_000,
        min_test_score: float | None = None,
        dataset: str = "nvidia/OpenCodeInstruct",
        split: str = "train",
    ) -> None:
        self.n, self.seed, self.scan = int(n), int(seed), scan
        self.min_test_score = min_test_score
        self.dataset, self.split = dataset, split

    def stream(self) -> Iterator[dict]:
        """Records of the hub dataset, streamed."""
        yield from _load_hub(self.dataset, split=self.split, streaming=True)

    def _usable(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            if not str(record.get("unit_tests") or "").strip():
                continue
            if self.min_test_score is not None:
                try:
                    if float(record.get("average_test_score") or 0.0) < self.min_test_score:
                        continue
                except ValueError:
                    continue
            yield record

    def load(self) -> list[TaskRow]:
        sample = reservoir_sample(self._usable(self.stream()), self.n, self.seed, self.scan)
        return [opencodeinstruct_row(record, f"hub:{self.dataset}") for record in sample]


class JsonlTasks(TaskSource):
    """Task rows from a local JSONL or parquet file, with a field mapping ``{row_field: file_field}``.

    Row fields: ``task_id``, ``instruction`` (becomes a user message), ``messages``, ``prompt``, ``reference``,
    ``tests`` (a list, or a string holding one), ``test_setup``. Unmapped row fields are taken from the file field of
    the same name when present; ``task_id`` defaults to the line number.

    Args:
        path: The ``.jsonl`` or ``.parquet`` file.
        fields: Mapping from row field to file field, e.g. ``{instruction: input, tests: unit_tests}``.
        required: Row fields every record must provide (error names the field and the file).
        limit: Keep only the first ``limit`` rows.
    """

    ROW_FIELDS = ("task_id", "instruction", "messages", "prompt", "reference", "tests", "test_setup")

    def __init__(
        self,
        path: Path | str,
        fields: dict[str, str] | None = None,
        required: list[str] | None = None,
        limit: int | None = None,
    ) -> None:
        self.path = Path(path)
        from lit_coderl.data.benchmarks import refuse_evaluation_only

        refuse_evaluation_only(self.path, type(self).__name__)  # RoboEval's licence forbids training on it
        self.fields = dict(fields or {})
        unknown = set(self.fields) - set(self.ROW_FIELDS)
        if unknown:
            raise ValueError(f"unknown row field(s) {', '.join(sorted(unknown))}; use {', '.join(self.ROW_FIELDS)}")
        self.required = list(required or [])
        self.limit = limit

    def records(self) -> list[dict]:
        """Raw records of the file."""
        if not self.path.is_file():
            raise FileNotFoundError(f"task file not found: {self.path}")
        if self.path.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ImportError(f"reading {self.path} needs pyarrow: pip install pyarrow") from exc
            return pq.read_table(self.path).to_pylist()
        return read_jsonl(self.path)

    def load(self) -> list[TaskRow]:
        rows = []
        for number, record in enumerate(self.records(), 1):
            mapped = {}
            for row_field in self.ROW_FIELDS:
                file_field = self.fields.get(row_field, row_field)
                if file_field in record and record[file_field] is not None:
                    mapped[row_field] = record[file_field]
                elif row_field in self.fields:
                    raise ValueError(f"{self.path}: record {number} is missing field {file_field!r} (for {row_field})")
            require_fields(mapped, tuple(self.required), str(self.path))
            rows.append(self._row(mapped, number))
            if self.limit is not None and len(rows) >= self.limit:
                break
        return rows

    def _row(self, mapped: dict, number: int) -> TaskRow:
        row: TaskRow = {"task_id": str(mapped.get("task_id", f"{self.path.stem}/{number}"))}
        if "messages" in mapped:
            row["messages"] = list(mapped["messages"])
        elif "instruction" in mapped:
            row["messages"] = [{"role": "user", "content": str(mapped["instruction"])}]
        elif "prompt" in mapped:
            row["prompt"] = str(mapped["prompt"])
        else:
            raise ValueError(f"{self.path}: record {number} has no instruction, messages or prompt field")
        if "reference" in mapped:
            reference = str(mapped["reference"])
            start, end = extract_code_span(reference)
            row["reference"] = reference[start:end]
        row["tests"] = parse_test_list(mapped.get("tests"), f"{self.path}: record {number}")
        row["test_setup"] = str(mapped.get("test_setup") or "")
        return row
