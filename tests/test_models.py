"""Policy, reference and critic construction."""

import pytest
import torch

from lit_coderl.models import LoraOptions, ModelOptions, build_networks, resolve_model_path


def _inputs():
    ids = torch.tensor([[5, 6, 7, 8]])
    mask = torch.ones_like(ids)
    return ids, mask, (mask.cumsum(1) - 1)


@pytest.mark.parametrize("critic", ["head", "adapter", "model"])
def test_parameter_groups_are_disjoint_and_complete(random_model_dir, critic):
    net = build_networks(
        ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(r=2, alpha=4), critic=critic)
    )
    policy, value = net.policy_parameters(), net.critic_parameters()
    assert {id(p) for p in policy}.isdisjoint({id(p) for p in value})
    trainable = {id(p) for p in net.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in policy} | {id(p) for p in value}
    logits, values = net(*_inputs())
    assert logits.shape[:2] == values.shape == (1, 4)
    # gradients of the value loss reach the critic and never the policy adapter (except the shared head mode)
    values.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.value_head.parameters())
    if critic != "head":
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in policy)


def test_reference_is_the_base_with_adapters_disabled(random_model_dir):
    net = build_networks(ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(r=2, alpha=4)))
    with torch.no_grad():
        for name, param in net.policy.named_parameters():
            if "lora_B" in name:
                param.add_(0.5)  # a trained adapter
        policy_logits, _ = net(*_inputs(), with_values=False)
        with net.reference_context():
            ref_logits = net.reference_model()(input_ids=_inputs()[0]).logits
    assert not torch.allclose(policy_logits, ref_logits)
    base = build_networks(ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(enabled=False)))
    with torch.no_grad():
        base_logits = base.policy(input_ids=_inputs()[0]).logits
    assert torch.allclose(ref_logits, base_logits, atol=1e-5)
    assert base.reference is not None and not any(p.requires_grad for p in base.reference.parameters())


def test_unknown_paths_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_networks(ModelOptions(name_or_path=str(tmp_path / "missing")))
    assert resolve_model_path("Qwen/Qwen2.5-Coder-1.5B-Instruct") == "Qwen/Qwen2.5-Coder-1.5B-Instruct"


def test_adapter_critic_needs_lora(random_model_dir):
    with pytest.raises(ValueError, match="needs LoRA"):
        build_networks(
            ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(enabled=False), critic="adapter")
        )


def test_zero3_is_refused_with_a_clear_message(random_model_dir):
    from types import SimpleNamespace

    from lit_coderl.module import CodeRLModule

    module = CodeRLModule(model=ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(r=2, alpha=4)))
    module._trainer = SimpleNamespace(strategy=SimpleNamespace(config={"zero_optimization": {"stage": 3}}))
    with pytest.raises(ValueError, match="ZeRO-3 is not supported"):
        module.setup("fit")
    stage2 = SimpleNamespace(config={"zero_optimization": {"stage": 2}}, load_checkpoint=lambda *a, **k: None)
    module._trainer = SimpleNamespace(strategy=stage2, global_rank=0)
    module.setup("fit")  # ZeRO-2 is accepted
