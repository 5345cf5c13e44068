"""Task-check worlds: RoboSim worlds whose task-relevant facts are drawn by the trainer and known to the checker.

A RoboSim world (`lit_coderl.robot.robosim.RoboSimRobot`) decides an entity's presence when the program first asks,
so a program that never looks could never be held to what the world held. A task-check world fixes, before the
run, the facts a task's behaviour depends on (``apple`` present in the ``kitchen`` or not, someone in ``office 2``
or not) and the rooms ``get_all_rooms()`` returns; everything else stays angelic (unknown entities are drawn on
first use, ``ask`` answers are drawn from the options). No membership-test mutation: the program runs as written.

`draw_facts` draws a world's facts from a task spec (`lit_coderl.robot.task_spec`) in the trainer; the world dict
``{"kind": "taskcheck", "code", "seed", "world", "rooms", "facts"}`` travels to the sandbox, where `sandbox_world`
builds the program from ``code`` and, once the program's process is forked, the robot from the rest. The checker
(`lit_coderl.robot.task_check`) reads the same facts.
"""

from __future__ import annotations

import random
from typing import Any

from lit_coderl.robot.harness import rewrite_program
from lit_coderl.robot.robosim import ROOMS, START_LOCATION, RoboSimRobot


def norm(text: Any) -> str:
    """How the checker and the world compare names: stripped and lower-cased (the harness lower-cases
    double-quoted literals, RoboSim strips arguments)."""
    return str(text).strip().lower()


def world_rng(seed: int, world: int) -> random.Random:
    """The random source of task-check world ``world`` of seed ``seed`` (facts are drawn from it in the trainer;
    the simulator in the sandbox continues its own copy for ``ask`` answers and unknown entities)."""
    return random.Random(f"taskcheck:{seed}:{world}")


def draw_facts(spec: dict[str, Any], seed: int, world: int) -> dict[str, bool]:
    """``{fact id: present}`` of one world: each fact of ``spec["facts"]`` is present with its probability ``p``
    (1.0 when absent), drawn in fact order from a stream of its own."""
    rng = random.Random(f"taskcheck-facts:{seed}:{world}")
    return {str(fact["id"]): rng.random() < float(fact.get("p", 1.0)) for fact in spec.get("facts") or []}


def world_of(spec: dict[str, Any], code: str, seed: int, world: int) -> dict[str, Any]:
    """The plain-data world dict a runner executes (`lit_coderl.robot.runner`)."""
    facts = draw_facts(spec, seed, world)
    return {
        "kind": "taskcheck", "code": code, "seed": int(seed), "world": int(world),
        "rooms": [norm(r) for r in spec.get("rooms") or ROOMS],
        "facts": [[norm(f["at"]), norm(f["entity"]), facts[str(f["id"])]] for f in spec.get("facts") or []],
    }


class TaskWorldRobot(RoboSimRobot):
    """A RoboSim robot with fixed rooms and preset presence facts ``[location, entity, present]``."""

    def __init__(self, rng: random.Random, rooms: list[str], facts: list) -> None:
        super().__init__(rng)
        self.rooms = list(rooms)
        for location, entity, present in facts:
            (self.exist if present else self.non_exist).setdefault(location, set()).add(entity)


def sandbox_world(spec: dict[str, Any]):
    """World factory: the public part of `world_of`'s dict (``code``) → the rewritten program and a maker of its
    robot from the secret part (``seed``, ``world``, ``rooms``, ``facts``: the checker's truth, which reaches the
    server only after the program's process is forked)."""
    return rewrite_program(str(spec["code"])), _robot_of


def _robot_of(secret: dict[str, Any]) -> TaskWorldRobot:
    rng = world_rng(int(secret["seed"]), int(secret["world"]))
    rooms = [str(r) for r in secret.get("rooms") or ROOMS]
    facts = [(str(a), str(b), bool(c)) for a, b, c in secret.get("facts") or []]
    return TaskWorldRobot(rng, rooms, facts)


__all__ = ["START_LOCATION", "TaskWorldRobot", "draw_facts", "norm", "sandbox_world", "world_of", "world_rng"]
