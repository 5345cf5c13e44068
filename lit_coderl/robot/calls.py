"""The simulator's record of a robot program's API calls: what was called, with what, what came back, from where.

The RoboSim/RoboEval trace (`lit_coderl.robot.api.trace`) keeps the original harness's text format, which has no
person for an ``ask``, no answer, no ``is_in_room`` result and no program line. Task checks
(`lit_coderl.robot.task_check`) and their token attribution need those, so whoever holds the simulator also keeps
a **call log**: one plain-data entry per API call (`call_entry`), in call order, and records the trace itself as
structured events (`TraceRecorder`), never parsed from text the program printed.

Sandboxed (`lit_coderl.robot.runner.SandboxRunner`), the log is kept by the sandbox server, which executes every
call on the simulator itself: the API name, arguments, result and error are what the simulator saw and did. Only
``line`` comes from the program's process (the innermost frame of the program at the call, `program_line`): a
program can misstate where a call came from, never what the robot did, and a line only steers blame among the
program's own tokens. In-process runs (trusted programs, tests) record the same entries with `RecordingRobot`.
"""

from __future__ import annotations

import sys
from typing import Any

from lit_coderl.robot.harness import ROBOT_API_NAMES, SPECIAL_DELIM, literal_value, program_code
from lit_coderl.sandbox import codec

MAX_CALLS = 1000
"""Entries kept per run (a looping program's later calls are dropped from the log, not from the run)."""
MAX_TEXT = 200
"""Characters kept of each string argument or result."""
MAX_ITEMS = 20
"""Items kept of a list argument or result (``ask`` options, ``get_all_rooms``)."""
MAX_LINE = 100_000
"""A reported line above this is dropped (the program's process reports it; a program is never that long)."""


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as small plain data: strings cut to `MAX_TEXT`, lists to `MAX_ITEMS`, anything else its type name."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list | tuple) and depth < 2:
        return [plain(item, depth + 1) for item in list(value)[:MAX_ITEMS]]
    return f"<{type(value).__name__}>"


def call_entry(api: str, args: list | tuple, result: Any = None, error: str | None = None,
               line: Any = None) -> dict[str, Any]:
    """One log entry: ``{"api", "args", "result", "error", "line"}`` (``error`` is the raised text or None;
    ``line`` the 1-based program line of the call, None when unknown or not an int)."""
    return {
        "api": str(api)[:MAX_TEXT],
        "args": [plain(a) for a in list(args)[:MAX_ITEMS]],
        "result": None if error is not None else plain(result),
        "error": None if error is None else str(error)[:MAX_TEXT],
        "line": line if type(line) is int and 0 < line <= MAX_LINE else None,
    }


def program_line(frame=None) -> int | None:
    """The line of the innermost frame of the program on the current stack (a frame of code the program compiled
    itself is not the program's: `harness.program_code`)."""
    frame = frame if frame is not None else sys._getframe(1)
    while frame is not None:
        if program_code(frame.f_code):
            return frame.f_lineno
        frame = frame.f_back
    return None


def trace_event(event: Any, value1: Any, value2: Any) -> tuple[str, str, Any] | None:
    """The ``(name, value1, value2)`` event of a traced call, as the original parser would read its printed line
    ``<event> /$@!/ <value1> /$@!/ <value2>``; None when that line would be malformed (a newline or the delimiter
    in a value, a third field that is not a short literal), which ends the trace as it ends the original's parse.
    Built from the simulator's own arguments, so no text can add an event."""
    first, second = str(value1), "None" if value2 is None else str(value2)
    line = f"{event} {SPECIAL_DELIM} {first} {SPECIAL_DELIM} {second}"
    if "\n" in line or line.count(SPECIAL_DELIM) != 2:
        return None
    ok, value = literal_value(second.strip())
    if not ok:
        return None
    try:
        codec.encode_value(value)  # it must travel back as data (an Ellipsis literal would not)
    except codec.CodecError:
        return None
    return str(event).strip(), first.strip(), value


class TraceRecorder:
    """The trace as the simulator made it (`lit_coderl.robot.api.recording` sink): events in call order, up to the
    first malformed one (`trace_event`) or ``max_chars`` characters of event text."""

    def __init__(self, max_chars: int) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.ended = False
        self.chars = 0
        self.max_chars = max_chars

    def __call__(self, event: Any, value1: Any, value2: Any = None) -> None:
        if self.ended:
            return
        record = trace_event(event, value1, value2)
        size = sum(len(str(part)) for part in (event, value1, value2))
        if record is None or self.chars + size > self.max_chars:
            self.ended = True
            return
        self.chars += size
        self.events.append(record)


def encode_events(events: list) -> list:
    """Events as plain data for a reply (`decode_events` reads them back)."""
    return [[name, first, codec.encode_value(value)] for name, first, value in events]


def decode_events(data: Any) -> list[tuple[str, str, Any]]:
    """The well-formed events of a reply, in order, up to the first that is not (`encode_events`)."""
    events: list[tuple[str, str, Any]] = []
    for item in data if isinstance(data, list) else []:
        if not (isinstance(item, list) and len(item) == 3 and type(item[0]) is str and type(item[1]) is str):
            break
        try:
            events.append((item[0], item[1], codec.decode_value(item[2])))
        except codec.CodecError:
            break
    return events


def valid_log(log: Any) -> list[dict[str, Any]]:
    """The well-formed entries of a call log read back from a reply (anything else is dropped)."""
    if not isinstance(log, list):
        return []
    return [call_entry(e["api"], e.get("args") or [], e.get("result"), e.get("error"), e.get("line"))
            for e in log[:MAX_CALLS] if isinstance(e, dict) and isinstance(e.get("api"), str)]


class RecordingRobot:
    """A robot that forwards the eight API calls to ``robot`` and logs each (`call_entry`) in ``log``.

    For in-process runs; the trace line a call prints still goes to the current stdout, as without the wrapper.
    """

    def __init__(self, robot: Any) -> None:
        self._robot = robot
        self.log: list[dict[str, Any]] = []

    def _call(self, api: str, args: tuple) -> Any:
        line = program_line(sys._getframe(1))
        try:
            value = getattr(self._robot, api)(*args)
        except Exception as exc:
            if len(self.log) < MAX_CALLS:  # the sandbox server's form of the error text
                kind = "TypeError" if isinstance(exc, TypeError) else "Exception"
                self.log.append(call_entry(api, args, error=f"{kind}: {exc}", line=line))
            raise
        if len(self.log) < MAX_CALLS:
            self.log.append(call_entry(api, args, value, line=line))
        return value

    def __getattr__(self, api: str):
        if api not in ROBOT_API_NAMES:
            raise AttributeError(f"'Robot' object has no attribute {api!r}")
        return lambda *args: self._call(api, args)


__all__ = ["MAX_CALLS", "RecordingRobot", "TraceRecorder", "call_entry", "decode_events", "encode_events", "plain",
           "program_line", "trace_event", "valid_log"]
