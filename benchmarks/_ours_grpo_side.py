"""lit_coderl side of `vs_trl_grpo.py`: our GRPO iteration on the shared workload, through the CLI.

    .venv/bin/python benchmarks/_ours_grpo_side.py MODEL_DIR OUT.json --iterations 10 --threads 1

`_ours_side.py`'s prompts, parse reward (+1/−1 on the last token, EOS/pad suppressed: 64 tokens per answer) and
timer, with GRPO settings matching TRL's GRPOTrainer defaults (`_workload.GRPO_SETTINGS`): 4 prompts × 4 answers,
advantages (R − group mean) / (group std + 1e-4), KL as a k3 loss term, no critic, one optimizer step per iteration
on all 16 answers (TRL: ``num_iterations`` 1, so the old log-probs are the sampler's on both sides).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _ours_side import config as ppo_config  # noqa: E402
from _ours_side import run_side  # noqa: E402
from _workload import GRPO_SETTINGS  # noqa: E402


def config(model_dir: str, out: str, iterations: int, threads: int, root: str) -> dict:
    g = GRPO_SETTINGS
    cfg = ppo_config(model_dir, out, iterations, threads, root)
    cfg["model"]["generation"]["samples_per_prompt"] = g["num_generations"]
    cfg["model"]["ppo"] = {
        "advantage": "grpo",
        "kl_in": "loss",
        "kl_estimator": "k3",
        "kl_coef": g["beta"],
        "clip_range": g["epsilon"],
        "ppo_epochs": 1,
        "minibatch_size": g["prompts"] * g["num_generations"],
        "loss_aggregation": "token_mean",
        "max_grad_norm": g["max_grad_norm"],
        "missing_eos_penalty": 0.0,
    }
    cfg["model"]["learning_rate"] = g["learning_rate"]
    cfg["data"]["batch_size"] = g["prompts"]
    return cfg


def main() -> None:
    run_side(config, "vs_trl_grpo_ours_", default_threads=1)


if __name__ == "__main__":
    main()
