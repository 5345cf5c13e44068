"""`SimulatorReward`: RoboSim pass fraction on the program tokens, penalties, error-line attribution."""

import pytest
import torch

from lit_coderl.rewards.simulator import SimulatorReward
from lit_coderl.rewards.spans import char_span_to_tokens
from lit_coderl.rollout import Rollout

GOOD = 'Here you go:\n```python\ndef task_program():\n    go_to("kitchen")\n    say("hi")\n```\nBye.'
BAD = '```python\ndef task_program():\n    go_to("kitchen")\n    place("cup")\n```'
PARTIAL_CODE = 'def task_program():\n    if is_in_room("cup"):\n        place("cup")\n'
PARTIAL = "```python\n" + PARTIAL_CODE + "```"
GARBAGE = "I cannot help with that."


@pytest.fixture(scope="module")
def reward():
    component = SimulatorReward(worlds=5, error_line_penalty=-0.5, workers=1, seed=0, spreading="constant")
    yield component
    component.close()


def tokens_of(rollout, i, start, end):
    return char_span_to_tokens(rollout.offsets[i], start, end)


def program_tokens(rollout, i):
    text = rollout.texts[i]
    start = text.index("def task_program")
    return tokens_of(rollout, i, start, text.index("```", start))


def test_scores_pass_fraction_penalty_and_error_line(tiny_tokenizer, reward):
    rollout = Rollout.from_texts(tiny_tokenizer, [GOOD, BAD, GARBAGE, PARTIAL])
    reward.load_state_dict({"programs_verified": 0})
    reward.submit(rollout)
    scores = reward.score(rollout)
    assert scores.shape == rollout.response_ids.shape

    good = program_tokens(rollout, 0)
    expected = torch.zeros(rollout.response_length)
    expected[good] = 1.0
    assert torch.equal(scores[0], expected)

    text = rollout.texts[1]
    line_start = text.index('    place("cup")')
    line = set(tokens_of(rollout, 1, line_start, line_start + len('    place("cup")')))
    expected = torch.zeros(rollout.response_length)
    for t in program_tokens(rollout, 1):
        expected[t] = -0.1 - (0.5 if t in line else 0.0)
    assert torch.allclose(scores[1], expected)

    assert torch.allclose(scores[2], -0.1 * rollout.response_mask[2])

    # the third program verified (seed 2): the cup is in the room in 2 of its 5 worlds, place() fails in the others
    fraction = 2 / 5
    body = program_tokens(rollout, 3)
    values = {round(float(scores[3, t]), 6) for t in body}
    assert round(fraction if fraction else -0.1, 6) in values
    assert reward.state_dict() == {"programs_verified": 3}

    metrics = reward.metrics()
    assert metrics["success_rate"] == pytest.approx(0.25)
    assert metrics["mean_pass_fraction"] == pytest.approx((1.0 + fraction) / 4)
    assert metrics["no_program"] == pytest.approx(0.25)
    assert metrics["robot_errors"] == pytest.approx(0.5)
    assert metrics["api_calls_mean"] == 1.5 and metrics["trivial_share"] == 1.0  # reward hacking made visible


def test_completion_style_body_maps_error_lines_past_the_prepended_def(tiny_tokenizer, reward):
    body = '\n    go_to("a")\n    pick(3)\n'
    rollout = Rollout.from_texts(tiny_tokenizer, [body])
    scores = reward.score(rollout)
    line_start = body.index("    pick(3)")
    line = set(tokens_of(rollout, 0, line_start, line_start + len("    pick(3)")))
    assert line and all(float(scores[0, t]) == pytest.approx(-0.6) for t in line)
    others = [t for t in tokens_of(rollout, 0, 0, len(body)) if t not in line]
    assert others and all(float(scores[0, t]) == pytest.approx(-0.1) for t in others)


def test_sum_spreading_keeps_the_sequence_score(tiny_tokenizer):
    component = SimulatorReward(worlds=2, spreading="sum", workers=1)
    short, long = GARBAGE, GARBAGE + " Really, I cannot write that program for you today." * 4
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, [GOOD, short, long])
        scores = component.score(rollout)
        assert float(scores[0].sum()) == pytest.approx(1.0)
        # no program: the response tokens sum to the penalty whatever the answer's length
        for i in (1, 2):
            n = int(rollout.response_mask[i].sum())
            assert torch.allclose(scores[i, :n], torch.full((n,), -0.1 / n))
            assert float(scores[i].sum()) == pytest.approx(-0.1)
        assert rollout.response_mask[2].sum() > 3 * rollout.response_mask[1].sum()
    finally:
        component.close()


def test_hanging_and_hostile_programs_score_the_penalty(tiny_tokenizer):
    component = SimulatorReward(worlds=2, world_timeout_s=0.1, workers=1, spreading="constant")
    hang = "```python\ndef task_program():\n    while True:\n        pass\n```"
    hostile = "```python\ndef task_program():\n    import os\n    os._exit(0)\n```"
    empty = "```python\ndef task_program():\n```"
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, [hang, hostile, empty, "\ufffd\x00 garbage"])
        scores = component.score(rollout)
        for i in range(2):
            tokens = program_tokens(rollout, i)
            assert torch.allclose(scores[i, tokens], torch.full((len(tokens),), -0.1))
        for i in (2, 3):
            assert torch.allclose(scores[i], -0.1 * rollout.response_mask[i])
        assert component.metrics()["timeouts"] == pytest.approx(0.25)
    finally:
        component.close()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="spreading"):
        SimulatorReward(spreading="mean")
    with pytest.raises(ValueError, match="worlds"):
        SimulatorReward(worlds=0)
