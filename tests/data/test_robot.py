"""Robot-domain task sources."""

import sys

import pytest

from lit_coderl.data.robot import GeneratedRobotTasks, RoboInstruct, robo_instruct_row


def test_generated_source_rows():
    rows = GeneratedRobotTasks(n=30, seed=2, data_dir="/nonexistent").load()
    assert len(rows) == 30 and len({r["task_id"] for r in rows}) == 30
    assert rows == GeneratedRobotTasks(n=30, seed=2, data_dir="/nonexistent").load()
    paper = GeneratedRobotTasks(n=1, style="paper", data_dir="/nonexistent").load()[0]
    assert paper["messages"][0]["role"] == "system"
    assert paper["messages"][-1]["content"].endswith("Instruction: " + paper["robot"]["instruction"] + "\n")
    with pytest.raises(ValueError, match="style"):
        GeneratedRobotTasks(style="chat")


def fake_records(n):
    return [{"prompt": f"Go to room {i}.", "program": f'def task_program():\n    go_to("room {i}")\n'}
            for i in range(n)]


def test_robo_instruct_split_is_a_seeded_partition(monkeypatch):
    monkeypatch.setattr(RoboInstruct, "records", lambda self: fake_records(10))
    train = RoboInstruct(split="train", seed=1).load()
    test = RoboInstruct(split="test", seed=1).load()
    assert len(train) == 8 and len(test) == 2
    assert {r["task_id"] for r in train} | {r["task_id"] for r in test} == {f"robo-instruct/{i}" for i in range(10)}
    assert not {r["task_id"] for r in train} & {r["task_id"] for r in test}
    assert len(RoboInstruct(split="all", limit=3).load()) == 3


def test_robo_instruct_row_format():
    row = robo_instruct_row(fake_records(1)[0], 0, "compact", "x")
    assert row == {
        "task_id": "robo-instruct/0",
        "messages": [{"role": "user", "content": "Instruction: Go to room 0."}],
        "reference": '```python\ndef task_program():\n    go_to("room 0")\n```',
        "robot": {"instruction": "Go to room 0.", "program": 'def task_program():\n    go_to("room 0")'},
    }
    with pytest.raises(ValueError, match="program"):
        robo_instruct_row({"prompt": "x"}, 0, "compact", "hub:x")


def test_robo_instruct_without_datasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install lit_coderl\[hub\]"):
        RoboInstruct().load()


def test_robo_instruct_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        RoboInstruct(split="validation")
    with pytest.raises(ValueError, match="test_fraction"):
        RoboInstruct(test_fraction=1.0)
