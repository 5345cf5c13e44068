"""LintReward: Ruff diagnostics mapped to the tokens of their spans."""

import pytest

from lit_coderl.rewards.lint import LintReward, run_ruff
from lit_coderl.rollout import Rollout


def _tokens_covering(rollout, i, start, end):
    return {t for t, (s, e) in enumerate(rollout.offsets[i]) if e > s and s < end and e > start}


def test_run_ruff_one_process_for_batch():
    diags = run_ruff(["import os\n", "x = 1\n", "def f(:\n"], select=["F"], ignore=[], builtins=[])
    assert [d["code"] for d in diags[0]] == ["F401"]
    assert diags[1] == []
    assert diags[2] and diags[2][0]["code"] in (None, "invalid-syntax")


def test_diagnostic_span_maps_to_its_tokens(tiny_tokenizer):
    text = "Code:\n```python\nimport os\nx = 1\n```"
    rollout = Rollout.from_texts(tiny_tokenizer, [text])
    scores = LintReward(select=["F"], penalty=-1.0, clean_bonus=0.25, spreading="constant").score(rollout)
    start = text.index("os")  # F401 points at the module name
    flagged = _tokens_covering(rollout, 0, start, start + 2)
    assert flagged
    for t in rollout.code_token_indices(0):
        assert scores[0, t].item() == (-1.0 if t in flagged else 0.25)
    outside = set(range(rollout.response_length)) - set(rollout.code_token_indices(0))
    assert all(scores[0, t].item() == 0.0 for t in outside)


def test_overlapping_diagnostics_clamped_and_rule_weights(tiny_tokenizer):
    # undefined name used in an unused assignment: F821 on `y`... and F841 on `x` inside a function
    text = "def f():\n    x = y\n"
    rollout = Rollout.from_texts(tiny_tokenizer, [text])
    reward = LintReward(select=["F"], rule_weights={"F8": 2.0, "F821": 0.5}, penalty=-1.0, spreading="constant")
    scores = reward.score(rollout)
    y_tokens = _tokens_covering(rollout, 0, text.index("y"), text.index("y") + 1)
    x_tokens = _tokens_covering(rollout, 0, text.index("x"), text.index("x") + 1)
    assert {scores[0, t].item() for t in y_tokens} == {-0.5}  # F821: longest prefix wins
    assert {scores[0, t].item() for t in x_tokens} == {-2.0}  # F841 matches F8
    assert reward.rule_weight("F811") == 2.0 and reward.rule_weight("F401") == 1.0 and reward.rule_weight(None) == 1.0
    assert reward.metrics()["diagnostics_per_sample"] == 2.0


def test_builtins_and_syntax_errors(tiny_tokenizer):
    rollout = Rollout.from_texts(tiny_tokenizer, ["go_to('kitchen')\n", "def f(:\n    pass\n"])
    reward = LintReward(select=["F", "E9"], builtins=["go_to"], syntax_error_penalty=-3.0, spreading="constant")
    scores = reward.score(rollout)
    assert scores[0].abs().sum().item() == 0.0
    assert scores[1].min().item() == -3.0
    assert reward.metrics()["clean_share"] == pytest.approx(0.5)


def test_empty_and_non_utf8_safe(tiny_tokenizer):
    # invalid bytes decode to U+FFFD; NUL bytes make the file unparsable
    rollout = Rollout.from_texts(tiny_tokenizer, ["", "\ufffd = 1", "x = 1\x00"])
    scores = LintReward(spreading="constant").score(rollout)
    assert scores.shape == rollout.response_ids.shape


def test_sequence_score_counts_each_diagnostic_once(tiny_tokenizer):
    texts = [
        "```python\nimport collections.abc\n```",  # F401 on a span of several tokens
        "```python\nimport os\n```",  # F401 on `os`
        "```python\ndef f():\n    x = y\n```",  # F841 (x) and F821 (y)
        "```python\nx = 1\n```",  # clean
        "```python\ndef f(:\n    pass\n```",  # a syntax error
        "",
    ]
    rollout = Rollout.from_texts(tiny_tokenizer, texts)
    reward = LintReward(
        select=["F", "E9"], rule_weights={"F821": 0.5}, penalty=-1.0, clean_bonus=0.25, spreading="constant"
    )
    scores = reward.score(rollout)
    start = texts[0].index("collections")
    span = _tokens_covering(rollout, 0, start, start + len("collections.abc"))
    assert len(span) > 1 and scores[0].sum().item() == pytest.approx(
        -1.0 * len(span) + 0.25 * (len(rollout.code_token_indices(0)) - len(span))
    )  # the token scores grow with the span
    sequence = reward.sequence_score(rollout, scores)
    assert sequence[:4].tolist() == [-1.0, -1.0, -1.5, 0.25]
    # "def f(:": Ruff reports two syntax errors (a missing parameter, then a missing ")"), −1 each
    assert sequence[4].item() == -2.0
    assert sequence[5].item() == 0.0  # no code region: nothing judged
