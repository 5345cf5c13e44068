"""Running untrusted code: resource limits, a reliability guard, a pool of warm worker processes, results.

How a job runs::

    training process ──pipe──▶ server process (one per worker, started with a clean interpreter, warm imports)
                                   └─ fork() ─▶ job child: new session, limits, guard, run, result through a pipe, exit

* Each worker owns a **server**: a fresh ``python`` started with `subprocess` (never a fork of the caller, which may
  hold torch threads), in its own session and, where the OS allows it, in an empty network namespace. It imports the
  usual modules once, then for every job ``fork()``s a **child** that
  - starts a new session (so the whole process group can be SIGKILLed at the end),
  - closes stdin, sends stdout/stderr to pipes the server drains (capped), gets a fresh temp working dir and ``HOME``,
  - sets RLIMIT_AS/DATA/STACK (memory), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC and RLIMIT_CORE=0,
  - applies the reliability guard (EvalPlus's list of disabled destructive calls, plus ``exec*``/``spawn*``/``setsid``,
    sockets when no network namespace could be made, and ``open`` that refuses writes outside the temp dir),
  - runs the job and writes the result frames back; the server enforces the wall clock, kills the session, removes
    the temp dir and answers the worker. A hostile job therefore never taints the next one.
* ``reuse_workers=False`` starts a new server per job (the slow path, kept for the benchmark).
* Values cross from the child as pickles that the server never loads; the pool loads them with an unpickler that only
  admits plain data types (and classes of ``lit_coderl``), so a hostile child cannot run code in the caller.

This is the EvalPlus/human-eval style guard, not a security boundary against a determined attacker (``ctypes`` is
blocked, but C extensions already loaded could still reach the kernel).
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: file name under which user code must be compiled so that tracebacks give its line (``error_line``)
USER_CODE_FILENAME = "<code>"
#: file name of test/setup snippets run by `SandboxPool.submit_tests`
TEST_CODE_FILENAME = "<test>"

#: modules the server imports once so that jobs do not pay for them
DEFAULT_PRELOAD: tuple[str, ...] = (
    "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "operator", "random",
    "statistics", "copy", "datetime", "decimal", "fractions", "typing", "json", "array", "cmath", "traceback",
)

_TESTS_TARGET = "lit_coderl.sandbox:run_tests_target"
_MAX_RESULT_BYTES = 256 * 1024 * 1024
_SERVER_GRACE_S = 15.0  # extra time a worker waits for its server beyond the job's own timeout
_CLONE_NEWNET = 0x40000000

Status = Literal["ok", "error", "timeout", "memory", "crash"]
TestStatus = Literal["pass", "fail", "error", "timeout", "memory", "crash"]


@dataclass
class Limits:
    """Resource limits of one sandboxed job."""

    timeout_s: float = 10.0
    """Wall clock of the whole job; the child's process group is SIGKILLed after it."""
    memory_mb: int = 4096
    """RLIMIT_AS (and RLIMIT_DATA, RLIMIT_STACK) in MiB; EvalPlus uses 4 GiB."""
    cpu_s: int | None = None
    """RLIMIT_CPU in seconds; ``None`` means ``ceil(timeout_s) + 1``."""
    max_processes: int = 1
    """Processes the child may have; 1 disables fork/exec/spawn in the guard (RLIMIT_NPROC does not bind root)."""
    file_size_mb: int = 16
    """RLIMIT_FSIZE in MiB: the largest file the child may write."""
    max_output_bytes: int = 1_000_000
    """Captured stdout and stderr are each cut to this many bytes."""

    def cpu_seconds(self) -> int:
        return int(self.cpu_s) if self.cpu_s is not None else math.ceil(self.timeout_s) + 1


@dataclass
class CallResult:
    """Outcome of `SandboxPool.submit_call`."""

    status: Status
    value: Any = None
    """The target's return value when ``status == "ok"``."""
    error: str | None = None
    """``"ExcType: message"`` or the reason (timeout, signal, exit code)."""
    error_line: int | None = None
    """Line in the user code (compiled as ``<code>``) named by the traceback, if any."""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    progress: Any = None
    """The last progress report of the target (see `report_progress`), kept when the job died."""


@dataclass
class TestResult:
    """Outcome of `SandboxPool.submit_tests`.

    ``status``: ``pass`` (all tests pass), ``fail`` (the code ran, some test failed or raised), ``error`` (the code
    itself did not compile or raised at import time), ``timeout``, ``memory`` or ``crash``. ``passed`` has one entry
    per test; tests that did not run are ``False``.
    """

    __test__ = False  # not a pytest class

    status: TestStatus
    passed: list[bool] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    """Line within the submitted ``code`` where the first failure was raised, when the traceback names it."""
    duration_s: float = 0.0
    stdout: str = ""
    stderr: str = ""

    @property
    def fraction(self) -> float:
        """Fraction of tests passed (0.0 when there are none)."""
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


# ----------------------------------------------------------------------------------------------------------------
# framing


def _write_frame(fd: int, tag: bytes, payload: bytes) -> None:
    data = tag + struct.pack("<I", len(payload)) + payload
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> tuple[bytes, bytes] | None:
    header = _read_exact(fd, 5)
    if header is None:
        return None
    (length,) = struct.unpack("<I", header[1:])
    payload = _read_exact(fd, length)
    if payload is None:
        return None
    return header[:1], payload


def _split_frames(buffer: bytearray) -> list[tuple[bytes, bytes]]:
    """Remove complete frames from the front of ``buffer``."""
    frames = []
    while len(buffer) >= 5:
        (length,) = struct.unpack("<I", bytes(buffer[1:5]))
        if len(buffer) < 5 + length:
            break
        frames.append((bytes(buffer[:1]), bytes(buffer[5 : 5 + length])))
        del buffer[: 5 + length]
    return frames


# ----------------------------------------------------------------------------------------------------------------
# safe loading of values that come out of a child


_SAFE_GLOBALS = {("builtins", name) for name in ("complex", "set", "frozenset", "slice")} | {
    ("collections", name) for name in ("OrderedDict", "Counter", "defaultdict", "deque")
} | {("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("decimal", "Decimal"),
     ("fractions", "Fraction")}
"""Globals a child's pickle may name: value types whose constructors cannot allocate unbounded memory from a small
argument (plain containers, numbers, strings and bytes need no global at all)."""


class _SafeUnpickler(pickle.Unpickler):
    """Loads plain data only: builtin containers and scalars, a few stdlib value types, classes of lit_coderl."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == "lit_coderl" or module.startswith("lit_coderl."):
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a sandboxed process")


def safe_loads(data: bytes) -> Any:
    """Unpickle data produced by sandboxed code, admitting only plain data types."""
    return _SafeUnpickler(io.BytesIO(data)).load()


# ----------------------------------------------------------------------------------------------------------------
# inside the job child


_result_fd: int | None = None


def report_progress(payload: Any) -> None:
    """From a target running in a job child: record JSON-able progress that survives the child dying later."""
    if _result_fd is not None:
        _write_frame(_result_fd, b"P", json.dumps(payload).encode())


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


def _set_limits(limits: Limits) -> None:
    import resource

    def cap(kind: int, value: int) -> None:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            resource.setrlimit(kind, (min(value, soft) if soft != resource.RLIM_INFINITY else value, hard))

    memory = int(limits.memory_mb) * 1024 * 1024
    cap(resource.RLIMIT_AS, memory)
    cap(resource.RLIMIT_DATA, memory)
    cap(resource.RLIMIT_STACK, memory)
    cpu = limits.cpu_seconds()
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1 if hard == resource.RLIM_INFINITY else min(cpu + 1, hard)))
    cap(resource.RLIMIT_FSIZE, int(limits.file_size_mb) * 1024 * 1024)
    cap(resource.RLIMIT_NPROC, max(int(limits.max_processes), 1))
    cap(resource.RLIMIT_CORE, 0)


def _disabled(name: str):
    def refuse(*args, **kwargs):
        raise PermissionError(f"{name} is disabled in the sandbox")

    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


def _make_guarded_open(original, root: str):
    """``open`` that refuses to create, write or truncate files outside ``root``."""
    real_root = os.path.realpath(root)

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            return original(file, mode, *args, **kwargs)
        if any(flag in str(mode) for flag in "wax+"):
            path = os.path.realpath(os.fspath(file))
            if path != real_root and not path.startswith(real_root + os.sep):
                raise PermissionError(f"writing outside the sandbox directory is disabled: {file!r}")
        return original(file, mode, *args, **kwargs)

    return guarded_open


def _make_guarded_os_open(original, root: str):
    real_root = os.path.realpath(root)
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & writing and not isinstance(path, int):
            resolved = os.path.realpath(os.fspath(path))
            if resolved != real_root and not resolved.startswith(real_root + os.sep):
                raise PermissionError(f"writing outside the sandbox directory is disabled: {path!r}")
        return original(path, flags, *args, **kwargs)

    return guarded_os_open


_OS_DISABLED = (
    "kill", "killpg", "system", "putenv", "unsetenv", "remove", "removedirs", "rmdir", "unlink", "rename", "renames",
    "replace", "truncate", "ftruncate", "fchdir", "chdir", "chroot", "setuid", "seteuid", "setreuid", "setresuid",
    "setgid", "setegid", "setregid", "setresgid", "setgroups", "fchmod", "fchown", "chmod", "chown", "lchmod",
    "lchown", "lchflags", "chflags", "setsid", "setpgid", "setpgrp", "popen", "sched_setaffinity", "setpriority",
    "unshare", "setns", "pidfd_open", "mknod", "mkfifo",
)
_OS_PROCESS_CREATION = (
    "fork", "forkpty", "vfork", "posix_spawn", "posix_spawnp", "register_at_fork", "execl", "execle", "execlp",
    "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
    "spawnve", "spawnvp", "spawnvpe",
)


def reliability_guard(limits: Limits, workdir: str, network_isolated: bool) -> None:
    """Disable destructive and escaping calls in this (child) process (EvalPlus's list, extended)."""
    import builtins
    import faulthandler
    import shutil

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    builtins.exit = _disabled("exit")
    builtins.quit = _disabled("quit")
    builtins.help = _disabled("help")
    builtins.open = _make_guarded_open(builtins.open, workdir)
    io.open = builtins.open
    os.open = _make_guarded_os_open(os.open, workdir)
    names = _OS_DISABLED + (_OS_PROCESS_CREATION if limits.max_processes <= 1 else ())
    for name in names:
        if hasattr(os, name):
            setattr(os, name, _disabled(f"os.{name}"))
    for name in ("rmtree", "move", "chown", "copytree"):
        setattr(shutil, name, _disabled(f"shutil.{name}"))
    if limits.max_processes <= 1:
        import subprocess as child_subprocess

        for name in ("Popen", "call", "run", "check_call", "check_output", "getoutput", "getstatusoutput"):
            setattr(child_subprocess, name, _disabled(f"subprocess.{name}"))
        for module in ("_posixsubprocess", "multiprocessing", "concurrent.futures.process", "pty"):
            sys.modules[module] = None  # type: ignore[assignment]
    if not network_isolated:
        import socket

        for name in ("socket", "create_connection", "create_server", "socketpair", "fromfd"):
            setattr(socket, name, _disabled(f"socket.{name}"))
    for module in ("ctypes", "_ctypes", "resource", "psutil", "ipdb", "joblib", "tkinter"):
        sys.modules[module] = None  # type: ignore[assignment]


def _child_main(job: dict, workdir: str, result_w: int, out_w: int, err_w: int, network_isolated: bool) -> None:
    """Body of the forked job child; never returns."""
    global _result_fd
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = sorted({0, 1, 2, result_w})
        for low, high in zip(keep, keep[1:] + [65536], strict=True):
            os.closerange(low + 1, high)
        _result_fd = result_w
        os.chdir(workdir)
        os.environ.update({"HOME": workdir, "TMPDIR": workdir, "TMP": workdir, "TEMP": workdir})
        import tempfile

        tempfile.tempdir = workdir
        limits = Limits(**job["limits"])
        _set_limits(limits)
        try:
            target = _resolve(job["target"])
        except Exception as exc:
            _final(result_w, {"status": "error", "error": f"cannot load target {job['target']!r}: "
                                                          f"{describe_exception(exc)}"})
            code = 0
            return
        reliability_guard(limits, workdir, network_isolated)
        _run_target(target, job["kwargs"], result_w)
        code = 0
    except BaseException:  # noqa: B036 - nothing may escape the child
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: B036
                pass
        os._exit(code)


def _run_target(target, kwargs: dict, result_w: int) -> None:
    try:
        value = target(**kwargs)
    except MemoryError as exc:
        _final(result_w, {"status": "memory", "error": describe_exception(exc), "error_line": user_error_line(exc)})
        return
    except BaseException as exc:  # noqa: B036 - SystemExit and KeyboardInterrupt are errors of the job too
        _final(result_w, {"status": "error", "error": describe_exception(exc), "error_line": user_error_line(exc)})
        return
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: B036
        _final(result_w, {"status": "error", "error": f"unpicklable return value: {describe_exception(exc)}"})
        return
    _write_frame(result_w, b"V", data)
    _final(result_w, {"status": "ok"})


def _final(fd: int, payload: dict) -> None:
    _write_frame(fd, b"F", json.dumps(payload).encode())


def _resolve(target: str):
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    import importlib

    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# ----------------------------------------------------------------------------------------------------------------
# unit-test runner (a target like any other)


def run_tests_target(code: str, tests: list[str], setup: str = "") -> dict:
    """Run ``code``, then ``setup``, then each assert in ``tests`` in one namespace (MBPP's order).

    Meant to run inside a job child. Progress (the ``passed`` list so far) is reported after every test so that a
    timeout or crash keeps the results of the tests that finished.
    """
    passed = [False] * len(tests)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, USER_CODE_FILENAME, "exec"), namespace)
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: B036
        return {"status": "error", "passed": passed, "error": describe_exception(exc),
                "error_line": user_error_line(exc)}
    report_progress(passed)
    if setup:
        try:
            exec(compile(setup, TEST_CODE_FILENAME, "exec"), namespace)
        except MemoryError:
            raise
        except BaseException as exc:  # noqa: B036
            return {"status": "fail", "passed": passed, "error": f"test setup failed: {describe_exception(exc)}",
                    "error_line": user_error_line(exc)}
    first_error: tuple[str, int | None] | None = None
    for i, test in enumerate(tests):
        try:
            exec(compile(test, TEST_CODE_FILENAME, "exec"), namespace)
            passed[i] = True
        except MemoryError:
            raise
        except BaseException as exc:  # noqa: B036
            if first_error is None:
                first_error = (describe_exception(exc), user_error_line(exc))
        report_progress(passed)
    status = "pass" if all(passed) else "fail"
    error, line = first_error if first_error else (None, None)
    return {"status": status, "passed": passed, "error": error, "error_line": line}


# ----------------------------------------------------------------------------------------------------------------
# the server process


def _try_unshare_network() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(_CLONE_NEWNET) == 0
    except Exception:
        return False


def _kill_session(sid: int) -> None:
    """SIGKILL the process group ``sid`` and any process left in session ``sid``."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[3]) == sid:  # fields: state ppid pgrp session ...
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def _run_job(job: dict, root: str, network_isolated: bool, notify) -> dict:
    import shutil
    import tempfile

    limits = Limits(**job["limits"])
    workdir = tempfile.mkdtemp(prefix="job-", dir=root)
    result_r, result_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(result_r)
        os.close(out_r)
        os.close(err_r)
        _child_main(job, workdir, result_w, out_w, err_w, network_isolated)
    for fd in (result_w, out_w, err_w):
        os.close(fd)
    notify(pid)
    deadline = start + float(limits.timeout_s)
    cap = int(limits.max_output_bytes)
    outputs = {out_r: bytearray(), err_r: bytearray()}
    result_buffer = bytearray()
    frames: list[tuple[bytes, bytes]] = []
    open_fds = {result_r, out_r, err_r}
    timed_out = too_big = False
    while result_r in open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for fd in _poll(open_fds, remaining):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
            elif fd == result_r:
                result_buffer += chunk
                frames += _split_frames(result_buffer)
                if len(result_buffer) > _MAX_RESULT_BYTES:
                    too_big = True
                    open_fds.discard(fd)
            elif len(outputs[fd]) < cap:
                outputs[fd] += chunk[: cap - len(outputs[fd])]
    _kill_session(pid)
    _, wait_status = os.waitpid(pid, 0)
    duration = time.monotonic() - start
    drain_deadline = time.monotonic() + 1.0
    while open_fds - {result_r} and time.monotonic() < drain_deadline:
        for fd in _poll(open_fds - {result_r}, 0.1):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
            elif len(outputs[fd]) < cap:
                outputs[fd] += chunk[: cap - len(outputs[fd])]
    for fd in (result_r, out_r, err_r):
        os.close(fd)
    shutil.rmtree(workdir, ignore_errors=True)

    reply: dict[str, Any] = {
        "stdout": bytes(outputs[out_r]).decode("utf-8", "replace"),
        "stderr": bytes(outputs[err_r]).decode("utf-8", "replace"),
        "duration_s": duration,
        "value": None,
        "progress": None,
    }
    final = None
    for tag, payload in frames:
        if tag == b"V":
            reply["value"] = payload
        elif tag == b"P":
            reply["progress"] = _json_or_none(payload)
        elif tag == b"F":
            final = _json_or_none(payload)
    if isinstance(final, dict) and not timed_out and not too_big:
        reply.update(status=final.get("status", "crash"), error=final.get("error"),
                     error_line=final.get("error_line"))
        return reply
    reply["value"] = None
    if timed_out:
        reply.update(status="timeout", error=f"timed out after {limits.timeout_s:g} s")
    elif too_big:
        reply.update(status="crash", error="result too large")
    elif os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            reply.update(status="timeout", error=f"CPU time limit of {limits.cpu_seconds()} s exceeded")
        else:
            reply.update(status="crash", error=f"killed by {signal.Signals(sig).name}")
    else:
        reply.update(status="crash", error=f"exited with code {os.waitstatus_to_exitcode(wait_status)} "
                                           "before reporting a result")
    return reply


def _poll(fds: set[int], timeout_s: float) -> list[int]:
    """File descriptors of ``fds`` that are readable or closed, waiting at most ``timeout_s`` (no FD_SETSIZE cap)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return [fd for fd, _ in poller.poll(max(0.0, timeout_s) * 1000)]


def _json_or_none(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def serve(request_fd: int, reply_fd: int, preload: list[str], root: str) -> None:
    """Main loop of a server process: one job at a time from ``request_fd``, replies on ``reply_fd``; job
    directories are made under ``root`` (which the caller removes)."""
    import importlib
    import shutil

    network_isolated = _try_unshare_network()
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module only costs speed
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        while True:
            frame = _read_frame(request_fd)
            if frame is None:
                break
            job = pickle.loads(frame[1])
            module_name = job["target"].partition(":")[0]
            try:  # import trusted target modules once, in the server (warm for the next job)
                importlib.import_module(module_name)
            except Exception:
                pass  # the child reports the import error

            def notify(pid: int) -> None:
                _write_frame(reply_fd, b"C", pickle.dumps(pid))

            reply = _run_job(job, root, network_isolated, notify)
            _write_frame(reply_fd, b"R", pickle.dumps(reply))
    finally:
        shutil.rmtree(root, ignore_errors=True)


_BOOTSTRAP = """
import importlib.util, json, sys
request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
path, extra_path, preload, root = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
sys.path[:0] = [p for p in json.loads(extra_path) if p not in sys.path]
spec = importlib.util.spec_from_file_location("lit_coderl.sandbox", path)
module = importlib.util.module_from_spec(spec)
sys.modules["lit_coderl.sandbox"] = module
spec.loader.exec_module(module)
module.serve(request_fd, reply_fd, json.loads(preload), root)
"""


def _server_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


_LIVE_SERVERS: weakref.WeakSet = weakref.WeakSet()


def _forget_servers_in_fork_child() -> None:
    """In a process forked from the caller (e.g. a DataLoader worker), drop the servers' pipe ends so that the
    servers still see EOF when the caller closes them, and never talk to two processes."""
    for server in list(_LIVE_SERVERS):
        server.close_pipes()
    _LIVE_SERVERS.clear()


os.register_at_fork(after_in_child=_forget_servers_in_fork_child)


class _Server:
    """Handle on one server process, seen from the calling process."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        import tempfile

        self.root = tempfile.mkdtemp(prefix="lit_coderl-sandbox-")
        request_r, self.request_w = os.pipe()
        self.reply_r, reply_w = os.pipe()
        extra_path = [p for p in sys.path if p]
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOTSTRAP, str(request_r), str(reply_w), os.path.abspath(__file__),
             json.dumps(extra_path), json.dumps(list(preload)), self.root],
            pass_fds=(request_r, reply_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=_server_env(), start_new_session=True, cwd="/",
        )
        os.close(request_r)
        os.close(reply_w)
        self.reply_buffer = bytearray()
        _LIVE_SERVERS.add(self)

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, job: bytes, wait_s: float) -> dict:
        """Send one pickled job and wait for its reply; kills the server (and the job's session) when it does not
        answer in time."""
        child_pid = None
        try:
            _write_frame(self.request_w, b"J", job)
        except OSError as exc:
            return {"status": "crash", "error": f"sandbox server unavailable: {exc}"}
        deadline = time.monotonic() + wait_s
        while True:
            for tag, payload in _split_frames(self.reply_buffer):
                if tag == b"C":
                    child_pid = pickle.loads(payload)
                elif tag == b"R":
                    return pickle.loads(payload)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill(child_pid)
                return {"status": "timeout", "error": "sandbox server did not answer in time"}
            if _poll({self.reply_r}, remaining):
                chunk = os.read(self.reply_r, 1 << 20)
                if not chunk:
                    self.kill(child_pid)
                    return {"status": "crash", "error": "sandbox server died during the job"}
                self.reply_buffer += chunk

    def kill(self, child_pid: int | None = None) -> None:
        for pgid in (child_pid, self.process.pid):
            if pgid is not None:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.close()

    def close_pipes(self) -> None:
        """Close this side's ends of the request and reply pipes."""
        for fd in (self.request_w, self.reply_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_w = self.reply_r = -1

    def close(self) -> None:
        self.close_pipes()
        _LIVE_SERVERS.discard(self)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------------
# the pool


class SandboxPool:
    """Runs sandboxed jobs in parallel on ``workers`` warm server processes.

    Args:
        workers: Jobs that run at the same time (default: ``os.cpu_count()``).
        limits: Default limits of every job.
        reuse_workers: Keep one server per worker and fork a child per job (fast). ``False`` starts a new Python
            server for every job (the slow path, for comparison).
        preload: Modules each server imports once before forking job children.
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits | None = None,
        reuse_workers: bool = True,
        preload: tuple[str, ...] = DEFAULT_PRELOAD,
    ) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.limits = limits or Limits()
        self.reuse_workers = reuse_workers
        self.preload = tuple(preload)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._worker, name=f"sandbox-worker-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    # public API ---------------------------------------------------------------------------------------------

    def submit_call(self, target: str, kwargs: dict, limits: Limits | None = None) -> Future[CallResult]:
        """Run the importable function ``'package.module:function'(**kwargs)`` inside a limited child process.

        The target runs after the limits and the guard are applied, so it may ``exec`` untrusted code (compile it
        with the filename `USER_CODE_FILENAME` to get ``error_line``). Its module is imported once per server.
        """
        job = {"target": target, "kwargs": dict(kwargs), "limits": asdict(limits or self.limits)}
        return self._submit(job, _to_call_result)

    def submit_tests(
        self, code: str, tests: list[str], setup: str = "", limits: Limits | None = None
    ) -> Future[TestResult]:
        """Run ``code``, then ``setup``, then each assert statement in ``tests``; one pass/fail per test."""
        kwargs = {"code": str(code), "tests": [str(t) for t in tests], "setup": str(setup or "")}
        job = {"target": _TESTS_TARGET, "kwargs": kwargs, "limits": asdict(limits or self.limits)}
        return self._submit(job, lambda reply: _to_test_result(reply, len(kwargs["tests"])))

    def close(self) -> None:
        """Stop the workers and their server processes (pending jobs still run)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # internals ----------------------------------------------------------------------------------------------

    def _submit(self, job: dict, convert) -> Future:
        payload = pickle.dumps(job)  # unpicklable arguments fail here, in the caller
        wait_s = float(job["limits"]["timeout_s"]) + _SERVER_GRACE_S
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("SandboxPool is closed")
            self._jobs.put((payload, wait_s, convert, future))
        return future

    def _worker(self) -> None:
        server: _Server | None = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                payload, wait_s, convert, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if server is None or not server.alive():
                        if server is not None:
                            server.close()
                        server = _Server(self.preload)
                    reply = server.run(payload, wait_s)
                    if reply.get("status") == "crash" and not server.alive():
                        server.close()
                        server = None
                    if not self.reuse_workers and server is not None:
                        server.close()
                        server = None
                    future.set_result(convert(reply))
                except BaseException as exc:  # noqa: B036 - a worker thread must never die with a job pending
                    if server is not None:
                        server.kill()
                        server = None
                    future.set_exception(exc)
        finally:
            if server is not None:
                server.close()


def _to_call_result(reply: dict) -> CallResult:
    status = reply.get("status", "crash")
    value, error = None, reply.get("error")
    if status == "ok" and reply.get("value") is not None:
        try:
            value = safe_loads(reply["value"])
        except Exception as exc:
            status, error = "error", f"unreadable return value: {describe_exception(exc)}"
    return CallResult(
        status=status, value=value, error=error, error_line=reply.get("error_line"),
        stdout=reply.get("stdout", ""), stderr=reply.get("stderr", ""), duration_s=reply.get("duration_s", 0.0),
        progress=reply.get("progress"),
    )


def _to_test_result(reply: dict, n_tests: int) -> TestResult:
    call = _to_call_result(reply)
    passed = [False] * n_tests
    status, error, line = call.status, call.error, call.error_line
    if call.status == "ok" and isinstance(call.value, dict):
        got = call.value.get("passed")
        if isinstance(got, list) and len(got) == n_tests:
            passed = [x is True for x in got]
        status, error, line = call.value.get("status", "crash"), call.value.get("error"), call.value.get("error_line")
        if status not in ("pass", "fail", "error"):
            status = "crash"
    else:
        if isinstance(call.progress, list) and len(call.progress) == n_tests:
            passed = [x is True for x in call.progress]
        if call.status == "ok":  # the target returned something that is not a result: treat as a crash
            status, error = "crash", "test runner returned no result"
        elif call.status == "error":
            status = "crash" if error and error.startswith("unreadable") else "error"
    if status == "pass" and not all(passed):
        status = "fail"
    return TestResult(status=status, passed=passed, error=error, error_line=line if isinstance(line, int) else None,
                      duration_s=call.duration_s, stdout=call.stdout, stderr=call.stderr)


def run_call(target: str, kwargs: dict, limits: Limits | None = None) -> CallResult:
    """Run one sandboxed call on a fresh server process (convenience for one-off jobs)."""
    with SandboxPool(workers=1, limits=limits, reuse_workers=False) as pool:
        return pool.submit_call(target, kwargs).result()


def run_tests(code: str, tests: list[str], setup: str = "", limits: Limits | None = None) -> TestResult:
    """Run one sandboxed test job on a fresh server process (convenience for one-off jobs)."""
    with SandboxPool(workers=1, limits=limits, reuse_workers=False) as pool:
        return pool.submit_tests(code, tests, setup).result()


__all__ = [
    "CallResult", "Limits", "SandboxPool", "TestResult", "USER_CODE_FILENAME", "describe_exception", "report_progress",
    "run_call", "run_tests", "safe_loads", "user_error_line",
]
