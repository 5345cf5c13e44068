"""MBPP, OpenCodeInstruct and JsonlTasks task sources."""

from __future__ import annotations

import json
import sys
import types

import pytest

from lit_coderl.data.mbpp import (
    HUB_HINT,
    MBPP,
    JsonlTasks,
    OpenCodeInstruct,
    mbpp_prompt,
    opencodeinstruct_row,
    parse_test_list,
    reservoir_sample,
)


def test_mbpp_splits_and_row_schema(data_dir):
    train = MBPP(split="train", data_dir=data_dir).load()
    assert len(train) == 374
    assert train[0]["task_id"] == "mbpp/601" and train[-1]["task_id"] == "mbpp/974"
    assert len(MBPP(split="test", data_dir=data_dir).load()) == 500
    assert len(MBPP(split="validation", data_dir=data_dir).load()) == 90
    prompt_rows = MBPP(split="prompt", data_dir=data_dir).load()
    assert [r["task_id"] for r in prompt_rows] == [f"mbpp/{i}" for i in range(1, 11)]

    row = MBPP(split="test", data_dir=data_dir, task_ids=[11]).load()[0]
    assert row["tests"][0] == 'assert remove_Occ("hello","l") == "heo"'
    assert len(row["tests"]) == 3
    assert "\r" not in row["reference"] and row["reference"].startswith("def remove_Occ(s,ch):")
    assert row["test_setup"] == ""
    assert row["entry_point"] == "remove_Occ"
    content = row["messages"][0]["content"]
    assert row["messages"][0]["role"] == "user"
    assert "remove first and last occurrence of a given character" in content
    assert 'assert remove_Occ("hello","l") == "heo"' in content
    assert "```python" in content
    assert 'assert remove_Occ("abcda","a") == "bcd"' not in content  # only the first test is shown

    setup_row = MBPP(split="test", data_dir=data_dir, task_ids=[367]).load()[0]
    assert setup_row["test_setup"].startswith("root = Node(1)")
    assert MBPP(split="test", data_dir=data_dir, limit=5).load()[-1]["task_id"] == "mbpp/15"


def test_mbpp_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown MBPP split"):
        MBPP(split="dev")
    with pytest.raises(FileNotFoundError, match="mbpp.jsonl"):
        MBPP(data_dir=tmp_path).load()
    (tmp_path / "mbpp.jsonl").write_text(json.dumps({"task_id": 601, "text": "t", "code": "x = 1"}) + "\n")
    with pytest.raises(ValueError, match=r"mbpp.jsonl: row 601 is missing field\(s\) test_list"):
        MBPP(data_dir=tmp_path).load()
    (tmp_path / "mbpp.jsonl").write_bytes(b"{not json\n")
    with pytest.raises(ValueError, match=r"mbpp.jsonl:1: not valid JSON"):
        MBPP(data_dir=tmp_path).load()


def test_hub_sources_need_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install lit_coderl\[hub\]"):
        MBPP(source="hub").load()
    with pytest.raises(ImportError, match=r"pip install lit_coderl\[hub\]"):
        OpenCodeInstruct().load()
    assert "lit_coderl[hub]" in HUB_HINT


def _oci_record(i: int, tests: str = "['assert f(1) == 1', 'assert f(2) == 2']", score: str = "1.0") -> dict:
    return {"id": f"r{i}", "input": f"Write f number {i}.", "output": f"```python\ndef f(x):\n    return x  # {i}\n```",
            "unit_tests": tests, "average_test_score": score, "domain": "generic"}


def test_opencodeinstruct_streams_a_seeded_subset(monkeypatch):
    calls = []

    def load_dataset(name, split=None, streaming=False):
        calls.append((name, split, streaming))
        return iter([_oci_record(i) for i in range(50)] + [_oci_record(99, tests="")])

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    rows = OpenCodeInstruct(n=5, seed=3).load()
    again = OpenCodeInstruct(n=5, seed=3).load()
    other = OpenCodeInstruct(n=5, seed=4).load()
    assert calls[0] == ("nvidia/OpenCodeInstruct", "train", True)
    assert [r["task_id"] for r in rows] == [r["task_id"] for r in again]
    assert [r["task_id"] for r in rows] != [r["task_id"] for r in other]
    assert len(rows) == 5 and "opencodeinstruct/r99" not in {r["task_id"] for r in rows}
    row = rows[0]
    assert row["tests"] == ["assert f(1) == 1", "assert f(2) == 2"]
    assert row["reference"].startswith("def f(x):\n    return x") and "```" not in row["reference"]
    assert row["messages"][0]["content"].startswith("Write f number")


def test_opencodeinstruct_min_score_filter(monkeypatch):
    records = [_oci_record(0, score="0.2"), _oci_record(1, score="0.9"), _oci_record(2, score="bad")]
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, **k: iter(records)))
    rows = OpenCodeInstruct(n=10, min_test_score=0.5).load()
    assert [r["task_id"] for r in rows] == ["opencodeinstruct/r1"]


def test_opencodeinstruct_row_missing_field():
    with pytest.raises(ValueError, match="missing field.*unit_tests"):
        opencodeinstruct_row({"id": "x", "input": "i", "output": "o"})


def test_reservoir_sample_is_uniform_size_and_ordered():
    sample = reservoir_sample(range(1000), 10, seed=0)
    assert len(sample) == 10 and sample == sorted(sample)
    assert reservoir_sample(range(1000), 10, seed=0) == sample
    assert max(reservoir_sample(range(1000), 10, seed=0, scan=20)) < 20
    assert reservoir_sample(range(3), 10, seed=0) == [0, 1, 2]


def test_parse_test_list_formats():
    assert parse_test_list("['assert a', \"assert b\"]") == ["assert a", "assert b"]
    assert parse_test_list('["assert a"]') == ["assert a"]
    assert parse_test_list("assert a\n\nassert b\n") == ["assert a", "assert b"]
    assert parse_test_list(["assert a", " "]) == ["assert a"]
    assert parse_test_list(None) == [] and parse_test_list("  ") == []
    with pytest.raises(ValueError, match="cannot parse the test list"):
        parse_test_list("[unclosed", where="file.jsonl")


def test_jsonl_tasks_with_field_mapping(tmp_path):
    path = tmp_path / "tasks.jsonl"
    lines = [
        {"qid": "a", "question": "Add numbers.", "answer": "```python\ndef add(a, b):\n    return a + b\n```",
         "checks": "['assert add(1, 2) == 3']"},
        {"qid": "b", "question": "Negate.", "answer": "def neg(a):\n    return -a\n",
         "checks": ["assert neg(1) == -1"]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    source = JsonlTasks(path, fields={"task_id": "qid", "instruction": "question", "reference": "answer",
                                      "tests": "checks"})
    rows = source.load()
    assert rows[0] == {
        "task_id": "a",
        "messages": [{"role": "user", "content": "Add numbers."}],
        "reference": "def add(a, b):\n    return a + b",
        "tests": ["assert add(1, 2) == 3"],
        "test_setup": "",
    }
    assert rows[1]["tests"] == ["assert neg(1) == -1"]
    assert JsonlTasks(path, fields={"task_id": "qid", "instruction": "question"}, limit=1).load()[0]["tests"] == []


def test_jsonl_tasks_errors(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"question": "q"}) + "\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl: record 1 is missing field 'answer' \(for reference\)"):
        JsonlTasks(path, fields={"instruction": "question", "reference": "answer"}).load()
    with pytest.raises(ValueError, match="missing field.*reference"):
        JsonlTasks(path, fields={"instruction": "question"}, required=["reference"]).load()
    with pytest.raises(ValueError, match="no instruction, messages or prompt"):
        JsonlTasks(path).load()
    with pytest.raises(ValueError, match="unknown row field"):
        JsonlTasks(path, fields={"question": "q"})
    with pytest.raises(FileNotFoundError, match="task file not found"):
        JsonlTasks(tmp_path / "missing.jsonl").load()


def test_mbpp_prompt_text():
    assert mbpp_prompt(" Add. ", "assert add(1, 1) == 2") == (
        "You are an expert Python programmer, and here is your task: Add. Your code should pass this test:\n\n"
        "assert add(1, 1) == 2\n\nWrite the solution as a single ```python code block."
    )
