"""Where a robot program runs: beside a simulator in a sandbox (production), or in this process (trusted code).

A **world** is a plain dict naming a world factory and what it reads (``{"kind": "robosim", "code", "seed",
"world"}`` or ``{"kind": "roboeval", "code", "state"}``; `robosim.sandbox_world`, `roboeval.sandbox_world`). The
factory makes the program text and the simulated robot.

- `SandboxRunner` (every production path): the program runs in a sandbox job child whose ``robot`` is a proxy; the
  simulator lives in the sandbox server, another process, which records the trace and every robot error itself.
  The program can therefore not rebind the robot class, the driver or the verdict, and with
  ``count_caught_errors`` (the training reward's default) a robot error counts even when the program catches it.
- `InProcessRunner`: the original harness's in-process run, for simulator tests on trusted programs only.

Both return a `harness.RunResult`. ``robot_trace`` is the simulator's own record of the API calls. ``trace`` is the
original harness's view, which parses the program's stdout and stops at the first line that is not a trace line:
sandboxed, it is the simulator's record (structured events, `calls.TraceRecorder`) up to the program's first own
output or the first event whose printed line would be malformed (a newline or the delimiter in a ``say`` text), so
a program's prints still end the trace as in the original, but no text the program prints or says is ever taken
for what the robot did.

**What the program may know.** A world's keys split into a public part (`PUBLIC_KEYS`: what the program text is
built from) and the rest, the world's facts (a RoboEval state, a task-check world's facts, rooms and seed), which
are the checker's truth. The pool sends the facts in a frame of their own that the server reads only after it has
forked the job's child, so they are never in the child's memory.
"""

from __future__ import annotations

import importlib
from typing import Any

from lit_coderl.robot.api import recording
from lit_coderl.robot.calls import RecordingRobot, TraceRecorder, decode_events, valid_log
from lit_coderl.robot.harness import MAX_OUTPUT_CHARS, RunResult, run_program
from lit_coderl.sandbox.limits import Limits

WORLD_FACTORIES = {
    "robosim": "lit_coderl.robot.robosim:sandbox_world",
    "roboeval": "lit_coderl.robot.roboeval:sandbox_world",
    "taskcheck": "lit_coderl.robot.task_world:sandbox_world",
}


PUBLIC_KEYS = {
    "robosim": ("kind", "code", "seed", "world"),  # the seed rewrites the program (membership mutation)
    "roboeval": ("kind", "code"),
    "taskcheck": ("kind", "code"),
}
"""The keys of a world the program text is built from; the others reach the server after the child is forked."""


def split_world(world: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)`` parts of a world dict (`PUBLIC_KEYS`)."""
    public = set(PUBLIC_KEYS[world["kind"]])
    return ({k: v for k, v in world.items() if k in public}, {k: v for k, v in world.items() if k not in public})


def world_factory(public: dict[str, Any]):
    """``(program text, make_robot(secret))`` from a world's public part (what the sandbox server does)."""
    module, _, name = WORLD_FACTORIES[public["kind"]].partition(":")
    return getattr(importlib.import_module(module), name)(public)


def make_world(world: dict[str, Any]):
    """``(program text, make_robot)`` for a whole world dict."""
    public, secret = split_world(world)
    program, make_robot = world_factory(public)
    return program, lambda: make_robot(secret)


class InProcessRunner:
    """Runs trusted programs in this process (tests of the simulators; never generated code)."""

    def __call__(self, world: dict[str, Any], timeout_s: float) -> RunResult:
        program, make_robot = make_world(world)
        robot = RecordingRobot(make_robot())
        recorder = TraceRecorder(MAX_OUTPUT_CHARS)
        with recording(recorder):
            result = run_program(program, robot, timeout_s)
        result.robot_trace = recorder.events
        result.calls = robot.log
        return result


class SandboxRunner:
    """Runs each world as a sandbox job of ``pool`` (`lit_coderl.sandbox.SandboxPool`)."""

    def __init__(self, pool, count_caught_errors: bool = False, limits=None) -> None:
        self.pool = pool
        self.count_caught_errors = count_caught_errors
        self.limits = limits

    def __call__(self, world: dict[str, Any], timeout_s: float) -> RunResult:
        from lit_coderl.sandbox.pool import SandboxInfraError

        try:
            reply = self.pool.submit_robot(world, timeout_s, self.limits).result()
        except Exception as exc:  # the pool itself failed: the machinery's failure, never the program's verdict
            raise SandboxInfraError(f"{type(exc).__name__}: {exc}") from exc
        if reply.infra_error:  # the world never ran: the whole program gets no verdict (the caller reports it)
            raise SandboxInfraError(reply.error or "sandbox infrastructure error")
        return result_of_reply(reply, self.count_caught_errors)


def result_of_reply(reply, count_caught_errors: bool = False) -> RunResult:
    """The `RunResult` of a sandbox robot job's reply: the server decides timeouts, crashes and robot errors."""
    robot = reply.robot or {}
    robot_errors = [str(e) for e in robot.get("robot_errors") or []]
    robot_trace = decode_events(robot.get("events"))  # the simulator's events: never text the program printed
    calls = valid_log(robot.get("call_log"))
    printed_at = robot.get("printed_at")
    trace = robot_trace[:printed_at] if type(printed_at) is int and printed_at >= 0 else list(robot_trace)
    done = reply.done if isinstance(reply.done, dict) else {}
    stdout = str(robot.get("stdout") or "")
    if reply.status == "timeout":
        return RunResult(status="timeout", stdout=stdout, trace=trace, robot_trace=robot_trace,
                         robot_errors=robot_errors, calls=calls)
    if reply.status != "ok" or done.get("status") not in ("ok", "error", "timeout"):
        error = f"SandboxError: {reply.status}: {reply.error or 'the program ended without finishing'}"
        return RunResult(status="error", stdout=stdout, error=error, trace=trace, robot_trace=robot_trace,
                         robot_errors=robot_errors, calls=calls)
    status, error = done["status"], done.get("error")
    line = done.get("error_line") if type(done.get("error_line")) is int else None
    if count_caught_errors and robot_errors and status == "ok":
        status, error, line = "error", robot_errors[0], None  # caught by the program: still a robot error
    return RunResult(status=status, stdout=stdout, error=str(error) if error is not None else None, error_line=line,
                     trace=trace, robot_trace=robot_trace, robot_errors=robot_errors, calls=calls)


def world_limits(worlds: int, world_timeout_s: float, memory_mb: int) -> Limits:
    """The sandbox limits of one world's job for a reward that runs ``worlds`` worlds of ``world_timeout_s`` each
    (the server's clock stops a world at ``world_timeout_s``; the job gets a short grace), after checking both."""
    if int(worlds) < 1:
        raise ValueError(f"worlds must be at least 1, got {worlds}")
    if not float(world_timeout_s) > 0:
        raise ValueError(f"world_timeout_s must be positive, got {world_timeout_s}")
    return Limits(timeout_s=float(world_timeout_s) + 1.0, memory_mb=int(memory_mb))
