"""A procedural generator of robot tasks: instructions, reference programs RoboSim accepts, and task checks.

Our own training data for the robot domain (RoboEval and Robo-Instruct material is evaluation-only by licence). The
generator is an engine over data: the templates (`lit_coderl.robot.templates`: slots, phrasings, program skeleton,
task check) are filled with words from `lit_coderl.robot.vocabulary`. A drawn task is its instruction, its reference
program and its **spec**, the machine-checkable task check (`lit_coderl.robot.task_spec` describes the format;
`lit_coderl.robot.task_check` evaluates it on the simulator's call log).

`generate_tasks(n, seed)` returns ``n`` rows with distinct instructions, decontaminated against the 80 RoboEval
prompts (`lit_coderl.robot.decontamination`) when the RoboEval data is present. The draw is reproducible and, for
the instructions and programs, the same as before the templates became data.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from lit_coderl.robot.decontamination import DEFAULT_DATA_DIR, Decontaminator, load_roboeval_prompts
from lit_coderl.robot.prompts import PromptStyle, assistant_answer, chat_messages
from lit_coderl.robot.robosim import ROOMS as WORLD_ROOMS
from lit_coderl.robot.templates import TEMPLATES
from lit_coderl.robot.vocabulary import CHOICES, PLACES_OF, ROOMS, VOCABULARY, YES_NO_QUESTIONS

__all__ = ["DEFAULT_DATA_DIR", "TEMPLATES", "draw_task", "expand_spec", "generate_drawn", "generate_pairs",
           "generate_tasks"]

_FIELD = re.compile(r"^\{(\w+)\}$")


def _q(text: str) -> str:
    """``text`` escaped for the inside of a double-quoted Python literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _a(noun: str) -> str:
    """The noun with its indefinite article."""
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _list_text(items) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]


def _code_list(items) -> str:
    return "[" + ", ".join(f'"{_q(item)}"' for item in items) + "]"


def draw_slots(template: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The slot values of one draw of ``template``, in slot order, plus their derived forms."""
    values: dict[str, Any] = {}
    for name, kind, *args in template["slots"]:
        if kind == "pick":
            values[name] = rng.choice(VOCABULARY[args[0]])
        elif kind == "one_of":
            values[name] = rng.choice(tuple(option.format(**values) for option in args[0]))
        elif kind == "place_of":
            values[name] = f"{values[args[0]]}'s {rng.choice(PLACES_OF)}"
        elif kind == "question":
            values["clause"], values["question"] = rng.choice(YES_NO_QUESTIONS)
        elif kind == "choice_set":
            category, options = rng.choice(CHOICES)
            options = tuple(rng.sample(options, len(options))) if args[0] else options
            values.update(category=category, options=list(options), category_=category.replace(" ", "_"),
                          options_text=_list_text(options), options_code=_code_list(options))
        elif kind == "sample":
            picked = rng.sample(VOCABULARY[args[0]], len(args[1]))
            values.update(zip(args[1], picked, strict=True))
            values[name], values[name + "_code"] = list(picked), _code_list(picked)
        elif kind == "room_without":
            values[name] = rng.choice([room for room in ROOMS if values[args[0]] not in room])
        else:
            raise ValueError(f"template {template['name']!r}: unknown slot drawer {kind!r}")
    for key, value in list(values.items()):
        if isinstance(value, str) and not key.endswith("_code"):
            values[key + "_a"], values[key + "_s"] = _a(value), _plural(value)
    return values


def _fill(item: Any, values: dict[str, Any]) -> Any:
    """``item`` with every string formatted by ``values`` (a bare ``"{x}"`` of a list value is that list)."""
    if isinstance(item, str):
        bare = _FIELD.match(item)
        if bare and isinstance(values.get(bare.group(1)), list):
            return list(values[bare.group(1)])
        return item.format(**values)
    if isinstance(item, dict):
        return {key: _fill(value, values) for key, value in item.items()}
    if isinstance(item, list):
        return [_fill(value, values) for value in item]
    return item


def _expand(entries: list[dict[str, Any]], values: dict[str, Any], rooms: list[str]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        if "for_each" not in entry:
            out.append(_fill(entry, values))
            continue
        plain = {k: v for k, v in entry.items() if k not in ("for_each", "containing", "except")}
        containing = entry.get("containing", "").format(**values)
        excluded = entry.get("except", "").format(**values)
        for room in rooms:
            if (containing and containing not in room) or (excluded and room == excluded):
                continue
            out.append(_fill(plain, {**values, "r": room}))
    return out


def expand_spec(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The concrete spec of one draw: placeholders filled, ``for_each`` entries repeated over the world's rooms,
    labels in ``after`` / ``answer_of`` resolved to constraint indices."""
    spec = template.get("spec") or {}
    rooms = [str(_fill(room, values)) for room in spec.get("rooms") or WORLD_ROOMS]
    constraints = _expand(spec.get("constraints") or [], values, rooms)
    labels = {c["label"]: i for i, c in enumerate(constraints) if "label" in c}

    def resolve(ref: Any) -> Any:
        return labels[ref] if isinstance(ref, str) else ref

    for c in constraints:
        for key in ("after", "answer_of"):
            if key in c:
                c[key] = resolve(c[key])
        if "answer_of" in (c.get("when") or {}):
            c["when"] = {**c["when"], "answer_of": resolve(c["when"]["answer_of"])}
    return {"template": template["name"], "rooms": rooms, "facts": _expand(spec.get("facts") or [], values, rooms),
            "constraints": constraints}


def draw_task(template: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One task of ``template``: ``{"instruction", "program", "spec"}``."""
    values = draw_slots(template, rng)
    instruction = rng.choice(template["instructions"]).format(**values)
    escaped = {k: _q(v) if isinstance(v, str) and not k.endswith("_code") else v for k, v in values.items()}
    program = "def task_program():\n" + "\n".join("    " + line.format(**escaped) for line in template["program"])
    return {"instruction": instruction, "program": program, "spec": expand_spec(template, values)}


def generate_drawn(n: int, seed: int, decontaminator: Decontaminator | None = None) -> list[dict[str, Any]]:
    """``n`` drawn tasks (`draw_task`) with distinct instructions, reproducibly from ``seed``.

    Raises `RuntimeError` if the templates cannot produce ``n`` distinct clean instructions.
    """
    rng = random.Random(f"robot-tasks:{seed}")
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    attempts = 0
    while len(tasks) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could only generate {len(tasks)} distinct robot tasks out of {n} requested")
        task = draw_task(rng.choice(TEMPLATES), rng)
        if task["instruction"] in seen:
            continue
        seen.add(task["instruction"])
        if decontaminator is not None and decontaminator.is_contaminated(task["instruction"]):
            continue
        tasks.append(task)
    return tasks


def generate_pairs(n: int, seed: int, decontaminator: Decontaminator | None = None) -> list[tuple[str, str]]:
    """``n`` (instruction, program) pairs of `generate_drawn`."""
    return [(task["instruction"], task["program"]) for task in generate_drawn(n, seed, decontaminator)]


def generate_tasks(
    n: int,
    seed: int,
    style: PromptStyle = "compact",
    data_dir: Path | str | None = DEFAULT_DATA_DIR,
) -> list[dict[str, Any]]:
    """``n`` generated robot task rows.

    Args:
        n: Number of rows (distinct instructions).
        seed: Seed of the draw; the same ``(n, seed)`` gives the same rows.
        style: Prompt format of ``messages`` (`lit_coderl.robot.prompts.chat_messages`).
        data_dir: A benchmark data folder, or ``"auto"`` (the benchmark data resolution); when
            ``roboeval/roboeval_data.csv`` is found, instructions too similar to a RoboEval prompt are dropped. None
            skips decontamination.

    Returns:
        Rows ``{"task_id", "messages", "reference", "robot": {"instruction", "program", "spec"}}`` where
        ``reference`` is the assistant's answer (the fenced program), ``robot.program`` the bare
        ``def task_program():`` program and ``robot.spec`` the task check.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    references = load_roboeval_prompts(data_dir) if data_dir is not None else []
    decontaminator = Decontaminator(references) if references else None
    rows = []
    for index, task in enumerate(generate_drawn(n, seed, decontaminator)):
        rows.append({
            "task_id": f"robogen-{seed}-{index:05d}",
            "messages": chat_messages(task["instruction"], style),
            "reference": assistant_answer(task["program"]),
            "robot": task,
        })
    return rows
