"""`SyntaxReward`: per-token Python syntax validity of the code region.

The CPython backend classifies every prefix of the code as complete / incomplete (a valid proper prefix) / invalid
with CPython's own parser (``PyCF_ALLOW_INCOMPLETE_INPUT``, the mechanism behind `codeop`), and flags the first token
at which the code stops being a valid prefix. See ``shared/docs/syntax-checking.md`` §4 for the algorithm.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from typing import Literal

import torch

from lit_coderl.rewards.base import RewardComponent
from lit_coderl.rollout import Rollout

Status = Literal["complete", "incomplete", "invalid"]

_SINGLE_FLAGS = ast.PyCF_ONLY_AST | 0x200 | 0x4000  # DONT_IMPLY_DEDENT | ALLOW_INCOMPLETE_INPUT
_TOP_LEVEL_START = re.compile(r"^[^\s#)\]}]", re.MULTILINE)
_INCOMPLETE_TOKEN_MESSAGES = ("unterminated", "invalid decimal literal", "invalid hexadecimal")
_MAX_FAILED_HEADS = 4


@functools.lru_cache(maxsize=4096)
def _compiles_exec(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<head>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def _tail_status(tail: str) -> Status:
    if not tail.strip():
        return "complete"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(tail, "<tail>", "single", _SINGLE_FLAGS, dont_inherit=True)
        return "complete"
    except SyntaxError as err:
        message = err.msg or ""
        if message == "incomplete input":
            return "incomplete"
        last_line = tail.count("\n") + 1
        if any(m in message for m in _INCOMPLETE_TOKEN_MESSAGES) and (err.lineno or 0) >= last_line:
            return "incomplete"  # a string or number still being written at the very end
        if message.startswith("multiple statements"):
            return "complete" if _compiles_exec(tail) else "invalid"
        return "invalid"
    except ValueError:  # e.g. NUL bytes
        return "invalid"


def python_prefix_status(text: str) -> Status:
    """Whether ``text`` is a complete Python program, a valid proper prefix of one, or neither."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1].strip(" \t") == "":
        text = "\n".join(lines[:-1]) + "\n"  # a half-written indentation line
        if not text.strip():
            return "incomplete"
    starts = [m.start() for m in _TOP_LEVEL_START.finditer(text)]
    failed = 0
    for start in reversed(starts):
        if start == 0 or _compiles_exec(text[:start]):
            return _tail_status(text[start:])
        failed += 1
        if failed >= _MAX_FAILED_HEADS:
            break
    if not starts or starts[0] != 0:
        return _tail_status(text)
    return "invalid"


def first_invalid_prefix(code: str, ends: list[int]) -> int | None:
    """Index ``k`` of the first prefix ``code[:ends[k]]`` that is invalid, or None.

    Validity is monotone (an extension of an invalid prefix stays invalid), so a valid full text needs no further
    check and otherwise a binary search finds the boundary in O(log n) parser calls.
    """
    if not ends or python_prefix_status(code[: ends[-1]]) != "invalid":
        return None
    lo, hi = 0, len(ends) - 1  # invariant: prefix hi is invalid
    while lo < hi:
        mid = (lo + hi) // 2
        if python_prefix_status(code[: ends[mid]]) == "invalid":
            hi = mid
        else:
            lo = mid + 1
    return hi


class SyntaxReward(RewardComponent):
    """Flags the token at which the code stops being valid Python.

    Args:
        weight: λ of this component.
        backend: Parser that judges prefixes. ``cpython`` (exact, fast, no dependency).
        invalid_penalty: Score of the first token that makes the code an invalid prefix.
        penalize_after: Also give ``invalid_penalty`` to every later code token (the code never recovers).
        valid_bonus: Score of each code token before the first invalid one (the paper: 1.0 with weight 0.1).
        incomplete_penalty: Score added to the last code token when the code ends as a valid but unfinished
            prefix (an unclosed bracket or an empty block at the end of the response).
        name: Log name.
    """

    default_name = "syntax"

    def __init__(
        self,
        weight: float = 0.1,
        backend: Literal["cpython"] = "cpython",
        invalid_penalty: float = -1.0,
        penalize_after: bool = False,
        valid_bonus: float = 0.0,
        incomplete_penalty: float = -1.0,
        name: str | None = None,
    ) -> None:
        super().__init__(weight, name)
        if backend != "cpython":
            raise ValueError(f"unknown syntax backend {backend!r}; available: cpython")
        self.backend = backend
        self.invalid_penalty, self.penalize_after = invalid_penalty, penalize_after
        self.valid_bonus, self.incomplete_penalty = valid_bonus, incomplete_penalty
        self._valid_share = 0.0

    def score(self, rollout: Rollout) -> torch.Tensor:
        scores = rollout.zeros()
        n_valid = 0
        for i in range(rollout.batch_size):
            code_tokens = rollout.code_token_indices(i)
            if not code_tokens:
                continue
            start, end = rollout.code_spans[i]
            code = rollout.texts[i][start:end]
            ends = [min(rollout.offsets[i][t][1], end) - start for t in code_tokens]
            first_bad = first_invalid_prefix(code, ends)
            n_ok = len(code_tokens) if first_bad is None else first_bad
            for t in code_tokens[:n_ok]:
                scores[i, t] = self.valid_bonus
            if first_bad is not None:
                flagged = code_tokens[first_bad:] if self.penalize_after else [code_tokens[first_bad]]
                for t in flagged:
                    scores[i, t] = self.invalid_penalty
            elif not _compiles_exec(code):  # a valid prefix that never got finished
                scores[i, code_tokens[-1]] += self.incomplete_penalty
            else:
                n_valid += 1
        self._valid_share = n_valid / max(1, rollout.batch_size)
        return scores

    def metrics(self) -> dict[str, float]:
        return {"valid_share": self._valid_share}
