"""`TaskCheckReward`: does the robot program do the task? The share of the task's checks it satisfies, per token.

Every generated robot task carries a spec (`lit_coderl.robot.task_spec`): constraints such as "visit the kitchen",
"pick the apple there if it is present", "then say the count at the start". Each response's program
(`lit_coderl.robot.harness.locate_program`) runs in K task-check worlds (`lit_coderl.robot.task_world`: facts the
task depends on drawn per world), each world a sandbox job whose program talks to a simulator held outside its
process; the simulator's call log comes back as data and the spec is evaluated here
(`lit_coderl.robot.task_check.check_world`). Nothing the program prints counts as an action.

Token scores of a sample with a spec:

- every program token gets the mean world score ``s`` (satisfied / applicable constraints, averaged over worlds;
  ``spreading: sum`` makes the program's tokens sum to it instead);
- each violated constraint adds ``violation_penalty / (applicable constraints × K)`` to every line it blames: the
  lines of the calls that broke it (a ``never`` constraint's action; a near miss: the same API with the wrong
  argument, place, content or order), else the line where the program stopped (the line that raised or timed
  out, else its last line: the action is missing and the program ended without it). A line blamed by every
  constraint in every world thus carries ``violation_penalty`` in all, on top of ``s``. With ``blame_spreading:
  sum`` (default) a line's penalty is split over its tokens, so it does not grow with the line's length; with
  ``constant`` every token of the line carries it, which pays the policy for making the blamed line (often its
  last) short — the demo runs in ``docs/results.md`` shrank to one-call programs that way;
- a response without a program body gets ``fail_penalty`` on all its tokens.

Rows without a spec (e.g. Robo-Instruct) score 0 and are left out of the metrics. The sequence score (for
``reward_placement: eos``) is ``s`` (``fail_penalty`` without a program). Robot errors are the simulator
reward's business: a call that raised did nothing, so it satisfies no constraint, but it is not penalised here.

Metrics (``reward/<name>/<key>``): ``infra_errors`` (share of samples the sandbox could not run: no score,
`lit_coderl.rewards.sandboxed`), ``mean_score``, ``full_share`` (samples with every check satisfied in every
world), ``checked`` (share of samples with a spec), ``api_calls_mean`` and ``trivial_share`` (programs with at most
2 robot API call sites, `lit_coderl.robot.program_stats`).
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import torch

from lit_coderl.rewards.program_spans import line_token_indices, program_token_indices
from lit_coderl.rewards.sandboxed import SandboxedReward
from lit_coderl.rewards.spans import SpreadMode, spread
from lit_coderl.robot.harness import PROGRAM_HEADER, locate_program
from lit_coderl.robot.program_stats import program_stats
from lit_coderl.robot.runner import SandboxRunner, world_limits
from lit_coderl.robot.task_spec import check_program

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout

NO_PROGRAM = "no_program"


def task_spec_of(row: Any) -> dict[str, Any] | None:
    """The task spec of a dataset row (``row["robot"]["spec"]``), or None."""
    robot = row.get("robot") if isinstance(row, dict) else None
    spec = robot.get("spec") if isinstance(robot, dict) else None
    return spec if isinstance(spec, dict) and spec.get("constraints") else None


def line_blame(verdict: dict[str, Any]) -> dict[int, float]:
    """Program line → blame mass of a `check_program` verdict: each violated constraint of a world adds
    ``1 / (applicable constraints of that world × worlds)`` to each line it blames."""
    worlds = verdict.get("worlds") or []
    mass: dict[int, float] = defaultdict(float)
    for world in worlds:
        applicable = [r for r in world.get("results") or [] if r["applicable"]]
        for result in applicable:
            if result["satisfied"] is False:
                for line in result["blame"]:
                    mass[int(line)] += 1.0 / (len(applicable) * len(worlds))
    return dict(mass)


class TaskCheckReward(SandboxedReward):
    """Task-completion reward: the share of the task spec's constraints the program satisfies, with the violated
    ones blamed on program lines (see the module docstring).

    Args:
        weight: Coefficient of this component.
        name: Name in logs.
        worlds: K, task-check worlds per program (facts drawn per world).
        spreading: ``sum`` (default, length-neutral: the program's tokens sum to the score) or ``constant`` (every
            program token gets it, so the sum grows with the program's length).
        violation_penalty: Added (use a negative number), scaled by blame mass, to the tokens of blamed lines.
        blame_spreading: ``sum`` (a blamed line's tokens sum to its penalty) or ``constant`` (each token carries it).
        fail_penalty: Value on every response token when there is no program (under ``spreading: sum`` the
            response tokens sum to it instead).
        world_timeout_s: Wall-clock limit of one world.
        memory_mb: Address-space limit of one world's sandbox process.
        seed: Base seed of the worlds; every checked program gets the next one (saved in checkpoints).
        workers: Sandbox processes running in parallel (default: the CPU count).
    """

    default_name = "task_check"

    def __init__(
        self,
        weight: float = 1.0,
        name: str | None = None,
        worlds: int = 3,
        spreading: SpreadMode = "sum",
        violation_penalty: float = -0.5,
        blame_spreading: SpreadMode = "sum",
        fail_penalty: float = -0.1,
        world_timeout_s: float = 1.0,
        memory_mb: int = 1024,
        seed: int = 0,
        workers: int | None = None,
    ) -> None:
        super().__init__(weight=weight, name=name)
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        if blame_spreading not in ("constant", "sum"):
            raise ValueError(f"blame_spreading must be 'constant' or 'sum', got {blame_spreading!r}")
        self.worlds = int(worlds)
        self.spreading = spreading
        self.violation_penalty = float(violation_penalty)
        self.blame_spreading = blame_spreading
        self.fail_penalty = float(fail_penalty)
        self.world_timeout_s = float(world_timeout_s)
        self.limits = world_limits(worlds, world_timeout_s, memory_mb)
        self.seed = int(seed)
        self.workers = workers
        self._programs_checked = 0
        self._pending: tuple[int, list[Future | str | None]] | None = None
        self._metrics: dict[str, float] = {}

    def submit(self, rollout: Rollout) -> None:
        """Start checking every sample's program (futures collected by ``score``)."""
        self._pending = (id(rollout), self._start(rollout))

    def _start(self, rollout: Rollout) -> list[Future | str | None]:
        jobs: list[Future | str | None] = []
        pool = None
        for i in range(rollout.batch_size):
            spec = task_spec_of(rollout.tasks[i] if i < len(rollout.tasks) else None)
            if spec is None:
                jobs.append(None)
                continue
            code = locate_program(rollout.texts[i]).code
            if not code.startswith(PROGRAM_HEADER.rstrip("\n")) or not code[len(PROGRAM_HEADER) - 1 :].strip():
                jobs.append(NO_PROGRAM)
                continue
            if pool is None:
                pool = self.started()
            runner = SandboxRunner(pool, count_caught_errors=False, limits=self.limits)
            seed = self.seed + self._programs_checked
            self._programs_checked += 1
            jobs.append(pool.run_driver(check_program, code, spec, self.worlds, seed, self.world_timeout_s, runner))
        return jobs

    def verdicts(self, rollout: Rollout) -> list[dict[str, Any] | str | None]:
        """`check_program` verdicts (`NO_PROGRAM` without a program body, None without a spec); a failure of the
        sandbox itself is no verdict: ``{"infra_error": why}``."""
        if self._pending is not None and self._pending[0] == id(rollout):
            jobs = self._pending[1]
        else:
            jobs = self._start(rollout)
        self._pending = None
        out: list[dict[str, Any] | str | None] = []
        for job in jobs:
            if job is None or isinstance(job, str):
                out.append(job)
                continue
            try:
                out.append(job.result())
            except Exception as exc:  # the sandbox (or the driver) failed: no verdict, never a failing score
                out.append({"infra_error": f"{type(exc).__name__}: {exc}"})
        return out

    def score(self, rollout: Rollout) -> torch.Tensor:
        """``[B, T]``: the task score on each program's tokens plus the blamed lines' penalties."""
        verdicts = self.verdicts(rollout)
        scores = rollout.zeros()
        length = rollout.response_length
        sequence = torch.zeros(rollout.batch_size)
        checked: list[float] = []
        codes: list[str] = []
        infra: list[str] = []
        for i, verdict in enumerate(verdicts):
            if verdict is None:
                continue
            if isinstance(verdict, dict) and "infra_error" in verdict:  # no verdict: no score (`SandboxedReward`)
                infra.append(str(verdict["infra_error"]))
                continue
            codes.append(locate_program(rollout.texts[i]).code)
            n = int(rollout.response_mask[i].sum().item())
            program = [t for t in program_token_indices(rollout, i) if t < n]
            if verdict == NO_PROGRAM or not program:
                scores[i] = spread(self.fail_penalty, range(n), length, self.spreading)
                sequence[i] = self.fail_penalty
                checked.append(0.0)
                continue
            value = float(verdict["score"])
            checked.append(value)
            sequence[i] = value
            row = spread(value, program, length, self.spreading)
            for line, mass in sorted(line_blame(verdict).items()):
                tokens = [t for t in line_token_indices(rollout, i, line) if t < n]
                row += spread(self.violation_penalty * mass, tokens, length, self.blame_spreading)
            scores[i] = row
        self.record_sequence_scores(rollout, sequence)
        self.note_infra_errors(infra)
        batch = max(1, rollout.batch_size)
        self._metrics = {
            "infra_errors": len(infra) / batch,
            "mean_score": sum(checked) / max(1, len(checked)),
            "full_share": sum(v == 1.0 for v in checked) / max(1, len(checked)),
            "checked": len(checked) / batch,
            **program_stats(codes),
        }
        return scores

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)

    def state_dict(self) -> dict:
        return {"programs_checked": self._programs_checked}

    def load_state_dict(self, state_dict: dict) -> None:
        self._programs_checked = int(state_dict.get("programs_checked", 0))
