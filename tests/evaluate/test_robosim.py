"""`evaluate robosim`: RoboSim accept/reject per sample."""

import csv
import json

import pytest

from lit_coderl.evaluate import get_evaluator
from lit_coderl.evaluate.robosim import RoboSimEvaluator


def reference(data_dir, task_id):
    with (data_dir / "roboeval" / "roboeval_data.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["taskname"]: row["prompt_program"] for row in csv.DictReader(handle)}
    return rows[task_id].split("\n", 1)[1]


def test_registered_and_tasks_from_the_csv(data_dir):
    assert get_evaluator("robosim") is RoboSimEvaluator
    tasks = RoboSimEvaluator(data_dir=data_dir).tasks()
    assert len(tasks) == 80
    assert tasks["CountSavory_0"]["task"] == "CountSavory"
    assert tasks["FindBackpack_0"]["instruction"].startswith("Check where I left my backpack")
    assert RoboSimEvaluator(data_dir=data_dir).prompt(tasks["CountSavory_0"]).endswith("\ndef task_program():")


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="roboeval_data.csv"):
        RoboSimEvaluator(data_dir=tmp_path).tasks()
    with pytest.raises(ValueError, match="mode"):
        RoboSimEvaluator(data_dir=tmp_path, mode="strict")


def test_scores_accepts_and_classifies_rejections(data_dir):
    samples = [
        {"task_id": "StaplerDelivery_0", "solution": reference(data_dir, "StaplerDelivery_0")},
        {"task_id": "FindBackpack_0", "id": 7, "solution": reference(data_dir, "FindBackpack_0")},
        {"task_id": "GetDrink_1", "solution": "```python\ndef task_program():\n    go_to(kitchen)\n```"},
        {"task_id": "ElevatorTour_0", "solution": "def task_program():\n    while True:\n        pass\n"},
        {"task_id": "SayGoodDay_2", "solution": ""},
    ]
    evaluator = RoboSimEvaluator(data_dir=data_dir, workers=1, world_timeout_s=0.5)
    results = evaluator.score(samples)
    assert [r["task_id"] for r in results] == [s["task_id"] for s in samples]
    assert results[1]["id"] == 7 and "id" not in results[0]
    assert [r["accepted"] for r in results] == [True, False, False, False, False]
    assert results[0]["worlds_passed"] == 100 and results[0]["error"] is None  # the original's 100 worlds
    assert results[1]["error_class"] == "RobotPlaceError" and results[1]["error_kind"] == "robot"
    assert results[1]["error_line"] == 12
    assert results[2]["error_class"] == "NameError" and results[2]["error_kind"] == "python"
    assert results[3]["error_class"] == "TimeOutError" and results[3]["error_kind"] == "timeout"
    assert results[4]["error_kind"] == "python"
    summary = evaluator.summary(results)
    assert summary.splitlines()[0] == "RoboSim: 1/5 programs accepted (20.0%)"
    assert "RobotPlaceError 1" in summary and "FindBackpack 0/1" in summary


def test_cli_writes_one_line_per_sample(data_dir, tmp_path, capsys):
    from lit_coderl.evaluate.cli import main

    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "X_0", "solution": 'def task_program():\n    say("hi")\n'}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["robosim", "--samples", str(samples), "--out", str(out), "--data-dir", str(data_dir),
                 "--workers", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["accepted"] is True and rows[0]["task"] == "X"
    assert "RoboSim: 1/1 programs accepted" in capsys.readouterr().out


RARE_FAILURE = (
    "def task_program():\n"
    '    if not any(is_in_room(x) for x in ("apple", "pear", "plum", "fig", "kiwi")):\n'
    '        place("apple")\n'
)
"""Fails only when five independent 50/50 presence checks all come out false: about 1 world in 32."""


def test_default_100_worlds_reject_what_5_worlds_accept(data_dir):
    sample = [{"task_id": "SayGoodDay_0", "solution": RARE_FAILURE}]
    strict = RoboSimEvaluator(data_dir=data_dir, workers=1).score(sample)[0]
    assert not strict["accepted"] and strict["error_class"] == "RobotPlaceError"
    accepted = [RoboSimEvaluator(data_dir=data_dir, workers=1, worlds=5, seed=seed).score(sample)[0]["accepted"]
                for seed in range(10)]
    # 5 worlds often miss a 1-in-32 failure ((31/32)^5 = 85 %; 7 of these 10 seeds); 100 worlds never do here
    assert accepted == [True, True, False, False, True, False, True, True, True, True]
