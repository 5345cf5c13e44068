"""The critic never trains the policy: the head critic's value loss leaves the policy's gradient exactly as it is, and
a large value gradient cannot shrink the policy's step through a shared gradient-norm clip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.models import LoraOptions, ModelOptions, build_networks
from lit_coderl.optim import build_optimizer, clip_gradients
from lit_coderl.ppo import PPOConfig


def _policy_and_value_grads(net, vf_coef: float) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    torch.manual_seed(1)
    batch, length = 3, 10
    input_ids = torch.randint(3, 300, (batch, length))
    attention_mask = torch.ones_like(input_ids)
    position_ids = torch.arange(length).expand(batch, length)
    net.zero_grad(set_to_none=True)
    logits, values = net(input_ids, attention_mask, position_ids, with_values=True)
    response = slice(length - 5, length)
    response_ids = input_ids[:, response]
    logits, values = logits[:, length - 6 : length - 1], values[:, length - 6 : length - 1]
    with torch.no_grad():
        old_logprobs = ppo.logprobs_from_logits(logits, response_ids)
    mask = torch.ones(batch, 5)
    advantages = torch.randn(batch, 5)
    returns = 50.0 * torch.randn(batch, 5)  # robot-like returns of O(10-100): a value loss far above the policy's
    cfg = PPOConfig(vf_coef=vf_coef, kl_coef=0.0)
    loss, stats = ppo.ppo_loss(
        logits, values, response_ids, old_logprobs, values.detach(), advantages, returns, mask, cfg
    )
    assert stats["loss/value_avg"] > 100 * abs(float(stats["loss/policy_avg"]))
    loss.backward()
    grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in net.policy_parameters()]
    value_grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in net.critic_parameters()]
    return grads, value_grads


@pytest.mark.parametrize("lora", [True, False])
def test_value_loss_leaves_the_policy_gradient_exactly_unchanged(random_model_dir, lora):
    options = ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(enabled=lora, r=2, alpha=4))
    net = build_networks(options)
    torch.manual_seed(0)
    with torch.no_grad():  # a trained adapter (peft starts B at 0, which would hide A's gradient)
        for name, p in net.policy.named_parameters():
            if "lora_" in name:
                p.normal_(std=0.1)
    without, no_value = _policy_and_value_grads(net, vf_coef=0.0)
    with_value, value = _policy_and_value_grads(net, vf_coef=1.0)
    assert len(without) == len(net.policy_parameters()) > 0
    assert any(g.abs().sum() > 0 for g in without)
    for a, b in zip(without, with_value, strict=True):
        assert torch.equal(a, b)
    assert all(g.abs().sum() == 0 for g in no_value) and any(g.abs().sum() > 0 for g in value)


def test_gradient_clipping_is_per_parameter_group():
    """A value gradient of norm 100 is clipped to 1 on its own; the policy's gradient of norm 0.5 is untouched."""
    policy, value = torch.nn.Parameter(torch.zeros(4)), torch.nn.Parameter(torch.zeros(2))
    optimizer = build_optimizer(SimpleNamespace(_trainer=None), [policy], [value], 1e-3, 1e-3, 0.0)
    policy.grad = torch.tensor([0.3, 0.4, 0.0, 0.0])
    value.grad = torch.tensor([60.0, 80.0])
    module = SimpleNamespace(_trainer=None, trainer=SimpleNamespace(model=torch.nn.Linear(1, 1)))
    clip_gradients(module, optimizer, max_norm=1.0)
    assert torch.equal(policy.grad, torch.tensor([0.3, 0.4, 0.0, 0.0]))
    torch.testing.assert_close(value.grad, torch.tensor([0.6, 0.8]))
