"""The RoboEval evaluator: tasks, prompts, extraction, sandboxed scoring and the Table 2 summary."""

import csv

import pytest

from lit_coderl.evaluate.roboeval import (
    COMPLETION_STOP,
    INVALID_SAMPLE,
    RoboEvalEvaluator,
    parse_prompt_prefix,
)
from lit_coderl.robot.prompts import USER_TEMPLATE

FAST = {"state_timeout_s": 0.2}

PREFIX = '''"""Robot task programs."""

# Say hi.
def say(message : str) -> None:
    ...

# Greet the lobby.
def task_program():
    go_to("lobby")
    say("hi")

# Check the kitchen.
def task_program():
    go_to("kitchen")

# Instruction: '''


def test_parse_prompt_prefix_splits_api_and_examples():
    api, examples = parse_prompt_prefix(PREFIX)
    assert api == '"""Robot task programs."""\n\n# Say hi.\ndef say(message : str) -> None:\n    ...'
    assert examples == [
        ("Greet the lobby.", 'def task_program():\n    go_to("lobby")\n    say("hi")'),
        ("Check the kitchen.", 'def task_program():\n    go_to("kitchen")'),
    ]
    with pytest.raises(ValueError, match="no '# <instruction>'"):
        parse_prompt_prefix("nothing here")


def test_options_are_validated():
    with pytest.raises(ValueError, match="prompt_style"):
        RoboEvalEvaluator(prompt_style="fancy")
    with pytest.raises(ValueError, match="state_timeout_s"):
        RoboEvalEvaluator(state_timeout_s=0)
    with pytest.raises(ValueError, match="sleep"):
        RoboEvalEvaluator(sleep="long")


def test_generation_defaults_to_the_papers_protocol_and_completion_keeps_robo_instructs():
    default = RoboEvalEvaluator()
    assert default.prompt_style == "chat"
    assert default.generation == {"temperature": 0.01, "top_p": 0.95, "max_new_tokens": 1024}
    completion = RoboEvalEvaluator(prompt_style="completion").generation
    assert completion == {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512, "stop_strings": COMPLETION_STOP}


def test_extract_uses_the_harness_post_processing():
    answer = 'Sure!\n```python\ndef task_program():\n    say("hi")\nprint(1)\n```\nDone.'
    assert RoboEvalEvaluator().extract({}, answer) == 'def task_program():\n    say("hi")'
    body_only = '    go_to("kitchen")\n# next'
    assert RoboEvalEvaluator().extract({}, body_only) == 'def task_program():\n    go_to("kitchen")'


def test_score_without_valid_samples_needs_no_sandbox(data_dir):
    results = RoboEvalEvaluator(data_dir).score([{"task_id": "Nope_1", "solution": "", "id": 7}, ["not a dict"]])
    assert [(r["task_id"], r["outcome"], r["passed"]) for r in results] == [
        ("Nope_1", INVALID_SAMPLE, False),
        (None, INVALID_SAMPLE, False),
    ]
    assert results[0]["id"] == 7
    assert RoboEvalEvaluator(data_dir).score([]) == []


def test_summary_has_the_table2_layout():
    results = [
        {"task_id": "A_0", "task": "A", "outcome": "Success"},
        {"task_id": "A_1", "task": "A", "outcome": "CompletionError"},
        {"task_id": "B_0", "task": "B", "outcome": "RobotExecutionError"},
        {"task_id": "B_1", "task": "B", "outcome": "Success"},
        {"task_id": "nope", "task": None, "outcome": INVALID_SAMPLE},
    ]
    assert RoboEvalEvaluator(**FAST).summary(results).split("\n") == [
        "RoboEval: 4 programs (per-state timeout 0.2 s)",
        "| Python err. | Simulation err. | Completion err. | Success |",
        "|           0 |               1 |               1 |       2 |",
        "pass@1 (mean over 4 prompts): 50.0%",
        "success per task: A 1/2, B 1/2",
        "invalid samples (unknown task_id, not counted): 1",
    ]


# ---------------------------------------------------------------------------------------------------------------
# with the shared data
# ---------------------------------------------------------------------------------------------------------------
def test_tasks_are_the_80_prompts(data_dir):
    tasks = RoboEvalEvaluator(data_dir).tasks()
    assert len(tasks) == 80
    task = tasks["CountSavory_0"]
    assert (task["task"], task["variant"], task["n_states"]) == ("CountSavory", 0, 4)
    assert task["instruction"].startswith("Go to every office, and if there is someone there")


def test_completion_prompt_is_prefix_instruction_suffix(data_dir):
    evaluator = RoboEvalEvaluator(data_dir, prompt_style="completion")
    task = evaluator.tasks()["GetDrink_2"]
    prefix = (data_dir / "roboeval" / "prompt_prefix.txt").read_text(encoding="utf-8")
    assert evaluator.prompt(task) == prefix + task["instruction"] + "\ndef task_program():"


def test_chat_prompt_is_format_c_with_examples_2_and_4(data_dir):
    evaluator = RoboEvalEvaluator(data_dir, prompt_style="chat")
    task = evaluator.tasks()["GetDrink_2"]
    messages = evaluator.prompt(task)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"].startswith('"""Robot task programs.')
    assert messages[0]["content"].endswith("def place(obj: str) -> None:\n    ...")
    assert messages[1]["content"].startswith("** Example:\nCreate one python program using only the given functions")
    assert "Ask Alice if she needs 1, 2, or 3 boxes." in messages[1]["content"]
    assert "Check every classroom if there is a whiteboard." in messages[3]["content"]
    assert messages[2]["content"].startswith("```python\ndef task_program():\n")
    assert messages[2]["content"].endswith("\n```")
    assert messages[-1]["content"] == USER_TEMPLATE.format(task["instruction"])


def reference_samples(data_dir):
    with open(data_dir / "roboeval" / "roboeval_data.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {"task_id": row["taskname"], "solution": row["prompt_program"].split("\n", 1)[1], "id": number}
        for number, row in enumerate(rows)
    ]


def test_score_all_80_references_in_the_sandbox(data_dir):
    evaluator = RoboEvalEvaluator(data_dir, workers=2, **FAST)
    samples = reference_samples(data_dir)
    results = evaluator.score(samples)
    assert [(r["task_id"], r["id"]) for r in results] == [(s["task_id"], s["id"]) for s in samples]
    assert [r["outcome"] for r in results] == ["Success"] * 80
    assert all(r["passed"] for r in results)
    table = evaluator.summary(results).split("\n")
    assert table[1:4] == [
        "| Python err. | Simulation err. | Completion err. | Success |",
        "|           0 |               0 |               0 |      80 |",
        "pass@1 (mean over 80 prompts): 100.0%",
    ]


def test_score_bad_samples_never_crashes(data_dir):
    evaluator = RoboEvalEvaluator(data_dir, workers=2, memory_mb=512, sandbox_slack_s=1.0, **FAST)
    # a bare except swallows every harness interruption: only the sandbox's overall limit ends it
    swallow_timeouts = "def task_program():\n    while True:\n        try:\n            while True:\n"
    swallow_timeouts += "                pass\n        except:\n            pass\n"
    samples = [
        {"task_id": "NoSuchTask_0", "solution": "def task_program():\n    pass\n", "id": "a"},
        {"task_id": "CountSavory_7", "solution": "def task_program():\n    pass\n"},
        {"task_id": "CountSavory_0", "solution": None},
        {"task_id": "CountSavory_1", "solution": "def task_program():\n    go_to('\udcff')\n"},
        {"task_id": "CountSavory_2", "solution": "def task_program():\n    x = [0] * (10 ** 10)\n"},
        {"task_id": "GetDrink_0", "solution": 'def task_program():\n    go_to("garage")\n'},
        {"task_id": "GetDrink_1", "solution": "def task_program():\n    import os\n    os._exit(0)\n"},
        {"task_id": "GetDrink_2", "solution": swallow_timeouts},
    ]
    results = evaluator.score(samples)
    assert [r["outcome"] for r in results] == [
        INVALID_SAMPLE,
        INVALID_SAMPLE,
        "PythonError",
        "PythonError",
        "PythonError",
        "RobotExecutionError",
        "PythonError",
        "PythonError",
    ]
    assert results[0]["id"] == "a" and "id" not in results[1]
    assert results[4]["error"] == "MemoryError"
    assert results[6]["error"] == "SandboxError: crash: exited with code 0 before finishing"
    assert results[7]["error"] == "Timeout: the program did not finish in time"  # the server's clock killed it


def test_compact_prompt_is_the_demos_training_format(data_dir):
    evaluator = RoboEvalEvaluator(data_dir, prompt_style="compact")
    task = evaluator.tasks()["GetDrink_2"]
    assert evaluator.prompt(task) == [{"role": "user", "content": "Instruction: " + task["instruction"]}]
    assert evaluator.generation == RoboEvalEvaluator(data_dir).generation  # sampled as the chat format
