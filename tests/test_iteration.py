"""The iteration's pure pieces: device-safe reward assembly, TRL's eos baseline, the LR schedule, prompt encoding."""

from __future__ import annotations

import pytest
import torch

from lit_coderl import ppo
from lit_coderl.iteration import assemble_rewards
from lit_coderl.optim import lr_factor
from lit_coderl.ppo import PPOConfig
from lit_coderl.rewards.base import RewardComponent, score_components
from lit_coderl.rollout import Rollout, encode_prompts
from lit_coderl.sampling import GenerationOptions


def test_reward_assembly_keeps_cpu_scores_off_the_device():
    """Components score on the CPU; the module's tensors live on its device. ``meta`` stands in for CUDA: any
    CPU/device mix raises there, as it would on a GPU (the old ``sum(..., torch.zeros_like(mask))`` did)."""
    B, T = 3, 5
    on_device = {name: torch.zeros(B, T, device="meta") for name in ("old", "ref", "values")}
    mask = torch.ones(B, T, device="meta")
    scores, sequence = {"a": torch.ones(B, T)}, {"a": torch.ones(B)}
    ended = torch.tensor([True, False, True])
    for placement in ("dense", "eos"):
        t = assemble_rewards(
            scores, sequence, {"a": 0.5}, mask, on_device["old"], on_device["ref"], on_device["values"], ended,
            PPOConfig(whiten_rewards=True), placement,
        )  # fmt: skip
        assert {x.device.type for x in (t.weighted, t.kl, t.rewards, t.advantages, t.returns)} == {"meta"}


def test_eos_places_the_sequence_score_once():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    spread = torch.tensor([[0.8, 0.8, 0.8, 0.0]])  # a verdict of 0.8 spread as a constant over three tokens
    once = ppo.place_scores(spread, mask, "eos", torch.tensor([0.8]))
    assert once[0].tolist() == pytest.approx([0.0, 0.0, 0.8, 0.0])
    assert ppo.place_scores(spread, mask, "eos")[0].tolist() == pytest.approx([0.0, 0.0, 2.4, 0.0])  # token total


class _Verdict(RewardComponent):
    default_name = "verdict"

    def score(self, rollout):
        scores = rollout.zeros()
        scores[:, :2] = 0.8
        self.record_sequence_scores(rollout, [0.8] * rollout.batch_size)
        return scores


class _Flags(RewardComponent):
    default_name = "flags"

    def score(self, rollout):
        scores = rollout.zeros()
        scores[:, 0] = -1.0
        scores[:, 1] = -1.0
        return scores


def test_sequence_scores_are_recorded_verdicts_or_token_sums(tiny_tokenizer):
    rollout = Rollout.from_texts(tiny_tokenizer, ["def add(a, b):", "x = 1"])
    scores, sequence, nonfinite = score_components(rollout, [_Verdict(), _Flags()])
    assert sequence["verdict"].tolist() == pytest.approx([0.8, 0.8])  # once, not 0.8 × tokens
    assert sequence["flags"].tolist() == [-2.0, -2.0]  # two flagged tokens
    assert scores["verdict"].sum(1).tolist() == pytest.approx([1.6, 1.6]) and nonfinite == 0
    other = Rollout.from_texts(tiny_tokenizer, ["y = 2"])  # a stale record is not reused for another rollout
    assert _Verdict().sequence_score(other, torch.ones(1, 3)).tolist() == [3.0]


def test_warm_up_ends_without_a_jump():
    linear = [lr_factor(i, 3, 10, "linear") for i in range(10)]
    assert linear == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7])
    cosine = [lr_factor(i, 4, 20, "cosine") for i in range(20)]
    assert max(abs(a - b) for a, b in zip(cosine[:-1], cosine[1:], strict=True)) <= 0.25 + 1e-9  # warm-up slope
    assert [lr_factor(i, 0, 4, "linear") for i in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_prompts_are_cut_from_the_left_and_counted(tiny_tokenizer):
    long = "def add(a, b):\n    return a + b\n" * 4
    ids = tiny_tokenizer(long, add_special_tokens=False)["input_ids"]
    query, mask, cut = encode_prompts(tiny_tokenizer, [long, "x = 1"], GenerationOptions(max_prompt_tokens=10))
    assert cut == 1 and query.shape == (2, 10)
    assert query[0].tolist() == ids[-10:]  # the end of the prompt (the assistant header) survives
    short = tiny_tokenizer("x = 1", add_special_tokens=False)["input_ids"]
    assert mask[1].tolist() == [0] * (10 - len(short)) + [1] * len(short)


def test_a_prompt_without_room_to_answer_is_refused(tiny_tokenizer):
    options = GenerationOptions(max_prompt_tokens=64, max_new_tokens=32, min_new_tokens=16)
    prompt = "def add(a, b):\n    return a + b\n" * 4
    n = len(tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"])
    encode_prompts(tiny_tokenizer, [prompt], options, context=n + 16)  # exactly enough room
    with pytest.raises(ValueError, match=r"room for only 15 new tokens.*generation.min_new_tokens=16"):
        encode_prompts(tiny_tokenizer, [prompt], options, context=n + 15)


@pytest.mark.parametrize("critic", ["adapter", "model"])
def test_sampler_mode_values_of_a_separate_critic_are_its_forward(random_model_dir, critic):
    """A critic with its own forward (``adapter``, ``model``) cannot take values from the sampler: its values are
    computed by `PolicyAndValue.critic_values`, equal to the full forward's."""
    from lit_coderl.iteration import response_logits_and_values, sampler_logprobs_values_entropy
    from lit_coderl.models import LoraOptions, ModelOptions, build_networks, load_tokenizer
    from lit_coderl.rollout import generate

    options = ModelOptions(name_or_path=str(random_model_dir), lora=LoraOptions(r=2, alpha=4), critic=critic)
    net, tokenizer = build_networks(options), load_tokenizer(str(random_model_dir))
    generation = GenerationOptions(max_new_tokens=12)
    torch.manual_seed(0)
    rollout = generate(net.policy, tokenizer, ["def f(x):", "x = 1"], generation)
    assert rollout.sampler_values is None
    old, values, entropy = sampler_logprobs_values_entropy(net, rollout, 1, "cpu")
    with torch.no_grad():
        _, expected = response_logits_and_values(net, rollout, slice(None), "cpu", generation)
    torch.testing.assert_close(values, expected * rollout.response_mask, rtol=0, atol=1e-6)
    assert old is not None and entropy.shape == rollout.response_ids.shape
