"""`SimulatorReward`: the RoboSim execution reward of the robot domain (Jolfaei et al., spec §8.2).

Each response's ``def task_program():`` program (`lit_coderl.robot.harness.extract_program` of ``rollout.texts[i]``)
is verified in K RoboSim worlds (`lit_coderl.robot.robosim.verify_program`, the paper's counting driver: no early
stop), each world a sandbox job whose program talks to a simulator held outside its process
(`lit_coderl.robot.runner.SandboxRunner`); the driver and the verdict stay in the trainer. By default a robot error
counts even when the program catches it (the originals let ``try: place(x) except: pass`` pass; the RoboSim and
RoboEval evaluators keep that). The fraction of worlds that run without error is spread over the program's
tokens; when no world passes, a penalty goes on them instead. Beyond the paper, the tokens of the program line
that raised (the first erroring world's traceback line, mapped back into the response text) can carry an extra
penalty.

What counts as "the program's tokens": the tokens overlapping the extracted program's characters in the response
(for a fenced answer, the code inside the fence from ``def task_program():`` on). A response without a program
body (no code, prose only, an empty function) is scored with the penalty on **all** its response tokens, as the
paper puts −0.1 on every token when there is no code (with ``spreading: sum`` those tokens sum to it instead, so
the penalty does not grow with the length of a program-less answer).

Metrics (``reward/simulator/<key>``): ``success_rate``, ``mean_pass_fraction``, ``no_program``, ``robot_errors``,
``python_errors``, ``timeouts``, and ``api_calls_mean`` / ``trivial_share`` (`lit_coderl.robot.program_stats`:
programs with at most 2 robot API call sites), which show a policy shrinking to programs that cannot fail; and
``infra_errors``, the share of samples a world of which the sandbox could not run (no score; rates are over the
others; `lit_coderl.rewards.sandboxed`).

Not reproduced from the paper: before extracting the code it replaced the tokens that the lint and grammar rewards
had penalised by padding; here the program is the response text as generated.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import torch

from lit_coderl.rewards import program_spans
from lit_coderl.rewards.sandboxed import SandboxedReward
from lit_coderl.rewards.spans import SpreadMode, spread
from lit_coderl.robot.harness import PROGRAM_HEADER, classify_error, locate_program
from lit_coderl.robot.program_stats import program_stats
from lit_coderl.robot.robosim import verify_program
from lit_coderl.robot.runner import SandboxRunner, world_limits

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout


class SimulatorReward(SandboxedReward):
    """RoboSim reward: the share of K angelic worlds in which the program runs without error.

    Args:
        weight: Coefficient of this component (paper: 0.8).
        name: Name in logs.
        worlds: K, RoboSim worlds per program (paper: 5).
        spreading: ``sum`` (default, length-neutral): the program's tokens sum to the pass fraction; ``constant``
            (the paper's): every program token gets it. The no-program penalty follows it: on every response token
            (``constant``, so it grows with the answer's length, as in the paper) or summing to ``fail_penalty``
            over them (``sum``).
        fail_penalty: Value on every program token when no world passes (paper: −0.1); on every response token
            when there is no program (their sum under ``sum`` spreading).
        error_line_penalty: Value added (use a negative number) to the tokens of the program line that raised in
            the first erroring world, when the traceback names one; 0 disables it.
        world_timeout_s: Wall-clock limit of one world (paper: 2 s); a timed-out world does not pass.
        memory_mb: Address-space limit of the sandbox process of one world.
        seed: Base seed of the worlds; every verified program gets the next seed, so worlds differ between
            samples and iterations but a run is reproducible (the counter is saved in checkpoints).
        workers: Sandbox processes running in parallel (default: the CPU count).
        count_caught_errors: A robot error the program catches (``try: place(x) except: pass``) still fails the
            world. The simulator, outside the program's process, records every robot error it raises.
    """

    default_name = "simulator"

    def __init__(
        self,
        weight: float = 0.8,
        name: str | None = None,
        worlds: int = 5,
        spreading: SpreadMode = "sum",
        fail_penalty: float = -0.1,
        error_line_penalty: float = 0.0,
        world_timeout_s: float = 2.0,
        memory_mb: int = 1024,
        seed: int = 0,
        workers: int | None = None,
        count_caught_errors: bool = True,
    ) -> None:
        super().__init__(weight=weight, name=name)
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        self.worlds = int(worlds)
        self.spreading = spreading
        self.fail_penalty = float(fail_penalty)
        self.error_line_penalty = float(error_line_penalty)
        self.world_timeout_s = float(world_timeout_s)
        self.limits = world_limits(worlds, world_timeout_s, memory_mb)
        self.seed = int(seed)
        self.workers = workers
        self.count_caught_errors = bool(count_caught_errors)
        self._programs_verified = 0
        self._pending: tuple[int, list[Future | None]] | None = None
        self._metrics: dict[str, float] = {}

    # execution ----------------------------------------------------------------------------------------------------

    def submit(self, rollout: Rollout) -> None:
        """Start verifying every sample's program (futures collected by ``score``)."""
        self._pending = (id(rollout), self._start(rollout))

    def _start(self, rollout: Rollout) -> list[Future | None]:
        futures: list[Future | None] = []
        pool = self.started()
        runner = SandboxRunner(pool, count_caught_errors=self.count_caught_errors, limits=self.limits)
        for i in range(rollout.batch_size):
            code = locate_program(rollout.texts[i]).code
            if not _has_body(code):
                futures.append(None)
                continue
            seed = self.seed + self._programs_verified
            self._programs_verified += 1
            futures.append(pool.run_driver(verify_program, code, self.worlds, seed, self.world_timeout_s,
                                                "count", runner))
        return futures

    def verdicts(self, rollout: Rollout) -> list[dict[str, Any] | None]:
        """`verify_program` verdicts of every sample (None where there is no program), waiting for submitted work.

        A failure of the sandbox itself (a world that never ran) is no verdict: ``{"infra_error": why}``.
        """
        if self._pending is not None and self._pending[0] == id(rollout):
            futures = self._pending[1]
        else:
            futures = self._start(rollout)
        self._pending = None
        out: list[dict[str, Any] | None] = []
        for future in futures:
            if future is None:
                out.append(None)
                continue
            try:
                out.append(future.result())
            except Exception as exc:  # the sandbox (or the driver) failed: no verdict, never a failing score
                out.append({"infra_error": f"{type(exc).__name__}: {exc}"})
        return out

    # scoring ------------------------------------------------------------------------------------------------------

    def score(self, rollout: Rollout) -> torch.Tensor:
        """``[B, T]``: the pass fraction on each program's tokens (the penalty when no world passes)."""
        verdicts = self.verdicts(rollout)
        scores = rollout.zeros()
        length = rollout.response_length
        fractions: list[float] = []
        kinds: Counter[str] = Counter()
        infra: list[str] = []
        sequence = torch.full((rollout.batch_size,), float(self.fail_penalty))  # verdicts, for eos placement
        for i, verdict in enumerate(verdicts):
            if verdict is not None and "infra_error" in verdict:  # no verdict: no score (see `SandboxedReward`)
                infra.append(str(verdict["infra_error"]))
                sequence[i] = 0.0
                continue
            n = int(rollout.response_mask[i].sum().item())
            program_tokens = [t for t in self.program_token_indices(rollout, i) if t < n]
            if verdict is None or not program_tokens:
                kinds["no_program"] += 1
                fractions.append(0.0)
                scores[i] = spread(self.fail_penalty, range(n), length, self.spreading)
                continue
            fraction = verdict["passed"] / max(1, verdict["worlds"])
            fractions.append(fraction)
            reward = self.fail_penalty if verdict["passed"] == 0 else fraction
            sequence[i] = reward
            row = spread(reward, program_tokens, length, self.spreading)
            error_run = _first_error(verdict)
            if error_run is not None:
                kinds[classify_error(error_run.get("error") or "") + "_error"] += 1
                if self.error_line_penalty and error_run.get("error_line") is not None:
                    line_tokens = self.line_token_indices(rollout, i, int(error_run["error_line"]))
                    row += spread(self.error_line_penalty, [t for t in line_tokens if t < n], length, "constant")
            elif verdict.get("timeouts"):
                kinds["timeout"] += 1
            scores[i] = row
        self.record_sequence_scores(rollout, sequence)
        self.note_infra_errors(infra)
        batch = max(1, rollout.batch_size - len(infra))  # rates over the samples that have a verdict
        self._metrics = {
            "infra_errors": len(infra) / max(1, rollout.batch_size),
            "success_rate": sum(f == 1.0 for f in fractions) / batch,
            "mean_pass_fraction": sum(fractions) / batch,
            "no_program": kinds["no_program"] / batch,
            "robot_errors": kinds["robot_error"] / batch,
            "python_errors": kinds["python_error"] / batch,
            "timeouts": kinds["timeout"] / batch,
            **program_stats([locate_program(text).code for text in rollout.texts]),
        }
        return scores

    def program_span(self, rollout: Rollout, i: int) -> tuple[int, int]:
        """Character span of sample ``i``'s program in its response (`program_spans.program_span`)."""
        return program_spans.program_span(rollout, i)

    def program_token_indices(self, rollout: Rollout, i: int) -> list[int]:
        """Response-token indices overlapping sample ``i``'s program."""
        return program_spans.program_token_indices(rollout, i)

    def line_token_indices(self, rollout: Rollout, i: int, line: int) -> list[int]:
        """Response-token indices of program line ``line`` (1 = the ``def`` line) of sample ``i``."""
        return program_spans.line_token_indices(rollout, i, line)

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)

    # state --------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"programs_verified": self._programs_verified}

    def load_state_dict(self, state_dict: dict) -> None:
        self._programs_verified = int(state_dict.get("programs_verified", 0))


def _has_body(code: str) -> bool:
    """Whether an extracted program has anything after its ``def`` line."""
    header = PROGRAM_HEADER.rstrip("\n")
    return bool(code[len(header) :].strip()) if code.startswith(header) else bool(code.strip())


def _first_error(verdict: dict[str, Any]) -> dict[str, Any] | None:
    for run in verdict.get("runs") or []:
        if run.get("status") == "error":
            return run
    return None
