"""Warm-start a robot policy: the tiny model, fine-tuned further on the procedural generator's own tasks.

The embedded tiny model's non-trivial robot programs satisfy ~4 % of the task checks (docs/results.md, issue #14),
no more than a one-call ``go_to(...)``, so PPO shrinks its programs to trivial ones whatever the task reward's
weight. The paper starts RL from an instruct model that already does part of its tasks; this script puts the tiny
model in that regime for the robot domain, as `benchmarks/mbpp_warmstart.py` does for MBPP: it continues SFT from
``lit_coderl/assets/tiny-coder`` on generated tasks and their reference programs, prompted exactly as the RL run
prompts them (`lit_coderl.data.robot.GeneratedRobotTasks`, ``style: compact``), for a few epochs only, so that the
result is a partially capable starting point, not a solved one.

The SFT draw (``--seed``, default 7) is disjoint from the RL training draw (the demo configs' 2,000 tasks of seed 1)
and from the held-out tasks of ``scripts/robot_task_eval.py`` (seed 1000): any instruction of either is dropped. It is
decontaminated against the 80 RoboEval prompts (`lit_coderl.robot.decontamination`, Robo-Instruct's 0.6 rule); the
script refuses to run without them, and RoboEval material is never training data.

    LIT_CODERL_DATA_DIR=../shared/data python benchmarks/robot_warmstart.py [--tasks 1000] [--epochs 6]

Then measure with ``python scripts/robot_task_eval.py --model .bench/robot-coder`` and RL from it with
``python -m lit_coderl fit --config demo-robot-task --model.model.name_or_path .bench/robot-coder``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from build_tiny_model import Pair, continue_sft, encode_pairs  # noqa: E402

from lit_coderl.models import TINY_MODEL_DIR  # noqa: E402
from lit_coderl.robot.decontamination import Decontaminator, load_roboeval_prompts  # noqa: E402
from lit_coderl.robot.generator import generate_drawn, generate_tasks  # noqa: E402

DEFAULT_OUT = REPO / ".bench" / "robot-coder"
#: the RL training draw of demo.yaml / demo-robot-task.yaml (``GeneratedRobotTasks(n: 2000, seed: 1)``)
RL_DRAW = (2000, 1)
#: scripts/robot_task_eval.py's held-out tasks: drawn from ``generate_drawn(n + 2000, 1000)``
EVAL_DRAW = (128 + 2000, 1000)


def excluded_instructions(draws: list[tuple[int, int]]) -> set[str]:
    """The instructions of the given ``(n, seed)`` generator draws."""
    return {task["instruction"] for n, seed in draws for task in generate_drawn(n, seed)}


def warmstart_rows(n: int, seed: int, data_dir: Path | str, exclude: set[str]) -> list[dict]:
    """``n`` generated task rows (compact prompt, as the RL run) whose instructions are not in ``exclude``.

    The draw is decontaminated against the RoboEval prompts in ``data_dir`` by `generate_tasks`; the rows are the
    first ``n`` of a larger draw of the same seed once ``exclude`` is removed.
    """
    extra = len(exclude)
    rows = generate_tasks(n + extra, seed, style="compact", data_dir=data_dir)
    kept = [row for row in rows if row["robot"]["instruction"] not in exclude][:n]
    if len(kept) < n:
        raise RuntimeError(f"only {len(kept)} of {n} warm-start tasks remain after the exclusions")
    return kept


def warmstart_pairs(rows: list[dict]) -> list[Pair]:
    """SFT pairs (the RL prompt → the reference answer, a fenced ``def task_program():``) of generated rows."""
    return [Pair("robot", list(row["messages"]), row["reference"]) for row in rows]


def decontamination_report(rows: list[dict], references: list[str]) -> dict:
    """Highest and mean token similarity of the rows' instructions to the RoboEval prompts."""
    decontaminator = Decontaminator(references)
    scores = [decontaminator.max_similarity(row["robot"]["instruction"]) for row in rows]
    return {"roboeval_prompts": len(references), "max_similarity": round(max(scores), 3),
            "mean_similarity": round(sum(scores) / len(scores), 3),
            "above_threshold": sum(score > decontaminator.threshold for score in scores)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data",
                        help="benchmark data folder with roboeval/roboeval_data.csv (decontamination only)")
    parser.add_argument("--tasks", type=int, default=1000, help="number of generated SFT tasks")
    parser.add_argument("--seed", type=int, default=7, help="seed of the SFT draw (not 1: the RL draw)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.seed in (RL_DRAW[1], EVAL_DRAW[1]):
        raise SystemExit(f"--seed {args.seed} is the seed of the RL or evaluation draw; pick another")
    references = load_roboeval_prompts(args.data_dir)
    if not references:
        raise SystemExit(f"no RoboEval prompts under {args.data_dir}/roboeval: cannot decontaminate the SFT draw")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rows = warmstart_rows(args.tasks, args.seed, args.data_dir, excluded_instructions([RL_DRAW, EVAL_DRAW]))
    templates = sorted({row["robot"]["spec"]["template"] for row in rows})
    tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR)
    examples = encode_pairs(warmstart_pairs(rows), tokenizer, max_prompt=96, max_response=256)
    print(f"{len(examples)} generated robot pairs ({len(templates)} templates, seed {args.seed}) "
          f"for {args.epochs} epochs", flush=True)

    sft_args = (args.out, args.epochs, args.lr, args.batch_tokens, args.seed)
    mean_loss, seconds = continue_sft(model, tokenizer, examples, *sft_args)
    report = {
        "tasks": len(rows),
        "pairs": len(examples),
        "seed": args.seed,
        "excluded_draws": {"rl": RL_DRAW, "robot_task_eval": EVAL_DRAW},
        "templates": len(templates),
        "decontamination": decontamination_report(rows, references),
        "epochs": args.epochs,
        "lr": args.lr,
        "seconds": round(seconds, 1),
        "final_loss": round(mean_loss, 4),
    }
    (args.out / "warmstart.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
