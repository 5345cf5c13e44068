"""RoboEval's fixed-state simulator (spec §5)."""

import pytest

from lit_coderl.robot.harness import parse_trace
from lit_coderl.robot.roboeval_sim import Robot, WorldState, match_value


def robot_in(**state):
    data = {"locations": ["kitchen", "conference room", "main conference room", "start_loc"], **state}
    return Robot(WorldState.from_dict(data))


def events(capsys):
    return parse_trace(capsys.readouterr().out)


def test_match_value_is_case_insensitive_search_of_the_regex_in_the_value():
    assert match_value("kitchen", "The KITCHEN")
    assert not match_value("the kitchen", "kitchen")
    assert match_value("4|four", "four boxes")
    assert match_value("1", 12)


def test_state_starts_at_start_loc_and_get_all_rooms_is_the_state_list():
    robot = robot_in()
    assert robot.get_current_location() == "start_loc"
    rooms = robot.get_all_rooms()
    assert rooms == ["kitchen", "conference room", "main conference room", "start_loc"]
    assert rooms is robot.state.locations


def test_from_dict_rejects_unknown_locations_and_bad_types():
    with pytest.raises(ValueError, match="unknown location"):
        WorldState.from_dict({"locations": ["a", "start_loc"], "objects": {"b": ["x"]}})
    with pytest.raises(ValueError, match="malformed"):
        WorldState.from_dict({"objects": {}})
    with pytest.raises(ValueError, match="must be a string"):
        WorldState.from_dict({"locations": ["a", 3]})


def test_from_dict_gives_independent_copies():
    data = {"locations": ["a", "start_loc"], "agents": {"a": [{"name_regex": ".*", "answers": ["x", "y"]}]}}
    first, second = WorldState.from_dict(data), WorldState.from_dict(data)
    first.agents["a"][0].answers.pop(0)
    assert second.agents["a"][0].answers == ["x", "y"]
    assert data["agents"]["a"][0]["answers"] == ["x", "y"]


def test_go_to_takes_the_first_location_found_in_the_argument(capsys):
    robot = robot_in()
    robot.go_to("main conference room")
    assert robot.get_current_location() == "conference room"
    assert events(capsys) == [("GoTo", "main conference room", None)]


def test_go_to_unknown_location_is_a_robot_error_after_the_event(capsys):
    robot = robot_in()
    with pytest.raises(Exception, match="^RobotGoToError: update_robot_location failed$"):
        robot.go_to("garage")
    assert events(capsys) == [("GoTo", "garage", None)]
    assert robot.get_current_location() == "start_loc"


def test_type_errors_carry_robot_in_the_message():
    robot = robot_in()
    with pytest.raises(TypeError, match="^RobotGoToError: location must be a string$"):
        robot.go_to(3)
    with pytest.raises(TypeError, match="^RobotAskError: options must be a list$"):
        robot.ask("a", "q?", "yes")
    with pytest.raises(TypeError, match="^RobotSayError"):
        robot.say(None)


def test_is_in_room_matches_object_labels_and_any_entity_where_a_person_is(capsys):
    robot = robot_in(objects={"kitchen": ["apple"]}, agents={"conference room": [{"name_regex": ".*", "answers": []}]})
    assert not robot.is_in_room("apple")  # at start_loc
    robot.go_to("kitchen")
    assert robot.is_in_room("green apple")
    assert not robot.is_in_room("person")
    robot.go_to("conference room")
    assert robot.is_in_room("stapler")
    assert [e[0] for e in events(capsys)] == ["CheckEntity", "GoTo", "CheckEntity", "CheckEntity", "GoTo",
                                              "CheckEntity"]  # fmt: skip


def test_ask_consumes_answers_until_the_last_which_is_sticky(capsys):
    robot = robot_in(agents={"kitchen": [{"name_regex": ".*", "answers": ["no", "yes"]}]})
    robot.go_to("kitchen")
    assert robot.ask("Ann", "Hungry?", ["Yes", "No"]) == "No"
    assert robot.ask("Ann", "Hungry?", ["Yes", "No"]) == "Yes"
    assert robot.ask("Ann", "Hungry?", ["Yes", "No"]) == "Yes"
    assert events(capsys)[1] == ("Ask", "Hungry?", ["Yes", "No"])


def test_ask_falls_back_to_yes_or_no_by_matching_the_answer_against_the_question():
    robot = robot_in(agents={"kitchen": [{"name_regex": ".*", "answers": ["tea"]}]})
    robot.go_to("kitchen")
    assert robot.ask("", "Would you like tea?", ["Yes", "No"]) == "Yes"
    assert robot.ask("", "Would you like coffee?", ["Yes", "No"]) == "No"
    assert robot.ask("", "Which drink?", ["green tea", "coffee"]) == "green tea"
    with pytest.raises(Exception, match="^RobotAskError: ask_agent failed$"):
        robot.ask("", "Which drink?", ["water", "coffee"])


def test_ask_errors_are_printed_first(capsys):
    robot = robot_in(agents={"kitchen": [{"name_regex": ".*", "answers": []}]})
    with pytest.raises(Exception, match="^RobotAskError: ask_agent failed$"):
        robot.ask("Bob", "Here?", ["Yes"])  # nobody at start_loc
    with pytest.raises(Exception, match="^RobotAskError: invalid options$"):
        robot.ask("Bob", "Here?", [])
    robot.go_to("kitchen")
    with pytest.raises(IndexError):  # an agent without answers: a Python error in the original
        robot.ask("Bob", "Here?", ["Yes"])
    assert [e[0] for e in events(capsys)] == ["Ask", "Ask", "GoTo", "Ask"]


def test_ask_tries_agents_whose_name_matches():
    agents = [{"name_regex": "alice", "answers": ["no"]}, {"name_regex": "bob", "answers": ["yes"]}]
    robot = robot_in(agents={"kitchen": agents})
    robot.go_to("kitchen")
    assert robot.ask("Bob", "Ready?", ["yes", "no"]) == "yes"
    assert robot.ask("Alice", "Ready?", ["yes", "no"]) == "no"
    with pytest.raises(Exception, match="ask_agent failed"):
        robot.ask("Carol", "Ready?", ["yes", "no"])


def test_pick_and_place(capsys):
    robot = robot_in(objects={"kitchen": ["stapler", "apple"]})
    with pytest.raises(Exception, match="^RobotPickError: removeObject failed$"):
        robot.pick("stapler")  # nothing at start_loc; no event on failure
    robot.go_to("kitchen")
    robot.pick("red stapler")
    assert robot.state.objects["kitchen"] == ["apple"]
    with pytest.raises(Exception, match="^RobotPickError: Robot is already holding red stapler$"):
        robot.pick("apple")
    with pytest.raises(Exception, match="^RobotPlaceError: Robot is not holding stapler$"):
        robot.place("stapler")  # exact string equality with what was picked
    robot.go_to("start_loc")
    robot.place("red stapler")
    assert robot.state.objects["start_loc"] == ["red stapler"]
    assert robot.is_in_room("the red stapler")  # the placed label now acts as a regex
    assert events(capsys) == [
        ("GoTo", "kitchen", None),
        ("Pick", "red stapler", None),
        ("GoTo", "start_loc", None),
        ("Place", "red stapler", None),
        ("CheckEntity", "the red stapler", None),
    ]


def test_say_prints_and_newlines_truncate_the_parsed_trace(capsys):
    robot = robot_in()
    robot.say("one")
    robot.say("two\nlines")
    robot.say("three")
    assert events(capsys) == [("Say", "one", None)]
