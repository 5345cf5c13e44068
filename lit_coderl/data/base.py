"""Task sources: where training prompts come from.

A source yields *task rows*, plain dicts with this schema (only ``task_id`` and one of ``messages``/``prompt`` are
required; reward components read the fields they need and score 0 or skip where a field is absent):

- ``task_id`` (str): unique id.
- ``messages`` (list of ``{"role", "content"}``): a chat prompt, rendered with the tokenizer's chat template; or
- ``prompt`` (str): a raw completion-style prompt, fed as is.
- ``reference`` (str, optional): a reference solution (data-flow match).
- ``tests`` (list[str], optional): assert statements; ``test_setup`` (str, optional): code run before them.
- ``robot`` (dict, optional): robot-domain data (e.g. the instruction for the simulator).

Sources are typed classes so that YAML picks them with ``class_path`` and ``--help`` documents their arguments.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

TaskRow = dict[str, Any]


class TaskSource(ABC):
    """A collection of task rows."""

    @abstractmethod
    def load(self) -> list[TaskRow]:
        """All rows of this source, in a deterministic order."""


def require_fields(row: dict, fields: tuple[str, ...], where: str) -> None:
    """Raise a `ValueError` naming the missing field and the file or dataset it came from."""
    missing = [f for f in fields if f not in row or row[f] is None]
    if missing:
        raise ValueError(f"{where}: row {row.get('task_id', '?')!r} is missing field(s) {', '.join(missing)}")


def read_jsonl_lines(path: Path) -> list[tuple[int, dict, bool]]:
    """``(line number, record, was UTF-8)`` for each non-empty line of a JSONL file; errors name the file and line;
    bytes that are not UTF-8 become U+FFFD (and the line says so)."""
    records = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line, utf8 = raw.decode("utf-8"), True
            except UnicodeDecodeError:
                line, utf8 = raw.decode("utf-8", errors="replace"), False
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            records.append((number, record, utf8))
    return records


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file (`read_jsonl_lines` without the line details)."""
    return [record for _, record, _ in read_jsonl_lines(path)]
