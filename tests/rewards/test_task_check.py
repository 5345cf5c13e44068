"""`TaskCheckReward`: the task score on the program tokens and violations blamed on program lines, exact values."""

import pytest
import torch

from lit_coderl.rewards.spans import char_span_to_tokens
from lit_coderl.rewards.task_check import TaskCheckReward, line_blame, task_spec_of
from lit_coderl.rollout import Rollout

SPEC = {
    "rooms": ["loc_a", "start_loc"],
    "facts": [{"id": "stock", "at": "kitchen", "entity": "cup", "p": 1.0}],
    "constraints": [{"do": "pick", "what": "cup", "at": "kitchen"},
                    {"do": "place", "what": "cup", "at": "start", "after": 0}],
}
ROW = {"robot": {"instruction": "Bring me the cup from the kitchen.", "spec": SPEC}}


def fenced(*lines):
    return "```python\ndef task_program():\n" + "\n".join("    " + line for line in lines) + "\n```"


DONE = fenced("start = get_current_location()", 'go_to("kitchen")', 'pick("cup")', "go_to(start)", 'place("cup")')
ELSEWHERE = fenced('go_to("kitchen")', 'pick("cup")', 'go_to("garage")', 'place("cup")')  # line 5 misplaces
TRIVIAL = fenced('go_to("kitchen")', 'say("hi")')  # ends at line 3 without the actions
RAISES = fenced('go_to("kitchen")', 'place("cup")', 'pick("cup")')  # line 3 raises: nothing after it happens
GARBAGE = "I cannot help with that."
TEXTS = [DONE, ELSEWHERE, TRIVIAL, RAISES, GARBAGE, DONE]


@pytest.fixture(scope="module")
def reward():
    component = TaskCheckReward(worlds=2, violation_penalty=-0.5, blame_spreading="constant", fail_penalty=-0.1,
                                spreading="constant", workers=1)
    yield component
    component.close()


def tokens(rollout, i, needle):
    start = rollout.texts[i].index(needle)
    return char_span_to_tokens(rollout.offsets[i], start, start + len(needle))


def program(rollout, i):
    text = rollout.texts[i]
    start = text.index("def task_program")
    return char_span_to_tokens(rollout.offsets[i], start, text.index("```", start))


def expected(rollout, i, value, line_needle=None, line_value=0.0):
    row = torch.zeros(rollout.response_length)
    row[program(rollout, i)] = value
    if line_needle is not None:
        for t in tokens(rollout, i, line_needle):
            row[t] = value + line_value
    return row


def test_scores_and_line_attribution_exact(tiny_tokenizer, reward):
    rollout = Rollout.from_texts(tiny_tokenizer, TEXTS, tasks=[ROW] * 5 + [{}])
    reward.submit(rollout)
    scores = reward.score(rollout)
    assert torch.equal(scores[0], expected(rollout, 0, 1.0))
    # one of two constraints violated in both worlds, blamed on the misplacing line: mass 2 × 1/(2 × 2) = 0.5
    assert torch.allclose(scores[1], expected(rollout, 1, 0.5, '    place("cup")', -0.5 * 0.5))
    # both missing in both worlds, blamed on the last line: mass 1.0
    assert torch.allclose(scores[2], expected(rollout, 2, 0.0, '    say("hi")', -0.5))
    # the raising line stopped the program: both missing actions are blamed on it
    assert torch.allclose(scores[3], expected(rollout, 3, 0.0, '    place("cup")', -0.5))
    assert torch.allclose(scores[4], -0.1 * rollout.response_mask[4])
    assert torch.equal(scores[5], torch.zeros(rollout.response_length))  # no spec: not scored
    assert torch.allclose(reward.sequence_score(rollout, scores), torch.tensor([1.0, 0.5, 0.0, 0.0, -0.1, 0.0]))
    assert reward.metrics() == pytest.approx({
        "infra_errors": 0.0, "mean_score": 1.5 / 5, "full_share": 1 / 5, "checked": 5 / 6,
        "api_calls_mean": (5 + 4 + 2 + 3 + 0) / 5, "trivial_share": 2 / 5,
    })
    assert reward.state_dict() == {"programs_checked": 4}


def test_sum_blame_splits_a_lines_penalty_over_its_tokens(tiny_tokenizer):
    # blame_spreading: sum (default); the score per token as in the paper (spreading: constant)
    component = TaskCheckReward(worlds=2, violation_penalty=-0.5, workers=1, spreading="constant")
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, [TRIVIAL, DONE], tasks=[ROW, ROW])
        scores = component.score(rollout)
    finally:
        component.close()
    done = program(rollout, 1)  # the honest program was checked in the sandbox: full score, no blame
    assert torch.allclose(scores[1, done], torch.full((len(done),), 1.0))
    line = tokens(rollout, 0, '    say("hi")')
    assert torch.allclose(scores[0], expected(rollout, 0, 0.0, '    say("hi")', -0.5 / len(line)))
    assert scores[0].sum().item() == pytest.approx(-0.5)


def test_sum_spreading_sums_the_no_program_penalty_over_the_response(tiny_tokenizer):
    component = TaskCheckReward(worlds=2, spreading="sum", fail_penalty=-0.1, workers=1)
    long = GARBAGE + " Really, I cannot write that program for you today." * 4
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, [DONE, GARBAGE, long], tasks=[ROW] * 3)
        scores = component.score(rollout)
    finally:
        component.close()
    done = program(rollout, 0)
    assert torch.allclose(scores[0, done], torch.full((len(done),), 1.0 / len(done)))
    for i in (1, 2):
        n = int(rollout.response_mask[i].sum())
        assert torch.allclose(scores[i, :n], torch.full((n,), -0.1 / n))
        assert scores[i].sum().item() == pytest.approx(-0.1)


def test_line_blame_masses():
    verdict = {"worlds": [
        {"results": [{"applicable": True, "satisfied": False, "blame": [3, 4]},
                     {"applicable": True, "satisfied": True, "blame": []},
                     {"applicable": False, "satisfied": None, "blame": []}]},
        {"results": [{"applicable": True, "satisfied": False, "blame": [3]}]},
    ]}
    assert line_blame(verdict) == {3: 0.25 + 0.5, 4: 0.25}
    assert line_blame({"score": 0.0, "worlds": []}) == {}


def test_spec_of_rows():
    assert task_spec_of(ROW) is SPEC
    assert task_spec_of({"robot": {"spec": {"constraints": []}}}) is None
    assert task_spec_of({}) is None and task_spec_of(None) is None


def test_invalid_arguments():
    with pytest.raises(ValueError, match="spreading"):
        TaskCheckReward(spreading="mean")
    with pytest.raises(ValueError, match="blame_spreading"):
        TaskCheckReward(blame_spreading="mean")
    with pytest.raises(ValueError, match="worlds"):
        TaskCheckReward(worlds=0)
    with pytest.raises(ValueError, match="world_timeout_s"):
        TaskCheckReward(world_timeout_s=0)
