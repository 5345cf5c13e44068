"""RoboSim: the angelic simulator that verifies robot programs (spec §6), and its verification driver.

A world starts nearly empty (four rooms ``loc_a``, ``loc_b``, ``loc_c``, ``start_loc``, the robot at
``start_loc``) and grows on demand: the first use of an entity fixes its type (location / person / object /
object-or-person), and the first question about an entity's presence at a location draws a random answer that
the world then keeps. A program is run in K such worlds, each also with a random mutation of its ``"x" in var``
tests (§6.4); it is **rejected if it raises in any world** or times out twice (§6.5).

`verify_program` is the driver: it runs in the caller and sends each world to a runner
(`lit_coderl.robot.runner`): in production every world is a sandbox job whose program talks to a simulator held by
the sandbox server, so the program can reach neither the driver nor the verdict. Worlds are seeded (the original
is unseeded), so a verdict is reproducible.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, Literal

from lit_coderl.robot.api import (
    ASK_ERROR,
    ASK_EVENT,
    CHECK_ENTITY_EVENT,
    GO_TO_ERROR,
    GO_TO_EVENT,
    IS_IN_ROOM_ERROR,
    PICK_ERROR,
    PICK_EVENT,
    PLACE_ERROR,
    PLACE_EVENT,
    SAY_ERROR,
    SAY_EVENT,
    TYPE_ERROR,
    RobotAPI,
    check_options,
    check_str,
    robot_error,
    trace,
)
from lit_coderl.robot.harness import error_class, rewrite_program
from lit_coderl.robot.runner import InProcessRunner

Runner = Callable[[dict, float], Any]

ROOMS = ("loc_a", "loc_b", "loc_c", "start_loc")
"""What ``get_all_rooms()`` returns in every RoboSim world."""
START_LOCATION = "start_loc"
ESCAPE_AFTER = 15
"""After this many consecutive ``is_in_room`` calls at one location a known answer is given once more, then
forgotten (the infinite-loop escape, §6.3)."""
MUTATION_PROBABILITY = 0.8
ALLOWED_TIMEOUTS = 2
"""Reject once this many worlds timed out (so at most one timeout is tolerated, §6.5)."""
TIMEOUT_ERROR = "TimeOutError: Program did not terminate"


class EntityType(Enum):
    """The type an entity name is fixed to at first use."""

    OBJECT = "object"
    PERSON = "person"
    LOCATION = "location"
    OBJECT_OR_PERSON = "object or person"


_EXISTS, _ABSENT, _UNKNOWN = 1, 0, 2


class RoboSimRobot(RobotAPI):
    """One lazily grown RoboSim world (§6.2-6.3), with the original's order of checks and messages.

    Args:
        rng: The world's random source (presence of unknown entities, ``ask`` answers).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random(0)
        self.location = START_LOCATION
        self.rooms = list(ROOMS)
        self.is_holding: str | None = None
        self.types: dict[str, EntityType] = {}
        self.exist: dict[str, set[str]] = {}
        self.non_exist: dict[str, set[str]] = {}
        self.last_check_location: str | None = None
        self.last_check_count = 0

    # ---- world bookkeeping -------------------------------------------------------------------------------------

    def existence(self, entity: str) -> int:
        """1 if ``entity`` is known present at the current location, 0 if known absent, 2 if unknown."""
        if entity in self.exist.get(self.location, ()):
            return _EXISTS
        if entity in self.non_exist.get(self.location, ()):
            return _ABSENT
        return _UNKNOWN

    def add_type(self, entity: str, kind: EntityType) -> None:
        """Record ``kind`` for an unseen entity; refine a recorded object-or-person to ``kind``."""
        recorded = self.types.get(entity)
        if recorded is None or recorded is EntityType.OBJECT_OR_PERSON:
            self.types[entity] = kind

    def type_fits(self, entity: str, kind: EntityType) -> bool:
        """Whether ``entity``'s recorded type is compatible with a use as ``kind`` (§6.2, person-by-location)."""
        recorded = self.types.get(entity)
        if recorded is None or recorded is kind:
            return True
        if kind is EntityType.OBJECT_OR_PERSON:
            return recorded in (EntityType.OBJECT, EntityType.PERSON)
        if kind in (EntityType.LOCATION, EntityType.PERSON):
            return recorded in (EntityType.LOCATION, EntityType.PERSON)
        return False

    def use_as(self, entity: str, kind: EntityType) -> None:
        """`add_type` then `type_fits`, raising ``RobotTypeError`` on a conflict."""
        self.add_type(entity, kind)
        if not self.type_fits(entity, kind):
            recorded = self.types[entity].value
            raise robot_error(TYPE_ERROR, f"'{entity}' is a {recorded}, it cannot be used as a {kind.value}")

    def _here(self, table: dict[str, set[str]]) -> set[str]:
        return table.setdefault(self.location, set())

    # ---- the API ------------------------------------------------------------------------------------------------

    def get_current_location(self) -> str:
        return self.location

    def get_all_rooms(self) -> list[str]:
        return self.rooms

    def is_in_room(self, entity: str) -> bool:
        entity = check_str(entity, IS_IN_ROOM_ERROR, "object")
        trace(CHECK_ENTITY_EVENT, entity)
        self.use_as(entity, EntityType.OBJECT_OR_PERSON)
        known = self.existence(entity)
        if self.location != self.last_check_location:
            self.last_check_location, self.last_check_count = self.location, 1
        else:
            self.last_check_count += 1
        if known == _EXISTS:
            if self.last_check_count >= ESCAPE_AFTER:
                self._here(self.exist).discard(entity)
            return True
        if known == _ABSENT:
            if self.last_check_count >= ESCAPE_AFTER:
                self._here(self.non_exist).discard(entity)
            return False
        present = self.rng.choice((True, False))
        self._here(self.exist if present else self.non_exist).add(entity)
        return present

    def go_to(self, location: str) -> None:
        location = check_str(location, GO_TO_ERROR, "location")
        self.location = location
        self.use_as(location, EntityType.LOCATION)
        trace(GO_TO_EVENT, location)

    def ask(self, person: str, question: str, options: list[str]) -> str:
        person = check_str(person, ASK_ERROR, "person", allow_empty=True)
        question = check_str(question, ASK_ERROR, "question")
        check_options(options, ASK_ERROR)
        self.use_as(person, EntityType.PERSON)
        known = self.existence(person)
        if known == _ABSENT:
            raise robot_error(ASK_ERROR, "person does not exist in room")
        if known == _UNKNOWN:
            self._here(self.exist).add(person)
        answer = str(self.rng.choice(options))
        trace(ASK_EVENT, question, str(options))
        return answer

    def say(self, message: str) -> None:
        message = check_str(message, SAY_ERROR, "message", allow_empty=True)
        trace(SAY_EVENT, message)

    def pick(self, obj: str) -> None:
        obj = check_str(obj, PICK_ERROR, "obj")
        if self.is_holding is not None:
            raise robot_error(PICK_ERROR, f"Robot is already holding '{self.is_holding}'")
        self.is_holding = obj
        self.use_as(obj, EntityType.OBJECT)
        known = self.existence(obj)
        if known == _ABSENT:
            raise robot_error(PICK_ERROR, "object does not exist in room")
        if known == _EXISTS:
            self._here(self.exist).discard(obj)
        trace(PICK_EVENT, obj)

    def place(self, obj: str) -> None:
        obj = check_str(obj, PLACE_ERROR, "obj")
        if self.is_holding is None:
            raise robot_error(PLACE_ERROR, f"Robot is not currently holding '{obj}'")
        if self.is_holding != obj:
            raise robot_error(PLACE_ERROR, f"Robot is currently holding '{self.is_holding}' but it is not '{obj}'")
        self.is_holding = None
        self.use_as(obj, EntityType.OBJECT)
        known = self.existence(obj)
        if known == _ABSENT:
            self._here(self.non_exist).discard(obj)
            self._here(self.exist).add(obj)
        elif known == _UNKNOWN:
            self._here(self.exist).add(obj)
        trace(PLACE_EVENT, obj)


# ---- angelic text mutation (§6.4) ------------------------------------------------------------------------------

_STRING = r"""(["'])(?:(?!\1).)*\1"""
_MEMBERSHIP = re.compile(_STRING + r"\s+(not\s+)?in\s+(\w+)", re.IGNORECASE)
_IN_CALL = {
    name: re.compile(_STRING + r"\s+(not\s+)?in\s+" + name + r"\(\s*\)", re.IGNORECASE)
    for name in ("get_all_rooms", "get_current_location")
}
_KEEP_WORDS = ("ask", "get_all_rooms", "get_current_location")


def mutate_membership_tests(code: str, rng: random.Random, probability: float = MUTATION_PROBABILITY) -> str:
    """The angelic mutation of ``"x" in var`` tests (§6.4), drawn from ``rng``.

    With probability ``1 - probability`` the program is returned unchanged. Otherwise each ``"literal" [not] in
    name`` whose text does not mention ``ask``, ``get_all_rooms`` or ``get_current_location`` becomes ``True``,
    ``False`` or itself (uniformly), then each ``"literal" [not] in get_all_rooms()`` and ``"literal" [not] in
    get_current_location()`` likewise (a literal, not a name: ``for room in get_all_rooms():`` is no test).
    So a filter such as ``if "bedroom" not in room: continue`` takes both branches although RoboSim's
    rooms are ``loc_a``…
    """
    if rng.random() >= probability:
        return code

    def choose(match: re.Match) -> str:
        return rng.choice(("True", "False", match.group(0)))

    def choose_unless_kept(match: re.Match) -> str:
        text = match.group(0)
        return text if any(word in text for word in _KEEP_WORDS) else choose(match)

    code = _MEMBERSHIP.sub(choose_unless_kept, code)
    for pattern in _IN_CALL.values():
        code = pattern.sub(choose, code)
    return code


# ---- verification driver (§6.5, §8.2) ---------------------------------------------------------------------------


def world_rng(seed: int, world: int) -> random.Random:
    """The random source of world ``world`` of a verification seeded with ``seed`` (independent streams)."""
    return random.Random(f"robosim:{seed}:{world}")


def sandbox_world(spec: dict[str, Any]):
    """World factory (`lit_coderl.robot.runner`): ``spec`` = ``{"code", "seed", "world"}`` (all public: the seed
    rewrites the program) → the world's rewritten (and membership-mutated) program and a maker of its robot from
    the world's secret part (none), both from the world's own random stream."""
    rng = world_rng(int(spec["seed"]), int(spec["world"]))
    program = rewrite_program(mutate_membership_tests(str(spec["code"]), rng))
    return program, lambda secret: RoboSimRobot(rng)


def run_world(code: str, seed: int, world: int, world_timeout_s: float, runner: Runner | None = None) -> dict[str, Any]:
    """Run ``code`` (a ``def task_program():`` program) in one fresh RoboSim world; a plain-data summary.

    ``runner``: where the program runs (`lit_coderl.robot.runner.SandboxRunner` for generated code; the default
    runs in this process and is for trusted programs only)."""
    runner = runner or InProcessRunner()
    result = runner({"kind": "robosim", "code": code, "seed": seed, "world": world}, world_timeout_s)
    return {
        "world": world,
        "status": result.status,
        "error": result.error,
        "error_class": error_class(result.error),
        "error_line": result.error_line,
        "trace_length": len(result.robot_trace),
    }


def verify_program(
    code: str,
    worlds: int = 5,
    seed: int = 0,
    world_timeout_s: float = 2.0,
    mode: Literal["reject", "count"] = "reject",
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Verify a robot program in ``worlds`` RoboSim worlds; a picklable verdict.

    Args:
        code: The program, ``def task_program():`` and its body (see `harness.extract_program`). Not a str, or
            empty, is rejected as a Python error.
        worlds: K, the number of sampled worlds (the original uses 100 to filter data, Jolfaei et al. 5).
        seed: Seeds every world's random choices and text mutation.
        world_timeout_s: Wall-clock limit of one world (the original: 2 s, including process start).
        mode: ``"reject"`` is the original driver: stop at the first error, or at the second timeout.
            ``"count"`` is Jolfaei et al.'s modified driver: run all worlds and count the passing ones.
        runner: Where each world runs (see `run_world`); the driver and the verdict stay in this process.

    Returns:
        ``accepted`` (no world raised and fewer than 2 timed out: the original verdict, in both modes),
        ``passed`` (worlds that ran to the end), ``worlds`` (K), ``runs`` (one dict per world run: ``world``,
        ``status`` ok/error/timeout, ``error``, ``error_class``, ``error_line``, ``trace_length``), ``message``
        (``"Success"``, the first error's text or the timeout message), ``error_class`` (of that message, None
        on success), ``error_line`` (of the first error, in ``code``) and ``timeouts``.
    """
    if mode not in ("reject", "count"):
        raise ValueError(f"mode must be 'reject' or 'count', got {mode!r}")
    if not isinstance(code, str) or not code.strip():
        error = "ValueError: empty program"
        return {
            "accepted": False, "passed": 0, "worlds": int(worlds), "runs": [], "message": error,
            "error_class": error_class(error), "error_line": None, "timeouts": 0,
        }
    runs: list[dict[str, Any]] = []
    timeouts = 0
    first_failure: dict[str, Any] | None = None
    for world in range(int(worlds)):
        run = run_world(code, seed, world, world_timeout_s, runner)
        runs.append(run)
        if run["status"] == "timeout":
            timeouts += 1
            if timeouts >= ALLOWED_TIMEOUTS and first_failure is None:
                first_failure = {"error": TIMEOUT_ERROR, "error_line": run["error_line"]}
        elif run["status"] == "error" and first_failure is None:
            first_failure = run
        if mode == "reject" and first_failure is not None:
            break
    passed = sum(run["status"] == "ok" for run in runs)
    message = "Success" if first_failure is None else first_failure["error"]
    return {
        "accepted": first_failure is None,
        "passed": passed,
        "worlds": int(worlds),
        "runs": runs,
        "message": message,
        "error_class": None if first_failure is None else error_class(message),
        "error_line": None if first_failure is None else first_failure["error_line"],
        "timeouts": timeouts,
    }
