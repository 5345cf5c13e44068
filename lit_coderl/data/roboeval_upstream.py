"""RoboEval from its upstream repository: the pinned files, their sha256, and the conversion to ``tasks.json``.

RoboEval (``ut-amrl/codebotler``; the copy in ``ut-amrl/robo-instruct`` used here) is licensed for evaluation
only: *"The contents of this repository may not be used as training data for any machine learning model"*. So it
is never shipped in the package: ``python -m lit_coderl data fetch roboeval`` downloads it into the user cache,
and the training data path refuses files from it (`lit_coderl.data.benchmarks.refuse_evaluation_only`).

The task modules (``roboeval/benchmark/tasks/<Task>.py``) are read as *data*, never executed: their ``name``,
``prompts`` and ``tests`` literals and the ``State().addLocation(...)...`` chains of their initial states are
evaluated from the syntax tree. The checks are this project's own code (`lit_coderl.evaluate.roboeval_tasks`).
"""

from __future__ import annotations

import ast
from typing import Any

from lit_coderl.robot.rtl import contain_words, contain_words_and_exclude_words

REPO = "ut-amrl/robo-instruct"
COMMIT = "113b793f8d0c8961b32942bfc4d62cb768f0c33c"
RAW_URL = f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/{{path}}"
LICENCE = (
    "RoboEval: BSD 3-Clause with Machine Learning Restriction (ut-amrl/codebotler); clause 4: the contents may not "
    "be used as training data for any machine learning model. Evaluation only."
)

#: upstream path -> (file name in <data>/roboeval/, sha256 of the upstream bytes)
FILES: dict[str, tuple[str, str]] = {
    "robo_instruct/generate_data/roboeval_data.csv": (
        "roboeval_data.csv",
        "f2c1df8c6b6d21429c5f47398db448871bc965e2f58d4a3ceb6cc25fd0e1c87f",
    ),
    # the prompt modules hold nothing but the prompt text, byte for byte
    "roboeval/code_generation/prompt_prefix.py": (
        "prompt_prefix.txt",
        "5a5eb78e49e9f21bdef78ec6f6d751868a1584dc4c265509750d8a050e1e6ac8",
    ),
    "roboeval/code_generation/prompt_suffix.py": (
        "prompt_suffix.txt",
        "ee9297cdd2952987860f338563a0d50b9ba723ae7d1423aedc85db75c9e03007",
    ),
}

#: task name -> sha256 of ``roboeval/benchmark/tasks/<name>.py`` at `COMMIT`
TASK_FILES: dict[str, str] = {
    "CountSavory": "3c44d0db8398bcfa062b5054cdc36a8b5dfd514a8af9accc44b5e8abaa67a198",
    "ElevatorTour": "467235251432f06227a1bb6693c8523a8b1a5d3175e12fe5d5a6ce1d081f42a0",
    "FindBackpack": "1fcc15009db29a6e2b4d7b77808bb0041c4d88fc8d71052c9216fa514baba4e1",
    "GetDrink": "2249e6290ab773856f37eadd7026f6b6b3e303808e193a35a9687c9a528928d5",
    "GrilledCheese": "ae0141bc6a5bd277c8e33d215cac7ba67e181ee295ba274272bd400310bf51af",
    "HalloweenList": "87c227f953212ddefd3983a3626d4e45a7bdfd974fafc006743655219de4966a",
    "HalloweenShopping": "a7fd3792db454bd78b280d179e9ed63619abdac17ec6e6b4894095d9b7658715",
    "LunchBreak": "6df72746722731c7028e3bd8e2a2510c2db629350a0bab1250f29321e960ba50",
    "LunchTime": "ad4bb85edc404a62c56189a2d0679ec6b5baab979c4dfc2559887d4a4de3e32c",
    "MailDelivery": "ecf8388b39018dda7cae14f06a4d6b3115086ae755e8f43f9184bee55bedbd53",
    "MovieMessenger": "0b7b1efa62fd6cc244aaf08fa0e362feac5542499daa83cee9aae8eb95fdcf55",
    "SayGoodDay": "f0d4d8b0e5677257501eddfeebe76b345ab525304b186e6a1fcdda9a767c79ce",
    "SetTemperature": "f349577723df075cd456e0cb9d1df97cd708d43bd7ee8b213eab914b3f6a54d1",
    "StaplerDelivery": "1ad4fe794d9c83403b6ba655a7b6cc30cad2e8339aaf09a5b3e3ac706a9153a0",
    "StaplerSupply": "cf3591988fdf231a33be202b91e2c810e9424d5736d876e98cd70cfd8aab92ad",
    "WeatherPoll": "773e2db614484a3d13d6dc3c26b495146a8b33882c7a348a14ffee70b8a1c402",
}


#: the regex helpers a state may call (this project's own implementations of the documented semantics)
REGEX_HELPERS = {"contain_words": contain_words, "contain_words_and_exclude_words": contain_words_and_exclude_words}


class UpstreamFormatError(ValueError):
    """A task module does not have the expected literal structure."""


def _value(node: ast.AST) -> Any:
    """A literal, or a list of them, where ``contain_words([...])`` (the RTL regex helper) may stand for a string."""
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REGEX_HELPERS:
        return REGEX_HELPERS[node.func.id](*[_value(a) for a in node.args])
    return ast.literal_eval(node)


def _state_from_chain(node: ast.AST, where: str) -> dict[str, Any]:
    """Evaluate ``State().addLocation(..)...addRobotLocation(..)`` from its syntax tree."""
    calls = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append((node.func.attr, [_value(a) for a in node.args]))
        node = node.func.value
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "State"):
        raise UpstreamFormatError(f"{where}: a state is not a State() chain")
    state: dict[str, Any] = {"locations": [], "objects": {}, "agents": {}, "robot_location": None}
    for method, args in reversed(calls):
        if method == "addLocation":
            state["locations"].append(args[0])
        elif method == "addObject":
            state["objects"].setdefault(args[1], []).append(args[0])
        elif method == "addAgent":
            state["agents"].setdefault(args[1], []).append({"name_regex": args[0], "answers": list(args[2])})
        elif method == "addRobotLocation":
            state["robot_location"] = args[0]
        else:
            raise UpstreamFormatError(f"{where}: unknown State method {method!r}")
        location = args[1] if method in ("addObject", "addAgent") else args[0]
        if location not in state["locations"]:
            raise UpstreamFormatError(f"{where}: {method} on unknown location {location!r}")
    return state


def convert_task_module(source: str, where: str = "task module") -> dict[str, Any]:
    """One ``tasks.json`` entry (name, prompts, states, tests) from the text of an upstream task module."""
    tree = ast.parse(source)
    name, prompts, tests_node = None, None, None
    states: dict[str, dict] = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        target, value = stmt.targets[0].id, stmt.value
        if target == "name":
            name = ast.literal_eval(value)
        elif target == "prompts":
            prompts = ast.literal_eval(value)
        elif target == "tests":
            tests_node = value
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            try:
                states[target] = _state_from_chain(value, f"{where}: {target}")
            except (UpstreamFormatError, ValueError):
                continue
    if not isinstance(name, str) or not isinstance(prompts, list) or not isinstance(tests_node, ast.List):
        raise UpstreamFormatError(f"{where}: expected name, prompts and tests assignments")
    order = list(states)
    tests = []
    for element in tests_node.elts:
        if not isinstance(element, ast.Dict):
            raise UpstreamFormatError(f"{where}: a test is not a dict literal")
        entry = {ast.literal_eval(k): v for k, v in zip(element.keys, element.values, strict=True)}
        state = entry.get("state")
        if not (isinstance(state, ast.Name) and state.id in states):
            raise UpstreamFormatError(f"{where}: a test's state is not a State() variable")
        tests.append({"state_index": order.index(state.id), "expect_timeout": bool(ast.literal_eval(entry["timeout"]))})
    return {"name": name, "prompts": prompts, "states": [states[k] for k in order], "tests": tests}


def tasks_json(modules: dict[str, str]) -> dict[str, Any]:
    """The ``tasks.json`` document from ``{task name: module text}``."""
    return {
        "description": "RoboEval tasks converted from the upstream task modules by lit_coderl (evaluation only).",
        "source": {"repo": REPO, "commit": COMMIT, "path": "roboeval/benchmark/tasks/*.py", "license": LICENCE},
        "tasks": [convert_task_module(text, f"{name}.py") for name, text in sorted(modules.items())],
    }
