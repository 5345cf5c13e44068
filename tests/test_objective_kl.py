"""The KL to the reference optimises what it claims: exact estimator values and gradients, and a categorical bandit
trained with the project's own reward assembly and loss, whose KL-regularised optimum is known in closed form.

Bandit: one prompt, 4 answers (arms) of one token, reward r, reference π_ref, β. The optimum of
``E_π[r] − β·KL(π‖π_ref)`` is ``π* ∝ π_ref · exp(r / β)``. The policy's expected loss is computed exactly: every arm
is a row of the batch and the loss mask carries π(arm) (detached), so ``aggregate_tokens``' token mean is the
expectation over π that sampling would estimate.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.iteration import assemble_rewards
from lit_coderl.ppo import PPOConfig

T = torch.tensor


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny steps: thread hand-offs would cost more than the arithmetic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


REF = T([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
R = T([1.0, 0.8, 0.3, 0.0], dtype=torch.float64)
BETA = 0.2


def closed_form(ref: torch.Tensor, r: torch.Tensor, beta: float) -> torch.Tensor:
    unnormalised = ref * torch.exp(r / beta)
    return unnormalised / unnormalised.sum()


def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (p * (p / q).log()).sum()


def test_closed_form_reference_values():
    # π* ∝ [0.1 e^5, 0.2 e^4, 0.3 e^1.5, 0.4] by hand
    w = [0.1 * math.exp(5), 0.2 * math.exp(4), 0.3 * math.exp(1.5), 0.4]
    expected = [x / sum(w) for x in w]
    assert closed_form(REF, R, BETA).tolist() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------------
# estimators: exact values and gradients


def test_estimator_values_and_gradients_in_the_log_ratio():
    logprobs = T([[0.0, -1.0, -0.5]], requires_grad=True)
    ref = T([[-1.0, 0.0, -0.5]])  # r = 1, −1, 0
    expected_values = {
        "k1": [1.0, -1.0, 0.0],
        "k2": [0.5, 0.5, 0.0],
        "k3": [math.exp(-1), math.e - 2, 0.0],  # e^−r − 1 + r
    }
    expected_grads = {  # d k / d log π: 1, r, 1 − e^−r
        "k1": [1.0, 1.0, 1.0],
        "k2": [1.0, -1.0, 0.0],
        "k3": [1 - math.exp(-1), 1 - math.e, 0.0],
    }
    for name in ("k1", "k2", "k3"):
        values = ppo.kl_penalty(logprobs, ref, name)
        (grad,) = torch.autograd.grad(values.sum(), logprobs)
        assert values.tolist()[0] == pytest.approx(expected_values[name], abs=1e-7)
        assert grad.tolist()[0] == pytest.approx(expected_grads[name], abs=1e-7)


def _policy(seed: int) -> torch.Tensor:
    return torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)).requires_grad_()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_gradients_of_each_estimator_in_the_loss_and_in_the_reward(seed):
    """In the loss the samples are fixed and k is differentiated: E_π[∇k]. In the reward k is a detached reward of
    the score function: E_π[k · ∇log π]. Reference gradients come from the exact KLs by autograd."""
    theta = _policy(seed)
    arms = torch.arange(4)
    ref_logprobs = REF.log()

    def expected_in_loss(name):
        logp = torch.log_softmax(theta, 0)
        k = ppo.kl_penalty(logp[arms], ref_logprobs, name)
        return torch.autograd.grad((logp.exp().detach() * k).sum(), theta)[0]

    def expected_in_reward(name):
        logp = torch.log_softmax(theta, 0)
        k = ppo.kl_penalty(logp[arms], ref_logprobs, name).detach()
        return torch.autograd.grad((logp.exp().detach() * k * logp).sum(), theta)[0]

    def grad_of(f):
        return torch.autograd.grad(f(torch.softmax(theta, 0)), theta)[0]

    forward_kl = grad_of(lambda p: kl(p, REF))
    reverse_kl = grad_of(lambda p: kl(REF, p))
    torch.testing.assert_close(expected_in_reward("k1"), forward_kl)  # the paper's, TRL's PPO
    torch.testing.assert_close(expected_in_loss("k2"), forward_kl)
    torch.testing.assert_close(expected_in_loss("k3"), reverse_kl)  # GRPO's: the reverse KL
    torch.testing.assert_close(expected_in_loss("k1"), torch.zeros(4, dtype=torch.float64))  # nothing
    torch.testing.assert_close(expected_in_reward("k3"), forward_kl - reverse_kl)  # the bias
    assert torch.nn.functional.cosine_similarity(expected_in_reward("k3"), forward_kl, dim=0) < 0.99


def test_defaults_and_warnings_of_the_placements():
    assert (PPOConfig().kl_in, PPOConfig().kl_estimator) == ("reward", "k1")
    assert (PPOConfig(kl_in="loss").kl_estimator, PPOConfig(advantage="grpo").kl_estimator) == ("k2", "k2")
    with pytest.warns(UserWarning, match=r"k3 in the reward is biased.*KL\(π_ref‖π\)"):
        PPOConfig(kl_estimator="k3")
    with pytest.warns(UserWarning, match="k2 in the reward is biased"):
        PPOConfig(kl_estimator="k2")
    with pytest.warns(UserWarning, match="k1 in the loss has zero expected gradient"):
        PPOConfig(kl_in="loss", kl_estimator="k1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PPOConfig(kl_in="loss", kl_estimator="k3")  # GRPO's: a documented other regulariser, no warning
        PPOConfig(kl_estimator="k3", kl_coef=0.0)  # no KL at all
    with pytest.raises(ValueError, match="kl_in must be"):
        PPOConfig(kl_in="both")


# ---------------------------------------------------------------------------------------------------------------------
# the bandit, trained through assemble_rewards and ppo_loss


def _loss_and_stats(theta: torch.Tensor, cfg: PPOConfig) -> torch.Tensor:
    """The project's PPO loss of the bandit's exact expectation at ``theta`` (on-policy: old = current)."""
    arms = torch.arange(4)
    logits = theta.float()[None, None, :].expand(4, 1, 4)
    with torch.no_grad():
        old = torch.log_softmax(theta.float(), 0)[arms][:, None]
        probs = old.exp()
    ref = REF.float().log()[arms][:, None]
    ones = torch.ones(4, 1)
    scores = {"task": R.float()[:, None]}
    t = assemble_rewards(
        scores, {"task": R.float()}, {"task": 1.0}, ones, old, ref, torch.zeros(4, 1), None, cfg, "dense",
        group_ids=torch.zeros(4, dtype=torch.long),
    )  # fmt: skip
    loss, _ = ppo.ppo_loss(logits, None, arms[:, None], old, None, t.advantages, None, probs, cfg, ref)
    return loss


def train_bandit(cfg: PPOConfig, lr: float, decay_steps: float, steps: int = 2000) -> torch.Tensor:
    """SGD on the exact expected loss from the reference, step size ``lr / (1 + i / decay_steps)`` (whitened
    advantages have unit scale near the optimum too, so the step must shrink for the policy to settle)."""
    theta = REF.log().float().clone().requires_grad_()
    optimizer = torch.optim.SGD([theta], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0 / (1.0 + i / decay_steps))
    for _ in range(steps):
        optimizer.zero_grad()
        _loss_and_stats(theta, cfg).backward()
        optimizer.step()
        schedule.step()
    return torch.softmax(theta.detach().double(), 0)


def test_default_objective_reaches_the_closed_form_optimum():
    """PPOConfig() (gae, k1 in the reward, whitened advantages) on the bandit ends at π* ∝ π_ref·exp(r/β)."""
    target = closed_form(REF, R, BETA)
    pi = train_bandit(PPOConfig(kl_coef=BETA), lr=1.0, decay_steps=20)
    assert pi.tolist() == pytest.approx(target.tolist(), abs=3e-3)
    assert float(kl(pi, REF)) == pytest.approx(float(kl(target, REF)), abs=5e-3)


def test_k2_in_the_loss_reaches_the_closed_form_optimum():
    """The group estimators' default (KL in the loss, k2), centred but not scaled (Dr. GRPO) so β keeps its
    meaning: the same optimum."""
    target = closed_form(REF, R, BETA)
    pi = train_bandit(PPOConfig(kl_coef=BETA, advantage="grpo", grpo_scale_std=False), lr=10.0, decay_steps=100)
    assert pi.tolist() == pytest.approx(target.tolist(), abs=1e-3)


def test_the_optimum_is_stationary_for_the_sound_placements_only():
    theta = closed_form(REF, R, BETA).log().float().requires_grad_()

    def grad(cfg):
        return torch.autograd.grad(_loss_and_stats(theta, cfg), theta)[0]

    assert grad(PPOConfig(kl_coef=BETA, advantage="grpo", grpo_scale_std=False)).abs().max() < 1e-5
    with pytest.warns(UserWarning, match="biased"):
        k3 = PPOConfig(kl_coef=BETA, kl_estimator="k3")
    assert grad(k3).abs().max() > 0.01  # k3 in the reward moves away from π*


def test_k3_in_the_reward_converges_elsewhere():
    """k3 as a detached reward ascends E[r] − β·[KL(π‖π_ref) − KL(π_ref‖π)]: it rewards moving away from the
    reference, and the policy ends far from π*, its weak arms crushed toward 0."""
    target = closed_form(REF, R, BETA)
    with pytest.warns(UserWarning, match="biased"):
        cfg = PPOConfig(kl_coef=BETA, kl_estimator="k3")
    pi = train_bandit(cfg, lr=1.0, decay_steps=20)
    assert float((pi - target).abs().max()) > 0.04
    assert float(kl(pi, REF)) > float(kl(target, REF)) + 0.1
    assert float(pi[2]) < float(target[2]) / 3 and float(pi[3]) < float(target[3]) / 3
