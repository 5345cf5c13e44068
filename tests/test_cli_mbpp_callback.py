"""`MBPPPassAt1`: MBPP pass@1 of the policy every N iterations of ``fit``, switched on in YAML."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from lit_coderl.cli import main
from lit_coderl.evaluate.callback import MBPPPassAt1
from tests.benchmark_fixtures import write_mbpp
from tests.test_module import write_config

#: our own tasks in MBPP's validation id range (511-600)
VALIDATION = [
    (511, "Write a function to triple a number.", "def triple(x):\n    return 3 * x",
     ["assert triple(2) == 6", "assert triple(0) == 0"]),
    (512, "Write a function to negate a number.", "def neg(x):\n    return -x",
     ["assert neg(2) == -2", "assert neg(-1) == 1"]),
]  # fmt: skip


def _data(root: Path) -> Path:
    write_mbpp(root)
    with open(root / "mbpp" / "mbpp.jsonl", "a") as f:
        for task_id, text, code, tests in VALIDATION:
            f.write(json.dumps({"task_id": task_id, "text": text, "code": code, "test_list": tests,
                                "test_setup_code": "", "challenge_test_list": []}) + "\n")  # fmt: skip
    return root


def test_pass_at_1_runs_each_answers_asserts(tmp_path):
    callback = MBPPPassAt1(data_dir=str(_data(tmp_path)), workers=1)
    assert sorted(callback.evaluator.tasks()) == ["Mbpp/511", "Mbpp/512"]  # the validation split only
    samples = [
        {"task_id": "Mbpp/511", "solution": "def triple(x):\n    return x * 3\n"},
        {"task_id": "Mbpp/512", "solution": "def neg(x):\n    return x\n"},  # fails neg(2) == -2
    ]
    assert callback.pass_at_1(samples) == 0.5
    assert callback.pass_at_1(samples[:1]) == 1.0


def test_switched_on_in_yaml_it_logs_pass_at_1_with_the_iteration(tmp_path, random_model_dir):
    config = write_config(tmp_path, random_model_dir)  # 2 iterations
    overlay = tmp_path / "mbpp_check.yaml"
    entry = {"class_path": "lit_coderl.evaluate.callback.MBPPPassAt1",
             "init_args": {"every_n_iterations": 1, "limit": 2, "max_new_tokens": 8, "workers": 1}}  # fmt: skip
    overlay.write_text(yaml.safe_dump({"trainer": {"callbacks+": [entry]}}))
    main(["fit", "--config", str(config), "--config", str(overlay), "--data-dir", str(_data(tmp_path / "data"))])
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("valid/mbpp/pass_at_1")]
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert all(0.0 <= float(r["valid/mbpp/pass_at_1"]) <= 1.0 for r in rows)
