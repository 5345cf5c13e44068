"""GRPO/RLOO group statistics come from the sequence-level task verdicts: equal verdicts are a zero-spread group
whatever the per-token KL, the lengths or float rounding do to the dense returns, and such a group gets the
advantages the docs state (`iteration.group_advantages`), never a 1/eps blow-up. Under eos placement with the
shipped defaults (KL in the loss) the advantages are the textbook RLOO and GRPO of the verdicts."""

from __future__ import annotations

import math

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.iteration import assemble_rewards
from lit_coderl.ppo import PPOConfig

T = torch.tensor


def _assemble(task_scores, mask, groups, cfg, old=None, ref=None, sequence=None, ended=None, placement="dense"):
    old = torch.zeros_like(mask) if old is None else old
    ref = torch.zeros_like(mask) if ref is None else ref
    sequence = (task_scores * mask).sum(1) if sequence is None else sequence
    return assemble_rewards(
        {"task": task_scores}, {"task": sequence}, {"task": 1.0}, mask, old, ref, None, ended, cfg, placement,
        group_ids=groups,
    )  # fmt: skip


def reference_group_advantages(task, kl_rewards, verdicts, mask, groups, estimator):
    """What the docs say, in plain Python: task reward-to-go minus the group's mean (GRPO, sample included) or the
    other answers' mean (RLOO) of their reward-to-go at the same position (held at an answer's last token past its
    end); GRPO divides the task part by the std of the group's verdicts + 1e-4, not where they are equal
    (std ≤ 1e-5 · mean |verdict| + 1e-8); the KL part is centred the same way and never scaled."""
    B, L = mask.shape
    lengths = [int(mask[i].sum()) for i in range(B)]

    def to_go(rows):
        return [[sum(float(rows[i][s]) * float(mask[i][s]) for s in range(t, L)) for t in range(L)] for i in range(B)]

    def held(G, j, t):
        return G[j][min(t, lengths[j] - 1)]

    g_task, g_kl = to_go(task), to_go(kl_rewards)
    out = [[0.0] * L for _ in range(B)]
    for i in range(B):
        members = [j for j in range(B) if groups[j] == groups[i]]
        others = [j for j in members if j != i]
        v = [float(verdicts[j]) for j in members]
        mean_v = sum(v) / len(v)
        std = math.sqrt(sum((x - mean_v) ** 2 for x in v) / (len(v) - 1))
        flat = std <= 1e-5 * sum(abs(x) for x in v) / len(v) + 1e-8
        scale = 1.0 if (estimator == "rloo" or flat) else std + 1e-4
        pool = members if estimator == "grpo" else others
        for t in range(lengths[i]):
            c_task = sum(held(g_task, j, t) for j in pool) / len(pool)
            c_kl = sum(held(g_kl, j, t) for j in pool) / len(pool)
            out[i][t] = (g_task[i][t] - c_task) / scale + (g_kl[i][t] - c_kl)
    return torch.tensor(out)


def test_relative_zero_spread_threshold():
    groups = T([0, 0, 1, 1, 2, 2, 3, 3])
    seven_and_one_ulp = 7.0 + 2**-21  # float32's next number after 7
    verdicts = T([7.0, seven_and_one_ulp, 0.0, 0.0, 1.0, 1.001, 1e4, 1e4 + 2**-10])
    assert ppo.zero_spread(verdicts, groups).tolist() == [True, True, True, True, False, False, True, True]


def test_equal_verdicts_get_the_documented_advantages_exactly():
    """Group 0: two answers with verdict 1 (split 'sum'-wise over their tokens) and slightly different per-token
    KL: the KL in the reward must neither make a spread nor be blown up. Group 1: verdicts 1 and 0."""
    mask = torch.ones(4, 3)
    task = T([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    old = T([[2**-7, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # k1 = log π − log π_ref
    cfg = PPOConfig(advantage="grpo", kl_in="reward", kl_coef=0.5)
    t = _assemble(task, mask, T([0, 0, 1, 1]), cfg, old=old)
    # task reward-to-go: [1, .5, 0] and [1, .75, .5]; group mean [1, .625, .25]; zero spread: not scaled.
    # KL reward −β·k1 = −2^-8 on a's first token: reward-to-go [−2^-8, 0, 0] and 0; mean [−2^-9, 0, 0].
    expected = T([[-(2**-9), -0.125, -0.25], [2**-9, 0.125, 0.25]])
    assert torch.equal(t.advantages[:2], expected)
    assert t.zero_spread.tolist() == [True, True, False, False]
    r = 0.5 / (math.sqrt(0.5) + 1e-4)  # group 1: centred by ½, scaled by std(1, 0) = √½
    torch.testing.assert_close(t.advantages[2:], T([[r, 0.0, 0.0], [-r, 0.0, 0.0]]))
    # the shipped GRPO default (KL in the loss): the task part alone
    t = _assemble(task, mask, T([0, 0, 1, 1]), PPOConfig(advantage="grpo", kl_coef=0.5), old=old)
    assert torch.equal(t.advantages[:2], T([[0.0, -0.125, -0.25], [0.0, 0.125, 0.25]]))


def _sum_spread(lengths, value, width):
    mask = torch.stack([(torch.arange(width) < n).float() for n in lengths])
    return torch.stack([torch.where(torch.arange(width) < n, T(value / n), T(0.0)) for n in lengths]), mask


def test_float_rounding_at_return_7_is_no_spread():
    """Verdict 7 split over 5, 9, 17 and 33 tokens: float32 sums that differ in the last bits (std ≈ 1e-6). Scaled
    by 1/(std + 1e-4) that was |A| ≈ 27,660; as a zero-spread group it is centred only."""
    task, mask = _sum_spread([5, 9, 17, 33], 7.0, 40)
    groups = torch.zeros(4, dtype=torch.long)
    t = _assemble(task, mask, groups, PPOConfig(advantage="grpo"))
    assert t.zero_spread.all()
    assert float(t.advantages.abs().max()) < 7.0
    expected = reference_group_advantages(task, torch.zeros_like(task), (task * mask).sum(1), mask, groups, "grpo")
    torch.testing.assert_close(t.advantages, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("estimator", ["grpo", "rloo"])
def test_kl_in_the_reward_makes_no_spread(estimator):
    """Equal verdicts 1 over answers of 5-33 tokens with a per-token KL in the reward (β = 0.05): the dense
    returns differ by the KL alone (std ≈ 4e-3), which divided the reward-to-go differences by it (max |A| 106 in
    group 0). Now: the documented advantages, bounded by the reward-to-go differences."""
    task, mask = _sum_spread([5, 9, 17, 33], 1.0, 40)
    task = torch.cat([task, _sum_spread([7, 12, 20, 25], 1.0, 40)[0] * T([1.0, 1.0, 0.0, 0.0])[:, None]])
    mask = torch.cat([mask, _sum_spread([7, 12, 20, 25], 1.0, 40)[1]])
    groups = T([0, 0, 0, 0, 1, 1, 1, 1])
    generator = torch.Generator().manual_seed(0)
    old = 0.03 * torch.randn(mask.shape, generator=generator)
    cfg = PPOConfig(advantage=estimator, kl_in="reward", kl_coef=0.05)
    t = _assemble(task, mask, groups, cfg, old=old)
    assert t.zero_spread.tolist() == [True] * 4 + [False] * 4
    kl_rewards = -0.05 * old * mask
    verdicts = (task * mask).sum(1)
    expected = reference_group_advantages(task, kl_rewards, verdicts, mask, groups, estimator)
    torch.testing.assert_close(t.advantages, expected, rtol=1e-5, atol=1e-6)
    assert float(t.advantages[:4].abs().max()) < 1.0


@pytest.mark.parametrize("estimator", ["grpo", "rloo"])
def test_eos_with_the_shipped_defaults_is_textbook(estimator):
    """Eos placement, KL in the loss (the default of both), truncated answers: every token of answer i carries
    DeepSeekMath's (V_i − mean V)/(std V + 1e-4) or Ahmadian et al.'s V_i − mean_{j≠i} V_j of the verdicts
    V = Σ λ·sequence score − missing-EOS penalty; the per-token KL changes nothing."""
    torch.manual_seed(0)
    K, prompts, width = 4, 3, 6
    lengths = torch.randint(1, width + 1, (K * prompts,))
    mask = (torch.arange(width)[None, :] < lengths[:, None]).float()
    groups = torch.arange(prompts).repeat_interleave(K)
    scores, sequence = torch.randn(K * prompts, width), torch.randn(K * prompts)
    ended = torch.rand(K * prompts) > 0.3
    old, ref = 0.1 * torch.randn(K * prompts, width), 0.1 * torch.randn(K * prompts, width)
    cfg = PPOConfig(advantage=estimator, kl_coef=0.3)
    assert cfg.kl_in == "loss"
    t = _assemble(scores, mask, groups, cfg, old=old, ref=ref, sequence=sequence, ended=ended, placement="eos")
    v = [float(sequence[i]) - (0.0 if bool(ended[i]) else 1.0) for i in range(K * prompts)]
    textbook = []
    for i in range(K * prompts):
        g = [v[j] for j in range(K * prompts) if groups[j] == groups[i]]
        mean = sum(g) / K
        std = math.sqrt(sum((x - mean) ** 2 for x in g) / (K - 1))
        textbook.append((v[i] - mean) / (std + 1e-4) if estimator == "grpo" else v[i] - (sum(g) - v[i]) / (K - 1))
    torch.testing.assert_close(t.advantages, T(textbook)[:, None] * mask, rtol=1e-5, atol=1e-6)
