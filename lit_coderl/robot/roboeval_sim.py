"""RoboEval's fixed, deterministic world simulator (``docs/robosim-roboeval.md`` §5).

A `WorldState` is an ordered list of locations, the object labels and agents at each location, and the robot's
location (``"start_loc"`` in every task). A `Robot` runs the 8 robot API calls against one state and prints one trace
line per action (`lit_coderl.robot.api.trace`: ``<Name> /$@!/ <value1> /$@!/ <value2>``).

Matching follows RoboEval exactly: **the stored entry (location name, object label, agent name, answer) is a regex
searched case-insensitively in the program's string**. Nothing is escaped.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

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
    RobotAPI,
    check_options,
    check_str,
    robot_error,
    trace,
)

START_LOCATION = "start_loc"


def match_value(regex: str, value: Any) -> bool:
    """RoboEval's ``match_value``: ``re.search(regex, str(value), IGNORECASE)`` as a bool."""
    return re.search(regex, str(value), re.IGNORECASE) is not None


@dataclass
class Agent:
    """A person in a room: ``name_regex`` is searched in the asked person's name; ``answers`` are regexes."""

    name_regex: str
    answers: list[str]


@dataclass
class WorldState:
    """One RoboEval world: ordered ``locations``, ``objects`` and ``agents`` per location, ``robot_location``.

    Args:
        locations: location names, in order (``go_to`` resolves to the first one found in its argument).
        objects: location -> object labels (regexes; ``pick`` removes the first match).
        agents: location -> agents at that location.
        robot_location: where the robot starts; must be one of ``locations``.
    """

    locations: list[str] = field(default_factory=list)
    objects: dict[str, list[str]] = field(default_factory=dict)
    agents: dict[str, list[Agent]] = field(default_factory=dict)
    robot_location: str = START_LOCATION

    def add_location(self, location: str) -> WorldState:
        """Append a location; returns ``self`` for chaining."""
        self.locations.append(location)
        return self

    def _require_location(self, location: str) -> None:
        if location not in self.locations:
            raise ValueError(f"unknown location {location!r}; known locations: {self.locations}")

    def add_object(self, label: str, location: str) -> WorldState:
        """Put an object label at a known location; returns ``self``."""
        self._require_location(location)
        self.objects.setdefault(location, []).append(label)
        return self

    def add_agent(self, name_regex: str, location: str, answers: list[str]) -> WorldState:
        """Put an agent with its answer regexes at a known location; returns ``self``."""
        self._require_location(location)
        self.agents.setdefault(location, []).append(Agent(name_regex, list(answers)))
        return self

    def add_robot_location(self, location: str) -> WorldState:
        """Place the robot at a known location; returns ``self``."""
        self._require_location(location)
        self.robot_location = location
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldState:
        """A fresh, independent state from ``tasks.json``'s state layout (``{name_regex, answers}`` agents).

        Raises ``ValueError`` on a malformed state (unknown location, wrong types).
        """
        try:
            state = cls()
            for location in data["locations"]:
                state.add_location(_require_str(location, "location"))
            for location, labels in data.get("objects", {}).items():
                for label in labels:
                    state.add_object(_require_str(label, "object label"), location)
            for location, agents in data.get("agents", {}).items():
                for agent in agents:
                    answers = [_require_str(answer, "answer") for answer in agent["answers"]]
                    state.add_agent(_require_str(agent["name_regex"], "agent name"), location, answers)
            state.add_robot_location(data.get("robot_location", START_LOCATION))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"malformed RoboEval state: {error!r}") from error
        return state

    def copy(self) -> WorldState:
        """A deep copy (answers are consumed by ``ask``, objects moved by ``pick``/``place``)."""
        return copy.deepcopy(self)


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value


class Robot(RobotAPI):
    """The 8 robot API calls over one `WorldState` (the state is mutated: pass a fresh state per run).

    Argument type checks come first and raise ``TypeError("Robot<X>Error: … must be a string")`` (no stripping,
    empty strings allowed); simulator failures raise ``Exception("Robot<X>Error: …")``. Both contain "Robot", so
    the harness counts them as robot errors.

    Args:
        state: the world to act in.
    """

    def __init__(self, state: WorldState) -> None:
        self.state = state
        self.is_holding: str | None = None

    def _argument(self, value: Any, error_class: str, argument: str) -> str:
        return check_str(value, error_class, argument, exc_type=TypeError, strip=False, allow_empty=True)

    def get_current_location(self) -> str:
        """The robot's current location (``"start_loc"`` initially). Not traced."""
        return self.state.robot_location

    def get_all_rooms(self) -> list[str]:
        """The state's location list itself (the same list object, ``start_loc`` included). Not traced."""
        return self.state.locations

    def is_in_room(self, entity: str) -> bool:
        """Trace ``CheckEntity``; True if an object label or agent name here matches (as a regex) ``entity``."""
        self._argument(entity, IS_IN_ROOM_ERROR, "entity")
        trace(CHECK_ENTITY_EVENT, entity)
        location = self.state.robot_location
        if any(match_value(label, entity) for label in self.state.objects.get(location, [])):
            return True
        return any(match_value(agent.name_regex, entity) for agent in self.state.agents.get(location, []))

    def go_to(self, location: str) -> None:
        """Trace ``GoTo``; move to the first state location found (as a regex) in ``location``, else robot error."""
        self._argument(location, GO_TO_ERROR, "location")
        trace(GO_TO_EVENT, location)
        for known in self.state.locations:
            if match_value(known, location):
                self.state.robot_location = known
                return
        raise robot_error(GO_TO_ERROR, "update_robot_location failed")

    def ask(self, person: str, question: str, options: list[str]) -> str:
        """Trace ``Ask`` (before any check can fail); return the option chosen by the first matching agent here.

        An agent consumes its first answer while more than one remain (the last one is sticky; no answers at all
        is an ``IndexError``). The answer regex picks the first option it matches; otherwise, if it matches the
        question, the first option matching "yes", else the first matching "no". No agent here, or no option
        fits the answer → robot error.
        """
        self._argument(person, ASK_ERROR, "person")
        self._argument(question, ASK_ERROR, "question")
        check_options(options, ASK_ERROR, exc_type=TypeError, allow_empty=True, check_items=False)
        trace(ASK_EVENT, question, options)
        if len(options) < 1:
            raise robot_error(ASK_ERROR, "invalid options")
        for agent in self.state.agents.get(self.state.robot_location, []):
            if not match_value(agent.name_regex, person):
                continue
            answer = agent.answers.pop(0) if len(agent.answers) > 1 else agent.answers[0]
            chosen = _choose_option(answer, question, options)
            if chosen is not None:
                return chosen
        raise robot_error(ASK_ERROR, "ask_agent failed")

    def say(self, message: str) -> None:
        """Trace ``Say``."""
        self._argument(message, SAY_ERROR, "message")
        trace(SAY_EVENT, message)

    def pick(self, obj: str) -> None:
        """Remove the first object here whose label matches ``obj`` and hold ``obj``; trace ``Pick`` on success."""
        self._argument(obj, PICK_ERROR, "obj")
        if self.is_holding is not None:
            raise robot_error(PICK_ERROR, f"Robot is already holding {self.is_holding}")
        labels = self.state.objects.get(self.state.robot_location, [])
        for index, label in enumerate(labels):
            if match_value(label, obj):
                del labels[index]
                self.is_holding = obj
                trace(PICK_EVENT, obj)
                return
        raise robot_error(PICK_ERROR, "removeObject failed")

    def place(self, obj: str) -> None:
        """Put the held ``obj`` (exact string equality) here as a new object label; trace ``Place``."""
        self._argument(obj, PLACE_ERROR, "obj")
        if self.is_holding != obj:
            raise robot_error(PLACE_ERROR, f"Robot is not holding {obj}")
        self.is_holding = None
        self.state.objects.setdefault(self.state.robot_location, []).append(obj)
        trace(PLACE_EVENT, obj)


def _choose_option(answer: str, question: str, options: list[Any]) -> Any | None:
    for option in options:
        if match_value(answer, option):
            return option
    fallback = "yes" if match_value(answer, question) else "no"
    return next((option for option in options if match_value(fallback, option)), None)
