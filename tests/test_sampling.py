import pytest
import torch

from lit_coderl import ppo
from lit_coderl.models import TINY_MODEL_DIR
from lit_coderl.rollout import generate, response_mask_from_ids
from lit_coderl.sampling import GenerationOptions, StopStrings, draw, sample, warp_logits

NEG = float("-inf")


def test_temperature_divides_the_logits():
    logits = torch.tensor([[2.0, 1.0, -1.0]])
    assert warp_logits(logits, temperature=0.5).tolist() == [[4.0, 2.0, -2.0]]
    assert warp_logits(logits, temperature=1.0) is logits  # no copy when nothing changes


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0], [5.0, 4.0, 3.0, 2.0]])
    assert warp_logits(logits, 1.0, top_k=2).tolist() == [[NEG, 3.0, 2.0, NEG], [5.0, 4.0, NEG, NEG]]


def test_top_p_keeps_the_smallest_set_reaching_p():
    # probabilities 0.5, 0.3, 0.15, 0.05
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda p: torch.isfinite(warp_logits(logits, 1.0, top_p=p))[0].tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.6) == [True, True, False, False]
    assert kept(0.8) == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    assert kept(0.81) == [True, True, True, False]
    assert kept(0.01) == [True, False, False, False]  # the most likely token always stays


def test_top_k_then_top_p_in_hf_order():
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]]))
    # top-k 3 renormalises to 4/9, 3/9, 2/9; top-p 0.7 then keeps the first two (7/9 >= 0.7)
    out = warp_logits(logits, 1.0, top_k=3, top_p=0.7)
    assert torch.isfinite(out)[0].tolist() == [True, True, False, False]


def test_draw_is_argmax_when_greedy():
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    assert draw(logits, greedy=True).tolist() == [1, 0]


def test_draw_samples_from_the_softmax():
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    logits = torch.log(probs).expand(40000, 4)
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(draw(logits, greedy=False, generator=g), minlength=4).float() / 40000
    assert counts[3] == 0  # a token with probability 0 is never drawn
    # binomial standard error at n=40000 is <= 0.0025: allow 4 of them
    assert torch.allclose(counts, probs, atol=0.01)


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR).eval()
    return model, tokenizer


PROMPTS = ["def add(a, b):\n", "import os\n\ndef list_files(path):\n    '''List the files.'''\n", "x = ["]


def _encode(tokenizer, prompts):
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)


def test_greedy_equals_hf_generate_token_for_token(tiny):
    """Left padding, positions and the KV cache are driven exactly as HF's generate drives them."""
    model, tokenizer = tiny
    enc = _encode(tokenizer, PROMPTS)
    hf = model.generate(
        **enc,
        do_sample=False,
        max_new_tokens=40,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )[:, enc["input_ids"].shape[1] :]
    ours = sample(
        model,
        enc["input_ids"],
        enc["attention_mask"],
        GenerationOptions(max_new_tokens=40, temperature=0.0),
        eos_ids={tokenizer.eos_token_id},
        pad_id=tokenizer.pad_token_id,
    ).tokens
    assert ours.shape == hf.shape
    assert torch.equal(ours, hf)


def test_sampled_tokens_follow_the_policy_and_stop_at_eos(tiny):
    """Samples end at EOS (then pad), and their log-probs under a full forward match the sampler's scores."""
    model, tokenizer = tiny
    prompts = ["<|im_start|>user\nWrite add(a, b).<|im_end|>\n<|im_start|>assistant\n"] * 8
    enc = _encode(tokenizer, prompts)
    seen = []

    def record(input_ids, scores):
        seen.append(torch.log_softmax(scores, -1))
        return scores

    torch.manual_seed(0)
    out = sample(
        model,
        enc["input_ids"],
        enc["attention_mask"],
        GenerationOptions(max_new_tokens=96, temperature=1.0),
        eos_ids={tokenizer.eos_token_id},
        pad_id=tokenizer.pad_token_id,
        logits_processors=[record],
    )
    mask, ended, sampler_logprobs = out.mask(), out.ended, out.logprobs
    out = out.tokens
    assert len(seen) == out.shape[1]
    for b in range(len(prompts)):
        n = int(mask[b].sum())
        assert (out[b, n:] == tokenizer.pad_token_id).all()
    assert bool(ended.any())
    inputs = torch.cat([enc["input_ids"], out], dim=1)
    attention = torch.cat([enc["attention_mask"], mask.long()], dim=1)
    positions = (attention.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=inputs, attention_mask=attention, position_ids=positions).logits
    q = enc["input_ids"].shape[1]
    full = torch.log_softmax(logits[:, q - 1 : -1].float(), -1).gather(-1, out[..., None])[..., 0]
    sampler = torch.stack(seen, 1).gather(-1, out[..., None])[..., 0]
    assert torch.allclose(full[mask > 0], sampler[mask > 0], atol=1e-4)
    assert torch.allclose(sampler_logprobs[mask > 0], sampler[mask > 0], atol=1e-6)  # what sample() reports


class _Script:
    """A logits processor that forces the given tokens, one per step, in every row."""

    def __init__(self, token_ids):
        self.token_ids = token_ids
        self.step = 0

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, NEG)
        forced[:, self.token_ids[min(self.step, len(self.token_ids) - 1)]] = 0.0
        self.step += 1
        return forced


def _forced(tiny, prompt: str, text: str, stop: str, max_new_tokens: int) -> tuple[torch.Tensor, list[int]]:
    """Sample after ``prompt`` with the tokens of ``text`` forced one per step and ``stop`` as the stop string."""
    model, tokenizer = tiny
    script = tokenizer(text, add_special_tokens=False)["input_ids"]
    enc = _encode(tokenizer, [prompt])
    out = sample(
        model,
        enc["input_ids"],
        enc["attention_mask"],
        GenerationOptions(max_new_tokens=max_new_tokens or len(script), stop_strings=[stop]),
        eos_ids={tokenizer.eos_token_id},
        pad_id=tokenizer.pad_token_id,
        tokenizer=tokenizer,
        logits_processors=[_Script(script)],
    )
    return out.tokens, script


def test_stop_string_ends_the_row_on_the_token_that_completes_it(tiny):
    _, tokenizer = tiny
    out, _ = _forced(tiny, "def f():\n", "x = 1\n``` trailing text", "```", 20)
    text = tokenizer.decode(out[0], skip_special_tokens=True)
    assert text.startswith("x = 1\n```") and "trailing" not in text
    mask, ended = response_mask_from_ids(out, {tokenizer.eos_token_id}, tokenizer.pad_token_id, 20)
    assert bool(ended[0]) and int(mask[0].sum()) < 20


def test_stop_string_may_overhang_into_the_prompt(tiny):
    """As in HF's StopStringCriteria: the prompt ends with a newline, the first new token is ``def``."""
    _, tokenizer = tiny
    out, script = _forced(tiny, "x = 1\n", "def g(): pass", "\ndef", 10)
    assert tokenizer.decode(out[0], skip_special_tokens=True) == tokenizer.decode(script[:1])
    assert StopStrings(tokenizer, ["\ndef"]).window == len("\ndef") + 2


def test_a_stop_string_inside_the_prompt_alone_does_not_stop(tiny):
    out, script = _forced(tiny, "```\nx", " = 2\ny = 3", "```", 0)
    assert out[0].tolist() == script


def test_generate_ignores_the_checkpoints_generation_config(tiny):
    """Settings in generation_config.json (Qwen2.5-Instruct ships repetition_penalty, top_k, top_p) would make PPO's
    log-probs off-policy: none is applied. Here: a suppressed token, which HF's generate would never emit."""
    model, tokenizer = tiny
    prompt = ["def f():\n    return ["]
    enc = _encode(tokenizer, prompt)
    plain = (
        sample(
            model,
            enc["input_ids"],
            enc["attention_mask"],
            GenerationOptions(30, 0.0),
            eos_ids={tokenizer.eos_token_id},
            pad_id=tokenizer.pad_token_id,
        )
        .tokens[0]
        .tolist()
    )
    model.generation_config.suppress_tokens = [plain[0]]
    try:
        penalised = model.generate(**enc, do_sample=False, max_new_tokens=30, pad_token_id=tokenizer.pad_token_id)
        rollout = generate(model, tokenizer, prompt, GenerationOptions(max_new_tokens=30, temperature=0.0))
    finally:
        model.generation_config.suppress_tokens = None
    ids = rollout.response_ids[0][rollout.response_mask[0] > 0].tolist()
    assert ids == plain[: len(ids)]
    assert ids != penalised[0, enc["input_ids"].shape[1] :].tolist()[: len(ids)]  # HF would have applied it


def test_zero_new_tokens_gives_an_empty_response(tiny):
    model, tokenizer = tiny
    enc = _encode(tokenizer, ["a"])
    out = sample(model, enc["input_ids"], enc["attention_mask"], GenerationOptions(max_new_tokens=0), {0}, 0)
    assert out.tokens.shape == (1, 0) and out.lengths.tolist() == [0]


def _sorted_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The reference: HF's TopPLogitsWarper rule, with a full ascending sort."""
    sorted_logits, sorted_idx = torch.sort(logits, dim=-1)
    drop_sorted = sorted_logits.softmax(-1).cumsum(-1) <= 1.0 - top_p
    drop_sorted[..., -1] = False
    return logits.masked_fill(drop_sorted.scatter(-1, sorted_idx, drop_sorted), float("-inf"))


@pytest.mark.parametrize("top_p", [0.05, 0.5, 0.9, 0.95, 0.999])
def test_top_p_without_a_sort_is_the_sorted_distribution(top_p):
    g = torch.Generator().manual_seed(0)
    # peaked rows (the nucleus inside the first 64) and flat ones (it takes the wider topk passes)
    logits = torch.cat([torch.randn(8, 5000, generator=g) * 4, torch.randn(8, 5000, generator=g) * 0.1])
    ours, reference = warp_logits(logits, 1.0, top_p=top_p), _sorted_top_p(logits, top_p)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(reference))
    torch.testing.assert_close(ours.softmax(-1), reference.softmax(-1), rtol=0, atol=1e-7)


def test_sampler_and_training_log_probs_agree(tiny):
    """PPO's log-probs (`iteration.response_logits_and_values`) are the sampler's: temperature, top-k, top-p and a
    constraint, through the one `policy_logits`."""
    from lit_coderl.iteration import response_logits_and_values
    from lit_coderl.models import PolicyAndValue

    model, tokenizer = tiny
    banned = torch.arange(0, len(tokenizer), 7)  # a constraint: every 7th token id is never sampled

    def processor(input_ids, scores):
        return scores.index_fill(-1, banned, float("-inf"))

    def constrain(logits):
        return logits.index_fill(-1, banned, float("-inf"))

    options = GenerationOptions(max_new_tokens=48, temperature=0.7, top_k=40, top_p=0.9)
    torch.manual_seed(0)
    rollout = generate(model, tokenizer, ["def add(a, b):\n", "import os\n", "x = ["] * 2, options, [], [processor])
    net = PolicyAndValue(model, frozen_reference=False)
    mask = rollout.response_mask > 0
    with torch.no_grad():
        logits, _ = response_logits_and_values(net, rollout, slice(None), "cpu", options, constrain=constrain)
    training = torch.log_softmax(logits, -1).gather(-1, rollout.response_ids[..., None])[..., 0]
    assert mask.sum() > 100
    assert (training[mask] - rollout.sampler_logprobs[mask]).abs().max() <= 1e-5
    assert not torch.isin(rollout.response_ids[mask], banned).any()
    # what training computed before (temperature and constraint only) was off-policy
    before = torch.log_softmax(constrain(_raw_logits(net, rollout) / 0.7), -1)
    before = before.gather(-1, rollout.response_ids[..., None])[..., 0]
    assert (before[mask] - rollout.sampler_logprobs[mask]).abs().mean() > 1e-2


def test_sampler_values_and_entropy_are_a_recomputations(tiny):
    """With the value head given to the sampler, PPO's old values, log-probs and entropy need no second forward: they
    equal what a full-sequence forward computes (float32, KV cache vs one pass: within 1e-5)."""
    from lit_coderl.iteration import response_logits_and_values
    from lit_coderl.models import PolicyAndValue

    model, tokenizer = tiny
    net = PolicyAndValue(model, frozen_reference=False)
    torch.nn.init.normal_(net.value_head.summary.weight, std=0.5)  # a head that is far from 0 everywhere
    options = GenerationOptions(max_new_tokens=40, temperature=0.8, top_k=50, top_p=0.9)
    torch.manual_seed(1)
    rollout = generate(model, tokenizer, ["def f(x):\n", "for i in", "class A:\n"], options, value_fn=net.value_head)
    mask = rollout.response_mask > 0
    with torch.no_grad():
        logits, values = response_logits_and_values(net, rollout, slice(None), "cpu", options)
    logprobs, entropy = ppo.logprobs_and_entropy(logits, rollout.response_ids)
    assert mask.sum() > 40 and values.abs()[mask].mean() > 0.1
    assert (values[mask] - rollout.sampler_values[mask]).abs().max() <= 1e-5
    assert (logprobs[mask] - rollout.sampler_logprobs[mask]).abs().max() <= 1e-5
    assert (entropy[mask] - rollout.sampler_entropy[mask]).abs().max() <= 1e-4
    assert (rollout.sampler_values[~mask] == 0).all() and (rollout.sampler_entropy[~mask] == 0).all()


def _raw_logits(net, rollout):
    from lit_coderl.iteration import sequence_inputs

    ids, attention, positions = sequence_inputs(rollout, slice(None), "cpu")
    with torch.no_grad():
        logits = net.policy(input_ids=ids, attention_mask=attention, position_ids=positions).logits
    q, t = rollout.query_ids.shape[1], rollout.response_ids.shape[1]
    return logits[:, q - 1 : q + t - 1].float()


class _RowScript:
    """Forces ``rows[b][step]`` in row ``b`` (the last token repeats)."""

    def __init__(self, rows):
        self.rows, self.step = rows, 0

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, NEG)
        for b, row in enumerate(self.rows):
            forced[b, row[min(self.step, len(row) - 1)]] = 0.0
        self.step += 1
        return forced


def test_a_row_stopped_by_a_stop_string_masks_its_padding_even_when_pad_is_an_eos(tiny):
    """Qwen2.5 lists its pad token among the EOS ids: the padding after a stop string is not a sampled EOS."""
    model, tokenizer = tiny
    stop_row = tokenizer("x = 1\n```", add_special_tokens=False)["input_ids"]
    long_row = tokenizer("y = 2\nz = 3\nw = 4\nv = 5", add_special_tokens=False)["input_ids"]
    original = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    try:
        rollout = generate(
            model, tokenizer, ["a", "b"], GenerationOptions(max_new_tokens=len(long_row), stop_strings=["```"]),
            logits_processors=[_RowScript([stop_row, long_row])],
        )  # fmt: skip
    finally:
        model.generation_config.eos_token_id = original
    lengths = rollout.response_mask.sum(1).tolist()
    assert lengths == [len(stop_row), len(long_row)]
    assert rollout.response_ids[0, len(stop_row)] == tokenizer.pad_token_id  # padding, outside the mask
    assert rollout.ended.tolist() == [True, False]
