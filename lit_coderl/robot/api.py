"""The robot API a generated program calls, shared by both simulators (spec §1, §4.3, §5.2, §6.3).

`RobotAPI` is the abstract base class of every simulated robot. A subclass implements the eight methods
(`get_current_location`, `get_all_rooms`, `is_in_room`, `go_to`, `ask`, `say`, `pick`, `place`); the rewritten
program calls them as ``robot.<name>(...)`` (see `lit_coderl.robot.harness.rewrite_program`). The base class gives
the pieces both simulators share, so their error texts and traces have one form:

- **Errors.** `robot_error(error_class, message, exc_type)` builds ``exc_type(f"{error_class}: {message}")``. The
  originals raise a plain ``Exception`` for simulator failures (RoboSim and RoboEval) and a ``TypeError`` for
  RoboEval's argument type checks, so the last stderr line reads e.g.
  ``Exception: RobotGoToError: update_robot_location failed``; the ``"Robot"`` in every error class makes
  `harness.classify_error` call it a robot error. The error class names are the constants below
  (`GO_TO_ERROR` = ``"RobotGoToError"``, ...; `ERROR_CLASSES` maps API name to class; `TYPE_ERROR` =
  ``"RobotTypeError"`` is RoboSim's entity-type conflict).
- **Argument checks.** `check_str(value, error_class, argument, exc_type=..., strip=..., allow_empty=...)` and
  `check_options(options, error_class, exc_type=..., allow_empty_items=...)` raise the error above with the
  messages in `MUST_BE_STRING` / `MUST_BE_NON_EMPTY` / `MUST_BE_LIST` / `MUST_HAVE_OPTIONS`. Each simulator
  chooses the order of checks and trace output its original has (RoboEval: ``TypeError`` first, no stripping, the
  Ask event printed before the ask can fail; RoboSim: ``Exception``, arguments stripped, empty arguments
  rejected, events printed after the checks).
- **Trace.** `trace(event, value1, value2=None)` prints one line ``<Event> /$@!/ <value1> /$@!/ <value2>`` to the
  current ``sys.stdout`` (the harness captures it). Event names are the constants `GO_TO_EVENT` (``"GoTo"``),
  `SAY_EVENT`, `ASK_EVENT` (``value2 = str(options)``), `CHECK_ENTITY_EVENT` (``is_in_room``), `PICK_EVENT`,
  `PLACE_EVENT`; ``get_current_location`` and ``get_all_rooms`` leave no trace.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lit_coderl.robot.harness import SPECIAL_DELIM

GET_CURRENT_LOCATION_ERROR = "RobotGetCurrentLocationError"
GET_ALL_ROOMS_ERROR = "RobotGetAllRoomsError"
IS_IN_ROOM_ERROR = "RobotIsInRoomError"
GO_TO_ERROR = "RobotGoToError"
ASK_ERROR = "RobotAskError"
SAY_ERROR = "RobotSayError"
PICK_ERROR = "RobotPickError"
PLACE_ERROR = "RobotPlaceError"
TYPE_ERROR = "RobotTypeError"
"""RoboSim: an entity used as two incompatible types (e.g. ``pick(x)`` after ``go_to(x)``)."""

ERROR_CLASSES = {
    "get_current_location": GET_CURRENT_LOCATION_ERROR,
    "get_all_rooms": GET_ALL_ROOMS_ERROR,
    "is_in_room": IS_IN_ROOM_ERROR,
    "go_to": GO_TO_ERROR,
    "ask": ASK_ERROR,
    "say": SAY_ERROR,
    "pick": PICK_ERROR,
    "place": PLACE_ERROR,
}
"""API function name → the error class its failures carry."""

GO_TO_EVENT = "GoTo"
SAY_EVENT = "Say"
ASK_EVENT = "Ask"
CHECK_ENTITY_EVENT = "CheckEntity"
PICK_EVENT = "Pick"
PLACE_EVENT = "Place"

MUST_BE_STRING = "{argument} must be a string"
MUST_BE_NON_EMPTY = "{argument} must be a non-empty string"
MUST_BE_LIST = "options must be a list"
MUST_HAVE_OPTIONS = "options must be a non-empty list of non-empty strings"


def robot_error(error_class: str, message: str, exc_type: type[Exception] = Exception) -> Exception:
    """The exception a simulator raises: ``exc_type("<error_class>: <message>")`` (to be raised by the caller)."""
    return exc_type(f"{error_class}: {message}")


def check_str(
    value: Any,
    error_class: str,
    argument: str,
    exc_type: type[Exception] = Exception,
    strip: bool = True,
    allow_empty: bool = False,
) -> str:
    """``value`` (stripped if ``strip``) if it is a ``str`` (non-empty unless ``allow_empty``), else raise.

    Args:
        value: The argument the program passed.
        error_class: E.g. `GO_TO_ERROR`; prefixes the message.
        argument: The argument's name in the message (``"location"``, ``"question"``, ...).
        exc_type: ``Exception`` (RoboSim, RoboEval failures) or ``TypeError`` (RoboEval type checks).
        strip: Strip surrounding whitespace before the emptiness check and in the returned value (RoboSim).
        allow_empty: Accept an empty string (RoboSim's ``ask`` person, ``say`` message; all RoboEval arguments).
    """
    if not isinstance(value, str):
        raise robot_error(error_class, MUST_BE_STRING.format(argument=argument), exc_type)
    if strip:
        value = value.strip()
    if not allow_empty and not value:
        raise robot_error(error_class, MUST_BE_NON_EMPTY.format(argument=argument), exc_type)
    return value


def check_options(
    options: Any,
    error_class: str = ASK_ERROR,
    exc_type: type[Exception] = Exception,
    allow_empty: bool = False,
    check_items: bool = True,
) -> list:
    """``options`` if it is a ``list`` (non-empty of non-empty ``str`` unless relaxed), else raise.

    Args:
        options: The ``ask`` options the program passed.
        error_class: The error class in the message.
        exc_type: The exception type raised.
        allow_empty: Accept an empty list (RoboEval checks emptiness later, after printing the Ask event).
        check_items: Require every option to be a non-empty string after stripping (RoboSim).
    """
    if not isinstance(options, list):
        raise robot_error(error_class, MUST_BE_LIST, exc_type)
    if not allow_empty and not options:
        raise robot_error(error_class, MUST_HAVE_OPTIONS, exc_type)
    if check_items and not all(isinstance(o, str) and o.strip() for o in options):
        raise robot_error(error_class, MUST_HAVE_OPTIONS, exc_type)
    return options


_SINKS: list = []
"""Receivers of every traced event as ``(event, value1, value2)`` (`lit_coderl.robot.calls.TraceRecorder`): the
simulator's own structured record, which no text the program prints can add to."""


def trace(event: str, value1: Any, value2: Any = None) -> None:
    """Print one trace line ``<event> /$@!/ <value1> /$@!/ <value2>`` to the current stdout (the original API's
    output, which the program sees), and hand the event to the recording sink, if any."""
    print(f"{event} {SPECIAL_DELIM} {value1} {SPECIAL_DELIM} {value2}")
    if _SINKS:
        _SINKS[-1](event, value1, value2)


@contextmanager
def recording(sink) -> Iterator[None]:
    """Within the block, `trace` also calls ``sink(event, value1, value2)`` for every event."""
    _SINKS.append(sink)
    try:
        yield
    finally:
        _SINKS.remove(sink)


class RobotAPI(ABC):
    """A simulated robot: the eight API calls of a generated program (see the module docstring).

    Subclasses: `lit_coderl.robot.robosim.RoboSimRobot` (angelic, lazily grown worlds) and the RoboEval robot
    (fixed states). The helpers are also available as methods so subclasses need not import them.
    """

    robot_error = staticmethod(robot_error)
    check_str = staticmethod(check_str)
    check_options = staticmethod(check_options)
    trace = staticmethod(trace)

    @abstractmethod
    def get_current_location(self) -> str:
        """Get the current location of the robot."""

    @abstractmethod
    def get_all_rooms(self) -> list[str]:
        """Get a list of all rooms."""

    @abstractmethod
    def is_in_room(self, entity: str) -> bool:
        """Check if an object (or person) is in the current room."""

    @abstractmethod
    def go_to(self, location: str) -> None:
        """Go to a specific named location."""

    @abstractmethod
    def ask(self, person: str, question: str, options: list[str]) -> str:
        """Ask a person a question with a set of options; returns the option the person selects."""

    @abstractmethod
    def say(self, message: str) -> None:
        """Say the message out loud."""

    @abstractmethod
    def pick(self, obj: str) -> None:
        """Pick up an object if not already holding one."""

    @abstractmethod
    def place(self, obj: str) -> None:
        """Place the held object down."""
