"""Shared argument checks, error texts and trace lines of the robot API."""

import pytest

from lit_coderl.robot.api import (
    ASK_ERROR,
    ERROR_CLASSES,
    GO_TO_ERROR,
    RobotAPI,
    check_options,
    check_str,
    robot_error,
    trace,
)
from lit_coderl.robot.harness import ROBOT_API_NAMES, parse_trace


def test_robot_error_text():
    error = robot_error(GO_TO_ERROR, "update_robot_location failed")
    assert type(error) is Exception and str(error) == "RobotGoToError: update_robot_location failed"
    assert type(robot_error(ASK_ERROR, "x", TypeError)) is TypeError


def test_check_str_strips_and_rejects_non_strings_and_empties():
    assert check_str("  kitchen ", GO_TO_ERROR, "location") == "kitchen"
    assert check_str("  ", ASK_ERROR, "person", allow_empty=True) == ""
    assert check_str(" a ", GO_TO_ERROR, "location", strip=False) == " a "
    with pytest.raises(Exception, match=r"^RobotGoToError: location must be a string$"):
        check_str(3, GO_TO_ERROR, "location")
    with pytest.raises(Exception, match=r"^RobotGoToError: location must be a non-empty string$"):
        check_str(" \n", GO_TO_ERROR, "location")
    with pytest.raises(TypeError, match="RobotGoToError"):
        check_str(None, GO_TO_ERROR, "location", exc_type=TypeError)


def test_check_options():
    assert check_options(["a", "b"]) == ["a", "b"]
    assert check_options([], allow_empty=True) == []
    assert check_options([1], check_items=False) == [1]
    with pytest.raises(Exception, match=r"^RobotAskError: options must be a list$"):
        check_options(("a",))
    for bad in ([], ["a", " "], ["a", 2]):
        with pytest.raises(Exception, match=r"^RobotAskError: options must be a non-empty list"):
            check_options(bad)


def test_trace_line_round_trips_through_the_parser(capsys):
    trace("Ask", "Tea?", str(["yes", "no"]))
    trace("GoTo", "kitchen")
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "GoTo /$@!/ kitchen /$@!/ None"
    assert parse_trace(out) == [("Ask", "Tea?", ["yes", "no"]), ("GoTo", "kitchen", None)]


def test_base_class_declares_exactly_the_eight_api_functions():
    assert set(RobotAPI.__abstractmethods__) == set(ROBOT_API_NAMES)
    assert set(ERROR_CLASSES) == set(ROBOT_API_NAMES)
    assert all(name.startswith("Robot") and name.endswith("Error") for name in ERROR_CLASSES.values())
    with pytest.raises(TypeError):
        RobotAPI()
