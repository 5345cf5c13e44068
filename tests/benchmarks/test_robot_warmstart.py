"""benchmarks/robot_warmstart.py: the SFT draw is the RL prompt format, disjoint from the RL and evaluation draws,
and decontaminated against the RoboEval prompts."""

import csv
from pathlib import Path

import pytest

from lit_coderl.data.robot import GeneratedRobotTasks
from lit_coderl.robot.generator import generate_drawn
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def warmstart():
    return load_benchmark("robot_warmstart")


def write_roboeval(folder: Path, prompts: list[str]) -> Path:
    (folder / "roboeval").mkdir(parents=True)
    with (folder / "roboeval" / "roboeval_data.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["prompt_program"])
        writer.writeheader()
        writer.writerows({"prompt_program": prompt + "\nmore"} for prompt in prompts)
    return folder


def test_rows_exclude_the_given_draws_and_the_references(warmstart, tmp_path):
    plain = [task["instruction"] for task in generate_drawn(30, 7)]
    data_dir = write_roboeval(tmp_path, [plain[0]])
    exclude = {plain[1], plain[2]} | warmstart.excluded_instructions([(40, 1)])
    rows = warmstart.warmstart_rows(20, 7, data_dir, exclude)
    instructions = [row["robot"]["instruction"] for row in rows]
    assert len(instructions) == len(set(instructions)) == 20
    assert not set(instructions) & exclude
    assert plain[0] not in instructions          # the RoboEval near-copy is dropped
    assert instructions[0] == plain[3]
    report = warmstart.decontamination_report(rows, [plain[0]])
    assert report["above_threshold"] == 0 and report["roboeval_prompts"] == 1


def test_pairs_use_the_rl_prompt_format(warmstart):
    rows = warmstart.warmstart_rows(5, 7, "/nonexistent", set())
    rl_rows = GeneratedRobotTasks(n=5, seed=7, style="compact", data_dir=None).load()
    pairs = warmstart.warmstart_pairs(rows)
    assert [pair.messages for pair in pairs] == [row["messages"] for row in rl_rows]
    assert [pair.code for pair in pairs] == [row["reference"] for row in rl_rows]
    assert pairs[0].messages[0]["content"].startswith("Instruction: ")
    assert pairs[0].code.startswith("```python\ndef task_program():")
