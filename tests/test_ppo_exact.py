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
