"""`UnitTestReward`: run each sample's assert statements in the sandbox; the fraction passed, on the code tokens.

The paper's ``calculate_pass_at_k`` (coefficient 0.7): the fraction of unit tests passed is spread over the code
span; when it is 0 every code token gets −0.3 instead. A sample whose job hit a sandbox infrastructure error gets no
score (`SandboxedReward`).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from typing import TYPE_CHECKING, Literal

import torch

from lit_coderl.rewards.sandboxed import SandboxedReward
from lit_coderl.rewards.spans import SpreadMode, char_span_to_tokens, line_char_span, spread
from lit_coderl.sandbox import INFRA_ERROR, Limits, TestResult

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout


class UnitTestReward(SandboxedReward):
    """Unit-test execution reward.

    Reads ``tests`` (list of assert statements) and ``test_setup`` (code run after the solution, before the tests)
    from each task row and runs them against ``rollout.code(i)`` in a `SandboxPool` it owns (created on first use,
    closed in ``teardown``). Execution starts in ``submit`` and is collected in ``score``. Rows without tests score 0.

    Args:
        weight: Coefficient of this component (paper: 0.7).
        name: Name in logs.
        mode: ``fraction``: the fraction of tests passed; ``all``: 1 if every test passes, else 0.
        spreading: ``sum`` (default, length-neutral): the code tokens sum to the score; ``constant`` (the
            paper's): every code token gets it, so the sum grows with the program's length.
        fail_penalty: Value put on every code token when the score is 0 (paper: −0.3).
        error_line_penalty: Value added (use a negative number) to the tokens of the code line that raised, when
            the traceback names one; 0 disables it.
        timeout_s: Wall-clock limit of one sample's test run.
        memory_mb: Address-space limit of one sample's test run.
        workers: Sandbox processes running in parallel (default: the CPU count).
        reuse_workers: Fork each job from a warm server process (fast); ``False`` starts Python for every sample.
    """

    default_name = "unit_tests"

    def __init__(
        self,
        weight: float = 0.7,
        name: str | None = None,
        mode: Literal["fraction", "all"] = "fraction",
        spreading: SpreadMode = "sum",
        fail_penalty: float = -0.3,
        error_line_penalty: float = 0.0,
        timeout_s: float = 10.0,
        memory_mb: int = 4096,
        workers: int | None = None,
        reuse_workers: bool = True,
    ) -> None:
        super().__init__(weight=weight, name=name)
        if mode not in ("fraction", "all"):
            raise ValueError(f"mode must be 'fraction' or 'all', got {mode!r}")
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        self.mode = mode
        self.spreading = spreading
        self.fail_penalty = float(fail_penalty)
        self.error_line_penalty = float(error_line_penalty)
        self.limits = Limits(timeout_s=float(timeout_s), memory_mb=int(memory_mb))
        self.workers = workers
        self.reuse_workers = reuse_workers
        self._pending: tuple[int, list[Future[TestResult] | None]] | None = None
        self._metrics: dict[str, float] = {}

    # execution ------------------------------------------------------------------------------------------------

    def submit(self, rollout: Rollout) -> None:
        """Start running every sample's tests (futures collected by ``score``)."""
        self._pending = (id(rollout), self._start(rollout))

    def _start(self, rollout: Rollout) -> list[Future[TestResult] | None]:
        futures: list[Future[TestResult] | None] = []
        pool = self.started()
        for i in range(rollout.batch_size):
            task = rollout.tasks[i] if i < len(rollout.tasks) else {}
            tests = _as_test_list(task.get("tests"))
            if not tests:
                futures.append(None)
                continue
            setup = task.get("test_setup") or ""
            futures.append(pool.submit_tests(rollout.code(i), tests, setup=str(setup)))
        return futures

    def results(self, rollout: Rollout) -> list[TestResult | None]:
        """Test results of every sample (``None`` where the row has no tests), waiting for submitted work."""
        if self._pending is not None and self._pending[0] == id(rollout):
            futures = self._pending[1]
        else:
            futures = self._start(rollout)
        self._pending = None
        out: list[TestResult | None] = []
        for future in futures:
            if future is None:
                out.append(None)
                continue
            try:
                out.append(future.result())
            except Exception as exc:  # the sandbox itself failed: no verdict (never a failing score), never raise
                out.append(TestResult(status=INFRA_ERROR, passed=[], error=f"sandbox failure: {exc}"))
        return out

    # scoring --------------------------------------------------------------------------------------------------

    def score(self, rollout: Rollout) -> torch.Tensor:
        """``[B, T]``: the test score on each sample's code tokens (the penalty when it is 0)."""
        results = self.results(rollout)
        scores = rollout.zeros()
        length = rollout.response_length
        statuses: Counter[str] = Counter()
        values: list[float] = []
        infra: list[str] = []
        sequence = torch.zeros(rollout.batch_size)  # the verdict, for reward_placement: eos (TRL's baseline)
        for i, result in enumerate(results):
            if result is None:
                continue
            statuses[result.status] += 1
            if result.status == INFRA_ERROR:  # no verdict: no score at all (see `SandboxedReward`)
                infra.append(str(result.error))
                continue
            value = self.sample_score(result)
            values.append(value)
            code_tokens = rollout.code_token_indices(i)
            reward = self.fail_penalty if value == 0 else value
            sequence[i] = reward
            row = spread(reward, code_tokens, length, self.spreading)
            if self.error_line_penalty and result.error_line is not None:
                row += self._line_penalty(rollout, i, result.error_line, length)
            scores[i] = row
        self.record_sequence_scores(rollout, sequence)
        # every metric is a share (of the scored samples, or of the batch), so that batch means average correctly
        # over iterations and over validate's batches
        scored, batch = len(values), max(1, rollout.batch_size)
        self._metrics = {
            "pass_rate": sum(values) / scored if scored else 0.0,
            "all_pass": sum(r is not None and r.status == "pass" for r in results) / scored if scored else 0.0,
            "scored": scored / batch,
        }
        for status, key in (
            ("timeout", "timeouts"),
            ("memory", "memory_errors"),
            ("crash", "crashes"),
            ("error", "errors"),
            (INFRA_ERROR, "infra_errors"),
        ):
            self._metrics[key] = statuses[status] / batch
        self.note_infra_errors(infra)
        return scores

    def sample_score(self, result: TestResult) -> float:
        """The score of one test result under ``mode``."""
        if not result.passed:
            return 0.0
        if self.mode == "all":
            return 1.0 if all(result.passed) else 0.0
        return result.fraction

    def _line_penalty(self, rollout: Rollout, i: int, line: int, length: int) -> torch.Tensor:
        start, end = rollout.code_spans[i]
        code = rollout.texts[i][:end]
        line_start, line_end = line_char_span(code, line, base=start)
        if line_end <= line_start:
            return torch.zeros(length)
        tokens = char_span_to_tokens(rollout.offsets[i], line_start, line_end)
        n = int(rollout.response_mask[i].sum().item())
        return spread(self.error_line_penalty, [t for t in tokens if t < n], length, "constant")

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)


def _as_test_list(tests) -> list[str]:
    if tests is None:
        return []
    if isinstance(tests, str):
        return [tests] if tests.strip() else []
    return [str(t) for t in tests if str(t).strip()]
