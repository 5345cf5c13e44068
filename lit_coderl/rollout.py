"""Rollouts: batched sampling from the policy and the `Rollout` batch every reward reads.

`Rollout` is the contract between the module and the reward components: tensors aligned on response tokens plus the
decoded text, each token's character span in it, and the character span of the code inside each response.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from lit_coderl.rewards.spans import code_token_mask, extract_code_span, token_char_offsets
from lit_coderl.sampling import GenerationOptions, eos_token_ids, sample


@dataclass
class Rollout:
    """One batch of sampled responses.

    Shapes: ``B`` samples, ``Tq`` query tokens (left padded), ``T`` response tokens (right padded).
    """

    query_ids: torch.Tensor
    """``[B, Tq]`` prompt token ids, left padded."""
    query_mask: torch.Tensor
    """``[B, Tq]`` 1 on real prompt tokens."""
    response_ids: torch.Tensor
    """``[B, T]`` sampled token ids, right padded with the pad id."""
    response_mask: torch.Tensor
    """``[B, T]`` 1.0 on sampled tokens up to and including EOS, 0.0 on padding."""
    texts: list[str]
    """Decoded responses (special tokens skipped)."""
    offsets: list[list[tuple[int, int]]]
    """``offsets[b][t]``: character span of response token ``t`` in ``texts[b]``."""
    code_spans: list[tuple[int, int]]
    """Character span of the code in each response (first fenced block, or the whole text)."""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """The dataset rows the prompts came from (tests, reference solution, robot task, ...)."""
    prompts: list[str] = field(default_factory=list)
    """The prompt texts as fed to the model."""
    ended: torch.Tensor | None = None
    """``[B]`` True where the response ended with EOS (not truncated at ``max_new_tokens``)."""
    logprobs: torch.Tensor | None = None
    """``[B, T]`` log-probs of the sampled tokens under the policy at sampling time."""
    ref_logprobs: torch.Tensor | None = None
    """``[B, T]`` log-probs under the reference policy."""
    values: torch.Tensor | None = None
    """``[B, T]`` critic values."""
    token_info: dict[str, torch.Tensor] = field(default_factory=dict)
    """Per-token ``[B, T]`` tensors recorded during generation by logits-processor hooks."""
    sampler_logprobs: torch.Tensor | None = None
    """``[B, T]`` log-probs the sampler drew each token with (`sampling.policy_logits`; 0 on padding)."""
    sampler_entropy: torch.Tensor | None = None
    """``[B, T]`` entropy of the distribution the sampler drew each token from (0 on padding)."""
    sampler_values: torch.Tensor | None = None
    """``[B, T]`` values the value head gave during sampling (0 on padding); None unless asked for."""
    truncated_prompts: int = 0
    """Prompts cut from the left to ``max_prompt_tokens``."""
    group_ids: torch.Tensor | None = None
    """``[B]`` which prompt each sample answers (the ``samples_per_prompt`` answers to one prompt share an id, and
    sit next to each other); None for a rollout built from texts."""

    @property
    def batch_size(self) -> int:
        return self.response_ids.shape[0]

    @property
    def response_length(self) -> int:
        return self.response_ids.shape[1]

    def code(self, i: int) -> str:
        start, end = self.code_spans[i]
        return self.texts[i][start:end]

    def code_token_indices(self, i: int) -> list[int]:
        """Response-token indices that carry part of sample ``i``'s code."""
        mask = code_token_mask(self.offsets[i], self.code_spans[i])
        n = int(self.response_mask[i].sum().item())
        return [t for t, inside in enumerate(mask[:n]) if inside]

    def zeros(self) -> torch.Tensor:
        """A ``[B, T]`` float tensor of zeros on the response tokens' device."""
        return torch.zeros(self.response_ids.shape, dtype=torch.float32)

    @classmethod
    def from_texts(cls, tokenizer, texts: list[str], tasks: list[dict] | None = None) -> Rollout:
        """A rollout built from given responses (tests, evaluation, scoring of offline samples)."""
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        eos = tokenizer.eos_token_id
        length = max([len(e) + 1 for e in encoded] + [1])
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        response_ids = torch.full((len(texts), length), pad, dtype=torch.long)
        response_mask = torch.zeros((len(texts), length))
        for i, ids in enumerate(encoded):
            row = ids + [eos]
            response_ids[i, : len(row)] = torch.tensor(row)
            response_mask[i, : len(row)] = 1.0
        return cls.from_response_ids(
            tokenizer,
            query_ids=torch.zeros((len(texts), 0), dtype=torch.long),
            query_mask=torch.zeros((len(texts), 0), dtype=torch.long),
            response_ids=response_ids,
            response_mask=response_mask,
            tasks=tasks or [{} for _ in texts],
        )

    @classmethod
    def from_response_ids(
        cls,
        tokenizer,
        query_ids: torch.Tensor,
        query_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
        tasks: list[dict],
        prompts: list[str] | None = None,
        ended: torch.Tensor | None = None,
    ) -> Rollout:
        """Decode responses and compute token offsets and code spans."""
        texts, offsets, spans = [], [], []
        for ids, mask in zip(response_ids.tolist(), response_mask.tolist(), strict=True):
            ids = ids[: int(sum(mask))]
            text = tokenizer.decode(ids, skip_special_tokens=True)
            off = token_char_offsets(tokenizer, ids, text)
            off += [(len(text), len(text))] * (response_ids.shape[1] - len(off))
            texts.append(text)
            offsets.append(off)
            spans.append(extract_code_span(text))
        return cls(
            query_ids=query_ids,
            query_mask=query_mask,
            response_ids=response_ids,
            response_mask=response_mask.float(),
            texts=texts,
            offsets=offsets,
            code_spans=spans,
            tasks=tasks,
            prompts=prompts or [""] * len(texts),
            ended=ended,
        )


def encode_prompts(
    tokenizer, prompts: list[str], options: GenerationOptions, context: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Left-padded ``(ids, mask)`` of the prompts, each cut **from the left** to ``options.max_prompt_tokens`` (the
    chat template's assistant header and the instruction are at the end), and how many prompts were cut.

    A prompt that leaves fewer than ``options.min_new_tokens`` new tokens (``max_new_tokens``, less what does not fit
    in the model's ``context``) is refused with a ValueError naming the limit."""
    encoded = tokenizer(list(prompts), add_special_tokens=False)["input_ids"] if prompts else []
    limit = options.max_prompt_tokens
    cut = sum(len(ids) > limit for ids in encoded)
    encoded = [ids[-limit:] if limit > 0 else [] for ids in encoded]
    longest = max([len(ids) for ids in encoded] + [0])
    room = options.max_new_tokens if context is None else min(options.max_new_tokens, context - longest)
    if room < min(options.min_new_tokens, options.max_new_tokens):
        raise ValueError(
            f"a prompt of {longest} tokens leaves room for only {max(room, 0)} new tokens in the model's context of "
            f"{context} (max_position_embeddings), fewer than generation.min_new_tokens={options.min_new_tokens}; "
            "lower generation.max_prompt_tokens or shorten the prompt"
        )
    pad = tokenizer.pad_token_id
    ids = torch.full((len(encoded), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(encoded), longest), dtype=torch.long)
    for i, row in enumerate(encoded):
        if row:
            ids[i, longest - len(row) :] = torch.tensor(row)
            mask[i, longest - len(row) :] = 1
    return ids, mask, cut


def model_context(model) -> int | None:
    """The model's context length (``max_position_embeddings``), if its config says."""
    config = getattr(model, "config", None)
    return getattr(config, "max_position_embeddings", None) if config is not None else None


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    options: GenerationOptions,
    tasks: list[dict] | None = None,
    logits_processors: list | None = None,
    gradient_checkpointing: bool = False,
    value_fn=None,
) -> Rollout:
    """Sample ``options.samples_per_prompt`` responses per prompt (batched, left padded, KV cache on;
    `sampling.sample`) as a `Rollout` whose ``group_ids`` name each sample's prompt.

    ``value_fn`` (the value head, on the policy's last hidden state) fills ``Rollout.sampler_values``.

    Prompts longer than ``options.max_prompt_tokens`` are cut from the left, counted in ``Rollout.truncated_prompts``
    and warned about. Gradient checkpointing (if the model trains with it) is switched off while sampling: it
    disables the KV cache.
    """
    device = next(model.parameters()).device
    k = max(1, options.samples_per_prompt)
    tasks = [task for task in (tasks or [{} for _ in prompts]) for _ in range(k)]
    prompts = [prompt for prompt in prompts for _ in range(k)]
    context = model_context(model)
    query_ids, query_mask, cut = encode_prompts(tokenizer, prompts, options, context)
    if cut:
        warnings.warn(
            f"{cut} of {len(prompts)} prompts were longer than generation.max_prompt_tokens="
            f"{options.max_prompt_tokens} and were cut from the left",
            stacklevel=2,
        )
    if context is not None and query_ids.shape[1] + options.max_new_tokens > context:
        options = dataclasses.replace(options, max_new_tokens=context - query_ids.shape[1])
    query_ids, query_mask = query_ids.to(device), query_mask.to(device)
    if gradient_checkpointing:
        model.gradient_checkpointing_disable()
    try:
        sampled = sample(
            model,
            query_ids,
            query_mask,
            options,
            eos_ids=eos_token_ids(model, tokenizer),
            pad_id=tokenizer.pad_token_id,
            tokenizer=tokenizer,
            logits_processors=logits_processors,
            value_fn=value_fn,
        )
    finally:
        if gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # the mask comes from the rows' true lengths: a row stopped by a stop string is followed by padding, whatever
    # that pad id also means (for Qwen2.5 it is an EOS id too)
    response_mask = sampled.mask().cpu()
    response_ids = torch.where(
        response_mask > 0, sampled.tokens.cpu(), torch.full_like(sampled.tokens.cpu(), tokenizer.pad_token_id)
    )
    rollout = Rollout.from_response_ids(
        tokenizer,
        query_ids=query_ids.cpu(),
        query_mask=query_mask.cpu(),
        response_ids=response_ids,
        response_mask=response_mask,
        tasks=tasks,
        prompts=prompts,
        ended=sampled.ended.cpu(),
    )
    rollout.group_ids = torch.arange(len(prompts)) // k
    rollout.sampler_logprobs = sampled.logprobs.cpu() * response_mask
    rollout.sampler_entropy = sampled.entropy.cpu() * response_mask
    if sampled.values is not None:
        rollout.sampler_values = sampled.values.detach().cpu() * response_mask
    rollout.truncated_prompts = cut
    return rollout


def response_mask_from_ids(
    response_ids: torch.Tensor, eos_ids: set[int], pad_id: int | None, max_new_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask of real response tokens (up to and including the first EOS) and whether each response ended.

    A row that stopped on a stop string is followed by padding: it ended too, and the padding is masked out.
    """
    B, T = response_ids.shape
    mask = torch.zeros((B, T))
    ended = torch.zeros(B, dtype=torch.bool)
    for b, row in enumerate(response_ids.tolist()):
        length = T
        for t, tok in enumerate(row):
            if tok in eos_ids:
                length, ended[b] = t + 1, True
                break
            if tok == pad_id:
                length, ended[b] = t, True
                break
        mask[b, :length] = 1.0
        if length < max_new_tokens and not ended[b]:
            ended[b] = True
    return mask, ended
