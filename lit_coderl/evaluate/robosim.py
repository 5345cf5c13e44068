"""``evaluate robosim``: accept/reject each sample with RoboSim (the Robo-Instruct verifier), on the RoboEval prompts.

Each sample ``{"task_id": "<Task>_<variant>", "solution": ...}`` is verified in K angelic worlds, each a sandbox
job (`lit_coderl.robot.robosim.verify_program` with a `SandboxRunner`); the result says whether RoboSim accepts it
and, if not, the error class (``RobotPlaceError``, ``NameError``, ``TimeOutError``, ...) and its kind (robot /
python / timeout).
RoboSim ignores the task itself, so a sample with any ``task_id`` is verified; the RoboEval data only provides the
prompts for ``--model`` generation. Licence: RoboEval prompts are evaluation-only material.
"""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lit_coderl.evaluate.base import DEFAULT_DATA_DIR, INFRA_ERROR, Evaluator, has_infra_error
from lit_coderl.robot.harness import classify_error, extract_program
from lit_coderl.robot.robosim import TIMEOUT_ERROR, verify_program
from lit_coderl.robot.runner import SandboxRunner
from lit_coderl.sandbox import Limits, SandboxPool

DEFAULT_WORLDS = 100
"""The original verifier accepts a program only if all 100 sampled worlds run (one timeout tolerated)."""


class RoboSimEvaluator(Evaluator):
    """RoboSim verdicts for samples of the 80 RoboEval prompts.

    Args:
        data_dir: The shared data directory (``roboeval/roboeval_data.csv`` and the prompt files).
        workers: Parallel sandbox workers (default: CPU count).
        **options: ``worlds`` (K, default 100: the original verifier's ``resampling_count``; the training reward
            uses its own, 5 in the paper), ``seed`` (default 0), ``world_timeout_s`` (default 2.0), ``mode``
            (``"reject"``: the original driver, stop at the first error or the second timeout, default;
            ``"count"``: run all worlds),
            ``memory_mb`` (per program, default 1024), ``prompt_style`` (``"completion"`` or ``"chat"``, as in
            the ``roboeval`` evaluator).
    """

    kind = "robosim"
    generation: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512}

    def __init__(self, data_dir: Path | str = DEFAULT_DATA_DIR, workers: int | None = None, **options: Any) -> None:
        super().__init__(data_dir=data_dir, workers=workers, **options)
        self.worlds = int(options.get("worlds", DEFAULT_WORLDS))
        if self.worlds < 1:
            raise ValueError(f"worlds must be at least 1, got {self.worlds}")
        self.seed = int(options.get("seed", 0))
        self.world_timeout_s = float(options.get("world_timeout_s", 2.0))
        if not self.world_timeout_s > 0:
            raise ValueError(f"world_timeout_s must be positive, got {self.world_timeout_s}")
        self.mode = str(options.get("mode", "reject"))
        if self.mode not in ("reject", "count"):
            raise ValueError(f"mode must be 'reject' or 'count', got {self.mode!r}")
        self.memory_mb = int(options.get("memory_mb", 1024))
        self.prompt_style = str(options.get("prompt_style", "completion"))

    def tasks(self) -> dict[str, dict[str, Any]]:
        """The 80 prompts of ``roboeval_data.csv`` as ``{"<Task>_<variant>": {task_id, task, instruction}}``."""
        path = self.data_dir / "roboeval" / "roboeval_data.csv"
        if not path.is_file():
            raise FileNotFoundError(f"RoboEval data not found: {path} (set --data-dir to the shared data)")
        tasks = {}
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                task_id = row["taskname"]
                tasks[task_id] = {
                    "task_id": task_id,
                    "task": task_id.rpartition("_")[0],
                    "instruction": row["prompt_program"].split("\n", 1)[0].strip(),
                }
        return tasks

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]] | str:
        """The same prompt as the ``roboeval`` evaluator (completion style, or format C chat)."""
        from lit_coderl.evaluate.roboeval import RoboEvalEvaluator

        return RoboEvalEvaluator(data_dir=self.data_dir, prompt_style=self.prompt_style).prompt(task)

    def extract(self, task: dict[str, Any], completion: str) -> str:
        """The ``def task_program():`` program in a completion (§3)."""
        return extract_program(completion)

    def score(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per sample, in order: ``task_id`` (and ``id``), ``task``, ``accepted`` (= ``passed``),
        ``worlds_passed``, ``worlds``, ``error``, ``error_class``, ``error_kind`` (robot / python / timeout /
        None) and ``error_line``. A failure of the whole sandbox process is a rejection of kind ``sandbox``."""
        limits = Limits(timeout_s=self.world_timeout_s + 1.0, memory_mb=self.memory_mb)
        workers = max(1, min(self.workers or os.cpu_count() or 1, max(len(samples), 1)))
        results: list[dict[str, Any]] = []
        with SandboxPool(workers=workers, limits=limits) as pool:
            # the originals' semantics: a robot error the program catches does not fail it
            runner = SandboxRunner(pool, count_caught_errors=False, limits=limits)
            futures = [pool.run_driver(verify_program, extract_program(_text(sample.get("solution"))), self.worlds,
                                       self.seed, self.world_timeout_s, self.mode, runner) for sample in samples]
            for sample, future in zip(samples, futures, strict=True):
                try:
                    verdict = future.result()
                except Exception as exc:  # the sandbox failed before the program ran: no verdict
                    verdict = {"infra_error": f"{type(exc).__name__}: {exc}"}
                results.append(_result(sample, verdict, self.worlds))
        return results

    def summary(self, results: list[dict[str, Any]]) -> str:
        """Accepted count, rejections by error class and kind, and acceptance per task."""
        infra = sum(has_infra_error(r) for r in results)
        results = [r for r in results if not has_infra_error(r)]
        total = len(results)
        accepted = sum(bool(r.get("accepted")) for r in results)
        lines = [f"RoboSim: {accepted}/{total} programs accepted ({100 * accepted / max(1, total):.1f}%)"]
        kinds = Counter(r.get("error_kind") for r in results if not r.get("accepted"))
        if kinds:
            lines.append("rejected by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        classes = Counter(r.get("error_class") for r in results if not r.get("accepted"))
        if classes:
            lines.append("rejected by class: " + ", ".join(f"{k} {v}" for k, v in classes.most_common()))
        by_task: dict[str, list[bool]] = defaultdict(list)
        for r in results:
            by_task[str(r.get("task"))].append(bool(r.get("accepted")))
        if by_task:
            per_task = ", ".join(f"{task} {sum(v)}/{len(v)}" for task, v in sorted(by_task.items()))
            lines.append("accepted per task: " + per_task)
        if infra:
            lines.append(f"not run (sandbox infrastructure errors, not counted): {infra}")
        return "\n".join(lines)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _result(sample: dict[str, Any], verdict: dict[str, Any], worlds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"task_id": sample.get("task_id")}
    if "id" in sample:
        out["id"] = sample["id"]
    task_id = sample.get("task_id")
    out["task"] = task_id.rpartition("_")[0] if isinstance(task_id, str) else None
    if "infra_error" in verdict:
        out.update({"status": INFRA_ERROR, "accepted": False, "worlds_passed": 0, "worlds": worlds,
                    "error": verdict["infra_error"], "error_class": "Sandbox", "error_kind": INFRA_ERROR,
                    "error_line": None})
    elif "accepted" in verdict:
        error = None if verdict["accepted"] else verdict["message"]
        kind = None
        if error is not None:
            kind = "timeout" if error == TIMEOUT_ERROR else classify_error(error)
        out.update({
            "accepted": bool(verdict["accepted"]),
            "worlds_passed": int(verdict["passed"]),
            "worlds": int(verdict["worlds"]),
            "error": error,
            "error_class": verdict["error_class"],
            "error_kind": kind,
            "error_line": verdict["error_line"],
        })
    else:
        out.update({
            "accepted": False, "worlds_passed": 0, "worlds": worlds,
            "error": f"sandbox: {verdict.get('error') or 'no result'}", "error_class": "Sandbox",
            "error_kind": "sandbox", "error_line": None,
        })
    out["passed"] = out["accepted"]
    return out
