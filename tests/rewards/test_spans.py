"""Attribution helpers: character spans, lines and code regions to tokens."""

import pytest

from lit_coderl.rewards.spans import (
    LineIndex,
    char_span_to_tokens,
    code_token_mask,
    extract_code_span,
    line_char_span,
    prefix_char_offsets,
    rowcol_to_char,
    spread,
    token_char_offsets,
)
from lit_coderl.rollout import Rollout


def test_offsets_cover_text_exactly(tiny_tokenizer):
    text = "def f(x):\n    return 'café' + \"北京\"\n"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    offsets = token_char_offsets(tiny_tokenizer, ids)
    assert len(offsets) == len(ids)
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)
    for (s0, e0), (s1, _) in zip(offsets, offsets[1:], strict=False):
        assert s0 <= e0 == s1  # contiguous, no overlaps
    # every token's span decodes to what the token adds once complete characters are formed
    assert "".join(text[s:e] for s, e in offsets) == text


def test_offsets_special_tokens_have_zero_width(tiny_tokenizer):
    ids = tiny_tokenizer("x = 1", add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
    offsets = token_char_offsets(tiny_tokenizer, ids)
    assert offsets[-1] == (5, 5)


def test_streamed_offsets_equal_the_prefix_decoding_reference(tiny_tokenizer, monkeypatch):
    import random

    import lit_coderl.rewards.spans as spans

    rng = random.Random(0)
    vocab, specials = len(tiny_tokenizer), tiny_tokenizer.all_special_ids
    cases = [tiny_tokenizer(t, add_special_tokens=False)["input_ids"] for t in (
        "def f(x):\n    return 'café' + \"北京\"  # 😀\n", "```python\nprint('héllo')\n```", "  \t\n", "ü😀😀x")]
    for _ in range(200):  # arbitrary token soup: split multi-byte characters, stray bytes, special tokens
        ids = [rng.randrange(vocab) for _ in range(rng.randrange(1, 40))]
        if rng.random() < 0.3:
            ids.insert(rng.randrange(len(ids)), rng.choice(specials))
        cases.append(ids)
    for ids in cases:
        text = tiny_tokenizer.decode(ids, skip_special_tokens=True)
        assert token_char_offsets(tiny_tokenizer, ids, text) == prefix_char_offsets(tiny_tokenizer, ids, text)
    # real text never needs the quadratic reference
    monkeypatch.setattr(spans, "prefix_char_offsets", lambda *a: pytest.fail("fell back to prefix decoding"))
    for ids in cases[:4]:
        token_char_offsets(tiny_tokenizer, ids)


def test_extract_code_span():
    text = "Here you go:\n```python\ndef f():\n    return 1\n```\nDone."
    s, e = extract_code_span(text)
    assert text[s:e] == "def f():\n    return 1"
    truncated = "```python\ndef f():\n    ret"
    s, e = extract_code_span(truncated)
    assert truncated[s:e] == "def f():\n    ret"
    assert extract_code_span("x = 1\n") == (0, 6)
    s, e = extract_code_span("```\nprint(1)\n```")
    assert (s, e) == (4, 12)
    assert extract_code_span("") == (0, 0)


def test_char_span_to_tokens():
    offsets = [(0, 3), (3, 4), (4, 4), (4, 9), (9, 12)]
    assert char_span_to_tokens(offsets, 2, 5) == [0, 1, 3]
    assert char_span_to_tokens(offsets, 3, 4) == [1]
    assert char_span_to_tokens(offsets, 12, 20) == []
    assert char_span_to_tokens(offsets, 5, 5) == [3]  # empty span: the token that contains the position
    assert char_span_to_tokens(offsets, 12, 12) == [4]  # end of text: the last token


def test_line_and_rowcol():
    text = "intro\n```python\nab\ncde\n```"
    base = text.index("ab")
    assert line_char_span(text, 1, base) == (base, base + 2)
    assert line_char_span(text, 2, base) == (base + 3, base + 6)
    assert rowcol_to_char(text, 2, 2, base) == base + 4
    assert rowcol_to_char(text, 2, 99, base) == base + 6  # clipped to the line end
    assert line_char_span("a\nb", 5) == (3, 3)


def test_code_token_mask():
    offsets = [(0, 5), (5, 8), (8, 8), (8, 12), (12, 15)]
    assert code_token_mask(offsets, (6, 12)) == [False, True, False, True, False]


def test_spread_modes():
    assert spread(0.6, [1, 2, 4], 5).tolist() == pytest.approx([0.0, 0.6, 0.6, 0.0, 0.6])
    assert spread(0.6, [1, 2, 4], 5, mode="sum").tolist() == pytest.approx([0.0, 0.2, 0.2, 0.0, 0.2])
    assert spread(1.0, [], 3).tolist() == [0.0, 0.0, 0.0]
    assert spread(1.0, [7, -1], 3).tolist() == [0.0, 0.0, 0.0]


def test_rollout_from_texts(tiny_tokenizer):
    texts = ["Sure.\n```python\ndef f():\n    return 1\n```", "", "x = 1"]
    rollout = Rollout.from_texts(tiny_tokenizer, texts)
    assert rollout.texts == texts
    assert rollout.code(0) == "def f():\n    return 1"
    assert rollout.code(1) == "" and rollout.code_token_indices(1) == []
    assert rollout.response_mask.sum(1).tolist()[1] == 1.0  # only EOS
    idx = rollout.code_token_indices(0)
    joined = "".join(texts[0][rollout.offsets[0][t][0] : rollout.offsets[0][t][1]] for t in idx)
    assert "def f():\n    return 1" in joined and "Sure" not in joined
    assert rollout.zeros().shape == rollout.response_ids.shape
    # "x = 1": its tokens and the EOS are real, the rest of the row (padded to the longest answer) is not
    n = len(tiny_tokenizer("x = 1", add_special_tokens=False)["input_ids"]) + 1
    width = rollout.response_mask.shape[1]
    assert rollout.response_mask[2].tolist() == [1.0] * n + [0.0] * (width - n)


def test_line_index_and_token_lookup_match_the_linear_definitions():
    text = "intro\n```python\ndef f(x):\n\n    return x  # é\n```\n"
    base = text.index("def")
    index = LineIndex(text, base)
    for row in range(0, 8):
        for col in range(0, 20):
            assert index.char(row, col) == rowcol_to_char(text, row, col, base), (row, col)
    offsets = [(0, 2), (2, 2), (2, 5), (5, 9), (9, 9), (9, 12)]
    for start in range(0, 14):
        for end in range(start + 1, 15):
            expected = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
            assert char_span_to_tokens(offsets, start, end) == expected
