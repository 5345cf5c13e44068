"""A 3-iteration PPO run with the execution rewards (unit tests + data flow) beside lint and syntax, on a tiny model."""

from __future__ import annotations

import json

from lit_coderl.cli import main
from tests.reward_checks import assert_rewards_computed
from tests.test_module import read_metrics, write_config

TASKS = [
    {
        "task_id": f"t{i}",
        "input": f"Write a function `add{i}(a, b)` that returns a + b + {i}.",
        "output": f"def add{i}(a, b):\n    total = a + b\n    return total + {i}\n",
        "unit_tests": [f"assert add{i}(1, 2) == {3 + i}", f"assert add{i}(0, 0) == {i}"],
    }
    for i in range(8)
]


def test_three_iterations_with_unit_test_dataflow_lint_syntax(tmp_path, random_model_dir):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(t) for t in TASKS) + "\n")
    callbacks = [
        {"class_path": "lit_coderl.rewards.syntax.SyntaxReward", "init_args": {"weight": 0.1}},
        {"class_path": "lit_coderl.rewards.lint.LintReward", "init_args": {"weight": 0.1}},
        {"class_path": "lit_coderl.rewards.dataflow.DataFlowReward", "init_args": {"weight": 0.1}},
        {"class_path": "lit_coderl.rewards.tests.UnitTestReward", "init_args": {"weight": 0.7, "workers": 2}},
    ]
    sources = [
        {
            "class_path": "lit_coderl.data.mbpp.JsonlTasks",
            "init_args": {
                "path": str(path),
                "fields": {"instruction": "input", "reference": "output", "tests": "unit_tests"},
            },
        }
    ]
    config = write_config(
        tmp_path,
        random_model_dir,
        **{"trainer.callbacks": callbacks, "model.max_iterations": 3, "data.sources": sources},
    )
    main(["fit", "--config", str(config)])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0, 3.0]
    assert_rewards_computed(rows)  # the programs ran: they raised their own load errors, no job crashed
    for name in ("syntax", "lint", "dataflow", "unit_tests"):
        assert all(r[f"reward/{name}/mean"] != "" for r in rows), name
    # a random model never passes the tests: every sample gets the fail penalty, and the runs were scored
    assert all(float(r["reward/unit_tests/pass_rate"]) == 0.0 for r in rows)
    assert all(float(r["reward/unit_tests/mean"]) < 0 for r in rows)
