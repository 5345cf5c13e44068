"""Where a response's robot program and its lines sit among the response tokens (shared by the robot rewards).

The program is `lit_coderl.robot.harness.locate_program` of the response text: for a fenced answer the code inside
the fence from ``def task_program():`` on; for a completion-style body the ``def`` line is prepended and program
line ``n`` is response line ``n - 1``. Lines are 1-based program lines, as tracebacks and the simulator's call log
report them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lit_coderl.rewards.spans import char_span_to_tokens, line_char_span
from lit_coderl.robot.harness import PROGRAM_HEADER, locate_program

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout


def program_span(rollout: Rollout, i: int) -> tuple[int, int]:
    """Character span of sample ``i``'s program in its response (empty when the def line was prepended to
    nothing)."""
    found = locate_program(rollout.texts[i])
    length = len(found.code) - (len(PROGRAM_HEADER) if found.prepended else 0)
    return found.start, found.start + max(0, length)


def program_token_indices(rollout: Rollout, i: int) -> list[int]:
    """Response-token indices overlapping sample ``i``'s program."""
    start, end = program_span(rollout, i)
    if end <= start:
        return []
    return char_span_to_tokens(rollout.offsets[i], start, end)


def line_token_indices(rollout: Rollout, i: int, line: int) -> list[int]:
    """Response-token indices of program line ``line`` (1 = the ``def`` line) of sample ``i``."""
    found = locate_program(rollout.texts[i])
    text_line = line - 1 if found.prepended else line
    if text_line < 1:
        return []
    program_end = program_span(rollout, i)[1]
    start, end = line_char_span(rollout.texts[i][:program_end], text_line, base=found.start)
    if end <= start:
        return []
    return char_span_to_tokens(rollout.offsets[i], start, end)
