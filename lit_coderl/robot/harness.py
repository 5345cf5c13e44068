"""The execution harness shared by RoboSim (our angelic simulator) and RoboEval (the fixed-state benchmark).

A clean-room re-implementation of the original harness (spec: ``docs/robosim-roboeval.md`` §3-4):

- `extract_program`: the Robo-Instruct post-processing of a model answer into one ``def task_program():`` (§3).
- `rewrite_program`: the original's naive text rewriting, quirks included (§4.1): double-quoted literals lower-cased,
  API names prefixed with ``robot.`` by plain substring replacement, ``time.sleep`` neutralised, the call appended.
- `run_program`: runs a rewritten program **in-process** (the originals spawn one Python per world; this is what
  made them slow) with ``robot``, ``time`` and ``sys`` in its globals, stdout captured (trace lines and the
  program's own prints interleaved as in the original process), a wall-clock limit via ``SIGALRM`` and the
  original's error text (the last line a traceback would print on stderr). Generated code reaches `run_program`
  only inside a sandbox job child, against a proxy robot (`lit_coderl.robot.runner.SandboxRunner`).
- `parse_trace`: the original trace parser (§4.3), which stops at the first malformed stdout line.
- `classify_error`: robot vs Python error by the ``"Robot"`` substring rule (§4.4).
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal

SPECIAL_DELIM = "/$@!/"
"""Separator of the three fields of a trace line: ``<Name> /$@!/ <value1> /$@!/ <value2>``."""

ROBOT_API_NAMES = ("get_current_location", "get_all_rooms", "is_in_room", "go_to", "ask", "say", "pick", "place")
"""The eight functions a robot program may call (§1), in the order the prompt lists them."""

PROGRAM_HEADER = "def task_program():\n"
PROGRAM_FILENAME = "<program>"
"""The file name the rewritten program is compiled under; traceback frames with it are program lines."""
CALL_LINE = "\n\ntask_program(robot)"
MAX_OUTPUT_CHARS = 1_000_000
"""Captured stdout is cut here, like the original's ``max_output_size`` (1,000,000 bytes)."""
MAX_LITERAL_CHARS = 10_000
"""A trace line's third field longer than this is malformed (it ends the trace): the API prints ``None`` or an
``ask``'s options there, and parsing a program's huge literal would cost the reader seconds."""

# the original's substitution order (§4.1 step 2)
_REWRITE_ORDER = ("get_current_location", "get_all_rooms", "is_in_room", "say", "go_to", "ask", "pick", "place")
_LLAMA3_ASSISTANT_HEADER = re.compile(r"^.*?<\|start_header_id\|>assistant<\|end_header_id\|>\s*", re.DOTALL)
_DOUBLE_QUOTED = re.compile(r'".*?"')
# time.sleep(<arg>), the argument allowing two levels of nested parentheses
_SLEEP_CALL = re.compile(r"time\.sleep\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)")
_BODY_END = re.compile(r"\n[^\s\n]+")


@dataclass
class ExtractedProgram:
    """A program found in a model answer, with where it sits in the answer text.

    ``start`` is the character offset in the answer of the program's first line, or of the answer text the program
    was built from when the ``def`` line had to be prepended (``prepended`` is then True and program line ``n``
    corresponds to answer line ``n - 1`` counted from ``start``).
    """

    code: str
    start: int
    prepended: bool


def locate_program(text: str) -> ExtractedProgram:
    """`extract_program`, also reporting where the program starts in ``text`` (to map error lines back)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    base = 0
    header = _LLAMA3_ASSISTANT_HEADER.match(text)
    if header is not None:
        base = header.end()
    body = text[base:]
    fence = body.find("```python")
    if fence >= 0:
        inner_start = fence + len("```python")
        closing = body.find("```", inner_start)
        inner_end = closing if closing >= 0 else len(body)
        base += inner_start
        body = body[inner_start:inner_end]
    def_at = body.find(PROGRAM_HEADER)
    prepended = def_at < 0
    if prepended:
        program = PROGRAM_HEADER + body
        start = base
    else:
        # code before the function (imports, prose) is dropped with the rest of what lies outside it
        program = body[def_at:]
        start = base + def_at
    end = _BODY_END.search(program, len(PROGRAM_HEADER) - 1)
    if end is not None:
        program = program[: end.start()]
    return ExtractedProgram(code=program, start=start, prepended=prepended)


def extract_program(text: str) -> str:
    """The ``def task_program():`` program in a model answer (§3, Robo-Instruct's post-processing).

    In order: drop a Llama-3 assistant header; if there is a ```` ```python ```` fence keep what follows it up to the
    next ```` ``` ```` (or the end); if ``"def task_program():\\n"`` is absent prepend it (completion-style answers
    are the body only), else start at it; cut at the first line after the ``def`` line that starts with a
    non-whitespace character, so anything outside the function is dropped.
    """
    return locate_program(text).code


def _lower_literal(match: re.Match) -> str:
    return match.group(0).lower()


def rewrite_program(code: str, sleep: Literal["zero", "codebotler"] = "zero") -> str:
    """The original harness's text rewriting of a program (§4.1), quirks included.

    1. Every ``".*?"`` span of the raw text is lower-cased (comments and single-quoted strings included).
    2. ``task_program()`` becomes ``task_program(robot)`` and every ``<api>(`` becomes ``robot.<api>(`` by plain
       substring replacement, so ``x.replace(`` becomes ``x.rerobot.place(`` and ``essay(`` ``esrobot.say(``.
    3. ``sleep="zero"`` (Robo-Instruct): ``time.sleep(<arg>)`` becomes ``time.sleep((<arg>) * 0)``;
       ``sleep="codebotler"``: only ``time.sleep(1)`` becomes ``time.sleep(0.01)``.
    4. ``"\\n\\ntask_program(robot)"`` is appended.

    No newline is added or removed before the appended call, so line ``n`` of the result is line ``n`` of ``code``.
    """
    if sleep not in ("zero", "codebotler"):
        raise ValueError(f"sleep must be 'zero' or 'codebotler', got {sleep!r}")
    text = _DOUBLE_QUOTED.sub(_lower_literal, code)
    text = text.replace("task_program()", "task_program(robot)")
    for name in _REWRITE_ORDER:
        text = text.replace(f"{name}(", f"robot.{name}(")
    if sleep == "zero":
        text = _SLEEP_CALL.sub(lambda m: f"time.sleep(({m.group(1)}) * 0)", text)
    else:
        text = text.replace("time.sleep(1)", "time.sleep(0.01)")
    return text + CALL_LINE


def parse_trace(stdout: str) -> list[tuple[str, str, Any]]:
    """The trace events ``(name, value1, value2)`` in a run's stdout (§4.3).

    Each line must split on `SPECIAL_DELIM` into exactly 3 fields (stripped); the third is evaluated as a Python
    literal (``None`` or an Ask's option list). Parsing **stops at the first malformed line**, so a ``print`` of the
    program or a newline inside a ``say`` text truncates the trace, as in the original. (The original uses
    ``eval``; a literal parser gives the same values for everything the API prints and never runs code.)
    """
    events: list[tuple[str, str, Any]] = []
    for line in stdout.split("\n"):
        parts = line.split(SPECIAL_DELIM)
        if len(parts) != 3:
            break
        name, value1, value2 = (p.strip() for p in parts)
        ok, value = literal_value(value2)
        if not ok:
            break
        events.append((name, value1, value))
    return events


def literal_value(text: str) -> tuple[bool, Any]:
    """``(True, value)`` of a trace line's third field read as a Python literal, ``(False, None)`` when it is not
    one or is longer than `MAX_LITERAL_CHARS` (so reading it costs at most milliseconds)."""
    if text == "None":
        return True, None
    if len(text) > MAX_LITERAL_CHARS:
        return False, None
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def classify_error(stderr_last_line: str) -> Literal["robot", "python"]:
    """``"robot"`` if the last stderr line contains ``"Robot"`` (case-sensitive), else ``"python"`` (§4.4)."""
    return "robot" if "Robot" in (stderr_last_line or "") else "python"


def error_class(error: str | None) -> str | None:
    """A short class name of an error text: the first ``Robot…Error`` word in it, else the exception type.

    ``"Exception: RobotPlaceError: Robot is not …"`` → ``"RobotPlaceError"``; ``"NameError: name 'x' is not
    defined"`` → ``"NameError"``; ``None`` → ``None``.
    """
    if error is None:
        return None
    robot = re.search(r"Robot\w*Error", error)
    if robot is not None:
        return robot.group(0)
    head = error.split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Za-z_][\w.]*", head) else "Error"


@dataclass
class RunResult:
    """The outcome of one program run.

    Attributes:
        status: ``"ok"`` (ran to the end), ``"error"`` (raised; the original's non-zero exit) or ``"timeout"``.
        stdout: Captured stdout (trace lines and the program's prints), cut at `MAX_OUTPUT_CHARS`.
        error: The last stderr line the original would show, e.g.
            ``"Exception: RobotGoToError: update_robot_location failed"``; None unless ``status == "error"``.
        error_line: The 1-based line of the original program that raised (innermost program frame), or for a
            timeout the line that was running; None when no program line is involved (e.g. the appended call).
        trace: `parse_trace` of ``stdout`` (the original harness's view, which the program's prints can change).
        robot_trace: The simulator's own record of the API calls (set by `lit_coderl.robot.runner`).
        robot_errors: Robot errors the simulator raised, including those the program caught (sandboxed runs).
        calls: The simulator holder's log of every API call (`lit_coderl.robot.calls`): api, arguments, result or
            error, program line.
    """

    status: Literal["ok", "error", "timeout"]
    stdout: str
    error: str | None = None
    error_line: int | None = None
    trace: list[tuple[str, str, Any]] = field(default_factory=list)
    robot_trace: list[tuple[str, str, Any]] = field(default_factory=list)
    robot_errors: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)


class _RunTimeout(BaseException):
    """Raised inside the program when its wall-clock budget is spent (a BaseException: ``except Exception`` in
    the program does not swallow it)."""


class _CappedWriter(io.TextIOBase):
    """A text stream keeping the first `MAX_OUTPUT_CHARS` characters written to it."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self._limit - self._size
        if room > 0:
            chunk = s[:room]
            self._parts.append(chunk)
            self._size += len(chunk)
        return len(s)

    def getvalue(self) -> str:
        return "".join(self._parts)

    def take_new(self) -> str:
        """The text written since the last `take_new` (a sandboxed robot proxy reports it with each API call)."""
        seen = getattr(self, "_taken", 0)
        self._taken = len(self._parts)
        return "".join(self._parts[seen:])


def _last_stderr_line(exc: BaseException) -> str:
    """The last line Python would print on stderr for an uncaught ``exc``."""
    if isinstance(exc, SystemExit):
        code = exc.code
        return "" if code is None or isinstance(code, int) else str(code).split("\n")[-1]
    try:
        text = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")
    except Exception:  # a hostile __str__
        text = f"{type(exc).__name__}: <unprintable>"
    return text.split("\n")[-1]


_PROGRAM_CODES: dict[int, Any] = {}
"""The code objects compiled from the program being run, by id (`program_code`)."""


def _register_program(compiled: Any) -> None:
    """Remember every code object of the compiled program (functions, lambdas, comprehensions nested in it)."""
    _PROGRAM_CODES.clear()
    stack = [compiled]
    while stack:
        code = stack.pop()
        _PROGRAM_CODES[id(code)] = code  # kept alive here, so an id is never reused by another code object
        stack.extend(c for c in code.co_consts if isinstance(c, type(compiled)))


def program_code(code: Any) -> bool:
    """Whether ``code`` was compiled from the program `run_program` runs. By identity, not by file name: code the
    program compiles itself under the program's file name (``compile(src, "<program>", "exec")`` at line 9000) is
    not the program's, so blame stays on the program line that ran it."""
    return _PROGRAM_CODES.get(id(code)) is code


def _program_line(tb, n_lines: int) -> int | None:
    """Line of the innermost traceback frame that belongs to the program, if it is a line of the original."""
    line = None
    while tb is not None:
        if program_code(tb.tb_frame.f_code):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line if line is not None and 1 <= line <= n_lines else None


class _Deadline:
    """Interrupts the running program after ``timeout_s`` seconds.

    On the main thread: ``SIGALRM`` via ``setitimer``, repeating every 50 ms after the deadline so a program that
    catches the first interruption with a bare ``except:`` is interrupted again. Elsewhere (signals only reach the
    main thread): a ``sys.settrace`` line hook that checks the clock. An outer ``SIGALRM`` timer and handler (a
    test timeout, a caller's own limit) are restored afterwards, less the time spent.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = max(float(timeout_s), 1e-3)
        self.expired = False
        self._deadline = 0.0
        self._use_signal = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self._previous_handler = None
        self._previous_timer = (0.0, 0.0)
        self._previous_trace = None

    def _on_alarm(self, signum, frame) -> None:
        self.expired = True
        raise _RunTimeout()

    def _trace(self, frame, event, arg):
        if time.monotonic() >= self._deadline:
            self.expired = True
            raise _RunTimeout()
        return self._trace

    def __enter__(self) -> _Deadline:
        self._deadline = time.monotonic() + self.timeout_s
        if self._use_signal:
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
            self._previous_timer = signal.setitimer(signal.ITIMER_REAL, self.timeout_s, 0.05)
        else:
            self._previous_trace = sys.gettrace()
            sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._use_signal:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous_handler or signal.SIG_DFL)
            delay, interval = self._previous_timer
            if delay > 0:  # an outer alarm (e.g. a test timeout) keeps running, less the time spent here
                elapsed = time.monotonic() - (self._deadline - self.timeout_s)
                signal.setitimer(signal.ITIMER_REAL, max(delay - elapsed, 1e-3), interval)
        else:
            sys.settrace(self._previous_trace)


def run_program(rewritten: str, robot: object, timeout_s: float) -> RunResult:
    """Run a `rewrite_program` output in this process against ``robot``; never raises for a bad program.

    The program's globals hold ``robot``, ``time``, ``sys`` and the builtins (nothing else is imported, as in the
    original script). stdout and stderr are redirected for the run; the error text is the last line the original
    ``python -c`` process would have printed on stderr. Only call this inside a sandbox for untrusted code.
    """
    n_lines = rewritten.count("\n") + 1
    if rewritten.endswith(CALL_LINE):
        n_lines -= CALL_LINE.count("\n")
    try:
        compiled = compile(rewritten, PROGRAM_FILENAME, "exec")
    except SyntaxError as exc:
        line = exc.lineno if exc.lineno is not None and 1 <= exc.lineno <= n_lines else None
        return RunResult(status="error", stdout="", error=_last_stderr_line(exc), error_line=line)
    except Exception as exc:  # null bytes, unencodable surrogates, too deep nesting
        return RunResult(status="error", stdout="", error=_last_stderr_line(exc))

    _register_program(compiled)
    out, err = _CappedWriter(), _CappedWriter()
    program_globals = {"__name__": "__main__", "__builtins__": builtins, "robot": robot, "time": time, "sys": sys}
    saved = sys.stdout, sys.stderr, sys.stdin
    status: Literal["ok", "error", "timeout"] = "ok"
    error = None
    error_line = None
    deadline = _Deadline(timeout_s)
    try:
        sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO()
        try:
            with deadline:
                exec(compiled, program_globals)
        except _RunTimeout as exc:
            status, error_line = "timeout", _program_line(exc.__traceback__, n_lines)
        except BaseException as exc:  # the program's own exception, whatever it is
            if deadline.expired:
                status, error_line = "timeout", _program_line(exc.__traceback__, n_lines)
            elif isinstance(exc, SystemExit) and exc.code in (None, 0):
                status = "ok"
            else:
                status, error = "error", _last_stderr_line(exc)
                error_line = _program_line(exc.__traceback__, n_lines)
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    stdout = out.getvalue()
    return RunResult(status=status, stdout=stdout, error=error, error_line=error_line, trace=parse_trace(stdout))
