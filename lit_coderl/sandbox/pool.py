"""The caller's side: a pool of isolated sandbox servers, jobs as futures, replies turned into results.

Each pool worker (a thread) owns one server process (`server.py`), started through bubblewrap (`isolation.py`)
with a clean interpreter and warm imports, and sends it one job at a time. The reply is plain data read under size
caps; if the server does not answer within the job's limit plus a grace period, the whole sandbox is killed and the
next job gets a fresh one. ``reuse_workers=False`` starts a new sandbox per job (the slow path, for comparison).
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lit_coderl.sandbox import codec, isolation
from lit_coderl.sandbox.limits import Limits
from lit_coderl.sandbox.server import BOOTSTRAP

DEFAULT_PRELOAD: tuple[str, ...] = (
    "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "operator", "random",
    "statistics", "copy", "datetime", "decimal", "fractions", "typing", "json", "array", "cmath", "traceback",
    # what every job child needs before the program runs (limits, guard), and the robot simulators
    "resource", "subprocess", "shutil", "faulthandler", "socket", "tempfile", "ctypes",
    "lit_coderl.sandbox.child", "lit_coderl.robot.harness", "lit_coderl.robot.robosim", "lit_coderl.robot.roboeval",
    "lit_coderl.robot.calls", "lit_coderl.robot.task_world",
)
"""Modules each server imports once so that job children do not pay for them."""

SERVER_GRACE_S = 15.0
"""How long past a job's own limit the caller waits for its server before killing the sandbox."""
MAX_REPLY_BYTES = 128 * 1024 * 1024
"""A server's reply: the job's capped output (64 MiB) plus its own fields."""

Status = Literal["ok", "error", "timeout", "memory", "crash", "infra_error"]
STATUSES = ("ok", "error", "timeout", "memory", "crash", "infra_error")
INFRA_ERROR = "infra_error"
"""The status of a job that failed before its program started (the sandbox server died, could not import its
package, fork or set the child up, or no healthy server could be started): the machinery's failure, never the
program's score. The pool has already retried it once on a fresh server."""


@dataclass
class RunReply:
    """A server's reply to one job (plain data; `judge.py` and the callers interpret it)."""

    status: Status
    error: str | None = None
    load: dict | None = None
    done: dict | None = None
    items: list = field(default_factory=list)
    stderr: str = ""
    duration_s: float = 0.0
    robot: dict | None = None
    times: list = field(default_factory=list)
    """Per item (``calls``, ``holes``): seconds from the end of the previous item, by the server's clock."""
    unhealthy: str | None = None
    """Set when the server found itself changed or unclean after this job (it then exits; the next job gets a fresh
    one). The job's own verdict stands: its program ran."""

    @property
    def infra_error(self) -> bool:
        """Whether the job failed before its program started (`INFRA_ERROR`)."""
        return self.status == INFRA_ERROR

    @property
    def stdout(self) -> str:
        return str((self.done or {}).get("stdout") or "")

    @property
    def load_error(self) -> str | None:
        """The exception that stopped the code from loading, if it did not load."""
        if self.load is not None and not self.load.get("ok"):
            return str(self.load.get("x"))
        return None


class SandboxInfraError(RuntimeError):
    """A job ended as `INFRA_ERROR` where the caller needs an exception (a robot driver running several worlds):
    the machinery failed, the program has no verdict."""


def _to_reply(data: Any) -> RunReply:
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return RunReply(status="crash", error="sandbox server sent no valid reply", unhealthy="invalid reply")
    return RunReply(
        status=data["status"], error=data.get("error"), load=data.get("load"), done=data.get("done"),
        items=list(data.get("items") or []), stderr=str(data.get("stderr") or ""),
        duration_s=float(data.get("duration_s") or 0.0), robot=data.get("robot"),
        times=[float(t) for t in data.get("times") or [] if isinstance(t, (int, float))],
        unhealthy=str(data["unhealthy"]) if data.get("unhealthy") else None,
    )


_LIVE_SERVERS: weakref.WeakSet = weakref.WeakSet()


def _forget_servers_in_fork_child() -> None:
    """In a process forked from the caller (e.g. a DataLoader worker), drop the servers' pipes so the servers still
    see end-of-file when the caller closes them, and never talk to two processes."""
    for server in list(_LIVE_SERVERS):
        server.close_pipes()
    _LIVE_SERVERS.clear()


os.register_at_fork(after_in_child=_forget_servers_in_fork_child)


def server_env() -> dict[str, str]:
    """The whole environment of a server (nothing of the caller's: no tokens, no keys)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
    }


class _Server:
    """Handle on one (isolated) server process."""

    def __init__(self, preload: tuple[str, ...], isolated: bool, stderr: int = subprocess.DEVNULL) -> None:
        self.isolated = isolated
        self.host_scratch = None if isolated else tempfile.mkdtemp(prefix="lit_coderl-sandbox-")
        scratch = "/tmp" if isolated else self.host_scratch
        path = codec.dumps(isolation.import_path()).decode()
        # -B: a server never writes bytecode (unisolated, it would into the package folder)
        argv = [isolation.python_executable(), "-I", "-S", "-B", "-c", BOOTSTRAP, path,
                codec.dumps(list(preload)).decode(), scratch, "1" if isolated else "0"]
        streams = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": stderr, "start_new_session": True}
        if isolated:
            self.process = isolation.spawn(argv, server_env(), cwd="/", **streams)
        else:
            self.process = subprocess.Popen(argv, env=server_env(), cwd=self.host_scratch, **streams)
        self.request_w = self.process.stdin.fileno()
        self.reply_r = self.process.stdout.fileno()
        self.buffer = codec.FrameBuffer(MAX_REPLY_BYTES, 1 << 62)
        _LIVE_SERVERS.add(self)

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, job: dict, wait_s: float, inputs: list | None = None) -> RunReply:
        """Send one job and read its reply. A server that fails before it says the job's program has started (its
        ``S`` frame) gives `INFRA_ERROR`; one that dies, stalls or garbles its reply afterwards is the program's doing
        (it may have starved or killed the server): a crash or timeout. Either way the server is gone."""
        started = False
        try:
            codec.write_frame(self.request_w, b"J", job)
            if inputs is not None:
                codec.write_frame(self.request_w, b"I", inputs)
        except (OSError, ValueError) as exc:
            self.kill()
            return RunReply(status=INFRA_ERROR, error=f"sandbox server unavailable: {exc}")
        deadline = time.monotonic() + wait_s
        poller = select.poll()  # not select(): the trainer may hold more than FD_SETSIZE descriptors
        poller.register(self.reply_r, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                if not started:
                    return RunReply(status=INFRA_ERROR, error="sandbox server did not start the job in time")
                return RunReply(status="timeout", error="sandbox server did not answer in time")
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(self.reply_r, 1 << 20)
            if not chunk:
                tail = "" if started else self.stderr_tail()
                self.kill()
                if not started:
                    return RunReply(status=INFRA_ERROR, error=f"sandbox server died before the program started{tail}")
                return RunReply(status="crash", error="sandbox server died during the job")
            try:
                frames = self.buffer.feed(chunk)
            except codec.FrameError as exc:
                self.kill()
                status = "crash" if started else INFRA_ERROR
                return RunReply(status=status, error=f"sandbox server reply unreadable: {exc}")
            for tag, body in frames:
                if tag == b"S":
                    started = True
                elif tag == b"R":
                    return _to_reply(body)

    def stderr_tail(self) -> str:
        """``: <the server's last stderr line>`` when its stderr was captured (the start-up probe), else ''."""
        stream = self.process.stderr
        if stream is None:
            return ""
        try:
            self.process.wait(timeout=5)
            text = stream.read(1 << 16).decode("utf-8", "replace").strip()
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return ""
        return f": {text.splitlines()[-1]}" if text else ""

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close()

    def close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is None:
                continue
            try:
                stream.close()
            except (OSError, ValueError):
                pass

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
        if self.host_scratch:
            shutil.rmtree(self.host_scratch, ignore_errors=True)


class SandboxPool:
    """Runs sandboxed jobs in parallel on ``workers`` warm, isolated server processes.

    Args:
        workers: Jobs that run at the same time (default: ``os.cpu_count()``).
        limits: Default limits of every job.
        reuse_workers: Keep one server per worker and fork a child per job (fast). ``False`` starts a new sandbox
            for every job (the slow path, for comparison).
        preload: Modules each server imports once before forking job children.
        isolation: ``"bwrap"`` (kernel isolation; refuses to start where the kernel lacks it) or ``"none"``
            (unsafe, warns); default from ``LIT_CODERL_SANDBOX`` (``unisolated`` opts out).
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits | None = None,
        reuse_workers: bool = True,
        preload: tuple[str, ...] = DEFAULT_PRELOAD,
        isolation: isolation.Isolation | None = None,
    ) -> None:
        from lit_coderl.sandbox import isolation as iso

        self.isolation = isolation or iso.default_isolation()
        if self.isolation not in ("bwrap", "none"):
            raise ValueError(f"isolation must be 'bwrap' or 'none', got {self.isolation!r}")
        if self.isolation == "bwrap":
            iso.check_isolation()
        else:
            warnings.warn(UNISOLATED_WARNING, stacklevel=2)
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.limits = (limits or Limits()).validate()
        self.reuse_workers = reuse_workers
        self.preload = tuple(preload)
        from lit_coderl.sandbox.probe import check_reward_path

        check_reward_path(self.isolated, self.preload)  # once per process: a real job, or a message naming the mount
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._drivers = None
        self._closing = False
        self._lock = threading.Lock()
        self.infra_errors = 0
        """Jobs that ended as `INFRA_ERROR` after their retry (the machinery failed; no verdict)."""
        self.retries = 0
        """Attempts that ended as `INFRA_ERROR` and were run again (on a fresh server)."""
        self._threads = [
            threading.Thread(target=self._worker, name=f"sandbox-worker-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def isolated(self) -> bool:
        return self.isolation == "bwrap"

    # public API ---------------------------------------------------------------------------------------------

    def submit(self, job: dict, limits: Limits | None = None, convert=None, inputs: list | None = None) -> Future:
        """Run one job (see `child.py` for the plans); the future holds ``convert(RunReply)`` (or the reply).
        ``inputs`` (a ``calls`` job's arguments) travel in a frame of their own, which the server reads only after
        it has forked the job's child."""
        job = {**job, "limits": asdict((limits or self.limits).validate())}
        wait_s = float(job["limits"]["timeout_s"]) + SERVER_GRACE_S
        if job.get("mode") == "robot":
            wait_s = float(job["world_timeout_s"]) + SERVER_GRACE_S
        codec.dumps(job)  # arguments that are not plain JSON fail here, in the caller
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("SandboxPool is closed")
            self._jobs.put((job, inputs, wait_s, convert, future))
        return future

    def submit_exec(self, code: str, setup: str = "", limits: Limits | None = None) -> Future[RunReply]:
        """Run ``code`` (then ``setup``) and report how it went: load error, stdout, stderr, status."""
        return self.submit({"mode": "exec", "code": _text(code), "setup": _text(setup)}, limits)

    def submit_tests(self, code: str, tests: list[str], setup: str = "", limits: Limits | None = None,
                     in_child: bool = False) -> Future:
        """Run ``code`` and ``setup``, then judge each assert in ``tests`` (`judge.py`): a `TestResult`.

        ``in_child``: run tests that cannot be split (not a single assert) beside the program and take its word for
        them (forgeable); by default they fail with an error saying why."""
        from lit_coderl.sandbox import judge

        plan = judge.plan_tests([_text(t) for t in tests], _text(code))
        fallback = plan.fallback if in_child else [None] * len(plan.fallback)
        holes = [h if h is not None or in_child else [] for h in plan.holes]
        job = {"mode": "holes", "code": _text(code), "setup": _text(setup), "holes": holes, "fallback": fallback}
        return self.submit(job, limits, lambda reply: judge.test_result(plan, reply, in_child))

    def submit_calls(self, code: str, entry_point: str, inputs: list, time_limits: list[float] | None = None,
                     limits: Limits | None = None, project: str | None = None) -> Future[RunReply]:
        """Run ``code``, then ``entry_point(*args)`` for each ``args`` in ``inputs``; each input is limited to its
        ``time_limits`` entry by the server's clock, which starts when the server hands the child that input (the
        child never holds an input before its turn, so nothing can be computed ahead). Items of the reply:
        ``{"v": encoded value}`` or ``{"x": error}`` (decode with `judge.call_values`). ``project`` (EvalPlus's
        oracle for tasks returning match objects): ``"not_none"`` sends ``value is not None``;
        ``"not_none_unless_bool"`` does so unless the value is a bool."""
        if project not in (None, "not_none", "not_none_unless_bool"):
            raise ValueError(f"unknown projection {project!r}")
        encoded = [codec.encode_value(list(args)) for args in inputs]
        job = {"mode": "calls", "code": _text(code), "entry_point": str(entry_point), "project": project,
               "n_inputs": len(encoded),
               "time_limits": [float(t) for t in time_limits] if time_limits is not None else []}
        return self.submit(job, limits, inputs=encoded)

    def submit_robot(self, world: dict, world_timeout_s: float, limits: Limits | None = None) -> Future[RunReply]:
        """Run a robot program against a simulator the server holds (``world["kind"]``: ``robosim`` or ``roboeval``,
        plus what that world factory reads). The reply's ``done`` is the child's own account, ``robot`` the
        server's (its stdout reconstruction, the simulator's trace events and call log, robot errors raised even if
        caught). The world's keys past `runner.PUBLIC_KEYS` (its facts) travel in a frame of their own, read by the
        server only after it has forked the job's child."""
        from lit_coderl.robot.runner import split_world

        public, secret = split_world(dict(world))  # the world's facts travel after the fork, like MBPP+ inputs
        job = {"mode": "robot", "robot": public, "world_timeout_s": float(world_timeout_s)}
        return self.submit(job, limits, inputs=secret)

    def run_driver(self, fn, *args, **kwargs) -> Future:
        """Run a trusted driver ``fn(*args, **kwargs)`` (e.g. `lit_coderl.robot.robosim.verify_program` with a
        `SandboxRunner`) on one of this pool's driver threads: it submits jobs and waits for them, so many programs
        are driven at once while the workers stay busy. The driver's verdict is computed here, never in a job."""
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._closed or self._closing:
                raise RuntimeError("SandboxPool is closed")
            if self._drivers is None:
                self._drivers = ThreadPoolExecutor(max_workers=2 * self.workers, thread_name_prefix="sandbox-driver")
        return self._drivers.submit(fn, *args, **kwargs)

    def close(self) -> None:
        """Stop the workers and their server processes (pending jobs still run)."""
        with self._lock:
            if self._closed or self._closing:
                return
            self._closing = True  # no new drivers; running ones still submit their jobs
            drivers, self._drivers = self._drivers, None
        if drivers is not None:
            drivers.shutdown(wait=True)
        with self._lock:
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

    def _worker(self) -> None:
        server: _Server | None = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, inputs, wait_s, convert, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    for attempt in range(2):  # a job that fails before its program starts runs once more, afresh
                        if attempt:
                            with self._lock:
                                self.retries += 1
                        if server is None or not server.alive():
                            if server is not None:
                                server.close()
                            server, reply = self._fresh_server()
                            if server is None:
                                continue
                        reply = server.run(job, wait_s, inputs)
                        if reply.infra_error or reply.unhealthy or not server.alive() or not self.reuse_workers:
                            server.close()  # an unhealthy server exits after its reply
                            server = None
                        if not reply.infra_error:
                            break
                    if reply.infra_error:
                        with self._lock:
                            self.infra_errors += 1
                    future.set_result(convert(reply) if convert is not None else reply)
                except BaseException as exc:  # noqa: B036 - a worker thread must never die with a job pending
                    if server is not None:
                        server.kill()
                        server = None
                    future.set_exception(exc)
        finally:
            if server is not None:
                server.close()

    def _fresh_server(self) -> tuple[_Server | None, RunReply | None]:
        """A new server; with reused workers, it must first run a trivial job (else it is killed and the reply
        says why: an infrastructure error)."""
        try:
            server = _Server(self.preload, self.isolated)
        except OSError as exc:
            return None, RunReply(status=INFRA_ERROR, error=f"sandbox server could not start: {exc}")
        if not self.reuse_workers:
            return server, None  # one job per server: the job itself shows whether it works
        reply = server.run(trivial_job(), HEALTH_CHECK_WAIT_S)
        if reply.status == "ok" and (reply.load or {}).get("ok") and not reply.unhealthy and server.alive():
            return server, None
        server.kill()
        why = reply.error or (reply.load or {}).get("x") or reply.unhealthy or reply.status
        return None, RunReply(status=INFRA_ERROR, error=f"a fresh sandbox server failed its health check: {why}")


HEALTH_CHECK_WAIT_S = 30.0
"""How long a fresh server gets to run the trivial job of its health check."""


def trivial_job() -> dict:
    """The health check's job: a program that does nothing (it must load and finish)."""
    return {"mode": "exec", "code": "pass", "setup": "", "limits": asdict(Limits(timeout_s=10.0).validate())}


UNISOLATED_WARNING = (
    "lit_coderl sandbox: generated code runs WITHOUT kernel isolation (LIT_CODERL_SANDBOX=unisolated or "
    "isolation='none'): a program can read your files and environment, kill processes and fake its own reward."
)


def _text(value: Any) -> str:
    """A job's code or test as a str that JSON can carry (lone surrogates replaced)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text.encode("utf-8", "replace").decode("utf-8")
