"""Length-neutral shaping under every shipped config: padding a program with comment lines does not change its
return. The reward components are built from each config's YAML as the CLI builds them; the simulator, task-check
and unit-test components run the programs in the sandbox."""

from __future__ import annotations

import importlib

import pytest
import yaml

from lit_coderl.configs import CONFIG_DIR
from lit_coderl.data.robot import GeneratedRobotTasks
from lit_coderl.iteration import comment_share
from lit_coderl.rewards.base import RewardComponent, score_components
from lit_coderl.rewards.spans import comment_chars
from lit_coderl.rollout import Rollout

CONFIGS = sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))
ROBOT_OK = 'go_to("kitchen")\n    say("hi")\n'
ROBOT_FAILS = 'go_to("kitchen")\n    place("cup")\n'
PYTHON_OK = "def add(a, b):\n    c = a + b\n    return c\n"
PYTHON_FAILS = "def add(a, b):\n    import os\n    return a - b\n"
PYTHON_TASK = {"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"], "reference": PYTHON_OK}


def components_of(config: str) -> list[RewardComponent]:
    spec = yaml.safe_load((CONFIG_DIR / config).read_text())
    out = []
    for callback in spec["trainer"]["callbacks"]:
        module, _, name = callback["class_path"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        if issubclass(cls, RewardComponent):
            args = dict(callback.get("init_args") or {})
            if "workers" in args or hasattr(cls, "started"):
                args["workers"] = 1
            out.append(cls(**args))
    return out


def robot_text(body: str, comments: int) -> str:
    padding = "".join(f"    # step {k}: nothing to do here\n" for k in range(comments))
    return f"```python\ndef task_program():\n    {body}{padding}```"


def python_text(code: str, comments: int) -> str:
    padding = "".join(f"    # note {k}: the sum of the two arguments\n" for k in range(comments))
    return f"```python\n{code}{padding}```"


def total_return(tokenizer, components, text: str, task: dict) -> float:
    """Σ_c λ_c Σ_t score_c,t of one response, each component's state (world seeds) as before the call."""
    states = [c.state_dict() for c in components]
    rollout = Rollout.from_texts(tokenizer, [text], [task])
    for component in components:
        component.submit(rollout)
    scores, _, _ = score_components(rollout, components)
    for component, state in zip(components, states, strict=True):
        component.load_state_dict(state)
    return float(sum(c.weight * scores[c.name].sum() for c in components))


@pytest.fixture(scope="module")
def robot_task():
    return GeneratedRobotTasks(n=1, seed=1, style="compact").load()[0]


@pytest.mark.parametrize("config", CONFIGS)
def test_comment_lines_do_not_change_the_return(config, tiny_tokenizer, robot_task):
    components = components_of(config)
    names = {c.name for c in components}
    robot = bool(names & {"simulator", "task_check"})
    try:
        for program in (ROBOT_OK, ROBOT_FAILS) if robot else (PYTHON_OK, PYTHON_FAILS):
            text = robot_text if robot else python_text
            task = robot_task if robot else PYTHON_TASK
            plain = total_return(tiny_tokenizer, components, text(program, 0), task)
            padded = total_return(tiny_tokenizer, components, text(program, 10), task)
            assert padded == pytest.approx(plain, abs=1e-5), (config, program, plain, padded)
    finally:
        for component in components:
            component.teardown(None, None, "fit")  # sandbox pools, the Ruff thread


def test_the_shipped_configs_are_all_checked():
    assert {"demo.yaml", "demo-grpo.yaml", "demo-python.yaml", "mbpp.yaml", "robo.yaml"} <= set(CONFIGS)


def test_comment_share_counts_comment_characters_of_the_code(tiny_tokenizer):
    assert comment_chars('x = "#1"  # two\n# three\n') == len("# two") + len("# three")
    assert comment_chars("x = (1  # open\n") == len("# open")  # does not tokenize: the line fallback
    code = "def f():\n    # hi\n    return 1"  # the fence's own newline is not code
    rollout = Rollout.from_texts(tiny_tokenizer, [f"```python\n{code}\n```", "no code here"])
    assert comment_share(rollout) == pytest.approx(len("# hi") / (len(code) + len("no code here")))
