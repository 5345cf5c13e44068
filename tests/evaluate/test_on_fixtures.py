"""The evaluators' logic on small data folders the project writes itself: these tests never skip (#13)."""

from __future__ import annotations

import json

import pytest

from lit_coderl.evaluate.cli import main as evaluate_main
from lit_coderl.evaluate.mbpp import MBPPEvaluator, MBPPPlusEvaluator
from lit_coderl.evaluate.roboeval import RoboEvalEvaluator
from lit_coderl.evaluate.robosim import RoboSimEvaluator
from tests.benchmark_fixtures import ROBOT_PROGRAM, write_all


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("bench"))


def test_mbpp_on_fixture(fixture_dir):
    evaluator = MBPPEvaluator(data_dir=fixture_dir, workers=1)
    assert list(evaluator.tasks()) == ["Mbpp/11", "Mbpp/12", "Mbpp/13"]
    assert len(evaluator.prompt(evaluator.tasks()["Mbpp/11"])) == 7  # 3 shots (tasks 2-4, user + assistant) + the task
    samples = [
        {"task_id": "Mbpp/11", "solution": "def add(a, b):\n    return a + b\n", "id": 0},
        {"task_id": "Mbpp/12", "solution": "def vowels(s):\n    return 0\n", "id": 1},
        {"task_id": "Mbpp/99", "solution": "x = 1", "id": 2},
    ]
    results = evaluator.score(samples)
    assert [r["pass"] for r in results] == [True, False, False]
    assert results[2]["status"] == "invalid" and [r["id"] for r in results] == [0, 1, 2]
    assert "pass@1" in evaluator.summary(results)


def test_mbppplus_release_file_on_fixture(fixture_dir, tmp_path):
    evaluator = MBPPPlusEvaluator(data_dir=fixture_dir, workers=1, cache_dir=tmp_path)
    assert sorted(evaluator.tasks()) == ["Mbpp/11", "Mbpp/12"]  # the release holds v0.2.0 only: no id filter
    samples = [
        {"task_id": "Mbpp/11", "solution": "def add(a, b):\n    return a + b\n"},
        {"task_id": "Mbpp/12", "solution": "def half(x):\n    return x // 2\n"},  # passes base 4, fails 1 and 3
    ]
    results = evaluator.score(samples)
    assert (results[0]["base"], results[0]["plus"]) == (True, True)
    assert results[1]["base"] is False and results[1]["plus"] is False
    assert evaluator.summary(results).startswith("MBPP+ v0.2.0 release")


def test_roboeval_on_fixture(fixture_dir):
    evaluator = RoboEvalEvaluator(data_dir=fixture_dir, workers=1, prompt_style="completion")
    tasks = evaluator.tasks()
    assert len(tasks) == 80 and "SayGoodDay_4" in tasks
    assert evaluator.prompt(tasks["SayGoodDay_0"]).startswith('"""Fixture robot API."""\n# Instruction: Go to')
    samples = [{"task_id": "LunchTime_0", "solution": ROBOT_PROGRAM}, {"task_id": "Nope_9", "solution": ""}]
    results = evaluator.score(samples)
    assert results[0]["outcome"] != "InvalidSample" and len(results[0]["states"]) == 2
    assert results[1]["outcome"] == "InvalidSample"


def test_robosim_on_fixture(fixture_dir):
    evaluator = RoboSimEvaluator(data_dir=fixture_dir, workers=1, worlds=2)
    assert len(evaluator.tasks()) == 80
    broken = "def task_program(:"
    samples = [{"task_id": "SayGoodDay_0", "solution": ROBOT_PROGRAM}, {"task_id": "SayGoodDay_1", "solution": broken}]
    results = evaluator.score(samples)
    assert results[0]["accepted"] is True and results[1]["accepted"] is False


def test_evaluate_cli_default_out_flags_and_counts(fixture_dir, tmp_path, capsys):
    samples = tmp_path / "gen.jsonl"
    with open(samples, "wb") as f:
        f.write(json.dumps({"task_id": "SayGoodDay_0", "solution": ROBOT_PROGRAM}).encode() + b"\n")
        f.write(json.dumps({"task_id": "NoSuchTask_0", "solution": ROBOT_PROGRAM}).encode() + b"\n")
        f.write(b'{"task_id": "SayGoodDay_1", "solution": "def task_program():\\n    say(\\"\xff\xfe\\")\\n"}\n')
    for kind in ("robosim", "roboeval"):
        args = [kind, "--samples", str(samples), "--data-dir", str(fixture_dir), "--workers", "1"]
        assert evaluate_main(args) == 0
    out = capsys.readouterr().out
    # one result file per benchmark: a robosim run never overwrites the roboeval results of the same samples
    for kind in ("robosim", "roboeval"):
        lines = [json.loads(line) for line in (tmp_path / f"gen.{kind}.eval.jsonl").read_text().splitlines()]
        assert [line.get("flags") for line in lines] == [None, ["unknown_task_id"], ["non_utf8"]]
        if kind == "robosim":  # the honest program was run and judged: it does what the task asks in every world
            assert (lines[0]["accepted"], lines[0]["worlds_passed"], lines[0]["error"]) == (True, 100, None)
        else:  # it ran in every state (go_to, say: 2 events), though it never says "good day"
            assert all((s["status"], s["events"], s["error"]) == ("ok", 2, None) for s in lines[0]["states"])
    assert out.count("flagged lines: 1 non_utf8, 1 unknown_task_id") == 2


def test_unknown_option_names_the_valid_keys(fixture_dir, tmp_path, capsys):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "SayGoodDay_0", "solution": ROBOT_PROGRAM}) + "\n")
    args = ["robosim", "--samples", str(samples), "--data-dir", str(fixture_dir), "--option", "wrlds=3"]
    assert evaluate_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown --option 'wrlds' for robosim; its keys: worlds,")


def test_help_lists_each_benchmarks_option_keys(capsys):
    with pytest.raises(SystemExit):
        evaluate_main(["--help"])
    out = capsys.readouterr().out
    for kind, key in (("mbpp", "timeout_s"), ("mbppplus", "base_only"), ("roboeval", "state_timeout_s"),
                      ("robosim", "worlds")):  # fmt: skip
        line = next(line for line in out.splitlines() if line.strip().startswith(f"{kind}:"))
        assert key in line
    assert "LIT_CODERL_DATA_DIR" in out and "data fetch" in out


def test_model_outputs_go_under_runs_eval(tmp_path, monkeypatch, fixture_dir):
    from lit_coderl.evaluate import cli

    monkeypatch.chdir(tmp_path)
    assert cli.model_out_dir("Qwen/Qwen2.5-Coder-1.5B-Instruct").as_posix() == "runs/eval/Qwen2.5-Coder-1.5B-Instruct"
    monkeypatch.setattr(
        "lit_coderl.evaluate.generate.generate_samples",
        lambda evaluator, model, settings, batch, limit: [{"task_id": "SayGoodDay_0", "solution": ROBOT_PROGRAM}],
    )
    args = ["robosim", "--model", "some/tiny-model", "--data-dir", str(fixture_dir), "--workers", "1"]
    assert evaluate_main(args) == 0
    assert (tmp_path / "runs/eval/tiny-model/robosim.samples.jsonl").is_file()
    (line,) = (json.loads(x) for x in (tmp_path / "runs/eval/tiny-model/robosim.eval.jsonl").read_text().splitlines())
    assert (line["accepted"], line["worlds_passed"], line["error"]) == (True, 100, None)  # scored in the sandbox
