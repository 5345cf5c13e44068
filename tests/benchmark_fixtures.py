"""Small benchmark data folders written by the project itself (no upstream content), in the layout of a data dir.

They exercise the evaluators' logic where the real benchmarks are absent; the full-benchmark fidelity tests read the
shared data folder instead.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lit_coderl.evaluate.roboeval_tasks import TASK_CHECKS

#: our own MBPP-format tasks: ids 2-4 are the few-shot slots, 11-13 fall in the test split (11-510)
MBPP_TASKS = [
    (2, "Write a function to return the larger of two numbers.", "def bigger(a, b):\n    return a if a > b else b",
     ["assert bigger(1, 2) == 2", "assert bigger(5, 3) == 5", "assert bigger(4, 4) == 4"]),
    (3, "Write a function to double a number.", "def double(x):\n    return 2 * x",
     ["assert double(2) == 4", "assert double(0) == 0", "assert double(-1) == -2"]),
    (4, "Write a function to reverse a string.", "def rev(s):\n    return s[::-1]",
     ["assert rev('ab') == 'ba'", "assert rev('') == ''", "assert rev('x') == 'x'"]),
    (11, "Write a function to add two numbers.", "def add(a, b):\r\n    return a + b",
     ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"]),
    (12, "Write a function to count the vowels of a string.",
     "def vowels(s):\n    return sum(c in 'aeiou' for c in s)",
     ["assert vowels('hello') == 2", "assert vowels('xyz') == 0", "assert vowels('aei') == 3"]),
    (13, "Write a function to square every element of a list.", "def squares(xs):\n    return [x * x for x in xs]",
     ["assert squares([1, 2]) == [1, 4]", "assert squares([]) == []", "assert squares([-3]) == [9]"]),
]  # fmt: skip

#: our own MBPP+-format tasks (release layout), ids outside the special deserialisation lists
MBPPPLUS_TASKS = [
    ("Mbpp/11", "add", '"""\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n"""\n',
     "def add(a, b):\n    return a + b\n", [[1, 2], [0, 0]], [[10, -3], [7, 7], [-1, -1]]),
    ("Mbpp/12", "half", '"""\nWrite a function to halve a number.\nassert half(4) == 2.0\n"""\n',
     "def half(x):\n    return x / 2\n", [[4], [1]], [[3], [10], [0.5]]),
]  # fmt: skip


def write_mbpp(root: Path) -> Path:
    (root / "mbpp").mkdir(parents=True, exist_ok=True)
    with open(root / "mbpp" / "mbpp.jsonl", "w", encoding="utf-8") as f:
        for task_id, text, code, tests in MBPP_TASKS:
            record = {"task_id": task_id, "text": text, "code": code, "test_list": tests, "test_setup_code": "",
                      "challenge_test_list": []}  # fmt: skip
            f.write(json.dumps(record) + "\n")
    return root


def write_mbppplus(root: Path) -> Path:
    (root / "mbppplus").mkdir(parents=True, exist_ok=True)
    with open(root / "mbppplus" / "MbppPlus-v0.2.0.jsonl", "w", encoding="utf-8") as f:
        for task_id, entry, prompt, solution, base, plus in MBPPPLUS_TASKS:
            record = {"task_id": task_id, "prompt": prompt, "entry_point": entry, "canonical_solution": solution,
                      "base_input": base, "plus_input": plus, "atol": 0, "contract": "",
                      "assertion": prompt.splitlines()[2]}  # fmt: skip
            f.write(json.dumps(record) + "\n")
    return root


#: a program every fixture world accepts, and the instruction it answers
ROBOT_PROGRAM = 'def task_program():\n    go_to("lobby")\n    say("hello")\n'
ROBOT_INSTRUCTION = "Go to the lobby and say hello."


def write_roboeval(root: Path) -> Path:
    """Every coded task (the evaluator needs all of them), with our own prompts and a two-room world."""
    folder = root / "roboeval"
    folder.mkdir(parents=True, exist_ok=True)
    agents = {"lobby": [{"name_regex": ".*", "answers": ["yes"]}]}
    state = {"locations": ["lobby", "kitchen", "start_loc"], "objects": {"kitchen": ["apple"]}, "agents": agents,
             "robot_location": "start_loc"}  # fmt: skip
    tasks, rows = [], []
    for name, checks in TASK_CHECKS.items():
        prompts = [f"{ROBOT_INSTRUCTION} (fixture {name} {i})" for i in range(5)]
        tests = [{"state_index": 0, "expect_timeout": False} for _ in checks]
        tasks.append({"name": name, "prompts": prompts, "states": [state], "tests": tests})
        rows += [(f"{name}_{i}", prompt + "\n" + ROBOT_PROGRAM) for i, prompt in enumerate(prompts)]
    (folder / "tasks.json").write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
    with open(folder / "roboeval_data.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["taskname", "prompt_program"])
        writer.writerows(rows)
    (folder / "prompt_prefix.txt").write_text('"""Fixture robot API."""\n# Instruction: ', encoding="utf-8")
    (folder / "prompt_suffix.txt").write_text("\ndef task_program():", encoding="utf-8")
    return root


def write_all(root: Path) -> Path:
    return write_roboeval(write_mbppplus(write_mbpp(root)))
