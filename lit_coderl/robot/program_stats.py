"""Cheap static statistics of a robot program, logged to make reward hacking visible.

An executability reward (RoboSim) is satisfied by programs that cannot fail, such as ``go_to("x")`` followed by
``say("done")``. `api_call_count` counts the robot API call sites in the program text and `is_trivial` flags a
program with at most `TRIVIAL_MAX_CALLS` of them; their batch share is logged by the robot rewards
(``reward/<name>/trivial_share``) so a shrink to trivial programs shows in the metrics.
"""

from __future__ import annotations

import ast
import re

from lit_coderl.robot.harness import ROBOT_API_NAMES

TRIVIAL_MAX_CALLS = 2
"""A program with this many robot API call sites or fewer is *trivial*."""

_CALL = re.compile(r"(?<![\w.])(" + "|".join(ROBOT_API_NAMES) + r")\s*\(")


def api_call_count(code: str) -> int:
    """Robot API call sites (``go_to(...)``, ``say(...)``, ...) in ``code``, counted statically.

    Calls of a bare API name in the parsed program; for a program that does not parse, the textual occurrences of
    ``<api>(`` not preceded by a name character or a dot. A call inside a loop counts once.
    """
    if not isinstance(code, str):
        return 0
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return len(_CALL.findall(code))
    return sum(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ROBOT_API_NAMES
        for node in ast.walk(tree)
    )


def is_trivial(code: str, max_calls: int = TRIVIAL_MAX_CALLS) -> bool:
    """Whether ``code`` has at most ``max_calls`` robot API call sites."""
    return api_call_count(code) <= max_calls


def program_stats(codes: list[str]) -> dict[str, float]:
    """``api_calls_mean`` and ``trivial_share`` (programs with ≤ `TRIVIAL_MAX_CALLS` calls) of a batch."""
    if not codes:
        return {"api_calls_mean": 0.0, "trivial_share": 0.0}
    counts = [api_call_count(code) for code in codes]
    return {
        "api_calls_mean": sum(counts) / len(counts),
        "trivial_share": sum(c <= TRIVIAL_MAX_CALLS for c in counts) / len(counts),
    }
