"""TRL side of `vs_trl.py`: TRL 0.11.4's classic `PPOTrainer.step()` on the shared workload.

Runs inside the TRL venv (``.bench/trl-venv``: trl 0.11.4, transformers 4.46.3, see requirements-trl.txt):

    .bench/trl-venv/bin/python benchmarks/_trl_side.py MODEL_DIR OUT.json --iterations 10 --threads 2

Writes per-iteration wall time and its split (generate / forward / optimise / other) and the peak RSS as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import PROMPTS, SETTINGS, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("out")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    from transformers import AutoTokenizer
    from trl import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer

    s = SETTINGS
    config = PPOConfig(
        batch_size=s["batch_size"],
        mini_batch_size=s["minibatch_size"],
        gradient_accumulation_steps=1,
        ppo_epochs=s["ppo_epochs"],
        learning_rate=s["learning_rate"],
        init_kl_coef=s["kl_coef"],
        adap_kl_ctrl=False,
        kl_penalty="kl",
        vf_coef=s["vf_coef"],
        cliprange=s["clip_range"],
        cliprange_value=s["clip_range_value"],
        gamma=s["gamma"],
        lam=s["lam"],
        seed=s["seed"],
        log_with=None,
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLMWithValueHead.from_pretrained(args.model_dir, torch_dtype=torch.float32)
    trainer = PPOTrainer(config, model, ref_model=None, tokenizer=tokenizer)  # ref: a frozen copy of the policy
    queries = [torch.tensor(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    gen_kwargs = dict(
        min_new_tokens=s["new_tokens"],
        max_new_tokens=s["new_tokens"],
        do_sample=True,
        temperature=s["temperature"],
        top_k=0,
        top_p=1.0,
        pad_token_id=tokenizer.pad_token_id,
    )

    iterations = []
    for _ in range(args.iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        responses = trainer.generate(queries, batch_size=len(queries), return_prompt=False, **gen_kwargs)
        texts = tokenizer.batch_decode(responses, skip_special_tokens=True)
        generated = time.perf_counter()
        scores = [torch.tensor(score(p, t)) for p, t in zip(PROMPTS, texts, strict=True)]
        stats = trainer.step(queries, responses, scores)
        end, cpu = time.perf_counter(), time.process_time() - start_cpu
        forward = float(stats["time/ppo/forward_pass"])
        optimise = float(stats["time/ppo/optimize_step"])
        iterations.append(
            {
                "wall": end - start,
                "cpu": cpu,
                "generate": generated - start,
                "update": optimise,
                "forwards": forward,
                "other": (end - start) - (generated - start) - optimise - forward,
                "reward_mean": sum(float(x) for x in scores) / len(scores),
                "response_tokens": sum(len(r) for r in responses) / len(responses),
                "kl": float(stats["objective/kl"]),
            }
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "side": "trl",
        "threads": args.threads,
        "versions": {"trl": __import__("trl").__version__, "transformers": __import__("transformers").__version__},
        "iterations": iterations,
        "peak_rss_mib": peak_kib / 1024,
        "pid": os.getpid(),
    }
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
