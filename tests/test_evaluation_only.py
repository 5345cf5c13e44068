"""RoboEval's task checks are evaluation-only (licence): no training code imports `lit_coderl.evaluate.roboeval_tasks`.

Training code is everything in the package outside ``lit_coderl/evaluate/`` (rewards, data, robot, sandbox, the
module, ...). Checked statically (import statements and module-path strings, e.g. for ``importlib``) and by
importing the training entry points in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lit_coderl"
EVALUATION_ONLY = "roboeval_tasks"


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names += [node.module or ""] + [alias.name for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and " " not in node.value:
            names.append(node.value)  # a module path in a string (importlib, a world-factory table, preloads)
    return names


def test_no_training_module_names_the_roboeval_tasks():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "evaluate":
            continue
        names = _imports(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if EVALUATION_ONLY in n]
    assert offenders == []
    assert (PACKAGE / "evaluate" / "roboeval_tasks.py").is_file()
    assert not (PACKAGE / "robot" / "roboeval_tasks.py").exists()


def test_training_entry_points_do_not_load_it():
    modules = ["lit_coderl.module", "lit_coderl.rewards.simulator", "lit_coderl.rewards.task_check",
               "lit_coderl.data.robot", "lit_coderl.robot.generator", "lit_coderl.robot.roboeval",
               "lit_coderl.robot.task_spec", "lit_coderl.sandbox.pool"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + (
        "print(sorted(m for m in sys.modules if 'roboeval_tasks' in m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
