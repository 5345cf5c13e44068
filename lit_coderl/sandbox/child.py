"""The job child: the only process that runs untrusted code.

A server forks one child per job. Before any untrusted code runs, the child moves its three pipes onto fds 0, 1 and
2 and closes every other descriptor, restores default signal handling, enters a fresh working directory, applies
the rlimits and the reliability guard. Then it runs the job's **plan** and only ever sends data back, as frames on
fd 1 (`codec`): it never decides a verdict. Anything the program does to this process (rebinding builtins, editing
frames, writing forged frames, exiting early) changes only the data it sends, which the judge outside checks.

Plans (``job["mode"]``):

- ``exec``: run the code (and ``setup``); report whether it loaded.
- ``holes``: then evaluate, per test, the expressions the judge asked for (the program's calls inside an assert;
  `judge.py`) and send their values; tests the judge could not split run here and report pass/fail (flagged).
- ``calls``: then, for each input the server sends (one at a time, after the previous value), call
  ``entry_point(*args)`` and send the return value (MBPP+); the server's clock limits each call, expected outputs
  never come here, and an input is not here before its turn.
- ``robot``: run a rewritten robot program whose ``robot`` is a proxy: every API call is a request to the server,
  which runs the simulator and records the trace and robot errors itself.

Frames sent: ``S`` set up (before any untrusted code; the child then waits for the server's ``G``), ``L`` loaded
(or the load error), ``V`` one item's value(s) or error, ``Q`` a robot request, ``D`` done. A program writing to
fd 1 itself can only corrupt its own stream (the job then counts as crashed).
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
from typing import Any

from lit_coderl.sandbox import codec
from lit_coderl.sandbox.guard import reliability_guard
from lit_coderl.sandbox.limits import Limits, apply_limits

USER_CODE_FILENAME = "<code>"
"""File name under which user code is compiled, so that tracebacks name its lines (``error_line``)."""
TEST_CODE_FILENAME = "<test>"
MAX_REPLY_FRAME = 1 << 20
"""Largest robot reply frame a child accepts from its server."""
MAX_INPUT_FRAME = 256 * 1024 * 1024
"""Largest input (one MBPP+ call's arguments) a child accepts from its server."""


def describe_exception(exc: BaseException) -> str:
    """``"ExcType: message"`` (message cut to 2000 characters), never raising."""
    try:
        message = str(exc)
    except BaseException:  # noqa: B036 - hostile __str__
        message = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {message[:2000]}" if message else name


def user_error_line(exc: BaseException, filename: str = USER_CODE_FILENAME) -> int | None:
    """Line of the innermost traceback frame in ``filename`` (or a SyntaxError's line there)."""
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _send(tag: bytes, payload: dict) -> None:
    codec.write_frame(1, tag, payload)


def _error(exc: BaseException, filename: str = USER_CODE_FILENAME) -> dict:
    line = user_error_line(exc, filename)
    return {"x": describe_exception(exc), "line": line, "memory": isinstance(exc, MemoryError)}


class _Output:
    """``sys.stdout`` of the program: keeps the first ``limit`` characters (sent with the ``D`` frame)."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def write(self, s: str) -> int:
        s = str(s)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        return len(s)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


# --- plans -------------------------------------------------------------------------------------------------------


def _load(job: dict, namespace: dict) -> bool:
    # the test's setup code is compiled, and the builtins it will see copied, before the program runs: functions the
    # setup defines keep builtins the program cannot rebind
    try:
        setup = compile(job["setup"], TEST_CODE_FILENAME, "exec") if job.get("setup") else None
    except BaseException as exc:  # noqa: B036 - reported once the program has loaded, as before
        setup = exc
    setup_builtins = dict(builtins.__dict__)
    try:
        exec(compile(job["code"], USER_CODE_FILENAME, "exec"), namespace)
    except BaseException as exc:  # noqa: B036 - SystemExit too: the program did not load
        _send(b"L", {"ok": False, **_error(exc)})
        return False
    if setup is not None:
        try:
            if isinstance(setup, BaseException):
                raise setup
            setup_globals = {**namespace, "__builtins__": setup_builtins}
            exec(setup, setup_globals)
            namespace.update({k: v for k, v in setup_globals.items() if k != "__builtins__"})
        except BaseException as exc:  # noqa: B036
            _send(b"L", {"ok": True, "setup_error": describe_exception(exc), "line": user_error_line(exc)})
            return False
    _send(b"L", {"ok": True})
    return True


def _bound_tests(job: dict) -> list:
    """Tests that run beside the program (``in_child``), compiled with a copy of the builtins taken before the
    program runs, so rebinding ``builtins.sorted`` and the like does not reach them."""
    if job.get("mode") != "holes" or not any(t is not None for t in job.get("fallback") or []):
        return []
    snapshot = dict(builtins.__dict__)
    return [(compile(t, TEST_CODE_FILENAME, "exec"), snapshot) if t is not None else None for t in job["fallback"]]


def _plan_holes(job: dict, namespace: dict, bound: list) -> None:
    for i, holes in enumerate(job["holes"]):
        if holes is None:  # a test the judge could not split: it runs here, and the judge knows it
            try:
                code, snapshot = bound[i]
                exec(code, {**namespace, "__builtins__": snapshot})
                _send(b"V", {"i": i, "pass": True})
            except BaseException as exc:  # noqa: B036
                _send(b"V", {"i": i, "pass": False, **_error(exc)})
            continue
        values = []
        try:
            for expression in holes:
                values.append(codec.encode_value(eval(compile(expression, TEST_CODE_FILENAME, "eval"), namespace)))
        except BaseException as exc:  # noqa: B036 - a refused value (CodecError) fails the test like a raise
            _send(b"V", {"i": i, **_error(exc)})
            if isinstance(exc, MemoryError):
                return
            continue
        _send(b"V", {"i": i, "v": values})


def _plan_calls(job: dict, namespace: dict) -> None:
    function = namespace.get(job["entry_point"])
    for i in range(int(job["n_inputs"])):
        received = codec.read_frame(0, MAX_INPUT_FRAME)  # the server sends input i only now, and starts its clock
        if received is None:
            return
        try:
            if function is None:
                raise NameError(f"name {job['entry_point']!r} is not defined")
            value = function(*codec.decode_value(received[1]))
            if job.get("project") == "not_none" or job.get("project") == "not_none_unless_bool" and type(
                    value) is not bool:
                value = value is not None
            _send(b"V", {"i": i, **codec.encode_item(value)})
        except BaseException as exc:  # noqa: B036
            _send(b"V", {"i": i, **_error(exc)})
            if isinstance(exc, MemoryError):
                return


class RobotProxy:
    """The ``robot`` a sandboxed program sees: each API call is a request to the server, which owns the world."""

    def _call(self, name: str, args: tuple) -> Any:
        out = sys.stdout
        printed = out.take_new() if hasattr(out, "take_new") else ""
        encoded = []
        for arg in args:
            try:
                encoded.append(codec.encode_value(arg))
            except codec.CodecError:
                encoded.append({"O": type(arg).__name__})  # not data: the simulator sees an opaque object
        from lit_coderl.robot.calls import program_line  # the call's line: blame only, never a verdict

        _send(b"Q", {"m": name, "a": encoded, "o": printed, "l": program_line(sys._getframe(1))})
        reply = codec.read_frame(0, MAX_REPLY_FRAME)
        if reply is None:
            os._exit(3)
        body = reply[1]
        if body.get("t"):
            out.write(body["t"])  # the trace line, where the original API printed it
            if hasattr(out, "take_new"):
                out.take_new()
        if "e" in body:
            kind, message = body["e"]
            raise (TypeError if kind == "TypeError" else Exception)(message)
        return codec.decode_value(body.get("r"))

    def get_current_location(self, *args):
        return self._call("get_current_location", args)

    def get_all_rooms(self, *args):
        return self._call("get_all_rooms", args)

    def is_in_room(self, *args):
        return self._call("is_in_room", args)

    def go_to(self, *args):
        return self._call("go_to", args)

    def ask(self, *args):
        return self._call("ask", args)

    def say(self, *args):
        return self._call("say", args)

    def pick(self, *args):
        return self._call("pick", args)

    def place(self, *args):
        return self._call("place", args)


def _plan_robot(job: dict) -> None:
    from lit_coderl.robot.harness import run_program

    result = run_program(job["code"], RobotProxy(), float(job["world_timeout_s"]))
    # the stdout the original harness would parse (the program controls it there too); the server keeps its own trace
    _send(b"D", {"status": result.status, "error": result.error, "error_line": result.error_line,
                 "stdout": result.stdout})


# --- entry -------------------------------------------------------------------------------------------------------


def child_main(job: dict, fds: tuple[int, int, int], workdir: str, isolated: bool) -> None:
    """Body of a forked job child; never returns. ``fds``: the request (stdin), frame (stdout), stderr pipes."""
    code = 1
    try:
        if not isolated:
            os.setsid()  # so the server can kill the whole group; isolated, the PID namespace does that
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 1 << 16)
        for sig in range(1, signal.NSIG):
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                try:
                    signal.signal(sig, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.chdir(workdir)
        os.environ.update({"HOME": workdir, "TMPDIR": workdir, "TMP": workdir, "TEMP": workdir})
        import tempfile

        tempfile.tempdir = workdir
        limits = Limits(**job["limits"])
        apply_limits(limits, isolated)
        output = _Output(int(limits.max_output_bytes))
        mode = job["mode"]
        if mode != "robot":
            sys.stdout = output
        sys.stdin = None
        reliability_guard(limits, workdir, network_isolated=isolated)
        # the start handshake: until here only trusted code ran, and a failure is the machinery's (the server then
        # reports an infrastructure error, not a verdict); the program runs once the server, having told its
        # caller, says go
        _send(b"S", {})
        go = codec.read_frame(0, 64)
        if go is None or go[0] != b"G":
            os._exit(1)
        if mode == "robot":
            _plan_robot(job)
        else:
            namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
            bound = _bound_tests(job)
            if _load(job, namespace):
                if mode == "holes":
                    _plan_holes(job, namespace, bound)
                elif mode == "calls":
                    _plan_calls(job, namespace)
            _send(b"D", {"stdout": output.getvalue()})
        code = 0
    except BaseException:  # noqa: B036 - nothing may escape the child
        code = 1
    finally:
        for stream in (sys.stderr, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:  # noqa: B036
                pass
        os._exit(code)
