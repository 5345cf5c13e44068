"""The critic-free estimators in the iteration (issue 15): grouped sampling, assembly, the critic they imply, and the
cross-rank normalisation. The math itself is tested value by value in test_ppo.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.iteration import assemble_rewards, critic_for
from lit_coderl.models import TINY_MODEL_DIR, ModelOptions
from lit_coderl.optim import rank_share
from lit_coderl.ppo import PPOConfig
from lit_coderl.rollout import generate
from lit_coderl.sampling import GenerationOptions

T = torch.tensor


def test_generate_samples_each_prompt_k_times_next_to_each_other():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR).eval()
    options = GenerationOptions(max_new_tokens=8, temperature=1.0, samples_per_prompt=3)
    torch.manual_seed(0)
    rollout = generate(model, tokenizer, ["def add(a, b):\n", "x = ["], options, tasks=[{"id": "a"}, {"id": "b"}])
    assert rollout.batch_size == 6
    assert rollout.group_ids.tolist() == [0, 0, 0, 1, 1, 1]
    assert [t["id"] for t in rollout.tasks] == ["a"] * 3 + ["b"] * 3
    assert rollout.prompts == ["def add(a, b):\n"] * 3 + ["x = ["] * 3
    assert rollout.query_ids[0].tolist() == rollout.query_ids[2].tolist() != rollout.query_ids[3].tolist()


def _assemble(cfg: PPOConfig, placement: str = "dense"):
    # two prompts × two answers; group 1's answers score alike (zero spread)
    mask = torch.ones(4, 3)
    scores = {"a": T([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.5]])}
    sequence = {"a": scores["a"].sum(1)}
    old, ref = torch.zeros(4, 3), torch.full((4, 3), -0.5)  # k1 KL = 0.5 per token
    cfg.kl_estimator = "k1"
    return assemble_rewards(
        scores, sequence, {"a": 1.0}, mask, old, ref, None, None, cfg, placement, group_ids=T([0, 0, 1, 1])
    )


def test_group_assembly_kl_in_the_reward_or_in_the_loss():
    assert PPOConfig(advantage="rloo").kl_in == PPOConfig(advantage="grpo").kl_in == "loss"  # TRL's, verl's GRPO
    assert PPOConfig().kl_in == "reward" and PPOConfig().kl_estimator == "k1"  # the paper's Algorithm 1, TRL's PPO
    in_reward = _assemble(PPOConfig(advantage="rloo", kl_coef=0.2, kl_in="reward"))
    assert torch.allclose(in_reward.rewards[0], T([0.9, -0.1, -0.1]))
    in_loss = _assemble(PPOConfig(advantage="rloo", kl_coef=0.2, kl_in="loss"))
    assert torch.equal(in_loss.rewards, _assemble(PPOConfig(advantage="rloo", kl_coef=0.0)).rewards)
    assert torch.equal(in_loss.kl, in_reward.kl)  # still measured and logged
    assert in_loss.zero_spread.tolist() == [False, False, True, True]
    # RLOO, position baseline: G = [1,0,0] vs [0,0,0] → A = ±[1, 0, 0]
    assert torch.equal(in_loss.advantages[:2], T([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))


def test_skipping_zero_spread_groups_masks_them_out_of_the_loss():
    kept = _assemble(PPOConfig(advantage="grpo", kl_coef=0.0))
    assert kept.advantages[2:].abs().sum() > 0  # dense: equal returns, different reward-to-go
    skipped = _assemble(PPOConfig(advantage="grpo", kl_coef=0.0, skip_zero_spread=True))
    assert skipped.loss_mask.sum(1).tolist() == [3.0, 3.0, 0.0, 0.0]
    assert skipped.advantages[2:].abs().sum() == 0
    eos = _assemble(PPOConfig(advantage="grpo", kl_coef=0.0), placement="eos")
    assert eos.advantages[2:].abs().sum() == 0  # eos: zero spread is zero advantage anyway


def test_group_estimators_need_group_ids():
    with pytest.raises(ValueError, match="group ids"):
        assemble_rewards(
            {}, {}, {}, torch.ones(2, 2), torch.zeros(2, 2), torch.zeros(2, 2), None, None,
            PPOConfig(advantage="grpo"), "dense",
        )  # fmt: skip


def test_the_estimator_decides_the_critic():
    k4 = GenerationOptions(samples_per_prompt=4)
    assert critic_for(PPOConfig(), ModelOptions(critic="adapter"), k4).critic == "adapter"
    assert critic_for(PPOConfig(advantage="rloo"), ModelOptions(critic="model"), k4).critic == "none"
    with pytest.raises(ValueError, match="needs a critic"):
        critic_for(PPOConfig(), ModelOptions(critic="none"), k4)
    with pytest.raises(ValueError, match="samples_per_prompt ≥ 2"):
        critic_for(PPOConfig(advantage="grpo"), ModelOptions(), GenerationOptions())
    with pytest.raises(ValueError, match="unknown ppo.advantage"):
        critic_for(PPOConfig(advantage="ppo"), ModelOptions(), k4)


def test_rank_share_makes_the_data_parallel_mean_a_global_mean():
    """Rank 0 holds 30 tokens with losses summing to 30 (mean 1), rank 1 holds 10 summing to 50 (mean 5): DDP's mean
    of the weighted per-rank means is the global token mean 80 / 40 = 2, not (1 + 5) / 2 = 3."""
    counts = {0: T(30.0), 1: T(10.0)}

    def module(rank):
        def all_reduce(x, reduce_op):  # a sum over the ranks: this rank's own tensor and the other's count
            assert reduce_op == "sum" and torch.equal(x, counts[rank]), (reduce_op, x)
            return x + counts[1 - rank]

        strategy = SimpleNamespace(reduce=all_reduce)
        return SimpleNamespace(_trainer=object(), trainer=SimpleNamespace(world_size=2, strategy=strategy))

    weighted = [rank_share(module(r), counts[r]) * mean for r, mean in ((0, 1.0), (1, 5.0))]
    assert float(sum(weighted) / 2) == 2.0
    assert rank_share(SimpleNamespace(_trainer=None), T(7.0)) == 1.0
    assert ppo.aggregation_count(torch.ones(2, 3), "token_mean") == 6
    assert ppo.aggregation_count(T([[1.0, 0.0], [0.0, 0.0]]), "seq_mean_token_mean") == 1


def test_grpo_under_ddp_keeps_groups_on_their_rank(tmp_path, random_model_dir):
    """2 CPU processes: each samples its own 2 prompts × 2 answers, so every group lives on one rank; the run
    finishes with the cross-rank loss normalisation (one all-reduce per minibatch)."""
    import csv
    import os
    import subprocess
    import sys

    from tests.test_module import REPO_ROOT, write_config

    overrides = {
        "trainer.callbacks": [{"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.1}}],
        "trainer.devices": 2,
        "trainer.strategy": "ddp",
        "model.max_iterations": 2,
        "model.ppo": {"ppo_epochs": 1, "minibatch_size": 2, "advantage": "grpo", "kl_in": "loss"},
        "model.generation": {"max_new_tokens": 8, "samples_per_prompt": 2},
        "data.batch_size": 2,
    }
    config = write_config(tmp_path, random_model_dir, **overrides)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-m", "lit_coderl", "fit", "--config", str(config)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("reward/total")]
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert all(r.get("loss/value_avg", "") == "" and r["loss/kl_avg"] != "" for r in rows)
