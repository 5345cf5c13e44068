"""RoboSim, the angelic simulator (spec §6), and its verification driver."""

import csv
import pickle
import random

import pytest

from lit_coderl.robot import robosim
from lit_coderl.robot.harness import parse_trace
from lit_coderl.robot.robosim import (
    ROOMS,
    EntityType,
    RoboSimRobot,
    mutate_membership_tests,
    verify_program,
)


class ScriptedRandom(random.Random):
    """``choice`` answers from a script (then falls back to the first item); ``random`` returns ``level``."""

    def __init__(self, choices=(), level=0.0):
        super().__init__(0)
        self.script = list(choices)
        self.level = level

    def choice(self, seq):
        return self.script.pop(0) if self.script else seq[0]

    def random(self):
        return self.level


def program(*lines: str) -> str:
    return "def task_program():\n" + "\n".join("    " + line for line in lines)


# ---- the world -------------------------------------------------------------------------------------------------


def test_initial_world_and_fixed_rooms():
    robot = RoboSimRobot()
    assert robot.get_current_location() == "start_loc"
    robot.go_to("  Kitchen ")
    assert robot.get_current_location() == "Kitchen"
    assert robot.get_all_rooms() == list(ROOMS)
    assert robot.get_all_rooms() is robot.get_all_rooms()


def test_types_are_fixed_at_first_use_and_refined_from_object_or_person():
    robot = RoboSimRobot(ScriptedRandom([True]))
    robot.is_in_room("Alice")
    assert robot.types["Alice"] is EntityType.OBJECT_OR_PERSON
    robot.ask("Alice", "Tea?", ["yes"])
    assert robot.types["Alice"] is EntityType.PERSON
    with pytest.raises(Exception, match=r"^RobotTypeError: "):
        robot.pick("Alice")


def test_person_referred_to_by_location_is_allowed_but_not_an_object_check():
    robot = RoboSimRobot()
    robot.go_to("Arjun's office")
    assert robot.ask("Arjun's office", "Ready?", ["Yes", "No"]) in ("Yes", "No")
    with pytest.raises(Exception, match=r"^RobotTypeError: "):
        robot.is_in_room("Arjun's office")
    robot.pick("cup")
    with pytest.raises(Exception, match=r"^RobotTypeError: "):
        robot.go_to("cup")


def test_existence_answers_are_consistent_per_location(capsys):
    robot = RoboSimRobot(ScriptedRandom([False, True]))
    robot.go_to("a")
    assert robot.is_in_room("cup") is False
    assert robot.is_in_room("cup") is False
    with pytest.raises(Exception, match=r"^RobotPickError: object does not exist in room$"):
        robot.pick("cup")
    robot.is_holding = None
    robot.go_to("b")
    assert robot.is_in_room("cup") is True
    robot.pick("cup")
    assert robot.existence("cup") == 2  # picked: unknown again
    assert [e[0] for e in parse_trace(capsys.readouterr().out)] == ["GoTo", "CheckEntity", "CheckEntity", "GoTo",
                                                                    "CheckEntity", "Pick"]


def test_is_in_room_escape_after_15_calls_at_one_location():
    robot = RoboSimRobot(ScriptedRandom([False, True]))
    calls = 1
    while not robot.is_in_room("person"):
        calls += 1
    assert calls == 16


def test_escape_counter_is_per_location_and_restarts_on_a_new_location():
    robot = RoboSimRobot(ScriptedRandom([False, False]))
    for _ in range(10):
        robot.is_in_room("cat")
    robot.go_to("b")
    robot.is_in_room("cat")
    robot.go_to("start_loc")
    for _ in range(14):
        robot.is_in_room("dog")
    assert robot.last_check_count == 14 and "cat" in robot.non_exist["start_loc"]


def test_ask_checks_then_answers_with_an_option_and_traces_after_the_checks(capsys):
    robot = RoboSimRobot(ScriptedRandom(["No", False]))
    assert robot.ask("", "Anyone?", ["Yes", "No"]) == "No"
    robot.is_in_room("Bob")
    with pytest.raises(Exception, match=r"^RobotAskError: person does not exist in room$"):
        robot.ask("Bob", "Hi?", ["a"])
    for args in (("Bob", " ", ["a"]), ("Bob", "q", []), (3, "q", ["a"])):
        with pytest.raises(Exception, match=r"^RobotAskError: "):
            robot.ask(*args)
    events = parse_trace(capsys.readouterr().out)
    assert events == [("Ask", "Anyone?", ["Yes", "No"]), ("CheckEntity", "Bob", None)]


def test_pick_and_place_holding_rules(capsys):
    robot = RoboSimRobot()
    with pytest.raises(Exception, match=r"^RobotPlaceError: Robot is not currently holding 'cup'$"):
        robot.place("cup")
    robot.pick(" cup ")
    with pytest.raises(Exception, match=r"^RobotPickError: Robot is already holding 'cup'$"):
        robot.pick("pen")
    with pytest.raises(Exception, match=r"^RobotPlaceError: Robot is currently holding 'cup' but it is not 'pen'$"):
        robot.place("pen")
    robot.go_to("desk")
    robot.place("cup")
    assert robot.is_in_room("cup") is True
    assert parse_trace(capsys.readouterr().out) == [
        ("Pick", "cup", None), ("GoTo", "desk", None), ("Place", "cup", None), ("CheckEntity", "cup", None),
    ]


def test_argument_checks_of_every_call():
    robot = RoboSimRobot()
    cases = [
        (robot.go_to, (" ",), "RobotGoToError"),
        (robot.is_in_room, (1,), "RobotIsInRoomError"),
        (robot.say, (None,), "RobotSayError"),
        (robot.pick, ("",), "RobotPickError"),
        (robot.place, ([],), "RobotPlaceError"),
    ]
    for call, args, name in cases:
        with pytest.raises(Exception, match=rf"^{name}: "):
            call(*args)
    robot.say("   ")  # an empty message is fine


# ---- text mutation ---------------------------------------------------------------------------------------------


def test_mutation_skipped_with_probability_one_fifth():
    code = program('if "office" in room:', "    pass")
    assert mutate_membership_tests(code, ScriptedRandom(["True"], level=0.85)) == code


def test_mutation_replaces_literal_membership_tests_but_keeps_ask_and_loops():
    code = program(
        "for room in get_all_rooms():",
        '    if "office" not in room:',
        "        continue",
        '    if "yes" in ask("", "Go?", ["yes", "no"]):',
        "        pass",
        '    if "kitchen" in get_all_rooms():',
        "        pass",
    )
    mutated = mutate_membership_tests(code, ScriptedRandom(["False", "True"], level=0.1))
    assert mutated == program(
        "for room in get_all_rooms():",
        "    if False:",
        "        continue",
        '    if "yes" in ask("", "Go?", ["yes", "no"]):',
        "        pass",
        "    if True:",
        "        pass",
    )


# ---- verify_program ----------------------------------------------------------------------------------------------


def test_accepts_a_correct_program_and_is_reproducible_and_picklable():
    code = program(
        "start = get_current_location()",
        "for room in get_all_rooms():",
        '    if "office" not in room:',
        "        continue",
        "    go_to(room)",
        '    if is_in_room("person"):',
        '        answer = ask("", "Coffee?", ["Yes", "No"])',
        "        if answer == \"Yes\":",
        '            go_to("kitchen")',
        '            pick("coffee")',
        "            go_to(room)",
        '            place("coffee")',
        "go_to(start)",
        'while not is_in_room("person"):',
        "    time.sleep(1)",
        'say("done")',
    )
    verdict = verify_program(code, worlds=20, seed=3)
    assert verdict["accepted"] and verdict["passed"] == 20 and verdict["message"] == "Success"
    assert verdict["error_class"] is None
    assert pickle.loads(pickle.dumps(verdict)) == verdict
    assert verify_program(code, worlds=20, seed=3) == verdict


@pytest.mark.parametrize(
    ("lines", "expected_class", "line"),
    [
        (['go_to("kitchen")', 'is_in_room("kitchen")'], "RobotTypeError", 3),
        (['place("cup")'], "RobotPlaceError", 2),
        (['pick("cup")', 'place("plate")'], "RobotPlaceError", 3),
        (['pick("cup")', 'pick("pen")'], "RobotPickError", 3),
        (['if not is_in_room("cup"):', '    pick("cup")'], "RobotPickError", 3),
        (['if not is_in_room("Alice"):', '    ask("Alice", "Hi?", ["Hi"])'], "RobotAskError", 3),
        (['ask("Alice", "Hi?", [])'], "RobotAskError", 2),
        (["go_to(3)"], "RobotGoToError", 2),
        (['is_in_room("")'], "RobotIsInRoomError", 2),
        (["say(None)"], "RobotSayError", 2),
        (["go_to(kitchen)"], "NameError", 2),
        (['name = "a".replace("a", "b")'], "AttributeError", 2),
        (['rooms = get_all_rooms()', "go_to(rooms[10])"], "IndexError", 3),
        (["if True", "    pass"], "SyntaxError", 2),
    ],
)
def test_mutants_are_rejected_with_their_error_class(lines, expected_class, line):
    verdict = verify_program(program(*lines), worlds=5, seed=0)
    assert not verdict["accepted"]
    assert verdict["error_class"] == expected_class
    assert verdict["error_line"] == line
    assert (expected_class.startswith("Robot")) == ("Robot" in verdict["message"])


def test_reject_mode_stops_at_the_first_error_and_count_mode_counts_passing_worlds():
    code = program('if is_in_room("cup"):', '    place("cup")')
    reject = verify_program(code, worlds=10, seed=0)
    count = verify_program(code, worlds=10, seed=0, mode="count")
    assert not reject["accepted"] and not count["accepted"]
    assert len(reject["runs"]) == next(i for i, r in enumerate(count["runs"]) if r["status"] == "error") + 1
    assert len(count["runs"]) == 10
    assert count["passed"] == sum(r["status"] == "ok" for r in count["runs"])
    assert 0 < count["passed"] < 10


def test_one_timeout_is_tolerated_and_the_second_rejects(monkeypatch):
    statuses = iter(["ok", "timeout", "ok", "timeout", "ok"])

    def fake_world(code, seed, world, world_timeout_s, runner=None):
        status = next(statuses)
        return {"world": world, "status": status, "error": None, "error_class": None, "error_line": 4,
                "trace_length": 0}

    monkeypatch.setattr(robosim, "run_world", fake_world)
    verdict = verify_program(program("pass"), worlds=5)
    assert not verdict["accepted"] and verdict["timeouts"] == 2 and len(verdict["runs"]) == 4
    assert verdict["message"] == "TimeOutError: Program did not terminate"
    assert verdict["error_class"] == "TimeOutError"


def test_infinite_loop_times_out_in_every_world():
    verdict = verify_program(program("while True:", "    pass"), worlds=3, world_timeout_s=0.1, mode="count")
    assert verdict["timeouts"] == 3 and verdict["passed"] == 0 and not verdict["accepted"]


def test_empty_or_non_string_program_is_rejected_and_bad_mode_raises():
    for code in ("", "   \n", None, b"def task_program(): pass"):
        verdict = verify_program(code)
        assert not verdict["accepted"] and verdict["passed"] == 0 and verdict["error_class"] == "ValueError"
    with pytest.raises(ValueError, match="mode"):
        verify_program(program("pass"), mode="strict")


def test_runs_inside_the_sandbox_with_the_same_verdicts():
    from lit_coderl.robot.runner import SandboxRunner
    from lit_coderl.sandbox import Limits, SandboxPool

    caught = program('try:\n        place("x")\n    except Exception:\n        pass\n    say("done")')
    with SandboxPool(workers=1, limits=Limits(timeout_s=3, memory_mb=1024)) as pool:
        runner = SandboxRunner(pool)
        for code in (program('place("x")'), program('go_to("kitchen")\n    say("hi")'), caught):
            assert verify_program(code, worlds=3, runner=runner) == verify_program(code, worlds=3)
        verdict = verify_program(program('place("x")'), worlds=2, runner=runner)
        assert verdict["error_class"] == "RobotPlaceError" and not verdict["accepted"]
        # the simulator saw the error the program caught: the training reward's driver counts it
        strict = verify_program(caught, worlds=2, runner=SandboxRunner(pool, count_caught_errors=True))
        assert not strict["accepted"] and strict["error_class"] == "RobotPlaceError"


# ---- regression on the RoboEval reference programs (§11) ----------------------------------------------------------


def test_reference_programs_75_accepted_and_find_backpack_rejected(data_dir):
    with (data_dir / "roboeval" / "roboeval_data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 80
    rejected = {}
    for row in rows:
        code = row["prompt_program"].split("\n", 1)[1]
        verdict = verify_program(code, worlds=5, seed=0)
        if not verdict["accepted"]:
            rejected[row["taskname"]] = verdict["message"]
    assert sorted(rejected) == [f"FindBackpack_{i}" for i in range(5)]
    assert set(rejected.values()) == {"Exception: RobotPlaceError: Robot is not currently holding 'backpack'"}
