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
