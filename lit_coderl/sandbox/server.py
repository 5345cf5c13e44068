"""The sandbox server: runs inside the isolation, forks one child per job, keeps the clock, serves robot calls.

One server per pool worker is started once (with warm imports) and then, per job read from its stdin:

1. makes a fresh working directory in the private scratch folder and forks a child (`child.child_main`);
2. relays: reads the child's frames (capped), answers its robot requests from a simulator the server holds, and
   times the job and each MBPP+ input with its own clock, from one value frame to the next (a child that ignores
   ``SIGALRM`` is simply killed, and no frame it could forge pauses the clock);
3. kills the child and everything it left behind (isolated, the server is PID 1 of the sandbox's PID namespace:
   ``kill(-1, SIGKILL)`` reaches every other process there, daemons included), removes SysV IPC objects and wipes
   the scratch folder, then writes one ``R`` reply frame of plain data to its stdout.

The server never runs untrusted code and never compares anything: verdicts are the judge's (`judge.py`, in the
caller). It is hardened against its children: it is not dumpable (no ptrace, ``/proc/<pid>/mem`` or ``fd`` access
for a process of the same user), ignores catchable signals (and as PID 1 of its namespace cannot be killed from
inside it), and its children close every descriptor but their own three pipes before running anything.
"""

from __future__ import annotations

import io
import os
import select
import signal
import stat
import sys
import time
from typing import Any

from lit_coderl.sandbox import codec

MAX_JOB_FRAME = 512 * 1024 * 1024
MAX_CHILD_FRAME = 16 * 1024 * 1024
"""A child's single frame (one value or robot request): larger is a crash (big values travel as digests)."""
MAX_CHILD_TOTAL = 64 * 1024 * 1024
"""All frames of one job together; a job sending more is a crash."""
KILL_GRACE_S = 0.5
"""A robot world's child gets this long past its own deadline (it reports its running line) before the kill."""

BOOTSTRAP = """
import json, os, sys
sys.path[:] = json.loads(sys.argv[1])
try:
    from lit_coderl.sandbox.server import serve
except BaseException as exc:
    wanted = [*sys.path, os.path.join(sys.path[0], "lit_coderl")]  # the first entry holds the package
    missing = [p for p in wanted if not os.path.isdir(p)]
    sys.stderr.write(f"sandbox server cannot import lit_coderl ({type(exc).__name__}: {exc}); folders of its import "
                     f"path not visible in the sandbox: {missing or 'none'}\\n")
    sys.exit(3)
serve(json.loads(sys.argv[2]), sys.argv[3], sys.argv[4] == "1")
"""

_IGNORED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGTSTP",
                    "SIGTTIN", "SIGTTOU", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF")


def _harden() -> None:
    for name in _IGNORED_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:
        pass


class _Opaque:
    """A robot API argument that was not plain data (the simulator's type checks reject it like the original's)."""

    def __repr__(self) -> str:
        return "<object>"


def _robot_argument(tree: Any) -> Any:
    if isinstance(tree, dict) and set(tree) == {"O"}:
        return _Opaque()
    return codec.decode_value(tree)


class _RobotSession:
    """The server's side of a robot program: the simulator, and the trace, call log and robot errors as it saw them.
    The trace is recorded from the simulator's own events (`lit_coderl.robot.calls.TraceRecorder`), never parsed
    from text: what the program prints (or passes to ``say``) can end the trace, never add to it."""

    def __init__(self, robot: Any, names: tuple[str, ...], max_chars: int) -> None:
        from lit_coderl.robot.calls import TraceRecorder

        self.robot = robot
        self.names = names
        self.max_chars = max_chars
        self.stdout: list[str] = []
        self.size = 0
        self.recorder = TraceRecorder(max_chars)
        self.robot_errors: list[str] = []
        self.calls = 0
        self.printed_at: int | None = None
        self.call_log: list[dict] = []  # lit_coderl.robot.calls entries: what the simulator was asked and did

    def _keep(self, text: str) -> None:
        room = self.max_chars - self.size
        if room > 0 and text:
            self.stdout.append(text[:room])
            self.size += min(room, len(text))

    def call(self, body: dict) -> dict:
        from lit_coderl.robot.api import recording

        self.calls += 1
        printed = str(body.get("o") or "")
        self._keep(printed)
        if printed and self.printed_at is None:
            self.printed_at = len(self.recorder.events)  # the original parser stops at the program's first own line
        name = body.get("m")
        capture, saved = io.StringIO(), sys.stdout
        reply: dict[str, Any]
        args: list = []
        try:
            if name not in self.names:
                raise AttributeError(f"'Robot' object has no attribute {name!r}")
            args = [_robot_argument(a) for a in body.get("a") or []]
            sys.stdout = capture  # the API prints its trace line (the program's view of its stdout)
            try:
                with recording(self.recorder):
                    value = getattr(self.robot, name)(*args)
            finally:
                sys.stdout = saved
            reply = {"r": codec.encode_value(value)}
            self._log(name, args, value, None, body.get("l"))
        except Exception as exc:
            kind = "TypeError" if isinstance(exc, TypeError) else "Exception"
            message = str(exc)
            reply = {"e": [kind, message]}
            if "Robot" in message:
                self.robot_errors.append(f"{kind}: {message}")
            self._log(name, args, None, f"{kind}: {message}", body.get("l"))
        text = capture.getvalue()
        reply["t"] = text
        self._keep(text)
        return reply

    def _log(self, name: Any, args: list, value: Any, error: str | None, line: Any) -> None:
        from lit_coderl.robot.calls import MAX_CALLS, call_entry

        if len(self.call_log) < MAX_CALLS:
            self.call_log.append(call_entry(str(name), args, value, error, line))

    def summary(self) -> dict:
        from lit_coderl.robot.calls import encode_events

        return {"stdout": "".join(self.stdout), "events": encode_events(self.recorder.events),
                "printed_at": self.printed_at, "robot_errors": self.robot_errors[:100], "calls": self.calls,
                "call_log": self.call_log}


def _cleanup(child: int, scratch: str, isolated: bool) -> list[str]:
    """Kill the child and every process it left, reap them, remove IPC objects, wipe the scratch folder; what was
    left behind (then the server must not run another job)."""
    left: list[str] = []
    if isolated:
        for _ in range(200):
            try:
                os.kill(-1, signal.SIGKILL)  # PID 1 of the namespace: every other process in it
            except ProcessLookupError:
                pass
            _reap()
            if all(not p.isdigit() or p == "1" for p in os.listdir("/proc")):
                break
            time.sleep(0.001)
        else:
            left.append("processes still running")
        _remove_sysv_ipc()
    else:
        _kill_session(child)
        _reap()
    return left + _wipe(scratch)


_OWN_STATE_KEYS = ("rlimits", "nice", "scheduler", "affinity", "oom_score_adj", "autogroup")


def own_state() -> dict[str, Any]:
    """What a job running as this server's user could change about the server: its rlimits (``prlimit``), nice
    value, scheduling policy and priority, CPU affinity, OOM score and session's autogroup. Compared after every
    job: a server whose state changed exits after its reply and the pool starts a fresh one. (Its I/O priority is
    left out: the sandbox does its I/O on a tmpfs and pipes, which no I/O scheduler orders.)"""
    import resource

    state: dict[str, Any] = {
        "rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
                    if name.startswith("RLIMIT_")},
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "scheduler": (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority),
        "affinity": sorted(os.sched_getaffinity(0)),
    }
    for key, path in (("oom_score_adj", "/proc/self/oom_score_adj"), ("autogroup", "/proc/self/autogroup")):
        try:
            with open(path) as f:
                state[key] = f.read()
        except OSError:
            state[key] = None
    return state


def _libc_loaded() -> bool:
    if not _LIBC:
        try:
            import ctypes

            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except Exception:
            return False
    return True


def state_change(baseline: dict[str, Any]) -> str | None:
    """Which of `own_state`'s entries differ from ``baseline`` (None when none does, or the check itself failed
    in a way that says the server is broken: then that failure)."""
    try:
        now = own_state()
    except BaseException as exc:  # noqa: B036 - e.g. no descriptor left to read /proc
        return f"cannot read its own state ({type(exc).__name__}: {exc})"
    changed = [key for key in _OWN_STATE_KEYS if now.get(key) != baseline.get(key)]
    return f"the job changed the server's {', '.join(changed)}" if changed else None


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_session(sid: int) -> None:
    """Unisolated mode: SIGKILL the process group ``sid`` and any process left in session ``sid``."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[3]) == sid:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


_LIBC: list = []


def _remove_sysv_ipc() -> None:
    if not _libc_loaded():
        return
    libc = _LIBC[0]
    for kind, remove in (("shm", lambda i: libc.shmctl(i, 0, None)), ("sem", lambda i: libc.semctl(i, 0, 0)),
                         ("msg", lambda i: libc.msgctl(i, 0, None))):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].lstrip("-").isdigit():
                remove(int(fields[1]))  # IPC_RMID = 0


def _wipe(folder: str) -> list[str]:
    """Empty ``folder``, whatever permissions or extended attributes a job set on it or below it (the server owns
    them all; an attribute left on the folder itself would be a channel to the next job); what could not be removed.

    Iterative and relative to directory descriptors (one open at a time, up through ``..``): a job's chain of nested
    folders deeper than the recursion limit or than ``PATH_MAX`` is removed like any other. Other filesystems mounted
    below (the read-only folders bound under ``/tmp``) are left alone."""
    left: list[str] = []
    try:
        for name in os.listxattr(folder):
            os.removexattr(folder, name)
        os.chmod(folder, 0o700)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        return [f"{folder}: {exc}"]
    device = os.fstat(fd).st_dev
    names: list[str] = []  # the folders we are in, below ``folder``
    skipped: list[set[str]] = [set()]  # per level: entries that could not be removed (not retried)
    try:
        while True:
            descended = False
            with os.scandir(fd) as entries:
                pending = [e.name for e in entries if e.name not in skipped[-1]]
            for name in pending:
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if info.st_dev != device:
                        skipped[-1].add(name)  # a mount point: not ours to empty
                        continue
                    if stat.S_ISDIR(info.st_mode):
                        os.chmod(name, 0o700, dir_fd=fd)  # a folder the job made unreadable
                        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                        os.close(fd)
                        fd = child
                        names.append(name)
                        skipped.append(set())
                        descended = True
                        break
                    os.unlink(name, dir_fd=fd)
                except OSError as exc:
                    skipped[-1].add(name)
                    left.append(f"{name}: {exc}")
            if descended:
                continue
            if not names:
                return left
            # this folder is done: go up and remove it (unless something in it stayed)
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = parent
            name = names.pop()
            kept = skipped.pop()
            if kept:
                skipped[-1].add(name)
                continue
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError as exc:
                skipped[-1].add(name)
                left.append(f"{name}: {exc}")
    finally:
        os.close(fd)


MAX_TEXT = 100_000
"""Error texts a child reports are cut to this many characters."""


def _clip(body: dict, output_cap: int) -> dict:
    """A child's frame with its texts cut to size: ``stdout`` to the job's output cap, other strings to `MAX_TEXT`
    (values travel under ``v`` and robot arguments under ``a``; the frame caps bound those)."""
    out = {}
    for key, value in body.items():
        if isinstance(value, str):
            value = value[: output_cap if key in ("stdout", "o") else MAX_TEXT]
        out[key] = value
    return out


def run_job(job: dict, scratch: str, isolated: bool) -> dict:
    """Fork a child for ``job``, relay and time it, clean up; the reply (plain data)."""
    from lit_coderl.sandbox.child import child_main
    from lit_coderl.sandbox.limits import Limits

    limits = Limits(**job["limits"])
    workdir = os.path.join(scratch, "job")
    if os.listdir(scratch) or os.listxattr(scratch):  # normally emptied by the last job's cleanup
        _wipe(scratch)
    os.chmod(scratch, 0o700)  # a job may have changed it
    os.makedirs(workdir, exist_ok=True)
    session = None
    child_job = job
    if job["mode"] == "robot":
        from lit_coderl.robot.runner import world_factory

        # the program text from the world's public part only: its facts (the checker's truth) are not here yet
        try:
            program, make_robot = world_factory(job["robot"])  # a factory in WORLD_FACTORIES, never the job's code
        except Exception:
            codec.read_frame(0, MAX_JOB_FRAME)  # the world's secret part follows the job: read it, to stay in step
            raise
        child_job = {**job, "code": program}
    request_r, request_w = os.pipe()
    frames_r, frames_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for fd in (request_w, frames_r, err_r):
            os.close(fd)
        child_main(child_job, (request_r, frames_w, err_w), workdir, isolated)
    for fd in (request_r, frames_w, err_w):
        os.close(fd)
    inputs: list = []
    reply = None
    if job["mode"] in ("calls", "robot"):  # read only now: the child was forked without them
        received = codec.read_frame(0, MAX_JOB_FRAME)
        if job["mode"] == "calls":
            inputs = received[1] if received is not None and isinstance(received[1], list) else []
        else:
            secret = received[1] if received is not None and isinstance(received[1], dict) else {}
            session, reply = _robot_session(make_robot, secret)
    if reply is None:
        why = _start_handshake(frames_r, request_w, start + float(limits.timeout_s))
        if why is not None:
            reply = {"status": "infra_error", "error": f"the job's child failed before the program started: {why}"}
        else:
            try:
                reply = _relay(job, limits, pid, request_w, frames_r, err_r, session, start, inputs)
            except BaseException as exc:  # noqa: B036 - `serve` decides whose failure it was
                reply = {"status": "infra_error",
                         "error": f"sandbox server failed during the job: {type(exc).__name__}",
                         "unhealthy": f"server error during a job: {type(exc).__name__}: {exc}",
                         "during_program": True}
    for fd in (request_w, frames_r, err_r):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        left = _cleanup(pid, scratch, isolated)
    except BaseException as exc:  # noqa: B036 - whatever the job did to this server, the caller must hear of it
        left = [f"{type(exc).__name__}: {exc}"]
    if left:
        reply.setdefault("unhealthy", f"cleanup after the job failed: {'; '.join(left)[:500]}")
    if session is not None and reply["status"] != "infra_error":
        reply["robot"] = session.summary()
    return reply


def _start_handshake(frames_r: int, request_w: int, deadline: float) -> str | None:
    """Wait for the child's ``S`` (set up, no untrusted code run yet), tell the caller the program starts (an ``S``
    frame on stdout: from now on a dying server is the program's doing), then let the child go; why not, or None."""
    poller = select.poll()
    poller.register(frames_r, select.POLLIN | select.POLLHUP | select.POLLERR)
    if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
        return "no start signal in time"
    try:
        received = codec.read_frame(frames_r, 64)
    except (codec.FrameError, codec.CodecError, OSError) as exc:
        return f"unreadable start signal ({exc})"
    if received is None or received[0] != b"S":
        return "it exited during its set-up"
    codec.write_frame(1, b"S", {})
    try:
        codec.write_frame(request_w, b"G", {})
    except OSError:
        pass  # the child is gone: its exit ends the job
    return None


def _robot_session(make_robot, secret: dict) -> tuple[_RobotSession | None, dict | None]:
    """The session of a robot job whose world's secret part is ``secret``, or the reply saying the world is bad
    (the caller's bug; the child is killed with the rest by the cleanup)."""
    from lit_coderl.robot.harness import MAX_OUTPUT_CHARS, ROBOT_API_NAMES

    try:
        return _RobotSession(make_robot(secret), ROBOT_API_NAMES, MAX_OUTPUT_CHARS), None
    except Exception as exc:
        # the world is the caller's data, never the program's doing: not a verdict
        return None, {"status": "infra_error",
                      "error": f"sandbox server error: bad world: {type(exc).__name__}: {exc}"}


class _Outbox:
    """The server's writes to a child (robot replies, MBPP+ inputs), never blocking: what the pipe does not take
    now waits here and goes out when the child reads (the relay polls for it), so a child that never reads its
    replies cannot stall the server; the job's clock still runs."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = bytearray()
        os.set_blocking(fd, False)

    def send(self, tag: bytes, payload: Any) -> None:
        self.pending += codec.frame(tag, payload)
        self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                n = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # the child is gone: its exit ends the job
                self.pending.clear()
                return
            del self.pending[:n]


def _relay(job: dict, limits, pid: int, request_w: int, frames_r: int, err_r: int, session, start: float,
           inputs: list) -> dict:
    deadline = start + float(limits.timeout_s)
    if job["mode"] == "robot":
        deadline = start + float(job["world_timeout_s"]) + KILL_GRACE_S
    time_limits = job.get("time_limits") or []
    item_deadline = None  # MBPP+: each input's own limit, from the end of the previous one
    buffer = codec.FrameBuffer(MAX_CHILD_FRAME, MAX_CHILD_TOTAL, codec.MAX_FRAME_ITEMS, codec.MAX_JOB_ITEMS)
    stderr = bytearray()
    cap = int(limits.max_output_bytes)
    load = done = None
    items: dict[int, dict] = {}
    times: list[float] = []  # per item: seconds from the previous frame (or loading) to its value, by this clock
    mark = start
    open_fds = {frames_r, err_r}
    status = error = None
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    outbox = _Outbox(request_w)
    writing = False
    while frames_r in open_fds:
        if bool(outbox.pending) != writing:  # wait for room in the child's pipe only while something is pending
            writing = bool(outbox.pending)
            if writing:
                poller.register(request_w, select.POLLOUT)
            else:
                poller.unregister(request_w)
        now = time.monotonic()
        limit = min(deadline, item_deadline) if item_deadline is not None else deadline
        if now >= limit:
            status = "timeout"
            error = (f"input #{len(items)} exceeded its time limit of {time_limits[len(items)]:g} s"
                     if item_deadline is not None and item_deadline <= deadline else
                     f"timed out after {float(job.get('world_timeout_s') or limits.timeout_s):g} s")
            break
        for fd, _ in poller.poll(max(0.0, limit - now) * 1000):
            if fd == request_w:
                outbox.flush()
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
                poller.unregister(fd)
                continue
            if fd == err_r:
                if len(stderr) < cap:
                    stderr += chunk[: cap - len(stderr)]
                continue
            try:
                frames = buffer.feed(chunk)
            except codec.FrameError as exc:
                status, error = "crash", f"unreadable output: {exc}"
                open_fds.discard(frames_r)
                break
            for tag, body in frames:
                if not isinstance(body, dict):
                    continue
                body = _clip(body, cap)
                if tag == b"L" and load is None:
                    load = body
                    if inputs and body.get("ok") and not body.get("setup_error"):
                        outbox.send(b"I", inputs[0])
                        mark = time.monotonic()  # input 0's clock starts when the child gets it
                        if time_limits:
                            item_deadline = mark + float(time_limits[0])
                elif tag == b"V" and isinstance(body.get("i"), int) and body["i"] == len(items):
                    # input i's time runs from handing it over to its value (decoding, the call, encoding): no
                    # frame the child could forge stops the clock early
                    now = time.monotonic()
                    times.append(now - mark)
                    mark = now
                    items[body["i"]] = body
                    following = len(items)
                    item_deadline = None
                    if following < len(inputs):
                        outbox.send(b"I", inputs[following])
                        mark = time.monotonic()
                        if following < len(time_limits):
                            item_deadline = mark + float(time_limits[following])
                elif tag == b"Q" and session is not None:
                    if outbox.pending:  # the proxy reads each reply before its next request; this program did not
                        status, error = "crash", "robot request sent before the previous reply was read"
                        open_fds.discard(frames_r)
                        break
                    outbox.send(b"A", session.call(body))
                elif tag == b"D" and done is None:
                    done = body
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, wait_status = os.waitpid(pid, 0)
    duration = time.monotonic() - start
    if status is None:
        if done is not None:
            status = "ok"
        elif os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGXCPU:
            status, error = "timeout", f"CPU time limit of {limits.cpu_seconds()} s exceeded"
        elif any(body.get("memory") for body in [load or {}, *items.values()]):
            status, error = "memory", "MemoryError"
        elif os.WIFSIGNALED(wait_status):
            status, error = "crash", f"killed by {signal.Signals(os.WTERMSIG(wait_status)).name}"
        else:
            status = "crash"
            error = f"exited with code {os.waitstatus_to_exitcode(wait_status)} before finishing"
    return {
        "status": status, "error": error, "load": load, "done": done,
        "items": [items.get(i) for i in range(max(items) + 1)] if items else [],
        "stderr": bytes(stderr).decode("utf-8", "replace"), "duration_s": duration, "times": times,
    }


def _filtered() -> bool:
    """Whether this process runs under the sandbox's seccomp filter (bwrap installs it, `seccomp.py`; the children
    inherit it): a Unix socket is refused with ``EPERM``. Checked by its effect, since a container's own filter
    would also show in ``/proc/self/status``."""
    import errno
    import socket

    try:
        socket.socket(socket.AF_UNIX).close()
    except OSError as exc:
        return exc.errno == errno.EPERM
    return False


def serve(preload: list[str], scratch: str, isolated: bool) -> None:
    """Main loop: one job frame at a time from stdin, one reply frame each on stdout, until stdin closes."""
    import importlib

    _harden()
    if isolated and not _filtered():
        sys.stderr.write("sandbox server: the seccomp filter is not installed; refusing to run jobs\n")
        return
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module only costs speed
            pass
    os.makedirs(scratch, exist_ok=True)
    baseline = own_state()
    import gc

    gc.collect()
    gc.freeze()  # the warm imports stay out of the children's collections: fewer copy-on-write page faults per fork
    while True:
        try:
            received = codec.read_frame(0, MAX_JOB_FRAME)
        except (codec.FrameError, codec.CodecError, OSError):
            return
        if received is None:
            return
        try:
            reply = run_job(received[1], scratch, isolated)
        except BaseException as exc:  # noqa: B036 - before the program started (bad job spec, no fork): not its score
            reply = {"status": "infra_error", "error": f"sandbox server error: {type(exc).__name__}: {exc}",
                     "unhealthy": f"server error before the program started: {type(exc).__name__}"}
        changed = state_change(baseline)
        if reply.pop("during_program", False) and changed:  # the program starved its server (say, its rlimits)
            reply["status"], reply["error"] = "crash", f"sandbox server failed during the program: {changed}"
        if changed and not reply.get("unhealthy"):
            reply["unhealthy"] = changed
        try:
            codec.write_frame(1, b"R", reply)
        except OSError:
            return
        if reply.get("unhealthy"):
            return  # a server a job could change is not reused: the pool starts a fresh one
