"""SyntaxReward's SynCode backend (optional extra), generation-time checks, constrained decoding."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from lit_coderl.rewards import syncode_backend
from lit_coderl.rewards.syncode_backend import SyncodeUnavailableError, vocab_hash
from lit_coderl.rewards.syntax import (
    INFO_ALLOWED,
    INFO_CONSTRAINED,
    MASKED_LOGIT,
    SyntaxReward,
    pack_bits,
    python_prefix_status,
    replay_through_processor,
    unpack_bits,
)
from lit_coderl.rollout import Rollout, response_mask_from_ids

SYNCODE_INSTALLED = importlib.util.find_spec("syncode") is not None
needs_syncode = pytest.mark.skipif(
    not SYNCODE_INSTALLED,  # only a missing package skips: an installed SynCode that fails to load fails the tests
    reason="syncode is not installed (pip install 'lit_coderl[syncode]' && pip install --no-deps syncode==0.4.16)",
)

@needs_syncode
def test_an_installed_syncode_loads():
    """SynCode is installed: its grammar-mask modules must load (a broken import is a failure, never a skip)."""
    modules = syncode_backend.load_syncode()
    assert modules.SyncodeLogitsProcessor.__name__ == "SyncodeLogitsProcessor" and syncode_backend.syncode_available()


TEXTS = [
    "def add(a, b)):\n    return a\n",
    "Here is the code:\n```python\ndef f(x)):\n    return x\n```\nThanks!",
    'x = f"{a!r:>10}"\ny = 1\n',
    "def f(x):\n    return x + 1\n",
    "x = 1 +* 2\n",
    "def f(x):\n    return (x\n",
    "```python\nx = 1\n```",
    "s = 'café'\n",
]


@pytest.fixture(scope="session")
def syncode_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("syncode-cache"))


def _reward(syncode_cache, **kwargs) -> SyntaxReward:
    return SyntaxReward(syncode_cache_dir=syncode_cache, **{"spreading": "constant", **kwargs})


def _flagged(rollout, scores, i):
    return [rollout.texts[i][slice(*rollout.offsets[i][t])] for t in rollout.code_token_indices(i) if scores[i, t] < 0]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("x = 0o", "incomplete"),  # a number still being written
        ("x = 0b", "incomplete"),
        ("x = 0o8", "invalid"),
        ('x = 1 + "ab', "incomplete"),
        ('x = ((1]) + "ab', "invalid"),  # an open string at the end does not hide an earlier error
        ('def f((a):\n    """Doc', "invalid"),
        ('def f(a):\n    """Doc\n    more', "incomplete"),
    ],
)
def test_prefix_status_open_token_at_the_end(text, status):
    assert python_prefix_status(text) == status


def test_bit_packing_round_trip():
    mask = torch.rand(3, 5, 643) > 0.5
    packed = pack_bits(mask)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 5, 81)
    assert torch.equal(unpack_bits(packed, 643), mask)


def test_vocab_hash_tells_same_size_vocabularies_apart(tiny_tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=tiny_tokenizer.vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [f'value_{i} = compute_{i % 7}(item_{i * 3}, key="k{i}")\n' for i in range(400)]
    tok.train_from_iterator(corpus, trainer=trainer)
    other = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    # SynCode's own cache key (class name + vocab size) would be the same for both
    assert type(other) is type(tiny_tokenizer) and other.vocab_size == tiny_tokenizer.vocab_size
    assert vocab_hash(other) != vocab_hash(tiny_tokenizer)
    assert vocab_hash(tiny_tokenizer) == vocab_hash(tiny_tokenizer)


def test_missing_extra_gives_install_command(monkeypatch):
    monkeypatch.delitem(sys.modules, "syncode", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "syncode" else real_find_spec(name, *a)
    )
    with pytest.raises(SyncodeUnavailableError, match="pip install --no-deps syncode==0.4.16"):
        SyntaxReward(backend="syncode")


def test_argument_errors():
    with pytest.raises(ValueError, match="needs backend='syncode'"):
        SyntaxReward(mode="constrain")
    with pytest.raises(ValueError, match="unknown syntax backend"):
        SyntaxReward(backend="lark")
    with pytest.raises(ValueError, match="unknown check"):
        SyntaxReward(check="sometimes")


@needs_syncode
def test_syncode_flags_code_region_only(tiny_tokenizer, syncode_cache):
    rollout = Rollout.from_texts(tiny_tokenizer, TEXTS)
    reward = _reward(syncode_cache, backend="syncode", valid_bonus=0.25)
    reward.set_tokenizer(tiny_tokenizer)
    scores = reward.score(rollout)
    assert _flagged(rollout, scores, 0) == ["):"]
    assert _flagged(rollout, scores, 1) == ["):"]  # prose and fences ignored
    assert _flagged(rollout, scores, 2) == ["{"]  # SynCode's known false flag inside an f-string
    assert _flagged(rollout, scores, 3) == []
    assert _flagged(rollout, scores, 4) == ["*"]
    assert _flagged(rollout, scores, 5) == ["\n"]  # a valid but unfinished prefix: the incomplete penalty
    assert _flagged(rollout, scores, 6) == []
    prose = [t for t in range(rollout.response_length) if t not in rollout.code_token_indices(1)]
    assert all(scores[1, t].item() == 0.0 for t in prose)
    assert scores[3, rollout.code_token_indices(3)].tolist() == [0.25] * len(rollout.code_token_indices(3))
    persistent = _reward(syncode_cache, backend="syncode", syncode_flag="persistent")
    persistent.set_tokenizer(tiny_tokenizer)
    scores = persistent.score(rollout)
    assert _flagged(rollout, scores, 2) == []  # the transient f-string flag is gone
    assert _flagged(rollout, scores, 0) == ["):"]


@needs_syncode
def test_syncode_mask_store_cached_under_vocab_hash(tiny_tokenizer, syncode_cache):
    from lit_coderl.rewards.syncode_backend import SyncodeChecker

    checker = SyncodeChecker.get(tiny_tokenizer, syncode_cache)
    assert checker.store_dir.name == vocab_hash(tiny_tokenizer)
    assert list(checker.store_dir.glob("mask_stores/*/*.pkl"))
    assert SyncodeChecker.get(tiny_tokenizer, syncode_cache) is checker


@pytest.mark.parametrize("backend", ["cpython", pytest.param("syncode", marks=needs_syncode)])
def test_flags_during_generation_equal_flags_after(tiny_tokenizer, syncode_cache, backend):
    after = _reward(syncode_cache, backend=backend, penalize_after=True)
    after.set_tokenizer(tiny_tokenizer)
    expected = after.score(Rollout.from_texts(tiny_tokenizer, TEXTS))
    during = _reward(syncode_cache, backend=backend, check="during", penalize_after=True)
    rollout = Rollout.from_texts(tiny_tokenizer, TEXTS)
    processor = during.logits_processor(tiny_tokenizer)
    replay_through_processor(processor, rollout, len(tiny_tokenizer))
    during.submit(rollout)
    assert rollout.token_info["syntax/value"].ge(0).sum() > 0  # the hook did record checks
    assert torch.equal(during.score(rollout), expected)
    assert (expected < 0).sum() >= 5


@needs_syncode
def test_constrained_decoding_is_valid_and_on_policy(random_model_dir, tiny_tokenizer, syncode_cache):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(random_model_dir).eval()
    reward = _reward(syncode_cache, backend="syncode", mode="constrain")
    processor = reward.logits_processor(tiny_tokenizer)
    prompts = ["def f(x):\n"] * 4
    enc = tiny_tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(3)
    out = model.generate(
        **enc,
        max_new_tokens=24,
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        logits_processor=[processor],
        output_scores=True,
        return_dict_in_generate=True,
        pad_token_id=tiny_tokenizer.pad_token_id,
        eos_token_id=tiny_tokenizer.eos_token_id,
    )
    response = out.sequences[:, enc["input_ids"].shape[1] :]
    mask, _ = response_mask_from_ids(response, {tiny_tokenizer.eos_token_id}, tiny_tokenizer.pad_token_id, 24)
    rollout = Rollout.from_response_ids(
        tiny_tokenizer, enc["input_ids"], enc["attention_mask"], response, mask, tasks=[{}] * 4
    )
    reward.submit(rollout)
    constrained = rollout.token_info[INFO_CONSTRAINED]
    assert bool(constrained[mask > 0].all())  # every sampled token was drawn under a grammar mask
    # every code prefix the constrained model wrote is a valid Python prefix (judged by CPython)
    for b in range(rollout.batch_size):
        for t in rollout.code_token_indices(b):
            assert python_prefix_status(rollout.code(b)[: rollout.offsets[b][t][1]]) != "invalid", rollout.texts[b]
    # on-policy: constrain_logits re-applies the recorded masks to the model's logits, giving the sampler's log-probs
    inputs = torch.cat([enc["input_ids"], response], dim=1)
    attention = torch.cat([enc["attention_mask"], mask.long()], dim=1)
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=inputs, attention_mask=attention, position_ids=positions).logits
    logits = logits[:, enc["input_ids"].shape[1] - 1 : -1].float()
    constrained_logits = reward.constrain_logits(rollout, slice(0, 4), logits)
    assert bool((constrained_logits == MASKED_LOGIT).any())
    ours = torch.log_softmax(constrained_logits, -1).gather(-1, response.unsqueeze(-1)).squeeze(-1)
    sampler = torch.log_softmax(torch.stack(out.scores, dim=1).float(), -1)
    sampler = sampler.gather(-1, response.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(ours[mask > 0], sampler[mask > 0], atol=1e-4)
    unconstrained = torch.log_softmax(logits, -1).gather(-1, response.unsqueeze(-1)).squeeze(-1)
    assert not torch.allclose(unconstrained[mask > 0], sampler[mask > 0], atol=1e-4)
    assert INFO_ALLOWED in rollout.token_info
    assert rollout.token_info[INFO_ALLOWED].dtype == torch.uint8


@needs_syncode
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["flag", "constrain"])
def test_fit_with_syncode_backend(tmp_path, random_model_dir, syncode_cache, mode):
    from lit_coderl.cli import main
    from tests.test_module import read_metrics, write_config

    callbacks = [
        {
            "class_path": "lit_coderl.rewards.syntax.SyntaxReward",
            "init_args": {"backend": "syncode", "mode": mode, "valid_bonus": 0.1, "syncode_cache_dir": syncode_cache},
        },
    ]
    config = write_config(tmp_path, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": 2})
    main(["fit", "--config", str(config)])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert float(rows[-1]["reward/syntax/mean"]) == float(rows[-1]["reward/syntax/mean"])  # a number, not NaN
    assert float(rows[0]["val/ratio"]) == pytest.approx(1.0, abs=0.1)  # on-policy even when constrained
    if mode == "constrain":
        assert float(rows[-1]["reward/syntax/constrained_share"]) > 0.0
