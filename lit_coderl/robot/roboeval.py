"""RoboEval's evaluation algorithm for one program (``docs/robosim-roboeval.md`` §7.3).

For each test of the task, **in state order**, the program is rewritten by the shared harness (§4.1: lower-cased
double-quoted literals, naive ``robot.`` prefixing, ``time.sleep`` neutralised) and run against a fresh fixed-state
`Robot` with a per-state wall-clock limit (1 s originally; Jolfaei et al. needed 15 s for process start-up, which
in-process runs do not pay):

* a timeout in a state not marked ``expect_timeout`` → **PythonError**, evaluation stops;
* an exception → **RobotExecutionError** if the last stderr line contains "Robot", else **PythonError**; stop;
* otherwise the state's RTL check runs on the parsed trace (the partial trace after an expected timeout; the
  parser stops at the first malformed stdout line, so a ``print`` truncates it). A failed check sets the program
  to CompletionError **but evaluation continues**: an error in a later state still wins;
* an exception raised by the check itself is classified like a program error (same "Robot" substring rule).

After all states: **Success** if every check passed, else **CompletionError**.

`evaluate_task_program` is the driver: it runs in the caller, sends each state to a runner
(`lit_coderl.robot.runner`; in production a sandbox job whose program talks to the simulator in the sandbox server)
and applies the checks here, outside the program's reach. It returns a plain dict. The RoboEval tasks themselves
(states, RTL checks: evaluation-only material) are loaded by `lit_coderl.evaluate.roboeval_tasks`; this module only
knows the containers `RoboEvalTask` and `RoboEvalTest`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lit_coderl.robot.harness import classify_error, error_class, rewrite_program
from lit_coderl.robot.roboeval_sim import Robot, WorldState
from lit_coderl.robot.rtl import Trace, trace_from_events
from lit_coderl.robot.runner import InProcessRunner

PYTHON_ERROR = "PythonError"
ROBOT_ERROR = "RobotExecutionError"
COMPLETION_ERROR = "CompletionError"
SUCCESS = "Success"
OUTCOMES = (PYTHON_ERROR, ROBOT_ERROR, COMPLETION_ERROR, SUCCESS)
"""The four outcome classes, in the order of the paper's Table 2."""

DEFAULT_STATE_TIMEOUT_S = 1.0
"""The original per-state wall-clock limit."""


@dataclass(frozen=True)
class RoboEvalTest:
    """One (state, check) pair: the raw state dict, whether a timeout is expected, and the RTL check."""

    state: dict[str, Any]
    expect_timeout: bool
    check: Callable[[Trace], bool]


@dataclass(frozen=True)
class RoboEvalTask:
    """A benchmark task: its name, 5 prompt paraphrases and its tests in state order."""

    name: str
    prompts: list[str]
    tests: list[RoboEvalTest]


def _error_outcome(error_text: str) -> str:
    return ROBOT_ERROR if classify_error(error_text) == "robot" else PYTHON_ERROR


def sandbox_world(spec: dict[str, Any]):
    """World factory (`lit_coderl.robot.runner`): ``spec`` = ``{"code": rewritten program}`` → the program and a maker
    of its robot from the world's secret part ``{"state": state dict}`` (it reaches the server after the fork)."""
    return str(spec["code"]), lambda secret: Robot(WorldState.from_dict(secret["state"]))


def _run_state(index: int, rewritten: str, test: RoboEvalTest, timeout_s: float, runner) -> dict[str, Any]:
    """Run one state and apply its check; the per-state record (``outcome`` set only when evaluation stops)."""
    result = runner({"kind": "roboeval", "code": rewritten, "state": test.state}, timeout_s)
    expect_timeout = test.expect_timeout
    record: dict[str, Any] = {
        "state": index,
        "status": result.status,
        "expect_timeout": expect_timeout,
        "events": len(result.trace),
        "passed": None,
        "error": result.error,
        "error_line": result.error_line,
        "outcome": None,
    }
    if result.status == "timeout" and not expect_timeout:
        record["error"] = "Timeout: the program did not finish in time"
        record["outcome"] = PYTHON_ERROR
        return record
    if result.status == "error":
        record["outcome"] = _error_outcome(result.error or "")
        return record
    try:
        record["passed"] = bool(test.check(trace_from_events(result.trace)))
    except Exception as exc:  # a checker failure is classified like a program error, as in the original
        text = f"{type(exc).__name__}: {exc}"
        record["error"] = text
        record["outcome"] = _error_outcome(str(exc))
    return record


def evaluate_task_program(
    task: RoboEvalTask,
    code: str,
    state_timeout_s: float = DEFAULT_STATE_TIMEOUT_S,
    sleep: Literal["zero", "codebotler"] = "zero",
    on_state: Callable[[list[dict[str, Any]]], None] | None = None,
    runner=None,
) -> dict[str, Any]:
    """Evaluate ``code`` (a ``def task_program():`` program) on every state of ``task``; see the module docstring.

    ``runner`` runs each state (a `lit_coderl.robot.runner.SandboxRunner` for generated code; the default runs in
    this process, for trusted programs only). ``on_state`` is called with the state records so far. Returns
    ``{"task", "outcome", "error", "error_class", "states"}`` where ``states`` lists one
    record per state run (``state`` index, ``status`` ok/error/timeout, ``expect_timeout``, ``events`` traced,
    ``passed`` check result or None, ``error``, ``error_line``); states after a stopping error are not run.
    """
    if not isinstance(code, str):
        return _result(task.name, PYTHON_ERROR, f"TypeError: the program must be a string, not {type(code).__name__}")
    rewritten = rewrite_program(code, sleep=sleep)
    runner = runner or InProcessRunner()
    states: list[dict[str, Any]] = []
    all_passed = True
    for index, test in enumerate(task.tests):
        record = _run_state(index, rewritten, test, state_timeout_s, runner)
        stopped_by = record.pop("outcome")
        states.append(record)
        if on_state is not None:
            on_state(states)
        if stopped_by is not None:
            return _result(task.name, stopped_by, record["error"], states)
        all_passed = all_passed and bool(record["passed"])
    return _result(task.name, SUCCESS if all_passed else COMPLETION_ERROR, None, states)


def _result(task: str, outcome: str, error: str | None, states: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"task": task, "outcome": outcome, "error": error, "error_class": error_class(error), "states": states or []}
