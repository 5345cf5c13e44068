"""Coding tasks mined from the running interpreter's standard library.

Every top-level function, and every method of a top-level class, that has a docstring becomes a task: the instruction
names the signature and the docstring's first sentence, the reference is the function's own source. The source needs
no download and no licence review (the stdlib is PSF-licensed), which makes it the warm-start data of the embedded tiny
model (train split) and the prompt set of the offline PPO demo (heldout split).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import random
import re
import sysconfig
import textwrap
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from lit_coderl.data.base import TaskRow, TaskSource

#: directories never searched: third-party packages, caches and the stdlib's own test suites
EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"})

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class StdlibFunction:
    """One documented function found in a source tree."""

    module: str
    """Dotted module name relative to the root, e.g. ``json.decoder``."""
    qualname: str
    """``name`` for a top-level function, ``Class.name`` for a method."""
    signature: str
    """``name(args) -> annotation`` as written in the source."""
    summary: str
    """The docstring's first sentence."""
    source: str
    """The function's source, dedented, without decorators, docstring kept."""
    is_async: bool

    @property
    def task_id(self) -> str:
        return f"stdlib/{self.module}/{self.qualname}"

    @property
    def instruction(self) -> str:
        kind = "async function" if self.is_async else "function"
        owner = f" (a method of class `{self.qualname.split('.')[0]}`)" if "." in self.qualname else ""
        return f"Write a Python {kind} `{self.signature}`{owner}. {self.summary}"


def stdlib_root() -> Path:
    """The standard library directory of the running interpreter."""
    return Path(sysconfig.get_paths()["stdlib"])


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring's first paragraph, whitespace collapsed ("" when there is none)."""
    paragraph = inspect.cleandoc(docstring).split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def split_of(task_id: str, heldout_fraction: float) -> Literal["train", "heldout"]:
    """The split a task belongs to: a stable hash of its id (independent of Python's hash seed and of file order)."""
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "heldout" if position < heldout_fraction else "train"


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` under ``root`` (``pkg/__init__.py`` gives ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def iter_python_files(root: Path) -> list[Path]:
    """The ``.py`` files under ``root``, sorted, skipping `EXCLUDED_DIRS`."""
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in EXCLUDED_DIRS]  # prune: site-packages alone is large
        files.extend(Path(directory, name) for name in names if name.endswith(".py"))
    return sorted(path for path in files if path.is_file())


def read_utf8(path: Path) -> str | None:
    """The file's text, or None when it is not valid UTF-8 (or cannot be read)."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def parse_module(source: str) -> ast.Module | None:
    """The module's AST, or None when it does not parse on this interpreter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like in old modules
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def _has_real_body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """False for stubs: a body that is only the docstring plus ``pass``, ``...`` or ``raise NotImplementedError``."""
    for statement in node.body[1:]:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement):
            continue
        return True
    return False


def _function_source(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Dedented source of ``node`` without decorators; None if the def does not start its own line."""
    first = lines[node.lineno - 1]
    if first[: node.col_offset].strip():
        return None  # e.g. ``class A: def f(self): ...`` on one line
    text = "".join(lines[node.lineno - 1 : node.end_lineno])
    return textwrap.dedent(text).rstrip() + "\n"


def _describe(
    node: ast.FunctionDef | ast.AsyncFunctionDef, owner: str | None, module: str, lines: list[str]
) -> StdlibFunction | None:
    docstring = ast.get_docstring(node, clean=False)
    if not docstring or not _has_real_body(node):
        return None
    summary = first_sentence(docstring)
    source = _function_source(lines, node)
    if not summary or source is None:
        return None
    signature = f"{node.name}({ast.unparse(node.args)})"
    if node.returns is not None:
        signature += f" -> {ast.unparse(node.returns)}"
    return StdlibFunction(
        module=module,
        qualname=f"{owner}.{node.name}" if owner else node.name,
        signature=signature,
        summary=summary,
        source=source,
        is_async=isinstance(node, ast.AsyncFunctionDef),
    )


def functions_in_source(source: str, module: str) -> list[StdlibFunction]:
    """Documented top-level functions and methods of top-level classes in one module's source."""
    tree = parse_module(source)
    if tree is None:
        return []
    lines = source.splitlines(keepends=True)
    found: list[StdlibFunction] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(_describe(node, None, module, lines))
        elif isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append(_describe(child, node.name, module, lines))
    return [f for f in found if f is not None]


@lru_cache(maxsize=4)
def collect_functions(root: str) -> tuple[StdlibFunction, ...]:
    """Every documented function under ``root``, sorted by task id, first definition kept on duplicates.

    Files that are not UTF-8 or do not parse are skipped. Cached per root: parsing the stdlib takes seconds.
    """
    base = Path(root)
    by_id: dict[str, StdlibFunction] = {}
    for path in iter_python_files(base):
        source = read_utf8(path)
        if source is None:
            continue
        for function in functions_in_source(source, module_name(path, base)):
            by_id.setdefault(function.task_id, function)
    return tuple(by_id[key] for key in sorted(by_id))


class StdlibFunctions(TaskSource):
    """Tasks "write this documented function" mined from the Python standard library (or any source tree).

    Rows: ``task_id`` (``stdlib/<module>/<qualname>``), ``messages`` (one user turn naming the signature and the
    docstring's first sentence) and ``reference`` (the function's source, docstring kept).
    """

    def __init__(
        self,
        split: Literal["train", "heldout", "all"] = "train",
        heldout_fraction: float = 0.1,
        max_chars: int = 1200,
        limit: int | None = None,
        seed: int = 0,
        root: str | Path | None = None,
    ) -> None:
        """
        Args:
            split: ``train`` or ``heldout`` part of the deterministic split, or ``all`` rows.
            heldout_fraction: share of tasks in the heldout split, chosen by a stable hash of the task id.
            max_chars: skip functions whose source is longer than this many characters.
            limit: keep at most this many rows (a seeded random subset, still sorted by task id).
            seed: seed of the ``limit`` subset; the split itself does not depend on it.
            root: source tree to mine; default the running interpreter's stdlib directory.
        """
        if split not in ("train", "heldout", "all"):
            raise ValueError(f"split must be 'train', 'heldout' or 'all', got {split!r}")
        if not 0.0 <= heldout_fraction <= 1.0:
            raise ValueError(f"heldout_fraction must be in [0, 1], got {heldout_fraction}")
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self.split = split
        self.heldout_fraction = heldout_fraction
        self.max_chars = max_chars
        self.limit = limit
        self.seed = seed
        self.root = Path(root) if root is not None else stdlib_root()

    def load(self) -> list[TaskRow]:
        """The rows of the chosen split, sorted by task id."""
        if not self.root.is_dir():
            raise FileNotFoundError(f"StdlibFunctions: source root {str(self.root)!r} is not a directory")
        functions = collect_functions(str(self.root.resolve()))
        if not functions:
            raise ValueError(f"StdlibFunctions: no documented functions found under {str(self.root)!r}")
        chosen = [
            f
            for f in functions
            if len(f.source) <= self.max_chars
            and (self.split == "all" or split_of(f.task_id, self.heldout_fraction) == self.split)
        ]
        if self.limit is not None and self.limit < len(chosen):
            keep = set(random.Random(self.seed).sample(range(len(chosen)), self.limit))
            chosen = [f for i, f in enumerate(chosen) if i in keep]
        return [
            {
                "task_id": f.task_id,
                "messages": [{"role": "user", "content": f.instruction}],
                "reference": f.source,
            }
            for f in chosen
        ]
