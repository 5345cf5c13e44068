"""MBPP and MBPP+ evaluators: canonical solutions pass, wrong ones fail, EvalPlus comparison rules, extraction."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lit_coderl.evaluate import get_evaluator
from lit_coderl.evaluate.mbpp import (
    DEV_LABEL,
    MBPPEvaluator,
    MBPPPlusEvaluator,
    deserialize_inputs,
    extract_functions,
    output_matches,
    task_number,
)


@pytest.fixture(scope="module")
def mbpp(data_dir):
    return MBPPEvaluator(data_dir=data_dir, workers=2)


@pytest.fixture(scope="module")
def mbppplus(data_dir):
    return MBPPPlusEvaluator(data_dir=data_dir, workers=2)


def test_registered_kinds():
    assert get_evaluator("mbpp") is MBPPEvaluator
    assert get_evaluator("mbppplus") is MBPPPlusEvaluator


def test_every_mbpp_canonical_solution_passes(mbpp):
    tasks = mbpp.tasks()
    assert list(tasks)[0] == "Mbpp/11" and list(tasks)[-1] == "Mbpp/510" and len(tasks) == 500
    samples = [{"task_id": key, "solution": task["code"], "id": i} for i, (key, task) in enumerate(tasks.items())]
    results = mbpp.score(samples)
    failed = [r for r in results if not r["pass"]]
    assert not failed, failed[:5]
    assert [r["id"] for r in results] == list(range(500))
    assert results[0]["task_id"] == "Mbpp/11" and results[0]["passed"] == [True, True, True]
    summary = mbpp.summary(results)
    assert "     500    500   1.0000" in summary
    assert "status: pass 500" in summary


def test_mbpp_wrong_extracted_and_invalid_samples(mbpp):
    task = mbpp.tasks()["Mbpp/11"]
    completion = f"Sure!\n```python\n{task['code']}\n\nprint(remove_Occ('hello', 'l'))\nassert False\n```\nBye."
    samples = [
        {"task_id": "Mbpp/11", "solution": "def remove_Occ(s, ch):\n    return s[1:-1]\n"},
        {"task_id": "mbpp/11", "completion": completion},
        {"task_id": "11", "solution": completion},
        {"task_id": "Mbpp/9999", "solution": "x = 1", "id": "z"},
        {"task_id": "nonsense", "solution": "x = 1"},
    ]
    results = mbpp.score(samples)
    assert [r["pass"] for r in results] == [False, True, True, False, False]
    assert results[0]["status"] == "fail" and results[0]["passed"] == [False, True, True]
    assert results[3] == {"task_id": "Mbpp/9999", "id": "z", "status": "invalid", "passed": [],
                          "error": "unknown task_id", "pass": False}
    summary = mbpp.summary(results)
    assert "       5      1   0.6667" in summary  # tasks with valid samples: Mbpp/11 with 2 of 3 passing


def test_mbpp_prompt_is_three_shot(mbpp):
    messages = mbpp.prompt(mbpp.tasks()["Mbpp/11"])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user"]
    assert messages[1]["content"].startswith("```python\n") and messages[1]["content"].endswith("\n```")
    assert "remove first and last occurrence" in messages[-1]["content"]
    assert len(MBPPEvaluator(data_dir=mbpp.data_dir, few_shot=False).prompt(mbpp.tasks()["Mbpp/11"])) == 1


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="mbpp.jsonl"):
        MBPPEvaluator(data_dir=tmp_path).tasks()
    with pytest.raises(FileNotFoundError, match="MbppPlus-dev-767efcc.jsonl"):
        MBPPPlusEvaluator(data_dir=tmp_path).tasks()


def test_extract_functions():
    completion = (
        "Here you go:\n```python\nimport math\nfrom collections import Counter\nLIMIT = 10\n\n"
        "@staticmethod\ndef helper(x):\n    return x\n\n    # indented comment\nclass A:\n    pass\n"
        "def f(n):\n    return math.sqrt(n)\n\nprint(f(4))\nassert f(4) == 2\nif __name__ == '__main__':\n    f(1)\n```"
    )
    assert extract_functions(completion) == (
        "import math\nfrom collections import Counter\nLIMIT = 10\n@staticmethod\ndef helper(x):\n    return x\n\n"
        "    # indented comment\nclass A:\n    pass\ndef f(n):\n    return math.sqrt(n)\n"
    )
    assert extract_functions("no code here") == "no code here"
    assert extract_functions("```python\nx = 1\n```") == "x = 1"
    assert extract_functions("def g():\r\n    return 1\r\nprint(g())") == "def g():\n    return 1\n"


def test_task_number():
    assert task_number("Mbpp/11") == task_number("mbpp/11") == task_number("11") == task_number(11) == 11
    with pytest.raises(ValueError):
        task_number("HumanEval/x")


def test_deserialize_inputs_rules():
    assert deserialize_inputs(2, [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    assert deserialize_inputs(63, [[[[1, 2], [3, 4]]]]) == [[[(1, 2), (3, 4)]]]
    assert deserialize_inputs(75, [[[[1, 2]], 3]]) == [[[(1, 2)], 3]]
    assert deserialize_inputs(106, [[[1], [2, 3]]]) == [[[1], (2, 3)]]
    assert deserialize_inputs(115, [[[[1, 2], [], {}]]]) == [[[{1, 2}, {}, {}]]]
    assert deserialize_inputs(124, [["0", "1j"]]) == [(0.0, 1j)]
    assert deserialize_inputs(250, [[[1, 2], 3]]) == [[(1, 2), 3]]
    assert deserialize_inputs(259, [[[[1, 2]], [[3]]]]) == [[((1, 2),), ((3,),)]]
    assert deserialize_inputs(252, [["(1+2j)"], [4]]) == [[1 + 2j], [4 + 0j]]
    assert deserialize_inputs(278, [[[1, [2, 3], 4]]]) == [[(1, (2, 3), 4)]]
    assert deserialize_inputs(307, [[[1], 2, 3]]) == [[(1,), 2, 3]]
    assert deserialize_inputs(722, [[{"a": [1, 2]}, 5, 6]]) == [[{"a": (1, 2)}, 5, 6]]
    assert deserialize_inputs(580, [[[1, [2, [3]]]]]) == [((1, (2, (3,))),)]
    assert deserialize_inputs(11, [["a", "b"]]) == [["a", "b"]]
    assert deserialize_inputs(793, {}) == []


def test_output_matches_evalplus_rules():
    assert output_matches("f", (1,), 3, 3, 0) == (True, 0)
    assert output_matches("f", (1,), 0.1 + 0.2, 0.3, 0) == (True, 1e-6)  # atol 1e-6 for float outputs
    assert output_matches("f", (1,), 0.31, 0.3, 0) == (False, 1e-6)
    assert output_matches("f", (1,), [1.0, 2.0000001], [1.0, 2.0], 0)[0] is True
    assert output_matches("f", (1,), (1.0, 2.0), [1.0, 2.0], 0)[0] is False  # type must match for allclose
    assert output_matches("f", (1,), [1.0], [1.0, 2.0], 0)[0] is False  # length must match
    assert output_matches("f", (1,), 10.4, 10.0, 0.5)[0] is True  # the task's own atol
    assert output_matches("similar_elements", (), (5, 4), (4, 5), 0)[0] is True  # set equality
    assert output_matches("check_str", (), object(), True, 0)[0] is True  # not-None oracle
    assert output_matches("check_str", (), None, True, 0)[0] is False
    assert output_matches("check_str", (), False, False, 0)[0] is True
    assert output_matches("are_equivalent", (), "anything", 1, 0)[0] is True  # Mbpp/164
    assert output_matches("sum_div", (), 0, 5, 0)[0] is True  # Mbpp/295
    assert output_matches("digit_distance_nums", (123, 25), 3, 99, 0)[0] is True  # Mbpp/558: 1+0+2
    base, height = 3, 4
    expected = round(base**2 + 2 * base * math.sqrt((base / 2) ** 2 + height**2))
    assert output_matches("surface_Area", (base, height), expected, 33, 0)[0] is True  # Mbpp/581
    assert output_matches("f", (), np.array([1.0]), [1.0], 0)[0] is True  # one-element array: truthy, as in EvalPlus
    with pytest.raises(ValueError, match="ambiguous"):  # plus_check counts this as a failed input
        output_matches("f", (), np.array([1.0, 2.0]), [1.0, 2.0], 0)


def test_mbppplus_wrong_and_base_only_solutions(data_dir, tmp_path):
    evaluator = MBPPPlusEvaluator(data_dir=data_dir, workers=2, cache_dir=tmp_path)
    task = evaluator.tasks()["Mbpp/3"]
    canonical = task["prompt"] + task["canonical_solution"]
    base_args = [list(args) for args in task["base_input"]]
    entry = task["entry_point"]
    overfit = canonical + (
        f"\n_BASE = {base_args!r}\n_original = {entry}\n"
        f"def {entry}(*args):\n    return _original(*args) if list(args) in _BASE else 'wrong'\n"
    )
    samples = [
        {"task_id": "Mbpp/3", "solution": canonical, "id": 0},
        {"task_id": "Mbpp/3", "solution": overfit, "id": 1},
        {"task_id": "Mbpp/3", "solution": f"def {entry}(n):\n    return 'wrong'\n", "id": 2},
        {"task_id": "Mbpp/3", "solution": f"def {entry}(n):\n    while True:\n        pass\n", "id": 3},
        {"task_id": "Mbpp/83", "solution": "x = 1", "id": 4},  # not a v0.2.0 task
        {"task_id": "Mbpp/3", "completion": f"```python\n{canonical}\nprint({entry}(2))\n```", "id": 5},
        {"task_id": "Mbpp/3", "solution": "import os\nos._exit(0)\n", "id": 6},
    ]
    results = evaluator.score(samples)
    assert [(r["base"], r["plus"]) for r in results] == [
        (True, True), (True, False), (False, False), (False, False), (False, False), (True, True), (False, False)
    ]
    assert [(r["base_status"], r["plus_status"]) for r in results[:5]] == [
        ("pass", "pass"), ("pass", "fail"), ("fail", "fail"), ("fail", "fail"), ("invalid", "invalid")
    ]
    assert "time limit" in results[3]["error"]  # the per-input limit stops the loop, as in EvalPlus
    assert (results[6]["base_status"], results[6]["plus_status"]) == ("timeout", "timeout")  # EvalPlus's "unknown"
    assert [r["id"] for r in results] == list(range(7))
    (cache,) = tmp_path.glob("mbppplus-gt-*.json")  # expected outputs are cached, as data-only JSON
    assert json.loads(cache.read_text())["source_sha256"] == evaluator._data_hash
    summary = evaluator.summary(results)
    assert DEV_LABEL in summary and "378 v0.2.0" in summary
    assert "       7      1       0.5000       0.3333" in summary

    cached = MBPPPlusEvaluator(data_dir=data_dir, workers=1, cache_dir=tmp_path, base_only=True)
    again = cached.score(samples[1:3])
    assert [(r["base_status"], r["plus_status"]) for r in again] == [("pass", "skipped"), ("fail", "skipped")]

    # a cache for another source (or not ours at all) is ignored and rebuilt, never trusted
    for tampered in ({**json.loads(cache.read_text()), "source_sha256": "0" * 64}, "garbage"):
        cache.write_text(json.dumps(tampered) if isinstance(tampered, dict) else tampered)
        fresh = MBPPPlusEvaluator(data_dir=data_dir, workers=1, cache_dir=tmp_path, base_only=True)
        fresh.tasks()
        fresh._load_cache()
        assert fresh._ground_truth == {}
        assert [r["base_status"] for r in fresh.score(samples[1:3])] == ["pass", "fail"]


def test_mbppplus_task_selection_and_prompt(mbppplus, data_dir):
    tasks = mbppplus.tasks()
    assert len(tasks) == 378 and "Mbpp/83" not in tasks
    assert len(MBPPPlusEvaluator(data_dir=data_dir, all_tasks=True).tasks()) == 399
    assert tasks["Mbpp/2"]["base_input"][0] == [(3, 4, 5, 6), (5, 7, 4, 10)]
    content = mbppplus.prompt(tasks["Mbpp/2"])[0]["content"]
    assert "find the shared elements from the given two lists" in content
    assert "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)" in content
    assert "'''" not in content


@pytest.mark.slow
def test_every_mbppplus_canonical_solution_passes_base_and_plus(mbppplus):
    tasks = mbppplus.tasks()
    samples = [{"task_id": k, "solution": t["prompt"] + t["canonical_solution"]} for k, t in tasks.items()]
    results = mbppplus.score(samples)
    failed = [r for r in results if not (r["base"] and r["plus"])]
    assert not failed, failed[:5]
    assert "     378    378       1.0000       1.0000" in mbppplus.summary(results)


def test_evaluate_cli_on_canonical_sample_files(data_dir, tmp_path, capsys):
    import json

    from lit_coderl.evaluate.cli import main

    mbpp_tasks = MBPPEvaluator(data_dir=data_dir).tasks()
    plus_tasks = MBPPPlusEvaluator(data_dir=data_dir).tasks()
    files = {
        "mbpp": [{"task_id": k, "solution": t["code"], "id": n}
                 for n, (k, t) in enumerate(list(mbpp_tasks.items())[:4])],
        "mbppplus": [{"task_id": k, "solution": t["prompt"] + t["canonical_solution"]}
                     for k, t in list(plus_tasks.items())[:4]],
    }
    for kind, samples in files.items():
        path, out = tmp_path / f"{kind}.jsonl", tmp_path / f"{kind}_out.jsonl"
        path.write_text("".join(json.dumps(s) + "\n" for s in samples))
        argv = [kind, "--samples", str(path), "--out", str(out), "--data-dir", str(data_dir), "--workers", "2"]
        if kind == "mbppplus":
            argv += ["--option", f"cache_dir={tmp_path}"]
        assert main(argv) == 0
        results = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["task_id"] for r in results] == [s["task_id"] for s in samples]
        key = "pass" if kind == "mbpp" else "plus"
        assert all(r[key] for r in results)
    printed = capsys.readouterr().out
    assert "       4      4   1.0000" in printed
    assert "       4      4       1.0000       1.0000" in printed
