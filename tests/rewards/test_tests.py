"""UnitTestReward: fraction of asserts passed on the code tokens, penalties, metrics, pool lifecycle."""

from __future__ import annotations

import pytest
import torch

from lit_coderl.rewards.tests import UnitTestReward
from lit_coderl.rollout import Rollout

CODE_OK = "def add(a, b):\n    return a + b\n"
CODE_HALF = "def add(a, b):\n    if a > 5:\n        raise ValueError(a)\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(9, 1) == 10"]


def fenced(code: str) -> str:
    return f"Here is the code:\n```python\n{code}```\nDone."


@pytest.fixture(scope="module")
def reward():
    component = UnitTestReward(workers=2, timeout_s=5.0, memory_mb=1024, spreading="constant")
    yield component
    component.close()


def _rollout(tokenizer, codes, tasks):
    return Rollout.from_texts(tokenizer, [fenced(c) for c in codes], tasks)


def test_fraction_penalty_and_untested_rows(tiny_tokenizer, reward):
    tasks = [{"tests": TESTS}, {"tests": TESTS}, {"tests": TESTS}, {}]
    rollout = _rollout(tiny_tokenizer, [CODE_OK, CODE_HALF, "def add(a, b):\n    return 0\n", CODE_OK], tasks)
    reward.submit(rollout)
    scores = reward.score(rollout)
    assert scores.shape == rollout.response_ids.shape
    for i, expected in enumerate([1.0, 0.5, -0.3]):
        code_tokens = rollout.code_token_indices(i)
        assert code_tokens
        assert torch.allclose(scores[i, code_tokens], torch.full((len(code_tokens),), expected))
        others = [t for t in range(rollout.response_length) if t not in set(code_tokens)]
        assert torch.count_nonzero(scores[i, others]) == 0
    assert torch.count_nonzero(scores[3]) == 0
    assert reward.metrics() == {
        "pass_rate": pytest.approx(0.5),
        "all_pass": pytest.approx(1 / 3),
        "scored": 0.75,  # shares of the batch of 4
        "timeouts": 0.0,
        "memory_errors": 0.0,
        "crashes": 0.0,
        "errors": 0.0,
        "infra_errors": 0.0,
    }


def test_score_without_submit_and_mode_all_with_sum_spreading(tiny_tokenizer):
    component = UnitTestReward(mode="all", spreading="sum", fail_penalty=-1.0, workers=1)
    try:
        rollout = _rollout(tiny_tokenizer, [CODE_OK, CODE_HALF], [{"tests": TESTS}, {"tests": TESTS}])
        scores = component.score(rollout)
        ok_tokens = rollout.code_token_indices(0)
        assert scores[0].sum().item() == pytest.approx(1.0)
        assert scores[0, ok_tokens[0]].item() == pytest.approx(1.0 / len(ok_tokens))
        assert scores[1].sum().item() == pytest.approx(-1.0)  # half passing is 0 under mode=all
    finally:
        component.close()


def test_error_line_penalty_hits_the_raising_line(tiny_tokenizer):
    component = UnitTestReward(error_line_penalty=-0.5, workers=1, spreading="constant")
    try:
        rollout = _rollout(tiny_tokenizer, [CODE_HALF], [{"tests": TESTS}])
        scores = component.score(rollout)
        start, _ = rollout.code_spans[0]
        raise_start = rollout.texts[0].rindex("\n", start, rollout.texts[0].index("raise", start)) + 1
        raise_end = rollout.texts[0].index("\n", raise_start)  # the whole line 3, indentation included
        for t in rollout.code_token_indices(0):
            s, e = rollout.offsets[0][t]
            on_line = s < raise_end and e > raise_start
            expected = 0.5 - 0.5 if on_line else 0.5
            assert scores[0, t].item() == pytest.approx(expected), (t, rollout.texts[0][s:e])
    finally:
        component.close()


def test_hostile_and_empty_generations_get_the_penalty(tiny_tokenizer, reward):
    texts = ["", "```python\nimport os\nos._exit(0)\n```", "no code at all", "```python\nwhile True: pass\n"]
    tasks = [{"tests": TESTS, "test_setup": ""}] * len(texts)
    rollout = Rollout.from_texts(tiny_tokenizer, texts, tasks)
    reward.limits.timeout_s = 1.0
    try:
        scores = reward.score(rollout)
    finally:
        reward.limits.timeout_s = 5.0
    for i in range(1, len(texts)):
        code_tokens = rollout.code_token_indices(i)
        assert torch.allclose(scores[i, code_tokens], torch.full((len(code_tokens),), -0.3))
    assert torch.count_nonzero(scores[0]) == 0  # nothing but EOS: no code tokens to put the penalty on
    assert reward.metrics()["crashes"] == 0.25  # one of 4 samples
    assert reward.metrics()["timeouts"] == 0.25


def test_test_setup_runs_after_the_code(tiny_tokenizer, reward):
    code = "class Box:\n    def __init__(self, v):\n        self.v = v\ndef get(b):\n    return b.v\n"
    task = {"tests": ["assert get(box) == 7"], "test_setup": "box = Box(7)"}
    rollout = _rollout(tiny_tokenizer, [code], [task])
    assert reward.score(rollout)[0].max().item() == pytest.approx(1.0)


def test_bad_arguments_and_teardown(tiny_tokenizer):
    with pytest.raises(ValueError, match="mode"):
        UnitTestReward(mode="best")
    with pytest.raises(ValueError, match="spreading"):
        UnitTestReward(spreading="linear")
    component = UnitTestReward(workers=1, spreading="constant")
    rollout = _rollout(tiny_tokenizer, [CODE_OK], [{"tests": "assert add(1, 1) == 2"}])
    assert component.score(rollout).max().item() == pytest.approx(1.0)
    component.teardown(None, None, "fit")
    assert component._pool is None
    assert component.name == "unit_tests" and component.weight == pytest.approx(0.7)
