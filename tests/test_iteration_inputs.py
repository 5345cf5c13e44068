"""`iteration`'s sequence assembly and response slicing, exact, with a fake network whose outputs name the position
they were computed at (so a shifted slice, a dropped argument or a wrong ``logits_to_keep`` shows as a wrong number).

A left-padded prompt ``[pad, 5, 6]`` and a response ``[7, 8, pad]`` (two real tokens): the logits at absolute
position p predict token p + 1, so the response's logits and values are those of positions 2, 3, 4."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lit_coderl.iteration import (
    response_logits_and_values,
    reward_kl_coef,
    sampler_logprobs_values_entropy,
    sequence_inputs,
)
from lit_coderl.ppo import PPOConfig
from lit_coderl.sampling import GenerationOptions

ROLLOUT = SimpleNamespace(
    query_ids=torch.tensor([[0, 5, 6]]), query_mask=torch.tensor([[0, 1, 1]]),
    response_ids=torch.tensor([[7, 8, 9]]), response_mask=torch.tensor([[1.0, 1.0, 0.0]]),
)
GREEDY = GenerationOptions(temperature=0.0)  # policy_logits leaves the logits as they are


def _outputs(input_ids, position_ids):
    b, length = input_ids.shape
    positions = torch.arange(length, dtype=torch.float32).expand(b, length)
    logits = torch.stack([positions, input_ids.float(), position_ids.float()], dim=-1)  # 3 "vocabulary" channels
    return logits, positions * 10 + input_ids


class FakePolicy:
    critic_mode = "head"

    def __init__(self, reference):
        self.calls, self.reference = [], reference

    def __call__(self, input_ids, attention_mask, position_ids, with_values=False, logits_to_keep=0):
        self.calls.append({"attention_mask": attention_mask.tolist(), "position_ids": position_ids.tolist(),
                           "with_values": with_values, "logits_to_keep": logits_to_keep})
        logits, values = _outputs(input_ids, position_ids)
        return (logits[:, -logits_to_keep:] if logits_to_keep else logits), values

    def reference_model(self):
        return self.reference


class KeepingReference(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=True, logits_to_keep=0):
        self.calls.append({"use_cache": use_cache, "logits_to_keep": logits_to_keep,
                           "attention_mask": attention_mask.tolist(), "position_ids": position_ids.tolist()})
        logits, _ = _outputs(input_ids, position_ids)
        return SimpleNamespace(logits=logits[:, -logits_to_keep:] if logits_to_keep else logits)


class FullReference(nn.Module):  # a model whose forward has no logits_to_keep: full logits, sliced here
    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=True):
        assert use_cache is False
        return SimpleNamespace(logits=_outputs(input_ids, position_ids)[0])


ATTENTION = [[0, 1, 1, 1, 1, 0]]
POSITIONS = [[0, 0, 1, 2, 3, 3]]  # real tokens counted from 0; padding clamped to 0 / held
EXPECTED_LOGITS = [[[2.0, 6.0, 1.0], [3.0, 7.0, 2.0], [4.0, 8.0, 3.0]]]  # position, input id, position id


def test_sequence_inputs():
    input_ids, attention_mask, position_ids = sequence_inputs(ROLLOUT, slice(0, 1), "cpu")
    assert input_ids.tolist() == [[0, 5, 6, 7, 8, 9]]
    assert attention_mask.tolist() == ATTENTION and attention_mask.dtype == torch.long
    assert position_ids.tolist() == POSITIONS


def test_policy_logits_and_values_of_the_response_tokens():
    net = FakePolicy(None)
    logits, values = response_logits_and_values(net, ROLLOUT, slice(0, 1), "cpu", GREEDY,
                                                 constrain=lambda x: x + torch.tensor([0.0, 0.0, 100.0]))
    expected = torch.tensor(EXPECTED_LOGITS) + torch.tensor([0.0, 0.0, 100.0])  # the constraint was applied
    assert torch.equal(logits, expected)
    assert values.tolist() == [[26.0, 37.0, 48.0]]  # 10 · position + input id at positions 2, 3, 4
    assert net.calls == [{"attention_mask": ATTENTION, "position_ids": POSITIONS, "with_values": True,
                          "logits_to_keep": 4}]  # the response's 3 tokens + 1


@pytest.mark.parametrize("reference", [KeepingReference, FullReference])
def test_reference_logits_of_the_response_tokens(reference):
    model = reference()
    logits, values = response_logits_and_values(FakePolicy(model), ROLLOUT, slice(0, 1), "cpu", GREEDY,
                                                reference=True)
    assert torch.equal(logits, torch.tensor(EXPECTED_LOGITS)) and values is None
    if reference is KeepingReference:
        assert model.calls == [{"use_cache": False, "logits_to_keep": 4, "attention_mask": ATTENTION,
                                "position_ids": POSITIONS}]


def test_reward_kl_coef():
    assert reward_kl_coef(PPOConfig(kl_in="reward", kl_coef=0.3)) == 0.3
    assert reward_kl_coef(PPOConfig(kl_in="loss", kl_coef=0.3)) == 0.0
    with pytest.raises(ValueError, match=r"^kl_in must be 'reward' or 'loss', got 'both'$"):
        reward_kl_coef(PPOConfig(kl_in="both"))


def _sampled(values=None):
    return SimpleNamespace(**vars(ROLLOUT), batch_size=1, sampler_logprobs=torch.tensor([[-0.5, -1.5, 0.0]]),
                           sampler_entropy=torch.tensor([[2.0, 1.0, 0.0]]), sampler_values=values)


def test_sampler_pass_supplies_old_logprobs_values_and_entropy():
    head = SimpleNamespace(critic_mode="head")
    logprobs, values, entropy = sampler_logprobs_values_entropy(head, _sampled(torch.tensor([[1.0, 2.0, 3.0]])), 1,
                                                                "cpu")
    assert logprobs.tolist() == [[-0.5, -1.5, 0.0]] and entropy.tolist() == [[2.0, 1.0, 0.0]]
    assert values.tolist() == [[1.0, 2.0, 0.0]]  # masked: the padded token's value is 0
    none = SimpleNamespace(critic_mode="none")
    assert sampler_logprobs_values_entropy(none, _sampled(), 1, "cpu")[1] is None
    # a separate critic runs its own forward over prompt + response, sliced to the response's positions
    calls = []

    def critic_values(input_ids, attention_mask, position_ids):
        calls.append((input_ids.tolist(), attention_mask.tolist(), position_ids.tolist()))
        return torch.arange(6, dtype=torch.float32)[None] * 10
    adapter = SimpleNamespace(critic_mode="adapter", critic_values=critic_values)
    values = sampler_logprobs_values_entropy(adapter, _sampled(), 1, "cpu")[1]
    assert values.tolist() == [[20.0, 30.0, 0.0]] and calls == [([[0, 5, 6, 7, 8, 9]], ATTENTION, POSITIONS)]
    with pytest.raises(ValueError, match=r"^this rollout has no sampler log-probs \(built from texts\?\)"):
        sampler_logprobs_values_entropy(head, SimpleNamespace(sampler_logprobs=None, sampler_entropy=None), 1, "cpu")


def test_a_one_token_prompt_still_keeps_only_the_response_logits():
    rollout = SimpleNamespace(query_ids=torch.tensor([[5]]), query_mask=torch.tensor([[1]]),
                              response_ids=torch.tensor([[7, 8]]), response_mask=torch.tensor([[1.0, 1.0]]))
    net = FakePolicy(None)
    logits, values = response_logits_and_values(net, rollout, slice(0, 1), "cpu", GREEDY)
    assert net.calls[0]["logits_to_keep"] == 3
    assert logits[..., 0].tolist() == [[0.0, 1.0]] and values.tolist() == [[5.0, 17.0]]


def test_filtered_sampling_keeps_the_sampled_tokens():
    # top-k 1 keeps each position's argmax, and the token that was actually sampled there (training recomputes the
    # sampling distribution: a sampled token must stay in its support)
    rollout = SimpleNamespace(query_ids=torch.tensor([[0, 5, 6]]), query_mask=torch.tensor([[0, 1, 1]]),
                              response_ids=torch.tensor([[0, 2, 1]]), response_mask=torch.ones(1, 3))
    options = GenerationOptions(temperature=1.0, top_k=1)
    logits, _ = response_logits_and_values(FakePolicy(None), rollout, slice(0, 1), "cpu", options)
    inf = float("-inf")
    # positions 2, 3, 4: [position, input id, position id] = [2, 6, 1], [3, 0, 2], [4, 2, 3]
    assert logits.tolist() == [[[2.0, 6.0, inf], [3.0, inf, 2.0], [4.0, 2.0, inf]]]


def test_a_rollout_missing_either_sampler_tensor_is_refused():
    head = SimpleNamespace(critic_mode="head")
    for missing in ("sampler_logprobs", "sampler_entropy"):
        rollout = _sampled(torch.zeros(1, 3))
        setattr(rollout, missing, None)
        with pytest.raises(ValueError, match="no sampler log-probs"):
            sampler_logprobs_values_entropy(head, rollout, 1, "cpu")
