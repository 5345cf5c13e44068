"""Peak memory of one PPO iteration: policy-only training vs policy + reference + critic, per critic mode, LoRA on/off.

Each measurement runs in a fresh subprocess (peak RSS is per process): load the model, sample a batch, and do one
update. "policy-only" is the floor any RL fine-tuning pays: sampling plus a policy-gradient step on the policy alone
(no reference, no critic). "ppo" is lit_coderl's full iteration (reference log-probs, critic values, GAE, PPO epochs);
critic "none" is the critic-free GRPO iteration (``ppo.advantage: grpo``, 2 answers per prompt, no value head).

    python benchmarks/memory.py                  # tiny model and a ~100M-parameter CPU model
    python benchmarks/memory.py --sizes tiny     # just the embedded tiny model

Target: with LoRA, policy + reference + critic ≤ 1.15 × policy-only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SIZES = {
    # name: (hidden, layers, heads, kv heads, intermediate)
    "tiny": None,  # the embedded model as shipped
    "100m": (768, 12, 12, 4, 3072),
}


def _model_dir(size: str, workdir: Path) -> str:
    if SIZES[size] is None:
        return "tiny"
    path = workdir / f"qwen2-{size}"
    if not (path / "config.json").exists():
        from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

        from lit_coderl.models import TINY_MODEL_DIR

        hidden, layers, heads, kv, inter = SIZES[size]
        tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
        config = Qwen2Config(
            vocab_size=8192,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            intermediate_size=inter,
            tie_word_embeddings=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        Qwen2ForCausalLM(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
    return str(path)


def child(model: str, mode: str, lora: bool, critic: str, batch: int, new_tokens: int) -> dict:
    """One measurement inside this (fresh) process."""
    import torch

    from lit_coderl import ppo
    from lit_coderl.iteration import IterationTensors
    from lit_coderl.models import LoraOptions, ModelOptions
    from lit_coderl.module import CodeRLModule
    from lit_coderl.rollout import GenerationOptions

    torch.manual_seed(0)
    torch.set_num_threads(1)
    grpo = critic == "none"
    options = ModelOptions(name_or_path=model, lora=LoraOptions(enabled=lora), critic="head" if grpo else critic)
    k = 2 if grpo else 1  # the same batch of answers: batch / 2 prompts × 2 answers
    module = CodeRLModule(
        model=options,
        generation=GenerationOptions(max_new_tokens=new_tokens, temperature=1.0, samples_per_prompt=k),
        ppo=ppo.PPOConfig(
            ppo_epochs=1,
            minibatch_size=batch,
            kl_coef=0.0 if mode == "policy-only" else 0.1,
            advantage="grpo" if grpo else "gae",
        ),
        learning_rate=1e-4,
    )
    prompts = [
        {"task_id": str(i), "messages": [{"role": "user", "content": f"Write a function number {i}."}]}
        for i in range(batch // k)
    ]
    optimizer = torch.optim.AdamW(module.net.policy_parameters(), lr=1e-4)
    rollout = module.rollout(prompts, module.generation)
    if mode == "policy-only":
        # REINFORCE-style step on the policy alone: no reference forward, no critic
        logits, _ = module._forward(rollout, slice(0, batch))
        logprobs = ppo.logprobs_from_logits(logits, rollout.response_ids)
        loss = -(logprobs * rollout.response_mask).sum() / rollout.response_mask.sum()
        loss.backward()
        optimizer.step()
    else:
        # the full iteration, driven without a Trainer: old/ref log-probs, values, GAE, one PPO step
        mask = rollout.response_mask
        old, values, _ = module._logprobs_and_values(rollout, reference=False)
        with module.net.reference_context():
            ref, _, _ = module._logprobs_and_values(rollout, reference=True)
        kl = ppo.kl_penalty(old, ref, "k3") * mask
        rewards = ppo.total_rewards(torch.zeros_like(mask), kl, 0.1, mask)
        if grpo:
            advantages, returns = ppo.grpo_advantages(rewards, mask, rollout.group_ids)
        else:
            advantages, returns = ppo.gae(rewards, values, mask)
            advantages = ppo.masked_whiten(advantages, mask)
        optimizer = torch.optim.AdamW(module.net.policy_parameters() + module.net.critic_parameters(), lr=1e-4)
        t = IterationTensors(torch.zeros_like(mask), kl, rewards, advantages, returns, mask)
        loss, _ = module._ppo_loss(rollout, list(range(batch)), old, values, ref, t)
        loss.backward()
        optimizer.step()
    return {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench" / "memory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(**json.loads(args.child))))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    lines = ["| model | LoRA | setup | peak RSS (MiB) | × policy-only |", "|---|---|---|---|---|"]
    for size in args.sizes:
        model = _model_dir(size, args.workdir)
        for lora in (True, False):
            cases = [("policy-only", "head")] + [
                ("ppo", c) for c in ("head", "adapter", "model", "none") if lora or c != "adapter"
            ]
            base = None
            for mode, critic in cases:
                spec = {
                    "model": model,
                    "mode": mode,
                    "lora": lora,
                    "critic": critic,
                    "batch": args.batch,
                    "new_tokens": args.new_tokens,
                }
                done = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(spec)], cwd=REPO, capture_output=True, text=True
                )
                if done.returncode != 0:
                    raise RuntimeError(done.stderr[-2000:])
                peak = json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"]
                base = base or peak
                label = "policy only" if mode == "policy-only" else f"policy + ref + critic ({critic})"
                label = "policy + ref, no critic (grpo)" if critic == "none" else label
                lines.append(f"| {size} | {'on' if lora else 'off'} | {label} | {peak:.0f} | {peak / base:.2f} |")
                print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
