"""Exact values of the PPO math where a dropped term or a flipped sign keeps every shape and sign-of-life check green.

Every expected number is written out by hand or computed here with plain ``math`` on Python floats (the formulas of
the docstrings, term by term), never with `lit_coderl.ppo` itself.
"""

from __future__ import annotations

import math

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.ppo import PPOConfig


def close(actual: torch.Tensor, expected, tol: float = 1e-5) -> None:
    torch.testing.assert_close(actual.double(), torch.tensor(expected, dtype=torch.float64), atol=tol, rtol=tol)


# ---------------------------------------------------------------------------------------------------------------------
# GAE: γ < 1 with non-zero values (the bootstrap term γ·V_{t+1})


def test_gae_discounts_the_bootstrap_value():
    # γ = 0.9, λ = 0.8 (γλ = 0.72); row 1 is padded after two tokens (its padded reward and value must not leak in)
    rewards = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 5.0]])
    values = torch.tensor([[0.5, 1.0, -1.0], [2.0, 3.0, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    adv, ret = ppo.gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # row 0: δ2 = 2 − (−1) = 3; δ1 = 0 + 0.9·(−1) − 1 = −1.9; δ0 = 1 + 0.9·1 − 0.5 = 1.4
    #        A2 = 3; A1 = −1.9 + 0.72·3 = 0.26; A0 = 1.4 + 0.72·0.26 = 1.5872
    # row 1: δ1 = 1 − 3 = −2 (no bootstrap from padding); δ0 = 0 + 0.9·3 − 2 = 0.7; A0 = 0.7 − 0.72·2 = −0.74
    close(adv, [[1.5872, 0.26, 3.0], [-0.74, -2.0, 0.0]])
    close(ret, [[2.0872, 1.26, 2.0], [1.26, 1.0, 0.0]])


def test_gae_lambda_one_gives_discounted_return_minus_value():
    # λ = 1: A_t = Σ γ^k r_{t+k} − V_t, whatever the values in between (the V_{t+1} terms telescope away only with γ
    # applied to them)
    rewards = torch.tensor([[0.5, -1.0, 3.0, 1.0]])
    values = torch.tensor([[4.0, -2.0, 0.25, 1.5]])
    mask = torch.ones(1, 4)
    gamma = 0.5
    adv, _ = ppo.gae(rewards, values, mask, gamma=gamma, lam=1.0)
    r, v = rewards[0].tolist(), values[0].tolist()
    expected = [sum(gamma**k * r[t + k] for k in range(4 - t)) - v[t] for t in range(4)]
    close(adv, [expected])


# ---------------------------------------------------------------------------------------------------------------------
# the policy loss's log-ratio clamp


def test_policy_loss_clamps_a_large_log_ratio():
    # token 0: log ρ = 50 (a stale old log-prob), A = −1: the unclipped branch −A·ρ wins, with ρ = e^10 after the clamp
    # token 1: log ρ = 0.1, A = 2: min(ρ, 1.2)·A → −A·ρ is the max of −A·ρ and −A·clip(ρ) since ρ < 1.2
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    old = torch.tensor([[-51.0, -2.1]])
    adv = torch.tensor([[-1.0, 2.0]])
    mask = torch.ones(1, 2)
    loss, stats = ppo.policy_loss(logprobs, old, adv, mask, clip_range=0.2, log_ratio_clamp=10.0)
    rho1 = math.exp(0.1)
    expected = (math.exp(10.0) + (-2.0 * rho1)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert stats["ratio"].item() == pytest.approx((math.exp(10.0) + rho1) / 2, rel=1e-5)
    assert stats["approxkl"].item() == pytest.approx(0.5 * (100.0 + 0.01) / 2, rel=1e-5)
    loss.backward()
    # the clamped token gets no gradient; the other: d(−A·ρ/2)/d logp = −A·ρ/2
    close(logprobs.grad, [[0.0, -2.0 * rho1 / 2]])


def test_policy_loss_clamp_bound_is_the_parameter():
    logprobs = torch.tensor([[0.0]])
    old = torch.tensor([[-30.0]])
    loss, _ = ppo.policy_loss(logprobs, old, torch.tensor([[-1.0]]), torch.ones(1, 1), log_ratio_clamp=3.0)
    assert loss.item() == pytest.approx(math.exp(3.0), rel=1e-6)


# ---------------------------------------------------------------------------------------------------------------------
# ppo_loss: the KL-in-loss term and the entropy bonus, with their gradients

LOGITS = [[[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]]
IDS = [[1, 0]]


def _softmax(row: list[float]) -> list[float]:
    z = sum(math.exp(x) for x in row)
    return [math.exp(x) / z for x in row]


def _ppo_inputs():
    logits = torch.tensor(LOGITS, requires_grad=True)
    ids = torch.tensor(IDS)
    probs = [_softmax(row) for row in LOGITS[0]]
    logp = [math.log(probs[t][IDS[0][t]]) for t in range(2)]
    return logits, ids, probs, logp


def _cfg(**kw) -> PPOConfig:
    base = dict(kl_in="reward", kl_coef=0.0, kl_estimator="k3", entropy_coef=0.0, loss_aggregation="token_mean",
                clip_range=0.2, log_ratio_clamp=10.0, vf_coef=1.0)
    return PPOConfig(**(base | kw))


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_ppo_loss_kl_in_loss_value_and_gradient(estimator):
    logits, ids, probs, logp = _ppo_inputs()
    # advantages 0: the policy term is 0 with zero gradient, the loss is β·mean(KL_t); old log-probs differ from the
    # current ones, so a KL computed from them has another value and no gradient at all
    old = torch.tensor([[logp[0] - 0.3, logp[1] + 0.2]])
    ref_list = [logp[0] - 0.5, logp[1] + 0.7]
    beta = 0.5
    loss, stats = ppo.ppo_loss(
        logits, None, ids, old, None, torch.zeros(1, 2), None, torch.ones(1, 2),
        _cfg(kl_in="loss", kl_coef=beta, kl_estimator=estimator), ref_logprobs=torch.tensor([ref_list]),
    )
    r = [logp[t] - ref_list[t] for t in range(2)]  # 0.5, −0.7
    if estimator == "k1":
        kl, dkl = r, [1.0, 1.0]
    else:
        kl = [math.exp(-x) - 1 + x for x in r]
        dkl = [1 - math.exp(-x) for x in r]
    assert loss.item() == pytest.approx(beta * sum(kl) / 2, rel=1e-5)
    assert stats["loss/kl_avg"].item() == pytest.approx(sum(kl) / 2, rel=1e-5)
    loss.backward()
    # d logp_t / d z_{t,k} = 1[k = y_t] − p_{t,k}
    expected = [[[beta / 2 * dkl[t] * ((k == IDS[0][t]) - probs[t][k]) for k in range(3)] for t in range(2)]]
    close(logits.grad, expected)


def test_ppo_loss_entropy_bonus_value_sign_and_gradient():
    logits, ids, probs, logp = _ppo_inputs()
    c = 0.1
    loss, stats = ppo.ppo_loss(
        logits, None, ids, torch.tensor([logp]), None, torch.zeros(1, 2), None, torch.ones(1, 2), _cfg(entropy_coef=c)
    )
    entropy = [-sum(p * math.log(p) for p in row) for row in probs]
    assert stats["loss/entropy_avg"].item() == pytest.approx(sum(entropy) / 2, rel=1e-5)
    # a bonus: the loss goes DOWN by c·H (the optimiser raises the entropy)
    assert loss.item() == pytest.approx(-c * sum(entropy) / 2, rel=1e-5)
    loss.backward()
    # dH/dz_k = −p_k (log p_k + H), so d(−c·H/2)/dz_k = c/2 · p_k (log p_k + H)
    expected = [[[c / 2 * p * (math.log(p) + entropy[t]) for p in probs[t]] for t in range(2)]]
    close(logits.grad, expected)


def test_ppo_loss_sums_policy_value_kl_and_entropy_terms():
    logits, ids, probs, logp = _ppo_inputs()
    # one token masked out (t = 1): every term is the token-0 term alone
    mask = torch.tensor([[1.0, 0.0]])
    old = torch.tensor([[logp[0] - 0.1, 0.0]])
    adv = torch.tensor([[1.5, 9.0]])
    values = torch.tensor([[0.4, 9.0]], requires_grad=True)
    old_values = torch.tensor([[0.3, 0.0]])
    returns = torch.tensor([[1.0, 0.0]])
    ref = torch.tensor([[logp[0] + 0.2, 0.0]])
    cfg = _cfg(kl_in="loss", kl_coef=0.25, kl_estimator="k1", entropy_coef=0.05, vf_coef=0.5, clip_range_value=0.3)
    loss, stats = ppo.ppo_loss(logits, values, ids, old, old_values, adv, returns, mask, cfg, ref_logprobs=ref)
    rho = math.exp(0.1)
    pg = max(-1.5 * rho, -1.5 * min(rho, 1.2))
    vf = 0.5 * (0.4 - 1.0) ** 2  # V moved 0.1 < 0.3: unclipped, and (0.4 − 1)² ≥ (clip − 1)² anyway
    kl = -0.2
    h0 = -sum(p * math.log(p) for p in probs[0])
    assert stats["loss/policy_avg"].item() == pytest.approx(pg, rel=1e-5)
    assert stats["loss/value_avg"].item() == pytest.approx(vf, rel=1e-5)
    assert loss.item() == pytest.approx(pg + 0.5 * vf + 0.25 * kl - 0.05 * h0, rel=1e-5)
    loss.backward()
    # d(0.5 · ½(V − R)²)/dV = 0.5 · (V − R) on the kept token, 0 on the masked one
    close(values.grad, [[0.5 * (0.4 - 1.0), 0.0]])


# ---------------------------------------------------------------------------------------------------------------------
# the defaults, the other estimators' γ, and the constants of the statistics (each one found alive by mutation)


def test_defaults_of_the_pure_functions():
    r, v, m = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -0.5]]), torch.ones(1, 2)
    # gae defaults γ = 1, λ = 0.95: δ1 = 2 + 0.5 = 2.5; δ0 = 1 − 0.5 − 0.5 = 0; A0 = 0 + 0.95 · 2.5
    close(ppo.gae(r, v, m)[0], [[2.375, 2.5]])
    close(ppo.kl_penalty(torch.tensor([-1.0]), torch.tensor([-1.5])), [0.5])  # k1
    losses = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert ppo.aggregate_tokens(losses, mask).item() == pytest.approx(10 / 4)  # token_mean
    to_go, held = torch.tensor([[3.0, 2.0, 1.0], [5.0, 0.0, 0.0]]), mask
    close(ppo.baseline_targets(to_go, held), [[3.0, 2.0, 1.0], [5.0, 5.0, 5.0]])  # position
    # policy_loss: ε = 0.2 (ρ = e^0.5 clipped to 1.2 for A > 0), log-ratio clamp 10 (approxkl of log ρ = 20)
    loss, stats = ppo.policy_loss(torch.tensor([[0.0, 20.0]]), torch.tensor([[-0.5, 0.0]]),
                                  torch.tensor([[1.0, 0.0]]), torch.ones(1, 2))
    assert loss.item() == pytest.approx(-1.2 / 2)
    assert stats["approxkl"].item() == pytest.approx(0.5 * (0.25 + 100.0) / 2)
    # value_loss: ε_v = 0.2; V moved +0.5 from 0, clipped to 0.2
    vloss, vstats = ppo.value_loss(torch.tensor([[0.5]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]),
                                   torch.ones(1, 1))
    # towards R = 1: (0.5 − 1)² = 0.25 < (0.2 − 1)² = 0.64: the clipped branch, ½ · 0.64
    assert vloss.item() == pytest.approx(0.32) and vstats["clipfrac"].item() == 1.0


def test_value_loss_exact_both_directions_and_power():
    values = torch.tensor([[-0.9, 0.1, 2.0]])
    old = torch.tensor([[0.0, 0.0, 0.0]])
    returns = torch.tensor([[-2.0, -1.0, 1.0]])
    loss, stats = ppo.value_loss(values, old, returns, torch.ones(1, 3), clip_range_value=0.3)
    # token 0: V fell 0.9 → clipped to −0.3: (−0.9 + 2)² = 1.21 vs (−0.3 + 2)² = 2.89 → 2.89 (clipped)
    # token 1: V rose 0.1 (unclipped): (0.1 + 1)² = 1.21 both
    # token 2: V rose 2 → clipped to 0.3: (2 − 1)² = 1 vs (0.3 − 1)² = 0.49 → 1 (unclipped)
    assert loss.item() == pytest.approx(0.5 * (2.89 + 1.21 + 1.0) / 3)
    assert stats["clipfrac"].item() == pytest.approx(1 / 3)


def test_policy_loss_clamps_large_negative_log_ratios_too():
    _, stats = ppo.policy_loss(torch.tensor([[-60.0]]), torch.tensor([[-10.0]]), torch.tensor([[1.0]]),
                               torch.ones(1, 1), log_ratio_clamp=10.0)
    assert stats["approxkl"].item() == pytest.approx(50.0)  # ½ · (−10)², not ½ · 50²
    assert stats["ratio"].item() == pytest.approx(math.exp(-10.0), rel=1e-5)


def test_token_sum_norm_reaches_every_term_of_ppo_loss():
    logits, ids, probs, logp = _ppo_inputs()
    mask = torch.ones(1, 2)
    values, old_values, returns = torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2), torch.tensor([[1.0, 1.0]])
    ref = torch.tensor([[logp[0] - 0.5, logp[1]]])
    cfg = _cfg(kl_in="loss", kl_coef=1.0, kl_estimator="k1", entropy_coef=1.0, vf_coef=1.0,
               loss_aggregation="token_sum_norm", clip_range_value=5.0)
    adv = torch.tensor([[1.0, -1.0]])
    loss, stats = ppo.ppo_loss(logits, values, ids, torch.tensor([logp]), old_values, adv, returns, mask, cfg,
                               ref_logprobs=ref, norm_tokens=8)
    h = [-sum(p * math.log(p) for p in row) for row in probs]
    # every sum over the row's tokens is divided by 1 sequence × 8 tokens
    pg, vf, kl, ent = (-1.0 + 1.0) / 8, 0.5 * (0.0 + 1.0) / 8, 0.5 / 8, sum(h) / 8
    assert stats["loss/policy_avg"].item() == pytest.approx(pg, abs=1e-6)
    assert stats["loss/value_avg"].item() == pytest.approx(vf)
    assert stats["loss/kl_avg"].item() == pytest.approx(kl)
    assert stats["loss/entropy_avg"].item() == pytest.approx(ent)
    assert loss.item() == pytest.approx(pg + vf + kl - ent)
    assert set(stats) == {"loss/policy_avg", "loss/value_avg", "loss/kl_avg", "loss/entropy_avg", "loss/total",
                          "policy/approxkl_avg", "policy/clipfrac_avg", "val/ratio", "val/clipfrac_avg"}
    assert stats["loss/total"].item() == pytest.approx(loss.item())
    with pytest.raises(ValueError, match="^token_sum_norm needs norm_tokens"):
        ppo.aggregate_tokens(torch.ones(1, 1), torch.ones(1, 1), "token_sum_norm")
    with pytest.raises(ValueError, match="^kl_in: loss needs the reference log-probs$"):
        ppo.ppo_loss(logits, None, ids, torch.tensor([logp]), None, adv, None, mask, cfg, norm_tokens=8)


def test_kl_estimators_exact():
    lp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])  # r = 0.5, −1
    close(ppo.kl_penalty(lp, ref, "k2"), [0.125, 0.5])
    close(ppo.kl_penalty(lp, ref, "k3"), [math.exp(-0.5) - 1 + 0.5, math.exp(1.0) - 1 - 1.0])


@pytest.mark.parametrize("estimator", ["rloo", "grpo"])
def test_group_estimators_discount_with_gamma(estimator):
    rewards = torch.tensor([[0.0, 1.0], [0.0, 3.0]])
    mask, groups = torch.ones(2, 2), torch.tensor([0, 0])
    fn = ppo.rloo_advantages if estimator == "rloo" else ppo.grpo_advantages
    _, to_go = fn(rewards, mask, groups, gamma=0.5)
    close(to_go, [[0.5, 1.0], [1.5, 3.0]])


def test_statistics_constants():
    two = torch.tensor([1.0, 3.0])
    assert ppo.masked_var(two, torch.ones(2)).item() == pytest.approx(2.0)  # Bessel: 1 · 2 / 1
    # a constant batch whitens to zeros (eps keeps the inverse std finite)
    close(ppo.masked_whiten(torch.full((3,), 2.5), torch.ones(3)), [0.0, 0.0, 0.0])
    # explained variance 1 − Var(R − V)/Var(R): R = [1, 3], V = [1, 2] → 1 − 0.5/2
    ev = ppo.explained_variance(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]), torch.ones(2))
    assert ev.item() == pytest.approx(0.75)
    # a micro-batch holding the minibatch's only sequence carries all of it
    one = torch.tensor([[1.0, 1.0]])
    assert ppo.micro_batch_share(one, one, "seq_mean_token_mean").item() == 1.0
    assert ppo.aggregation_count(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), "token_mean").item() == 3.0
    assert ppo.aggregation_count(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), "seq_mean_token_mean").item() == 1.0
    cfg = PPOConfig(minibatch_size=1)
    assert ppo.minibatches([2, 0, 1], cfg) == [[[2]], [[0]], [[1]]]


def test_a_one_token_response_and_eos_placement_of_sequence_scores():
    adv, _ = ppo.gae(torch.tensor([[2.0]]), torch.tensor([[0.5]]), torch.ones(1, 1), gamma=0.9, lam=0.9)
    close(adv, [[1.5]])
    scores = torch.tensor([[1.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    close(ppo.place_scores(scores, mask, "eos", sequence_scores=torch.tensor([7.0])), [[0.0, 7.0, 0.0]])
    # sequence scores of another dtype (components may return float64 or ints) are cast to the scores' dtype
    placed = ppo.place_scores(scores, mask, "eos", sequence_scores=torch.tensor([7.0], dtype=torch.float64))
    assert placed.dtype == torch.float32 and placed.tolist() == [[0.0, 7.0, 0.0]]
    with pytest.raises(ValueError, match="^unknown reward placement 'tokens'; expected dense or eos$"):
        ppo.place_scores(scores, mask, "tokens")
    with pytest.raises(ValueError, match="^a group baseline needs at least 2 samples per prompt"):
        ppo.group_mean_std(torch.tensor([1.0, 2.0]), torch.tensor([0, 1]))
