"""TRL side of `vs_trl_grpo.py`: TRL's GRPOTrainer on the shared workload (`_workload.GRPO_SETTINGS`).

Runs inside ``.bench/trl-grpo-venv`` (trl 1.16.0, see requirements-trl-grpo.txt):

    .bench/trl-grpo-venv/bin/python benchmarks/_trl_grpo_side.py MODEL_DIR OUT.json --iterations 8 --threads 1

One trainer step is one iteration: it samples 4 answers to each of 4 prompts (inside the step), scores them, runs the
reference forward, the loss, the backward and the optimizer step. Wall time is step end to step end (the trainer's
loop included, as on our side), with the process's CPU time beside it; the peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import GRPO_SETTINGS, PROMPTS, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("out")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    g = GRPO_SETTINGS
    iterations: list[dict] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.last, self.last_cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            now, now_cpu = time.perf_counter(), time.process_time()
            iterations.append({"wall": now - self.last, "cpu": now_cpu - self.last_cpu})
            self.last, self.last_cpu = now, now_cpu

    def parse_reward(prompts, completions, **kwargs) -> list[float]:
        return [score(p, c) for p, c in zip(prompts, completions, strict=True)]

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="vs_trl_grpo_trl_") as root:
        config = GRPOConfig(
            output_dir=root,
            per_device_train_batch_size=g["prompts"] * g["num_generations"],
            num_generations=g["num_generations"],
            max_completion_length=g["new_tokens"],
            generation_kwargs={"min_new_tokens": g["new_tokens"]},  # fixed length, as on our side
            temperature=g["temperature"],
            top_p=1.0,
            top_k=0,
            learning_rate=g["learning_rate"],
            lr_scheduler_type="constant",
            beta=g["beta"],
            epsilon=g["epsilon"],
            max_grad_norm=g["max_grad_norm"],
            loss_type="bnpo",  # Σ over the batch's tokens / their number: our token_mean
            scale_rewards="group",
            num_iterations=1,
            max_steps=args.iterations,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=g["seed"],
            dataloader_num_workers=0,
        )
        dataset = Dataset.from_dict({"prompt": PROMPTS})
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=parse_reward,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[StepTimer()],
        )
        trainer.train()
    result = {
        "side": "trl",
        "threads": args.threads,
        "versions": {"trl": __import__("trl").__version__, "transformers": __import__("transformers").__version__},
        "iterations": iterations,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pid": os.getpid(),
    }
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
