"""The text path on the real model's tokenizer and on its real outputs (`tests/fixtures/smollm2_outputs.json`, greedy
generations of smollm2-135m-instruct made by `scripts/smol_fixtures.py`): chat template, EOS, code extracted from
markdown with prose around it, token offsets, and every reward's spans."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from lit_coderl.data.prompts import render_prompt
from lit_coderl.rewards.lint import LintReward
from lit_coderl.rewards.spans import prefix_char_offsets, token_char_offsets
from lit_coderl.rewards.syntax import SyntaxReward
from lit_coderl.rollout import Rollout
from lit_coderl.sampling import eos_token_ids

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "smollm2_outputs.json").read_text())
OUTPUTS = FIXTURES["outputs"]
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _rollout(tokenizer, records) -> Rollout:
    """The rollout the module builds from sampled ids: EOS kept in the ids (and the mask), padding after it."""
    length = max(len(r["response_ids"]) for r in records)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(records), length), pad, dtype=torch.long)
    mask = torch.zeros((len(records), length))
    for i, r in enumerate(records):
        ids[i, : len(r["response_ids"])] = torch.tensor(r["response_ids"])
        mask[i, : len(r["response_ids"])] = 1.0
    tasks = [{"tests": r["tests"]} for r in records]
    empty = torch.zeros((len(records), 0), dtype=torch.long)
    return Rollout.from_response_ids(tokenizer, empty, empty, ids, mask, tasks)


def fenced_code(text: str) -> tuple[str, str, str]:
    """(prose before, code, prose after) of the first fenced block, by lines (independent of `extract_code_span`)."""
    lines = text.split("\n")
    opening = next(i for i, line in enumerate(lines) if line.lstrip().startswith("```"))
    closing = next((i for i in range(opening + 1, len(lines)) if lines[i].strip() == "```"), len(lines))
    before = "\n".join(lines[:opening])
    return before, "\n".join(lines[opening + 1 : closing]), "\n".join(lines[closing + 1 :])


def test_chat_template_and_its_eos(smol_tokenizer):
    task = {"messages": [{"role": "user", "content": "Add two numbers."}]}
    prompt = render_prompt(task, smol_tokenizer)
    assert prompt == (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nAdd two numbers.<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = smol_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids.count(1) == 3 and ids.count(2) == 2  # <|im_start|> = 1 and <|im_end|> = 2, each one token
    assert smol_tokenizer.eos_token == "<|im_end|>" and smol_tokenizer.eos_token_id == 2
    assert smol_tokenizer.pad_token_id == 2 and smol_tokenizer.padding_side == "left"

    class Model:  # the generation config of the converted folder lists the same EOS
        generation_config = type("C", (), {"eos_token_id": 2})()

    assert eos_token_ids(Model(), smol_tokenizer) == {2}


def test_fixtures_decode_identically_and_end_on_eos(smol_tokenizer):
    assert FIXTURES["meta"]["model"] == "smollm2-135m-instruct"
    for r in OUTPUTS:
        assert smol_tokenizer.decode(r["response_ids"], skip_special_tokens=True) == r["text"]
        assert (r["response_ids"][-1] == 2) == r["ended_with_eos"]
        assert 2 not in r["response_ids"][:-1]
    rollout = _rollout(smol_tokenizer, OUTPUTS)
    for i, r in enumerate(OUTPUTS):
        assert rollout.texts[i] == r["text"] and "<|im_end|>" not in rollout.texts[i]
        assert int(rollout.response_mask[i].sum()) == len(r["response_ids"])


@pytest.mark.parametrize("index", range(len(OUTPUTS)))
def test_offsets_on_real_outputs(smol_tokenizer, index):
    r = OUTPUTS[index]
    ids, text = r["response_ids"], r["text"]
    offsets = token_char_offsets(smol_tokenizer, ids, text)
    assert offsets == prefix_char_offsets(smol_tokenizer, ids, text)  # streamed == the quadratic reference
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)
    for (s0, e0), (s1, _) in zip(offsets, offsets[1:], strict=False):
        assert e0 == s1 and s0 <= e0  # contiguous, in order
    for token, (s, e) in zip(ids, offsets, strict=True):
        piece = smol_tokenizer.decode([token], skip_special_tokens=True)
        if "\ufffd" not in piece:  # a whole-character token: its span is its own text
            assert text[s:e] == piece, (token, piece, text[s:e])
    assert offsets[-1] == (len(text), len(text)) or not r["ended_with_eos"]  # EOS has no width


def _code_tokens(rollout, i) -> set[int]:
    return set(rollout.code_token_indices(i))


def _covering(rollout, i, start, end) -> set[int]:
    return {t for t, (s, e) in enumerate(rollout.offsets[i]) if e > s and s < end and e > start}


def test_code_is_the_fenced_block_and_prose_stays_out(smol_tokenizer):
    rollout = _rollout(smol_tokenizer, OUTPUTS)
    with_prose = 0
    for i, r in enumerate(OUTPUTS):
        before, code, after = fenced_code(r["text"])
        assert rollout.code(i) == code
        start, end = rollout.code_spans[i]
        assert r["text"][:start].endswith("```python\n") and before == ""  # this model opens with the fence
        prose = _covering(rollout, i, end, len(r["text"]))
        assert not prose & _code_tokens(rollout, i)
        if after.strip():
            with_prose += 1
            assert after.strip() in r["text"][end:] and after.strip() not in rollout.code(i)
        if not r["ended_with_eos"]:  # cut at max_new_tokens inside the block: the code runs to the end of the text
            assert end == len(r["text"])
    assert with_prose >= 2  # explanations after the block (mbpp/602, mbpp/604)


def test_syntax_flags_the_last_token_of_a_truncated_block_only(smol_tokenizer):
    rollout = _rollout(smol_tokenizer, OUTPUTS)
    scores = SyntaxReward(invalid_penalty=-1.0, incomplete_penalty=-1.0).score(rollout)
    for i, r in enumerate(OUTPUTS):
        try:
            ast.parse(rollout.code(i))
            valid = True
        except SyntaxError:
            valid = False
        flagged = {t for t in range(rollout.response_length) if scores[i, t] != 0}
        if valid:
            assert not flagged, r["task_id"]
        else:  # mbpp/601 and mbpp/603 stop mid-statement: incomplete, not wrong, until the last token
            assert not r["ended_with_eos"]
            assert flagged == {max(_code_tokens(rollout, i))} and scores[i].sum().item() == -1.0
    assert sum(not r["ended_with_eos"] for r in OUTPUTS) == 2


def test_lint_diagnostics_land_on_the_named_tokens(smol_tokenizer):
    rollout = _rollout(smol_tokenizer, OUTPUTS)
    i = next(k for k, r in enumerate(OUTPUTS) if r["task_id"] == "robogen-1-00000")
    scores = LintReward(select=["F"], penalty=-1.0, spreading="constant").score(rollout)  # per token
    text, (base, _) = rollout.texts[i], rollout.code_spans[i]
    # F821 twice on `remote_control_to_bed`, F811 on the second `def move_to_bed` (line 9 of the code)
    spans = [(m, m + len("remote_control_to_bed")) for m in _find_all(text, "remote_control_to_bed")]
    line9 = base + sum(len(line) + 1 for line in rollout.code(i).split("\n")[:8])
    second_def = text.index("move_to_bed", line9)
    spans.append((second_def, second_def + len("move_to_bed")))
    expected = set().union(*(_covering(rollout, i, s, e) for s, e in spans))
    flagged = {t for t in range(rollout.response_length) if scores[i, t] != 0}
    assert flagged == expected and {scores[i, t].item() for t in flagged} == {-1.0}
    assert "".join(text[slice(*rollout.offsets[i][t])] for t in sorted(flagged)) == (
        " remote_control_to_bed" * 2 + " move_to_bed"
    )


def _find_all(text: str, word: str) -> list[int]:
    out, at = [], text.find(word)
    while at >= 0:
        out.append(at)
        at = text.find(word, at + 1)
    return out


def test_unit_tests_score_the_code_tokens_not_the_explanation(smol_tokenizer):
    from lit_coderl.rewards.tests import UnitTestReward

    mbpp = [r for r in OUTPUTS if r["kind"] == "mbpp"]
    rollout = _rollout(smol_tokenizer, mbpp)
    # the same real answer to mbpp/602 with the line it forgot (`seen[char] = True`): it passes the tests for "abcabc"
    # and "123123", and still fails `first_repeated_char("abc") == "None"` (MBPP wants the string): 2 of 3
    fixed = mbpp[1]["text"].replace("            return char\n", "            return char\n        seen[char] = True\n")
    assert fixed != mbpp[1]["text"]
    fixed_rollout = Rollout.from_texts(smol_tokenizer, [fixed], [{"tests": mbpp[1]["tests"]}])
    reward = UnitTestReward(mode="fraction", spreading="constant", fail_penalty=-0.3, workers=2, timeout_s=5.0)
    try:
        reward.submit(rollout)
        scores = reward.score(rollout)
        # all four real answers fail their tests (checked by hand: 602 never fills `seen`, 604 reverses characters,
        # 601 and 603 are cut off): the penalty on every code token, nothing on the fence or the prose
        for i in range(len(mbpp)):
            code = _code_tokens(rollout, i)
            assert {t for t in range(rollout.response_length) if scores[i, t] != 0} == code
            assert torch.allclose(scores[i, sorted(code)], torch.tensor(-0.3))
        reward.submit(fixed_rollout)
        fixed_scores = reward.score(fixed_rollout)
    finally:
        reward.close()
    code = _code_tokens(fixed_rollout, 0)
    assert {t for t in range(fixed_rollout.response_length) if fixed_scores[0, t] != 0} == code
    assert torch.allclose(fixed_scores[0, sorted(code)], torch.tensor(2 / 3))


def test_simulator_scores_the_program_tokens(smol_tokenizer):
    from lit_coderl.data.robot import GeneratedRobotTasks
    from lit_coderl.rewards.simulator import SimulatorReward

    records = [r for r in OUTPUTS if r["kind"] == "robot"]
    tasks = GeneratedRobotTasks(n=2, seed=1, style="paper").load()  # the generator is seeded: the fixtures' prompts
    assert [t["messages"] for t in tasks] == [r["messages"] for r in records]
    rollout = _rollout(smol_tokenizer, records)
    rollout.tasks = tasks
    reward = SimulatorReward(worlds=5, fail_penalty=-0.1, spreading="constant", workers=2)
    try:
        reward.submit(rollout)
        scores = reward.score(rollout)
    finally:
        reward.close()
    # robogen-1-00000 defines no task_program: no program, the penalty on the whole response
    n0 = len(records[0]["response_ids"])
    assert torch.allclose(scores[0, :n0], torch.tensor(-0.1)) and not scores[0, n0:].any()
    # robogen-1-00001 is a valid program (go_to, get_current_location, print) that runs in all 5 worlds: +1 on the
    # program's tokens (its lines and the newline that ends the last one), nothing on the fences
    text, (start, end) = rollout.texts[1], rollout.code_spans[1]
    flagged = {t for t in range(rollout.response_length) if scores[1, t] != 0}
    assert flagged == _covering(rollout, 1, start, end + 1) and text[end] == "\n"
    assert torch.allclose(scores[1, sorted(flagged)], torch.tensor(1.0))
    assert not flagged & _covering(rollout, 1, 0, start) and not flagged & _covering(rollout, 1, end + 1, len(text))
