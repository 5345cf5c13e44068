"""The offline Qwen2.5-Coder stand-in has Qwen2.5's real tokenizer, special tokens, chat template and model shape."""

from __future__ import annotations

import json

from lit_coderl.standin import byte_to_unicode, merges_from_ranks


def test_byte_level_alphabet():
    table = byte_to_unicode()
    assert len(set(table.values())) == 256
    assert (table[ord("a")], table[0], table[ord(" ")], table[255]) == ("a", chr(256), chr(256 + 32), chr(255))


def test_merges_are_recovered_from_ranks():
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"abc": 4, b"bc": 5}
    # "abc" (rank 4) may only use merges ranked below it: a+b -> ab, then ab + c; "bc" ranks after it
    assert merges_from_ranks(ranks) == [(b"a", b"b"), (b"ab", b"c"), (b"b", b"c")]


def test_standin_tokenizer_and_model(qwen_standin_dir):
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(qwen_standin_dir)
    assert len(tok) == 151665
    assert tok("Hello, world!")["input_ids"] == [9707, 11, 1879, 0]  # the known Qwen2 ids
    assert (tok.pad_token_id, tok.eos_token_id) == (151643, 151645)
    assert tok.convert_tokens_to_ids(["<|im_start|>", "<|fim_prefix|>", "<|file_sep|>"]) == [151644, 151659, 151664]
    merges = json.loads((qwen_standin_dir / "tokenizer.json").read_text())["model"]["merges"]
    assert len(merges) == 151387  # one per multi-byte token, as Qwen2's merges.txt
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat.startswith("<|im_start|>system\nYou are Qwen") and chat.endswith("<|im_start|>assistant\n")
    config = AutoConfig.from_pretrained(qwen_standin_dir)
    assert (config.vocab_size, config.tie_word_embeddings, str(config.dtype)) == (151936, True, "torch.bfloat16")
    generation = json.loads((qwen_standin_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 151643]
