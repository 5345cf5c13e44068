"""The decode loop: batched autoregressive sampling with a KV cache, for rollouts and for ``evaluate --model``.

Why not ``model.generate``: on the small models PPO research iterates with, HF's generate spends much of each step
outside the model — per-step processor/stopping-criteria plumbing, and ``torch.multinomial`` (about 3 ms per call
for 16 rows × 8k vocabulary on one CPU core). It also silently applies the checkpoint's ``generation_config``
(e.g. Qwen2.5-Instruct's ``repetition_penalty: 1.1``, ``top_k: 20``), which the PPO log-probs would not include. This
loop does only what `GenerationOptions` says: one forward per step on the newest token, the caller's logits
processors, temperature → top-k → top-p (HF's order and semantics), then a draw by inverting the CDF with one
uniform number per row (the same distribution as ``torch.multinomial``, at a fifteenth of its CPU cost).

Rows stop at an EOS id or when a stop string is completed (also one that overhangs into the prompt, as in HF's
``StopStringCriteria``); after that they are filled with the pad id. The loop ends when every row has stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lit_coderl.models import accepts_logits_to_keep, forward_parameters
from lit_coderl.ppo import logprobs_and_entropy


@dataclass
class GenerationOptions:
    """Sampling settings of rollouts (and of ``evaluate --model``). ``temperature == 0`` is greedy decoding."""

    max_new_tokens: int = 256
    """Longest response; responses cut here get the missing-EOS penalty."""
    temperature: float = 1.0
    """Sampling temperature; log-probs are computed from logits divided by it, so PPO stays on-policy."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0 = off)."""
    top_k: int = 0
    """Top-k sampling (0 = off)."""
    stop_strings: list[str] = field(default_factory=list)
    """Extra strings that end a response (besides EOS), e.g. a closing code fence."""
    max_prompt_tokens: int = 512
    """Prompts longer than this are cut from the left (the chat template's assistant header and the instruction at
    the end are kept); cuts are counted (``rollout/truncated_prompts``) and warned about."""
    min_new_tokens: int = 16
    """A prompt that leaves fewer new tokens than this in the model's context (``max_position_embeddings``) is
    refused with an error (a room check, not a forced minimum length)."""
    samples_per_prompt: int = 1
    """K: answers sampled for each prompt in one rollout (a batch of ``data.batch_size`` prompts holds
    ``batch_size × K`` answers, grouped by prompt in ``Rollout.group_ids``; the groups rank-local under DDP). ≥ 2 for
    the group baselines (``ppo.advantage: rloo | grpo``). Validation samples one greedy answer per prompt."""


def eos_token_ids(model, tokenizer) -> set[int]:
    """The tokenizer's EOS id plus those in the model's generation config (chat models often list several)."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    return {i for i in ids if i is not None}


def warp_logits(
    logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """Temperature, then top-k, then top-p filtering (filtered logits become ``-inf``), as HF's warpers do.

    Top-p keeps the smallest set of most likely tokens whose probability reaches ``top_p`` (at least one token).
    Neither filter sorts the whole vocabulary: both take a threshold from ``torch.topk`` (see `top_p_drop`).
    ``keep`` (token ids ``[...]``, training only) are never filtered: a sampled token stays in the support even where
    recomputed logits put it a rounding error outside the nucleus.
    """
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    drop = None
    if top_k and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        drop = logits < kth
    if top_p < 1.0:
        nucleus_drop = top_p_drop(logits if drop is None else logits.masked_fill(drop, float("-inf")), top_p)
        drop = nucleus_drop if drop is None else drop | nucleus_drop
    if drop is None:
        return logits
    if keep is not None:
        drop = drop.scatter(-1, keep.unsqueeze(-1), False)
    return logits.masked_fill(drop, float("-inf"))


def top_p_drop(logits: torch.Tensor, top_p: float, ks: tuple[int, ...] = (64, 1024)) -> torch.Tensor:
    """Where top-p drops a token: where its own and all less likely tokens' mass is at most ``1 − top_p`` (HF's rule).

    Instead of sorting the vocabulary, the ``k`` most likely tokens are taken with ``torch.topk`` (``k`` from ``ks``
    until the nucleus ends inside them in every row; straight to a full sort when they hold under half of ``top_p``,
    a flat distribution); the mass of the rest is added to their tail sums, and the nucleus is everything at or
    above the smallest kept logit. Same set as a full sort, bar ties at the boundary. Qwen's 151,936-token vocabulary,
    batch 4, top-p 0.95 on one CPU thread: 3.1 ms instead of 108 ms per step for LM-like (peaked) logits, 85 ms
    instead of 71 ms for flat ones (``benchmarks/top_p.py``)."""
    vocab = logits.shape[-1]
    probs = torch.softmax(logits, dim=-1)
    sizes = [*(k for k in ks if k < vocab), vocab]
    while sizes:
        k = sizes.pop(0)
        if k < vocab:
            top_probs, top_idx = torch.topk(probs, k, dim=-1)  # descending
            rest = (probs.sum(-1, keepdim=True) - top_probs.sum(-1, keepdim=True)).clamp(min=0)
        else:
            top_probs, top_idx = torch.sort(probs, dim=-1, descending=True)
            rest = 0.0
        tail = top_probs.flip(-1).cumsum(-1).flip(-1) + rest  # own mass plus every less likely token's
        kept = tail > 1.0 - top_p
        kept[..., 0] = True  # the most likely token always stays
        if k == vocab or not bool(kept[..., -1].any()):
            break
        if float(top_probs.sum(-1).min()) < top_p / 2:
            sizes = [vocab]  # a flat distribution (e.g. a random model): a wider topk would not save the sort
    n_kept = kept.sum(dim=-1, keepdim=True)
    threshold = logits.gather(-1, top_idx.gather(-1, n_kept - 1))
    return logits < threshold


def policy_logits(
    logits: torch.Tensor, options: GenerationOptions, constrain=None, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """The one map from model logits to the distribution tokens are drawn from, used by the sampler at every step and
    by training over whole responses (old, new and reference log-probs), so that PPO stays on-policy.

    ``constrain(logits) -> logits`` applies the logits processors (sampling) or the components' `constrain_logits`
    (training) first; then, unless decoding is greedy, temperature, top-k and top-p (`warp_logits`)."""
    logits = logits.float()
    if constrain is not None:
        logits = constrain(logits)
    if options.temperature > 0:
        logits = warp_logits(logits, options.temperature, options.top_k, options.top_p, keep=keep)
    return logits


def draw(logits: torch.Tensor, greedy: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[B]`` token ids: the argmax, or one sample per row from ``softmax(logits)``.

    Sampling inverts the CDF with one uniform number per row (float64 cumulative sum; ``right=True`` so a token of
    probability 0 is never chosen). ``torch.multinomial`` draws the same distribution but costs ~15x more on CPU.
    """
    if greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float(), dim=-1)
    cdf = probs.double().cumsum(dim=-1)
    u = torch.rand((probs.shape[0], 1), dtype=torch.float64, device=probs.device, generator=generator)
    token = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    return token.clamp(max=probs.shape[-1] - 1).squeeze(-1)


class StopStrings:
    """Tells which rows' newest token completed one of ``stops`` (decoding a short tail of each row)."""

    def __init__(self, tokenizer, stops: list[str]) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        # every token decodes to at least one character (bar partial UTF-8 bytes): this tail holds any stop string
        self.window = max((len(s) for s in self.stops), default=0) + 2

    def completed(self, sequences: torch.Tensor, attention_mask: torch.Tensor, rows: list[int]) -> list[int]:
        done = []
        for b in rows:
            ids = sequences[b][attention_mask[b].bool()][-self.window :].tolist()
            before = self.tokenizer.decode(ids[:-1], skip_special_tokens=False)
            after = self.tokenizer.decode(ids, skip_special_tokens=False)
            if any(after.count(s) > before.count(s) for s in self.stops):
                done.append(b)
        return done


@dataclass
class Sampled:
    """What `sample` returns: the new tokens, each row's true length, and the sampler's own log-probs."""

    tokens: torch.Tensor
    """``[B, T]`` new token ids; after a row's end, the pad id."""
    lengths: torch.Tensor
    """``[B]`` tokens each row really sampled (its EOS or stop-string token included); the response mask."""
    ended: torch.Tensor
    """``[B]`` True where the row stopped on an EOS id or a stop string (not at ``max_new_tokens``)."""
    logprobs: torch.Tensor
    """``[B, T]`` log-probability of each sampled token under the distribution it was drawn from (0 after the end)."""
    entropy: torch.Tensor
    """``[B, T]`` entropy of the distribution each token was drawn from (0 after the end)."""
    values: torch.Tensor | None = None
    """``[B, T]`` ``value_fn`` of the state each token was drawn in (0 after the end); None without ``value_fn``."""

    def mask(self) -> torch.Tensor:
        """``[B, T]`` float mask of the sampled tokens, from ``lengths``."""
        steps = torch.arange(self.tokens.shape[1], device=self.lengths.device)
        return (steps[None, :] < self.lengths[:, None]).float()


@torch.no_grad()
def sample(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    settings: GenerationOptions,
    eos_ids: set[int],
    pad_id: int,
    tokenizer=None,
    logits_processors: list | None = None,
    value_fn=None,
) -> Sampled:
    """New tokens for left-padded prompts (``T <= max_new_tokens``; stopped rows padded), their true lengths,
    log-probs and entropies. Each step draws from `policy_logits` (processors, temperature, top-k, top-p).

    ``settings.max_prompt_tokens`` is not used here (prompts arrive tokenized). ``logits_processors`` are HF-style
    callables ``(input_ids [B, L], scores [B, V]) -> scores``, applied before warping; ``tokenizer`` is needed only
    for stop strings. ``value_fn(hidden [B, H]) -> [B]`` (a value head), when given, is applied to the model's last
    hidden state at each step, so PPO's old values come from this pass instead of a second forward.
    """
    B = input_ids.shape[0]
    device = input_ids.device
    greedy = settings.temperature <= 0
    processors = list(logits_processors or [])
    stops = StopStrings(tokenizer, settings.stop_strings) if settings.stop_strings and tokenizer else None
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=device)

    sequences, mask = input_ids, attention_mask.long()
    # left padding: positions count real tokens only
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    keep = {"logits_to_keep": 1} if accepts_logits_to_keep(model) else {}
    hidden = {"output_hidden_states": True} if value_fn is not None else {}
    out = model(input_ids=sequences, attention_mask=mask, position_ids=positions, use_cache=True, **keep, **hidden)
    # transformers >= 5.2x names the KV cache `cache`, earlier releases `past_key_values`
    cache_keyword = "cache" if "cache" in forward_parameters(model) else "past_key_values"
    cache = out[cache_keyword]
    next_position = positions[:, -1:] + 1
    logits = out.logits[:, -1, :]

    def constrain(scores: torch.Tensor) -> torch.Tensor:
        for processor in processors:
            scores = processor(sequences, scores)
        return scores

    running = torch.ones(B, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    new_tokens, logprobs, entropies, values = [], [], [], []
    for step in range(settings.max_new_tokens):
        scores = policy_logits(logits, settings, constrain=constrain)
        token = draw(scores, greedy)
        token = torch.where(running, token, torch.full_like(token, pad_id))
        logprob, entropy = logprobs_and_entropy(scores, token)  # as training computes them
        logprobs.append(torch.where(running, logprob, torch.zeros_like(logprob)))
        entropies.append(torch.where(running, entropy, torch.zeros_like(entropy)))
        if value_fn is not None:
            # the hidden state that predicted this token is the state the value of this token is the value of
            value = value_fn(out.hidden_states[-1][:, -1]).float()
            values.append(torch.where(running, value, torch.zeros_like(value)))
        new_tokens.append(token)
        lengths += running.long()
        sequences = torch.cat([sequences, token[:, None]], dim=1)
        mask = torch.cat([mask, running.long()[:, None]], dim=1)
        running = running & ~torch.isin(token, eos)
        if stops is not None:
            live = running.nonzero().flatten().tolist()
            for b in stops.completed(sequences, mask, live):
                running[b] = False
        if not bool(running.any()) or step == settings.max_new_tokens - 1:
            break
        step_inputs = {cache_keyword: cache}
        out = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=next_position,
            use_cache=True,
            **step_inputs,
            **hidden,
        )
        cache, next_position = out[cache_keyword], next_position + 1
        logits = out.logits[:, -1, :]
    if not new_tokens:
        empty = torch.empty((B, 0), device=device)
        no_values = empty if value_fn is not None else None
        return Sampled(empty.long(), lengths, torch.zeros(B, dtype=torch.bool, device=device), empty, empty, no_values)
    stacked_values = torch.stack(values, dim=1) if value_fn is not None else None
    tokens, logprobs, entropies = (torch.stack(x, dim=1) for x in (new_tokens, logprobs, entropies))
    return Sampled(tokens, lengths, ~running, logprobs, entropies, stacked_values)
