"""RoboEval (CodeBotler's benchmark): 16 tasks × 5 prompt paraphrases = 80 prompts, scored in fixed worlds.

Each sample ``{"task_id": "<Task>_<variant>", "solution": <def task_program(): ...>}`` runs in one sandbox child
(all of the task's states in that process, `lit_coderl.robot.roboeval.evaluate_task_program`) and gets one of the four
outcomes of the paper's Table 2: Python error, simulation (robot execution) error, completion error, success.

Licence: RoboEval is evaluation-only material (BSD-3 with a Machine Learning Restriction): never training data.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lit_coderl.evaluate.base import DEFAULT_DATA_DIR, INFRA_ERROR, Evaluator
from lit_coderl.evaluate.roboeval_tasks import load_tasks
from lit_coderl.robot.harness import extract_program
from lit_coderl.robot.prompts import (
    EXAMPLE_PREFIX,
    USER_TEMPLATE,
    assistant_answer,
    chat_messages,
    completion_prompt,
)
from lit_coderl.robot.roboeval import (
    COMPLETION_ERROR,
    DEFAULT_STATE_TIMEOUT_S,
    OUTCOMES,
    PYTHON_ERROR,
    ROBOT_ERROR,
    SUCCESS,
    evaluate_task_program,
)
from lit_coderl.robot.runner import SandboxRunner
from lit_coderl.sandbox import Limits, SandboxPool

INVALID_SAMPLE = "InvalidSample"
"""Outcome of a sample whose ``task_id`` names no RoboEval prompt (not counted in Table 2)."""

TABLE2_COLUMNS = {
    PYTHON_ERROR: "Python err.",
    ROBOT_ERROR: "Simulation err.",
    COMPLETION_ERROR: "Completion err.",
    SUCCESS: "Success",
}
"""Outcome → column title of the paper's Table 2."""

EVALUATION_EXAMPLES = (2, 4)
"""Jolfaei et al. evaluate with chat messages ``[0, 3, 4, 7, 8]``: the system message and few-shot examples 2 and 4."""

COMPLETION_STOP = ["\n#", "\ndef", "```", "import"]
"""Robo-Instruct's stop sequences for the completion-style prompt."""

DEFAULT_SANDBOX_SLACK_S = 5.0
"""Seconds added to ``state_timeout_s`` for the CPU limit of one state's sandbox job."""
_EXAMPLE_HEADER = re.compile(r"^# (?P<instruction>.+)\n(?=def task_program\(\):\n)", re.MULTILINE)


def parse_prompt_prefix(prefix: str) -> tuple[str, list[tuple[str, str]]]:
    """Split the completion prompt prefix into the API part (docstring + stubs) and its (instruction, program) examples.

    Raises ``ValueError`` when no example is found.
    """
    headers = list(_EXAMPLE_HEADER.finditer(prefix))
    if not headers:
        raise ValueError("no '# <instruction>' + 'def task_program():' example found in the prompt prefix")
    examples = []
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following is not None else prefix.find("\n# ", header.end())
        body = prefix[header.end() : end if end >= 0 else len(prefix)]
        examples.append((header.group("instruction").strip(), body.strip("\n").rstrip()))
    return prefix[: headers[0].start()].strip("\n").rstrip(), examples


class RoboEvalEvaluator(Evaluator):
    """RoboEval, scored with our fixed-state simulator, RTL checks and the original's outcome rules.

    Args:
        data_dir: The shared data directory (``roboeval/tasks.json``, ``roboeval_data.csv``, prompt files).
        workers: Parallel sandbox workers (default: CPU count).
        **options: ``state_timeout_s`` (per-state limit, default 1.0 as the original; the paper's authors used 15),
            ``prompt_style`` (``"chat"``, default: Jolfaei et al.'s format C, sampled at temperature 0.01, top-p
            0.95, 1,024 new tokens, the paper's protocol (A.1); ``"completion"``: Robo-Instruct's completion prompt,
            greedy, 512 new tokens, its stop strings; ``"compact"``: the bare ``Instruction: ...`` chat turn the
            offline demo trains on, a few dozen tokens, sampled as ``chat``), ``sleep``
            (``"zero"``: Robo-Instruct's no-op ``time.sleep``, or ``"codebotler"``), ``memory_mb`` (per program,
            default 2048), ``sandbox_slack_s`` (added to ``state_timeout_s`` for a state job's CPU limit,
            default 5).
    """

    kind = "roboeval"
    #: the paper's protocol (Jolfaei et al. A.1): chat format C, temperature 0.01, top-p 0.95, 1,024 new tokens
    generation: dict[str, Any] = {"temperature": 0.01, "top_p": 0.95, "max_new_tokens": 1024}
    #: Robo-Instruct's protocol for ``prompt_style=completion``: greedy, 512 new tokens, its stop strings
    completion_generation: dict[str, Any] = {
        "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512, "stop_strings": COMPLETION_STOP,
    }  # fmt: skip

    def __init__(self, data_dir: Path | str = DEFAULT_DATA_DIR, workers: int | None = None, **options: Any) -> None:
        super().__init__(data_dir=data_dir, workers=workers, **options)
        self.state_timeout_s = float(options.get("state_timeout_s", DEFAULT_STATE_TIMEOUT_S))
        if not self.state_timeout_s > 0:
            raise ValueError(f"state_timeout_s must be positive, got {self.state_timeout_s}")
        self.prompt_style = str(options.get("prompt_style", "chat"))
        if self.prompt_style not in ("completion", "chat", "compact"):
            raise ValueError(f"prompt_style must be 'completion', 'chat' or 'compact', got {self.prompt_style!r}")
        self.sleep = str(options.get("sleep", "zero"))
        if self.sleep not in ("zero", "codebotler"):
            raise ValueError(f"sleep must be 'zero' or 'codebotler', got {self.sleep!r}")
        self.memory_mb = int(options.get("memory_mb", 2048))
        self.sandbox_slack_s = float(options.get("sandbox_slack_s", DEFAULT_SANDBOX_SLACK_S))
        if self.memory_mb <= 0 or self.sandbox_slack_s < 0:
            raise ValueError("memory_mb must be positive and sandbox_slack_s non-negative")
        if self.prompt_style == "completion":
            self.generation = dict(type(self).completion_generation)

    # -- tasks and prompts ---------------------------------------------------------------------------------------
    def tasks(self) -> dict[str, dict[str, Any]]:
        """The 80 prompts as ``{"<Task>_<variant>": {task_id, task, variant, instruction, n_states}}``."""
        tasks = {}
        for name, task in load_tasks(self.data_dir).items():
            for variant, instruction in enumerate(task.prompts):
                task_id = f"{name}_{variant}"
                tasks[task_id] = {
                    "task_id": task_id,
                    "task": name,
                    "variant": variant,
                    "instruction": instruction,
                    "n_states": len(task.tests),
                }
        return tasks

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]] | str:
        """The completion-style prompt (prefix + instruction + suffix), format C chat messages if ``chat``, or the
        bare ``Instruction: ...`` turn if ``compact`` (the offline demo's training format)."""
        if self.prompt_style == "completion":
            return completion_prompt(task["instruction"], self.data_dir)
        if self.prompt_style == "compact":
            return chat_messages(task["instruction"], "compact")
        prefix_path = self.data_dir / "roboeval" / "prompt_prefix.txt"
        if not prefix_path.is_file():
            raise FileNotFoundError(f"RoboEval prompt file not found: {prefix_path} (set --data-dir)")
        api, examples = parse_prompt_prefix(prefix_path.read_text(encoding="utf-8"))
        if len(examples) < max(EVALUATION_EXAMPLES):
            raise ValueError(f"{prefix_path} has {len(examples)} examples; format C needs {max(EVALUATION_EXAMPLES)}")
        messages = [{"role": "system", "content": api}]
        for number in EVALUATION_EXAMPLES:
            instruction, program = examples[number - 1]
            messages.append({"role": "user", "content": EXAMPLE_PREFIX + USER_TEMPLATE.format(instruction)})
            messages.append({"role": "assistant", "content": assistant_answer(program)})
        messages.append({"role": "user", "content": USER_TEMPLATE.format(task["instruction"])})
        return messages

    def extract(self, task: dict[str, Any], completion: str) -> str:
        """The ``def task_program():`` program in a completion (Robo-Instruct's post-processing, §3)."""
        return extract_program(completion)

    # -- scoring -------------------------------------------------------------------------------------------------
    def score(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per sample, in order: ``task_id`` (and ``id``), ``task``, ``outcome``, ``error``,
        ``error_class``, ``passed`` and ``states`` (per-state ``status``, ``expect_timeout``, ``events``,
        ``passed``, ``error``, ``error_line``).

        Each state is a sandbox job whose program talks to the simulator in the sandbox server; the checks run
        here. A state the server had to kill counts as a timeout; a crashed job as a Python error.
        """
        tasks = load_tasks(self.data_dir)
        results: list[dict[str, Any]] = []
        jobs: list[tuple[int, str, Any]] = []
        for index, sample in enumerate(samples):
            sample = sample if isinstance(sample, dict) else {}
            task_name = _task_name(sample.get("task_id"), tasks)
            results.append(_invalid(sample) if task_name is None else {})
            if task_name is not None:
                jobs.append((index, task_name, sample.get("solution")))
        if not jobs:
            return results
        workers = max(1, min(self.workers or os.cpu_count() or 1, len(jobs)))
        limits = Limits(timeout_s=self.state_timeout_s + self.sandbox_slack_s, memory_mb=self.memory_mb)
        with SandboxPool(workers=workers, limits=limits) as pool:
            # the original's semantics: a robot error the program catches does not fail it
            runner = SandboxRunner(pool, count_caught_errors=False, limits=limits)
            futures = [(index, name, pool.run_driver(evaluate_task_program, tasks[name], code, self.state_timeout_s,
                                                     self.sleep, None, runner)) for index, name, code in jobs]
            for index, task_name, future in futures:
                try:
                    result = future.result()
                except Exception as exc:  # the sandbox failed before the program ran: no verdict
                    result = {"task": task_name, "outcome": INFRA_ERROR, "states": [], "error_class": "Sandbox",
                              "error": f"sandbox failure: {type(exc).__name__}: {exc}"}
                results[index] = _sample_result(samples[index], result)
        return results

    def summary(self, results: list[dict[str, Any]]) -> str:
        """The paper's Table 2 layout (counts per outcome) plus pass@1 averaged over prompts and a per-task line."""
        counts = Counter(result.get("outcome") for result in results)
        valid = [result for result in results if result.get("outcome") in OUTCOMES]
        header = " | ".join(TABLE2_COLUMNS.values())
        row = " | ".join(f"{counts.get(outcome, 0):>{len(title)}}" for outcome, title in TABLE2_COLUMNS.items())
        lines = [
            f"RoboEval: {len(valid)} programs (per-state timeout {self.state_timeout_s:g} s)",
            f"| {header} |",
            f"| {row} |",
        ]
        by_prompt: dict[str, list[bool]] = defaultdict(list)
        by_task: dict[str, list[bool]] = defaultdict(list)
        for result in valid:
            success = result["outcome"] == SUCCESS
            by_prompt[str(result.get("task_id"))].append(success)
            by_task[str(result.get("task", ""))].append(success)
        if by_prompt:
            pass_at_1 = sum(sum(v) / len(v) for v in by_prompt.values()) / len(by_prompt)
            lines.append(f"pass@1 (mean over {len(by_prompt)} prompts): {100 * pass_at_1:.1f}%")
            per_task = ", ".join(f"{task} {sum(v)}/{len(v)}" for task, v in sorted(by_task.items()))
            lines.append(f"success per task: {per_task}")
        if counts.get(INVALID_SAMPLE):
            lines.append(f"invalid samples (unknown task_id, not counted): {counts[INVALID_SAMPLE]}")
        if counts.get(INFRA_ERROR):
            lines.append(f"not run (sandbox infrastructure errors, not counted): {counts[INFRA_ERROR]}")
        return "\n".join(lines)


def _task_name(task_id: Any, tasks: dict[str, Any]) -> str | None:
    """The task of a ``<Task>_<variant>`` id (variant 0-4), or None."""
    if not isinstance(task_id, str):
        return None
    name, _, variant = task_id.rpartition("_")
    if name not in tasks or not variant.isdigit() or not 0 <= int(variant) < len(tasks[name].prompts):
        return None
    return name


def _invalid(sample: dict[str, Any]) -> dict[str, Any]:
    error = f"unknown RoboEval task_id {sample.get('task_id')!r} (expected '<Task>_<0-4>')"
    result = {"task": None, "outcome": INVALID_SAMPLE, "error": error, "error_class": None, "states": []}
    return _sample_result(sample, result)


def _sample_result(sample: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    out = {"task_id": sample.get("task_id")}
    if "id" in sample:
        out["id"] = sample["id"]
    out.update(result)
    out["passed"] = result["outcome"] == SUCCESS
    return out


__all__ = ["COMPLETION_STOP", "INVALID_SAMPLE", "TABLE2_COLUMNS", "RoboEvalEvaluator", "parse_prompt_prefix"]
