"""Score a model on held-out generated robot tasks with their task checks (our own tasks, not RoboEval).

Draws ``--n`` tasks of the generator with ``--seed`` (leaving out any instruction of the training draw
``--train-n``/``--train-seed``, the demo configs' 2,000 tasks of seed 1), generates one answer per task with the
``compact`` prompt (the demo's training format), and reports per model: the share of programs that parse, RoboSim
acceptance (5 worlds, counting driver), the mean task-check score (3 task-check worlds), the share of trivial
programs (at most 2 robot API call sites), their mean task score against the others', and the mean response length
in tokens. Programs run in the sandbox; the verdicts are computed here.

    python scripts/robot_task_eval.py --model tiny --model tiny-demo
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lit_coderl.evaluate.generate import generate_samples  # noqa: E402
from lit_coderl.models import load_tokenizer  # noqa: E402
from lit_coderl.robot.generator import generate_drawn  # noqa: E402
from lit_coderl.robot.harness import extract_program  # noqa: E402
from lit_coderl.robot.program_stats import is_trivial  # noqa: E402
from lit_coderl.robot.prompts import chat_messages  # noqa: E402
from lit_coderl.robot.robosim import verify_program  # noqa: E402
from lit_coderl.robot.runner import SandboxRunner  # noqa: E402
from lit_coderl.robot.task_spec import check_program  # noqa: E402
from lit_coderl.sandbox import Limits, SandboxPool  # noqa: E402


class HeldOutTasks:
    """The minimal evaluator interface `generate_samples` needs, over held-out generated tasks."""

    def __init__(self, n: int, seed: int, train_n: int, train_seed: int) -> None:
        seen = {task["instruction"] for task in generate_drawn(train_n, train_seed)}
        drawn = [task for task in generate_drawn(n + train_n, seed) if task["instruction"] not in seen][:n]
        self._tasks = {f"heldout-{i}": task for i, task in enumerate(drawn)}

    def tasks(self) -> dict:
        return self._tasks

    def prompt(self, task: dict) -> list[dict[str, str]]:
        return chat_messages(task["instruction"], "compact")

    def extract(self, task: dict, completion: str) -> str:
        return extract_program(completion)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def score_model(model: str, tasks: HeldOutTasks, max_new_tokens: int, pool: SandboxPool) -> dict[str, float]:
    settings = {"temperature": 0.01, "top_p": 0.95, "max_new_tokens": max_new_tokens}
    samples = generate_samples(tasks, model, settings, batch_size=16)
    tokenizer = load_tokenizer(model)
    runner = SandboxRunner(pool, limits=Limits(timeout_s=2.0, memory_mb=1024))
    rows = []
    for sample in samples:
        task, code = tasks.tasks()[sample["task_id"]], sample["solution"]
        robosim = verify_program(code, worlds=5, seed=0, world_timeout_s=1.0, mode="count", runner=runner)
        checked = check_program(code, task["spec"], worlds=3, seed=0, world_timeout_s=1.0, runner=runner)
        rows.append({"parses": _parses(code), "accepted": robosim["accepted"], "task": checked["score"],
                     "trivial": is_trivial(code), "tokens": len(tokenizer(sample["completion"])["input_ids"])})
    n = len(rows)
    trivial = [r["task"] for r in rows if r["trivial"]]
    other = [r["task"] for r in rows if not r["trivial"]]
    return {
        "parses": sum(r["parses"] for r in rows) / n, "robosim_accepted": sum(r["accepted"] for r in rows) / n,
        "task_score": sum(r["task"] for r in rows) / n, "task_full": sum(r["task"] == 1.0 for r in rows) / n,
        "trivial_share": len(trivial) / n, "task_score_trivial": sum(trivial) / max(1, len(trivial)),
        "task_score_other": sum(other) / max(1, len(other)), "length_mean": sum(r["tokens"] for r in rows) / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="model dir or `tiny` (repeatable)")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--train-n", type=int, default=2000)
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args(argv)
    tasks = HeldOutTasks(args.n, args.seed, args.train_n, args.train_seed)
    columns = ["parses", "robosim_accepted", "task_score", "task_full", "trivial_share", "task_score_trivial",
               "task_score_other", "length_mean"]
    print(f"{len(tasks.tasks())} held-out generated tasks (seed {args.seed}, none in the training draw)")
    print("| model | " + " | ".join(columns) + " |")
    with SandboxPool(workers=1) as pool:
        for model in args.model:
            result = score_model(model, tasks, args.max_new_tokens, pool)
            print(f"| {model} | " + " | ".join(f"{result[c]:.3f}" for c in columns) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
