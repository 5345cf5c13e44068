"""Rollouts: batched sampling from the policy and the `Rollout` batch every reward reads.

`Rollout` is the contract between the module and the reward components: tensors aligned on response tokens plus the
decoded text, each token's character span in it, and the character span of the code inside each response.
"""

from __future__ import annotations

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


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    options: GenerationOptions,
    tasks: list[dict] | None = None,
    logits_processors: list | None = None,
    gradient_checkpointing: bool = False,
) -> Rollout:
    """Sample one response per prompt (batched, left padded, KV cache on; `sampling.sample`) as a `Rollout`.

    Gradient checkpointing (if the model trains with it) is switched off while sampling: it disables the KV cache.
    """
    device = next(model.parameters()).device
    enc = tokenizer(
        prompts,
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=options.max_prompt_tokens,
        add_special_tokens=False,
    )
    query_ids, query_mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
    eos_ids = eos_token_ids(model, tokenizer)
    if gradient_checkpointing:
        model.gradient_checkpointing_disable()
    try:
        response_ids = sample(
            model,
            query_ids,
            query_mask,
            options,
            eos_ids=eos_ids,
            pad_id=tokenizer.pad_token_id,
            tokenizer=tokenizer,
            logits_processors=logits_processors,
        ).cpu()
    finally:
        if gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    response_mask, ended = response_mask_from_ids(response_ids, eos_ids, tokenizer.pad_token_id, options.max_new_tokens)
    # tokens after the end are padding, whatever generate filled in
    response_ids = torch.where(response_mask > 0, response_ids, torch.full_like(response_ids, tokenizer.pad_token_id))
    return Rollout.from_response_ids(
        tokenizer,
        query_ids=query_ids.cpu(),
        query_mask=query_mask.cpu(),
        response_ids=response_ids,
        response_mask=response_mask,
        tasks=tasks or [{} for _ in prompts],
        prompts=prompts,
        ended=ended,
    )


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
