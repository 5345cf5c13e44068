"""SyntaxReward (CPython backend): prefix classification and per-token flags."""

import pytest

from lit_coderl.rewards.syntax import SyntaxReward, first_invalid_prefix, python_prefix_status
from lit_coderl.rollout import Rollout


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("def f():\n    return 1\n", "complete"),
        ("def f():\n    return (1", "incomplete"),
        ("x = 1 +", "incomplete"),
        ('def f():\n    """doc', "incomplete"),
        ("def f():\n    x = 1\n  y = 2", "invalid"),
        ("x = = 2", "invalid"),
        ("import os\nx = 1", "complete"),
        ('a = f"{x}"', "complete"),
        ("if (n := 3) > 2:\n    pass\n", "complete"),
        ("match x:\n    case 1:\n        pass\n", "complete"),
        ("def f():\n    \n", "incomplete"),
        ("", "complete"),
        ("x = 1\0", "invalid"),
    ],
)
def test_prefix_status(text, status):
    assert python_prefix_status(text) == status


def test_first_invalid_prefix_binary_search_matches_linear_scan():
    code = "def f(x):\n    y = x + 1)\n    return y\n"
    ends = list(range(1, len(code) + 1))
    linear = next(k for k, e in enumerate(ends) if python_prefix_status(code[:e]) == "invalid")
    assert first_invalid_prefix(code, ends) == linear
    assert code[: ends[linear]].endswith("1)")  # an unmatched bracket is invalid at once
    assert first_invalid_prefix("def f():\n    return 1\n", [3, 9, 22]) is None


def _token_at(rollout, i, char_index):
    return next(t for t, (s, e) in enumerate(rollout.offsets[i]) if s <= char_index < e)


def test_flags_first_invalid_token_only(tiny_tokenizer):
    text = "```python\ndef f(x):\n    return x) + 2\n```"
    rollout = Rollout.from_texts(tiny_tokenizer, [text])
    scores = SyntaxReward(valid_bonus=0.5, invalid_penalty=-1.0, spreading="constant").score(rollout)
    bad = _token_at(rollout, 0, text.index(")", text.index("return")))
    code_tokens = rollout.code_token_indices(0)
    assert scores[0, bad].item() == -1.0
    before = [t for t in code_tokens if t < bad]
    assert before and all(scores[0, t].item() == 0.5 for t in before)
    assert all(scores[0, t].item() == 0.0 for t in code_tokens if t > bad)
    # non-code tokens (the fences) are never scored
    assert all(scores[0, t].item() == 0.0 for t in range(rollout.response_length) if t not in code_tokens)


def test_penalize_after(tiny_tokenizer):
    text = "x = 1]\ny = 2\n"
    rollout = Rollout.from_texts(tiny_tokenizer, [text])
    scores = SyntaxReward(penalize_after=True, spreading="constant").score(rollout)
    bad = _token_at(rollout, 0, text.index("]"))
    assert all(scores[0, t].item() == 0.0 for t in rollout.code_token_indices(0) if t < bad)
    assert all(scores[0, t].item() == -1.0 for t in rollout.code_token_indices(0) if t >= bad)


def test_incomplete_code_penalised_on_last_token(tiny_tokenizer):
    rollout = Rollout.from_texts(tiny_tokenizer, ["```python\nprint((1, 2)\n```", "```python\nprint(1)\n```"])
    reward = SyntaxReward(incomplete_penalty=-0.5)
    scores = reward.score(rollout)
    last = rollout.code_token_indices(0)[-1]
    assert scores[0, last].item() == -0.5
    assert scores[0].sum().item() == -0.5
    assert scores[1].abs().sum().item() == 0.0
    assert reward.metrics() == {"valid_share": 0.5}


def test_empty_and_garbage_never_crash(tiny_tokenizer):
    rollout = Rollout.from_texts(tiny_tokenizer, ["", "\ufffd\ufffd", "```python\n```"])
    scores = SyntaxReward().score(rollout)
    assert scores.shape == rollout.response_ids.shape
    assert scores[0].abs().sum().item() == 0.0


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown syntax backend"):
        SyntaxReward(backend="lark")


def test_sequence_score_is_the_verdict_once(tiny_tokenizer):
    texts = [
        "```python\ndef f(x):\n    return x) + 2\n```",  # invalid
        "```python\nprint((1, 2)\n```",  # a valid prefix, never finished
        "```python\ndef f(x):\n    return x + 2\n```",  # complete
        "no code here",  # prose only: the whole response is the code region
        "",
    ]
    rollout = Rollout.from_texts(tiny_tokenizer, texts)
    reward = SyntaxReward(
        invalid_penalty=-1.0, incomplete_penalty=-0.5, valid_bonus=0.125, penalize_after=True, spreading="constant"
    )
    scores = reward.score(rollout)
    sequence = reward.sequence_score(rollout, scores)
    assert sequence.tolist() == [-1.0, -0.5, 0.125, -1.0, 0.0]
    # the token sums grow with the number of tokens around the error: not the verdict
    n_code = len(rollout.code_token_indices(2))
    assert n_code > 1 and scores[2].sum().item() == pytest.approx(0.125 * n_code)
    bad = _token_at(rollout, 0, texts[0].index(")", texts[0].index("return")))
    code = rollout.code_token_indices(0)
    expected = 0.125 * sum(t < bad for t in code) - 1.0 * sum(t >= bad for t in code)
    assert scores[0].sum().item() == pytest.approx(expected) and expected != -1.0


def test_sequence_score_equals_the_token_sum_with_the_defaults(tiny_tokenizer):
    texts = ["```python\nx = 1]\ny = 2\n```", "```python\nprint((1, 2)\n```", "```python\nprint(1)\n```"]
    rollout = Rollout.from_texts(tiny_tokenizer, texts)
    reward = SyntaxReward()
    scores = reward.score(rollout)
    assert reward.sequence_score(rollout, scores).tolist() == scores.sum(dim=1).tolist() == [-1.0, -1.0, 0.0]
