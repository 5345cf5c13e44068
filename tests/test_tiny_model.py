"""Tests of the embedded tiny model (lit_coderl/assets/tiny-coder) and of scripts/build_tiny_model.py's helpers."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from lit_coderl.data.stdlib import stdlib_root

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSET_DIR = REPO_ROOT / "lit_coderl" / "assets" / "tiny-coder"
SCRIPT = REPO_ROOT / "scripts" / "build_tiny_model.py"
EXPECTED_PARAMETERS = 1_541_248  # hidden 128, 2 layers, MLP 512, 4 heads / 2 KV heads, vocab 8192, tied


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(ASSET_DIR, local_files_only=True)


@pytest.fixture(scope="module")
def model():
    return AutoModelForCausalLM.from_pretrained(ASSET_DIR, local_files_only=True).eval()


@pytest.fixture(scope="module")
def build():
    """scripts/build_tiny_model.py imported as a module (registered while loading: its dataclass needs that)."""
    spec = importlib.util.spec_from_file_location("build_tiny_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_tiny_model"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("build_tiny_model", None)
    return module


# ---------------------------------------------------------------------------------------------------- artefact


def test_artefact_files_and_size() -> None:
    names = {p.name for p in ASSET_DIR.iterdir()}
    required = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert required | {"README.md"} <= names
    total = sum(p.stat().st_size for p in ASSET_DIR.iterdir() if p.is_file())
    assert total <= 20_000_000
    readme = (ASSET_DIR / "README.md").read_text(encoding="utf-8")
    assert "scripts/build_tiny_model.py" in readme and "--sft-steps" in readme


def test_tokenizer_config_loads_on_transformers_4_and_5() -> None:
    config = json.loads((ASSET_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["additional_special_tokens"] == ["<|im_start|>"]
    assert "extra_special_tokens" not in config  # a list there breaks transformers 4.x
    assert config["chat_template"].startswith("{%- for message in messages %}")


def test_vocabulary_and_special_tokens(tokenizer) -> None:
    assert len(tokenizer) == 8192
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", 2)
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<|endoftext|>", 0)
    assert "<|im_start|>" in tokenizer.all_special_tokens
    assert tokenizer("<|im_start|>user<|im_end|>", add_special_tokens=False)["input_ids"][0] == 1
    assert tokenizer("<|im_start|>user<|im_end|>", add_special_tokens=False)["input_ids"][-1] == 2
    assert tokenizer.decode([1, 2, 0], skip_special_tokens=True) == ""


def test_chat_template_is_chatml(tokenizer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Write `f()`."},
        {"role": "assistant", "content": "```python\ndef f():\n    pass\n```"},
    ]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWrite `f()`.<|im_end|>\n"
        "<|im_start|>assistant\n```python\ndef f():\n    pass\n```<|im_end|>\n"
    )
    user = [{"role": "user", "content": "hi"}]
    assert tokenizer.apply_chat_template(user, tokenize=False) == "<|im_start|>user\nhi<|im_end|>\n"
    assert tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "def f(x):\n\tif x:\r\n        return  x   \n\n\n",
        'print("caf\u00e9 \u00fc\u00df \u4e2d\u6587 \U0001f600")  # \u00a0non-breaking\n',
        "x = [1, 22, 333]\nassert f'{x!r:>10}' != '''a\\nb'''\n",
        "  leading spaces and trailing  ",
    ],
)
def test_decoding_is_lossless_for_code(tokenizer, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_round_trip_on_stdlib_files_matches_the_raw_tokenizer(tokenizer) -> None:
    raw = Tokenizer.from_file(str(ASSET_DIR / "tokenizer.json"))
    for name in ("json/decoder.py", "textwrap.py", "ast.py"):
        text = (stdlib_root() / name).read_text(encoding="utf-8")
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        assert raw.encode(text).ids == ids
        assert len(text) / len(ids) > 3.0  # a code-trained BPE, not bytes


def test_model_config_and_parameter_count(model, tokenizer) -> None:
    assert isinstance(model, Qwen2ForCausalLM)
    config = model.config
    assert config.model_type == "qwen2"
    assert config.vocab_size % 64 == 0 and config.vocab_size >= len(tokenizer)
    assert config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert config.attention_dropout == 0.0
    assert (config.eos_token_id, config.pad_token_id) == (2, 0)
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMETERS
    eos = model.generation_config.eos_token_id
    assert 2 in (eos if isinstance(eos, list) else [eos])


def test_greedy_generation_opens_a_python_fence(model, tokenizer) -> None:
    messages = [{"role": "user", "content": "Write a Python function `add(a, b)`. Return the sum of a and b."}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=24, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.startswith("```python\ndef ")


# ---------------------------------------------------------------------------------------------- build helpers


def test_normalise_mbpp_code(build) -> None:
    assert build.normalise_mbpp_code("def f(a): \r\n\tif a:\r\n\t\treturn a \r\n") == (
        "def f(a):\n    if a:\n        return a"
    )
    assert build.normalise_mbpp_code("def f(:\r\n\treturn 1") is None


def test_mbpp_pairs_keep_only_the_train_split(build, tmp_path: Path) -> None:
    assert build.mbpp_pairs(tmp_path / "absent") == []
    rows = [
        {"task_id": 11, "text": "Test split.", "code": "def a():\n    return 1", "test_list": []},
        {"task_id": 601, "text": "Add one.", "code": "def b(x):\r\n\treturn x + 1", "test_list": ["assert b(1) == 2"]},
        {"task_id": 975, "text": "Out of range.", "code": "def c():\n    return 3", "test_list": []},
    ]
    (tmp_path / "mbpp.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    pairs = build.mbpp_pairs(tmp_path)
    assert [(p.source, p.messages, p.code) for p in pairs] == [
        (
            "mbpp",
            [{"role": "user", "content": "Add one.\nYour code should pass these tests:\nassert b(1) == 2"}],
            "def b(x):\n    return x + 1",
        )
    ]


def test_encode_pairs_masks_the_prompt(build, tokenizer) -> None:
    pair = build.Pair("stdlib", [{"role": "user", "content": "Write `f()`."}], "def f():\n    return 1\n")
    [(ids, prompt_len)] = build.encode_pairs([pair], tokenizer, max_prompt=96, max_response=256)
    assert tokenizer.decode(ids[:prompt_len]) == "<|im_start|>user\nWrite `f()`.<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(ids[prompt_len:]) == "```python\ndef f():\n    return 1\n```<|im_end|>"
    assert ids[-1] == tokenizer.eos_token_id
    assert build.encode_pairs([pair], tokenizer, max_prompt=96, max_response=3) == []
    already_fenced = build.Pair("robot", pair.messages, "```python\ndef f():\n    return 1\n```")
    [(fenced_ids, _)] = build.encode_pairs([already_fenced], tokenizer, max_prompt=96, max_response=256)
    assert fenced_ids == ids
    batch = build.collate([(ids, prompt_len), (ids[:-2], prompt_len)], pad_id=0)
    assert batch["labels"][0, :prompt_len].eq(-100).all()
    assert batch["labels"][0, prompt_len:].tolist() == ids[prompt_len:]
    assert batch["attention_mask"][1].sum().item() == len(ids) - 2
    assert batch["labels"][1, -2:].tolist() == [-100, -100]


def test_length_batches_respect_the_token_budget(build) -> None:
    examples = [([7] * n, 1) for n in (3, 50, 9, 100, 12, 60, 5, 99)]
    batches = build.length_batches(examples, batch_tokens=120, rng=random.Random(0))
    assert sorted(len(ids) for b in batches for ids, _ in b) == sorted(len(ids) for ids, _ in examples)
    assert all(len(b) == 1 or len(b) * max(len(ids) for ids, _ in b) <= 120 for b in batches)


def test_train_tokenizer_on_a_small_corpus(build) -> None:
    corpus = [(stdlib_root() / "textwrap.py").read_text(encoding="utf-8")]
    tokenizer = build.train_tokenizer(corpus, vocab_size=600)
    assert len(tokenizer) <= 600
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    assert build.round_trip_ok(tokenizer, corpus + ["\u00e9\t\r\n  x"])


def test_robot_tasks_are_optional_and_fail_clearly(build, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build.robot_pairs(0, seed=0) == []
    monkeypatch.setitem(sys.modules, "lit_coderl.robot.generator", None)  # makes the import raise ImportError
    with pytest.raises(SystemExit, match="lit_coderl.robot.generator"):
        build.robot_pairs(2, seed=0)
    fake = types.ModuleType("lit_coderl.robot.generator")
    fake.generate_tasks = lambda n, seed: [
        {"task_id": f"robot/{i}", "messages": [{"role": "user", "content": f"Go to room {i}."}], "reference": "go()"}
        for i in range(n)
    ]
    monkeypatch.setitem(sys.modules, "lit_coderl.robot.generator", fake)
    pairs = build.robot_pairs(2, seed=0)
    assert [(p.source, p.messages[0]["content"], p.code) for p in pairs] == [
        ("robot", "Go to room 0.", "go()"),
        ("robot", "Go to room 1.", "go()"),
    ]


def test_robot_pairs_from_the_project_generator_are_fenced_once(build) -> None:
    pairs = build.robot_pairs(3, seed=0)
    assert len(pairs) == 3
    for pair in pairs:
        answer = build.fenced(pair.code)
        assert answer.startswith("```python\ndef task_program():\n")
        assert answer.count("```") == 2
