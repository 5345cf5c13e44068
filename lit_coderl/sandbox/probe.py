"""The start-up probe: one real job through the reward path before a pool takes any work.

`check_isolation` proves the kernel isolates; this proves the sandbox can do its job where the interpreter, the
venv and the checkout actually live: a server starts from them (it imports ``lit_coderl`` inside the sandbox), a
job child runs a unit-test program that the judge passes, and a robot program whose API call reaches the simulator.
A folder bound into the sandbox and then hidden (a venv under ``/tmp`` behind the private ``/tmp``) or missing
fails here, with a message naming the folder, instead of turning every later job into a failed program.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from functools import cache

from lit_coderl.sandbox.limits import Limits

PROBE_WAIT_S = 60.0
"""How long the probe's server gets for each of its jobs (start-up on a loaded machine included)."""
_PROGRAM = "def add(a, b):\n    return a + b\n"
_ROBOT = "def task_program():\n    say('probe')\n"


class SandboxBroken(OSError):
    """The sandbox starts but cannot run a job (the message says what is missing; an `OSError`: the command line
    prints it as one error line)."""


def _fail(what: str, detail: str) -> SandboxBroken:
    from lit_coderl.sandbox import isolation

    folders = ", ".join(isolation.import_path())
    return SandboxBroken(
        f"sandbox start-up probe failed: {what}: {detail}. The sandbox server reads the interpreter, the venv and "
        f"the lit_coderl package from read-only mounts of: {folders}."
    )


@cache
def check_reward_path(isolated: bool, preload: tuple[str, ...]) -> None:
    """Run one unit-test job and one robot job on a fresh server (once per process and setting); `SandboxBroken`
    naming what failed."""
    from lit_coderl.robot.runner import result_of_reply
    from lit_coderl.sandbox import judge
    from lit_coderl.sandbox.pool import _Server

    limits = asdict(Limits(timeout_s=20.0).validate())
    plan = judge.plan_tests(["assert add(1, 2) == 3"], _PROGRAM)
    tests_job = {"mode": "holes", "code": _PROGRAM, "setup": "", "holes": plan.holes, "fallback": plan.fallback,
                 "limits": limits}
    world = {"kind": "robosim", "code": _ROBOT, "seed": 0, "world": 0}
    robot_job = {"mode": "robot", "robot": world, "world_timeout_s": 10.0, "limits": limits}
    try:
        server = _Server(preload, isolated, stderr=subprocess.PIPE)
    except OSError as exc:
        raise _fail("the server could not start", str(exc)) from None
    try:
        reply = server.run(tests_job, PROBE_WAIT_S)
        result = judge.test_result(plan, reply)
        if result.status != "pass":
            raise _fail("a passing unit-test program did not pass", f"{result.status}: {result.error}")
        reply = server.run(robot_job, PROBE_WAIT_S)
        run = result_of_reply(reply)
        calls = [c.get("api") for c in run.calls or [] if isinstance(c, dict)]
        if run.status != "ok" or "say" not in calls:
            raise _fail("a robot program's call did not reach the simulator",
                        f"{run.status}: {run.error or 'no call recorded'}")
    finally:
        server.kill()
