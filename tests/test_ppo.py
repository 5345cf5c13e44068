"""Exact-value tests of the PPO math against hand-computed tensors."""

import math

import pytest
import torch

from lit_coderl import ppo

T = torch.tensor


def test_masked_mean_and_var():
    x = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = T([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert ppo.masked_mean(x, mask).item() == pytest.approx(7 / 3)
    # deviations -4/3, -1/3, 5/3 -> sum of squares 42/9 over 3 entries, unbiased: / 2
    assert ppo.masked_var(x, mask).item() == pytest.approx(7 / 3)
    assert ppo.masked_var(x, mask, unbiased=False).item() == pytest.approx(14 / 9)
    assert ppo.masked_mean(x, mask, dim=1).tolist() == pytest.approx([1.5, 4.0])
    assert ppo.masked_mean(x, torch.zeros_like(mask)).item() == 0.0


def test_masked_whiten():
    x = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = T([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    std = math.sqrt(7 / 3)
    expected = [[(1 - 7 / 3) / std, (2 - 7 / 3) / std, 0.0], [(4 - 7 / 3) / std, 0.0, 0.0]]
    assert ppo.masked_whiten(x, mask).tolist() == [pytest.approx(r, abs=1e-6) for r in expected]
    shifted_back = ppo.masked_whiten(x, mask, shift_mean=False)
    assert shifted_back[0, 0].item() == pytest.approx((1 - 7 / 3) / std + 7 / 3, abs=1e-6)
    assert shifted_back[1, 2].item() == 0.0


def test_kl_estimators():
    logprobs, ref = T([[0.0, -1.0]]), T([[-1.0, 0.0]])  # log-ratio r = [1, -1]
    assert ppo.kl_penalty(logprobs, ref, "k1").tolist() == [[1.0, -1.0]]
    assert ppo.kl_penalty(logprobs, ref, "k2").tolist() == [[0.5, 0.5]]
    assert ppo.kl_penalty(logprobs, ref, "k3").tolist()[0] == pytest.approx([math.exp(-1), math.e - 2])
    with pytest.raises(ValueError, match="unknown KL estimator"):
        ppo.kl_penalty(logprobs, ref, "k4")


def test_place_scores_dense_and_eos_keep_totals():
    scores = T([[1.0, 2.0, 5.0], [3.0, 0.5, 0.0]])
    mask = T([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    dense = ppo.place_scores(scores, mask, "dense")
    eos = ppo.place_scores(scores, mask, "eos")
    assert dense.tolist() == [[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]]
    assert eos.tolist() == [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0]]
    assert torch.equal(dense.sum(1), eos.sum(1))
    assert ppo.last_token_index(mask).tolist() == [1, 0]


def test_total_rewards():
    scores, kl, mask = T([[1.0, 0.0, 2.0]]), T([[0.5, 1.0, 2.0]]), T([[1.0, 1.0, 0.0]])
    assert ppo.total_rewards(scores, kl, 0.1, mask).tolist()[0] == pytest.approx([0.95, -0.1, 0.0])


def test_gae_full_mask():
    rewards, values, mask = T([[1.0, 0.0, 2.0]]), T([[0.5, 1.0, 1.5]]), T([[1.0, 1.0, 1.0]])
    adv, ret = ppo.gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # t=2: 2 - 1.5 = 0.5; t=1: 0 + 1.5 - 1 + 0.5*0.5 = 0.75; t=0: 1 + 1 - 0.5 + 0.5*0.75 = 1.875
    assert adv.tolist()[0] == pytest.approx([1.875, 0.75, 0.5])
    assert ret.tolist()[0] == pytest.approx([2.375, 1.75, 2.0])


def test_gae_stops_at_padding_and_discounts():
    rewards, values, mask = T([[1.0, 0.0, 2.0]]), T([[0.5, 1.0, 1.5]]), T([[1.0, 1.0, 0.0]])
    adv, ret = ppo.gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # t=1 is the last token: no bootstrap -> -1.0; t=0: 1 + 1 - 0.5 + 0.5 * -1 = 1.0
    assert adv.tolist()[0] == pytest.approx([1.0, -1.0, 0.0])
    assert ret.tolist()[0] == pytest.approx([1.5, 0.0, 0.0])
    adv, _ = ppo.gae(T([[0.0, 1.0]]), T([[0.0, 0.0]]), T([[1.0, 1.0]]), gamma=0.9, lam=1.0)
    assert adv.tolist()[0] == pytest.approx([0.9, 1.0])


def test_policy_loss_clipping():
    old = T([[0.0, 0.0]])
    new = T([[math.log(1.5), math.log(0.5)]])
    adv, mask = T([[1.0, -1.0]]), T([[1.0, 1.0]])
    loss, stats = ppo.policy_loss(new, old, adv, mask, clip_range=0.2)
    # token 0: max(-1.5, -1.2) = -1.2 ; token 1: max(0.5, 0.8) = 0.8
    assert loss.item() == pytest.approx(-0.2)
    assert stats["clipfrac"].item() == 1.0
    assert stats["ratio"].item() == pytest.approx(1.0)
    assert stats["approxkl"].item() == pytest.approx(0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2)
    loss_in_range, stats = ppo.policy_loss(T([[math.log(1.1)]]), T([[0.0]]), T([[2.0]]), T([[1.0]]), 0.2)
    assert loss_in_range.item() == pytest.approx(-2.2)
    assert stats["clipfrac"].item() == 0.0


def test_policy_loss_gradient_is_zero_when_clipped():
    new = T([[math.log(1.5)]]).requires_grad_(True)
    loss, _ = ppo.policy_loss(new, T([[0.0]]), T([[1.0]]), T([[1.0]]), clip_range=0.2)
    loss.backward()
    assert new.grad.item() == 0.0


def test_value_loss_clipping():
    values, old, returns, mask = T([[1.0, 3.0]]), T([[0.0, 2.9]]), T([[2.0, 2.0]]), T([[1.0, 1.0]])
    loss, stats = ppo.value_loss(values, old, returns, mask, clip_range_value=0.2)
    # token 0: max((1-2)^2, (0.2-2)^2) = 3.24 ; token 1: max(1, 1) = 1
    assert loss.item() == pytest.approx(0.5 * (3.24 + 1.0) / 2)
    assert stats["clipfrac"].item() == 0.5


def test_entropy_and_logprobs():
    logits = T([[[0.0, 0.0], [0.0, math.log(3.0)]]])
    assert ppo.entropy_from_logits(logits).tolist()[0] == pytest.approx(
        [math.log(2), -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))]
    )
    assert ppo.logprobs_from_logits(logits, torch.tensor([[0, 1]])).tolist()[0] == pytest.approx(
        [math.log(0.5), math.log(0.75)]
    )
    logprobs, entropy = ppo.logprobs_and_entropy(logits, torch.tensor([[0, 1]]))
    assert logprobs.tolist()[0] == pytest.approx([math.log(0.5), math.log(0.75)])
    assert entropy.tolist()[0] == pytest.approx([math.log(2), -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))])
    # the masked logit of constrained decoding (-1e9) contributes 0, not NaN
    _, masked = ppo.logprobs_and_entropy(T([[[0.0, -1e9, 0.0]]]), torch.tensor([[0]]))
    assert masked.tolist()[0] == pytest.approx([math.log(2)])


def test_explained_variance():
    returns, mask = T([[1.0, 2.0, 3.0]]), T([[1.0, 1.0, 1.0]])
    assert ppo.explained_variance(returns, returns, mask).item() == pytest.approx(1.0)
    assert ppo.explained_variance(torch.zeros(1, 3), returns, mask).item() == pytest.approx(0.0)
    # V = R - [1, 0, -1]: Var(R - V) = Var([1,0,-1]) = 1 = Var(R) -> 0
    assert ppo.explained_variance(returns - T([[1.0, 0.0, -1.0]]), returns, mask).item() == pytest.approx(0.0)
    assert math.isnan(ppo.explained_variance(returns, T([[2.0, 2.0, 2.0]]), mask).item())


def test_minibatches_split_into_micro_batches():
    order = [4, 1, 3, 0, 2]
    cfg = ppo.PPOConfig(minibatch_size=2, micro_batch_size=1)
    assert ppo.minibatches(order, cfg) == [[[4], [1]], [[3], [0]], [[2]]]
    assert ppo.minibatches(order, ppo.PPOConfig(minibatch_size=8)) == [[order]]  # capped by the batch


# ---------------------------------------------------------------------------------------------------------------------
# critic-free group estimators (issue 15)


def test_returns_to_go():
    rewards, mask = T([[1.0, 2.0, 3.0, 9.0], [1.0, 1.0, 9.0, 9.0]]), T([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    assert torch.equal(ppo.returns_to_go(rewards, mask), T([[6.0, 5.0, 3.0, 0.0], [2.0, 1.0, 0.0, 0.0]]))
    assert torch.equal(ppo.returns_to_go(rewards, mask, gamma=0.5)[0], T([2.75, 3.5, 3.0, 0.0]))


def _dense_groups():
    """Two prompts, labelled 7 (three answers) and 3 (two), interleaved in the batch; one padded answer.

    Returns R: group 7 → 0, 2, 1 (mean 1, std 1); group 3 → 3, 1 (mean 2, std √2)."""
    rewards = T(
        [
            [1.0, 0.0, -1.0],  # 7: G = 0, -1, -1
            [0.0, 0.0, 3.0],  # 3: G = 3, 3, 3
            [0.0, 2.0, 5.0],  # 7: G = 2, 2, 0 (last token is padding)
            [1.0, 0.0, 0.0],  # 3: G = 1, 0, 0
            [0.5, 0.5, 0.0],  # 7: G = 1, 0.5, 0
        ]
    )
    mask = torch.ones_like(rewards)
    mask[2, 2] = 0.0
    return rewards, mask, T([7, 3, 7, 3, 7])


def test_rloo_dense_sequence_baseline_is_the_other_answers_mean_return():
    rewards, mask, groups = _dense_groups()
    advantages, to_go = ppo.rloo_advantages(rewards, mask, groups, baseline="sequence")
    # baselines: 7 → (2+1)/2, (0+1)/2, (0+2)/2 = 1.5, 0.5, 1 ; 3 → 1, 3
    expected = T(
        [
            [-1.5, -2.5, -2.5],
            [2.0, 2.0, 2.0],
            [1.5, 1.5, 0.0],
            [-2.0, -3.0, -3.0],
            [0.0, -0.5, -1.0],
        ]
    )
    assert torch.equal(advantages, expected)
    assert torch.equal(to_go[:, 0], T([0.0, 3.0, 2.0, 1.0, 1.0]))


def test_grpo_dense_sequence_baseline_centres_and_scales_by_the_group_returns():
    rewards, mask, groups = _dense_groups()
    advantages, _ = ppo.grpo_advantages(rewards, mask, groups, eps=0.0, baseline="sequence")
    r2 = math.sqrt(2.0)
    expected = T(
        [
            [-1.0, -2.0, -2.0],
            [1 / r2, 1 / r2, 1 / r2],
            [1.0, 1.0, 0.0],
            [-1 / r2, -2 / r2, -2 / r2],
            [0.0, -0.5, -1.0],
        ]
    )
    torch.testing.assert_close(advantages, expected, rtol=1e-6, atol=0)
    centred, _ = ppo.grpo_advantages(rewards, mask, groups, scale_std=False, baseline="sequence")
    assert torch.equal(centred[1], T([1.0, 1.0, 1.0])) and torch.equal(centred[3], T([-1.0, -2.0, -2.0]))
    assert torch.equal(centred[0], expected[0])


def test_position_baseline_holds_an_ended_answer_at_its_last_token():
    rewards, mask, groups = _dense_groups()
    to_go = ppo.returns_to_go(rewards, mask)
    targets = ppo.baseline_targets(to_go, mask, "position")
    assert torch.equal(targets[2], T([2.0, 2.0, 2.0]))  # G = 2, 2 then padding: held at its last token
    assert torch.equal(ppo.baseline_targets(to_go, mask, "sequence")[0], T([0.0, 0.0, 0.0]))
    # RLOO: the other answers' reward-to-go at the same position (group 7: G̃ = [0,-1,-1], [2,2,2], [1,.5,0])
    advantages, _ = ppo.rloo_advantages(rewards, mask, groups)
    expected = T(
        [
            [-1.5, -2.25, -2.0],
            [2.0, 3.0, 3.0],
            [1.5, 2.25, 0.0],
            [-2.0, -3.0, -3.0],
            [0.0, 0.0, -0.5],
        ]
    )
    assert torch.equal(advantages, expected)
    # GRPO: the group's mean at each position (7: 1, ½, ⅓; 3: 2, 1.5, 1.5), one scale per group (std of R: 1, √2)
    advantages, _ = ppo.grpo_advantages(rewards, mask, groups, eps=0.0)
    r2 = math.sqrt(2.0)
    expected = T(
        [
            [-1.0, -1.5, -4 / 3],
            [1 / r2, 1.5 / r2, 1.5 / r2],
            [1.0, 1.5, 0.0],
            [-1 / r2, -1.5 / r2, -1.5 / r2],
            [0.0, 0.0, -1 / 3],
        ]
    )
    torch.testing.assert_close(advantages, expected, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="unknown group baseline"):
        ppo.baseline_targets(to_go, mask, "token")


def test_zero_spread_group_is_flagged_and_not_scaled():
    rewards, mask, groups = T([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]), torch.ones(4, 2), T([0, 0, 1, 1])
    assert ppo.zero_spread(ppo.returns_to_go(rewards, mask)[:, 0], groups).tolist() == [True, True, False, False]
    advantages, _ = ppo.grpo_advantages(rewards, mask, groups)
    # group 0: returns 1, 1 (std 0): centred only (mean reward-to-go 1, ½); the dense reward-to-go still differs
    assert torch.equal(advantages[:2], T([[0.0, -0.5], [0.0, 0.5]]))


def test_group_baselines_need_two_samples_per_prompt():
    with pytest.raises(ValueError, match="at least 2 samples per prompt"):
        ppo.rloo_advantages(T([[1.0], [2.0]]), torch.ones(2, 1), T([0, 1]))


def test_eos_placement_reduces_to_the_textbook_sequence_estimators():
    """All reward on the last token, γ = 1: every token of answer i carries the sequence-level advantage."""
    torch.manual_seed(0)
    K, prompts, length = 4, 3, 6
    lengths = torch.randint(1, length + 1, (K * prompts,))
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    groups = torch.arange(prompts).repeat_interleave(K)
    scores = torch.randn(K * prompts, length)
    placed = ppo.place_scores(scores, mask, "eos")
    R = (scores * mask).sum(1).tolist()
    rloo, grpo = [], []
    for i in range(K * prompts):
        g = [R[j] for j in range(K * prompts) if groups[j] == groups[i]]
        others = (sum(g) - R[i]) / (K - 1)
        mean = sum(g) / K
        std = math.sqrt(sum((x - mean) ** 2 for x in g) / (K - 1))
        rloo.append(R[i] - others)
        grpo.append((R[i] - mean) / (std + 1e-4))
    for baseline in ("position", "sequence"):
        rloo_adv, _ = ppo.rloo_advantages(placed, mask, groups, baseline=baseline)
        grpo_adv, _ = ppo.grpo_advantages(placed, mask, groups, baseline=baseline)
        torch.testing.assert_close(rloo_adv, T(rloo)[:, None] * mask, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grpo_adv, T(grpo)[:, None] * mask, rtol=1e-5, atol=1e-6)
    # and TRL's own vectorised form of GRPO's sequence advantages
    grouped = T(R).view(prompts, K)
    trl = (grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)
    torch.testing.assert_close(grpo_adv[:, 0], trl.flatten(), rtol=1e-5, atol=1e-6)


def test_aggregate_tokens_modes():
    losses = T([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0], [9.0, 9.0, 9.0]])
    mask = T([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # the last row is skipped (no tokens)
    assert ppo.aggregate_tokens(losses, mask, "token_mean") == 2.5  # 10 / 4 tokens
    assert ppo.aggregate_tokens(losses, mask, "seq_mean_token_mean") == 3.0  # (2 + 4) / 2 sequences
    assert ppo.aggregate_tokens(losses, mask, "token_sum_norm", norm_tokens=5) == 1.0  # 10 / (2 sequences × 5)
    with pytest.raises(ValueError, match="norm_tokens"):
        ppo.aggregate_tokens(losses, mask, "token_sum_norm")
    with pytest.raises(ValueError, match="unknown loss aggregation"):
        ppo.aggregate_tokens(losses, mask, "sum")


@pytest.mark.parametrize("mode", ["token_mean", "seq_mean_token_mean", "token_sum_norm"])
def test_micro_batch_shares_sum_to_the_minibatch_aggregate(mode):
    torch.manual_seed(0)
    losses = torch.randn(6, 5)
    mask = (torch.arange(5)[None, :] < T([5, 1, 3, 0, 2, 4])[:, None]).float()
    whole = ppo.aggregate_tokens(losses, mask, mode, norm_tokens=8)
    parts = [[0, 1], [2, 3], [4, 5]]
    accumulated = sum(
        ppo.micro_batch_share(mask[p], mask, mode) * ppo.aggregate_tokens(losses[p], mask[p], mode, norm_tokens=8)
        for p in parts
    )
    torch.testing.assert_close(accumulated, whole)


def test_ppo_loss_without_critic_and_with_kl_in_the_loss():
    logits = torch.zeros(1, 2, 2)  # log π = log ½ for every token
    response_ids, mask = T([[0, 1]]), T([[1.0, 1.0]])
    old = torch.full((1, 2), math.log(0.5))
    ref = torch.full((1, 2), math.log(0.25))  # r = log 2: k3 = e^(-r) − 1 + r = ln 2 − ½
    cfg = ppo.PPOConfig(kl_in="loss", kl_coef=0.1, kl_estimator="k3")
    loss, stats = ppo.ppo_loss(logits, None, response_ids, old, None, torch.zeros(1, 2), None, mask, cfg, ref)
    assert "loss/value_avg" not in stats and "val/clipfrac_avg" not in stats
    assert loss.item() == pytest.approx(0.1 * (math.log(2) - 0.5), abs=1e-7)
    assert stats["loss/kl_avg"].item() == pytest.approx(math.log(2) - 0.5, abs=1e-7)
    default = ppo.PPOConfig(kl_in="loss", kl_coef=0.1)  # k2 in the loss: ½ (ln 2)²
    loss, _ = ppo.ppo_loss(logits, None, response_ids, old, None, torch.zeros(1, 2), None, mask, default, ref)
    assert loss.item() == pytest.approx(0.1 * 0.5 * math.log(2) ** 2, abs=1e-7)
    with pytest.raises(ValueError, match="reference log-probs"):
        ppo.ppo_loss(logits, None, response_ids, old, None, torch.zeros(1, 2), None, mask, cfg)
