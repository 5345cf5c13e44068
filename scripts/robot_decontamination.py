"""The decontamination check of the generated robot tasks: no generated task is a RoboEval task.

For ``--n`` tasks of ``--seed`` (the demo configs' draw: 2,000 tasks, seed 1) it reports how many instructions
Robo-Instruct's rule dropped (token similarity above 0.6 to one of the 80 RoboEval prompts), that no kept
instruction equals a RoboEval prompt or exceeds the threshold, the highest similarity kept, and that no template is
named after a RoboEval task. The RoboEval prompts come from the benchmark data resolution (``--data-dir``,
``LIT_CODERL_DATA_DIR``, the user cache).

    python scripts/robot_decontamination.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lit_coderl.evaluate.roboeval_tasks import TASK_CHECKS  # noqa: E402
from lit_coderl.robot.decontamination import SIMILARITY_THRESHOLD, Decontaminator, load_roboeval_prompts  # noqa: E402
from lit_coderl.robot.generator import TEMPLATES, generate_drawn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default="auto")
    args = parser.parse_args(argv)
    references = load_roboeval_prompts(args.data_dir)
    if not references:
        print("RoboEval prompts not found: nothing to check against (set --data-dir)")
        return 2
    decontaminator = Decontaminator(references)
    raw = [task["instruction"] for task in generate_drawn(args.n, args.seed)]
    kept = [task["instruction"] for task in generate_drawn(args.n, args.seed, decontaminator)]
    similarities = [decontaminator.max_similarity(instruction) for instruction in kept]
    dropped = sum(decontaminator.is_contaminated(instruction) for instruction in raw)
    exact = set(kept) & set(references)
    over = sum(s > SIMILARITY_THRESHOLD for s in similarities)
    roboeval_names = set(TASK_CHECKS)  # an evaluation script may name the benchmark's tasks; training code may not
    camel = {"".join(part.title() for part in t["name"].split("_")) for t in TEMPLATES}
    print(f"RoboEval prompts: {len(references)}; templates: {len(TEMPLATES)}")
    print(f"undecontaminated draw: {len(raw)} tasks, {dropped} above similarity {SIMILARITY_THRESHOLD}")
    mean = sum(similarities) / len(kept)
    print(f"decontaminated draw: {len(kept)} tasks, {len(exact)} equal to a RoboEval prompt, {over} above "
          f"{SIMILARITY_THRESHOLD}, highest similarity {max(similarities):.3f}, mean {mean:.3f}")
    print(f"templates named like a RoboEval task: {sorted(camel & roboeval_names) or 'none'}")
    return 0 if not exact and not over and not camel & roboeval_names else 1


if __name__ == "__main__":
    raise SystemExit(main())
