"""The simulator's call log (api, arguments, result or error, program line) in process and from the sandbox."""

from lit_coderl.robot.calls import MAX_TEXT, call_entry, plain, valid_log
from lit_coderl.robot.runner import InProcessRunner, SandboxRunner
from lit_coderl.robot.task_world import draw_facts, world_of

SPEC = {"rooms": ["loc_a", "start_loc"], "facts": [{"id": "apple", "at": "Kitchen", "entity": "apple", "p": 0.5}]}
CODE = (
    "def task_program():\n"
    '    go_to("kitchen")\n'
    '    if is_in_room("apple"):\n'
    '        pick("apple")\n'
    '    print("Pick /$@!/ forged /$@!/ None")\n'
    "    try:\n"
    '        place("pear")\n'
    "    except Exception:\n"
    "        pass\n"
    "    say(str(len(get_all_rooms())))"
)
PLACE_ERROR = "Exception: RobotPlaceError: Robot is currently holding 'apple' but it is not 'pear'"


def expected_log(present: bool) -> list[dict]:
    log = [
        {"api": "go_to", "args": ["kitchen"], "result": None, "error": None, "line": 2},
        {"api": "is_in_room", "args": ["apple"], "result": present, "error": None, "line": 3},
    ]
    if present:
        log.append({"api": "pick", "args": ["apple"], "result": None, "error": None, "line": 4})
    error = PLACE_ERROR if present else "Exception: RobotPlaceError: Robot is not currently holding 'pear'"
    return log + [
        {"api": "place", "args": ["pear"], "result": None, "error": error, "line": 7},
        {"api": "get_all_rooms", "args": [], "result": ["loc_a", "start_loc"], "error": None, "line": 10},
        {"api": "say", "args": ["2"], "result": None, "error": None, "line": 10},
    ]


def test_facts_are_seeded_and_reach_the_world():
    assert [draw_facts(SPEC, 0, w) for w in range(3)] == [{"apple": False}, {"apple": False}, {"apple": True}]
    assert world_of(SPEC, CODE, 0, 2) == {"kind": "taskcheck", "code": CODE, "seed": 0, "world": 2,
                                          "rooms": ["loc_a", "start_loc"], "facts": [["kitchen", "apple", True]]}


def test_in_process_log_has_lines_results_and_caught_errors():
    for world, present in ((0, False), (2, True)):
        result = InProcessRunner()(world_of(SPEC, CODE, 0, world), 1.0)
        assert result.status == "ok"
        assert result.calls == expected_log(present)


def test_sandbox_log_is_the_servers_and_ignores_printed_actions():
    from lit_coderl.sandbox import SandboxPool

    with SandboxPool(workers=1) as pool:
        result = SandboxRunner(pool)(world_of(SPEC, CODE, 0, 2), 1.0)
    assert result.status == "ok"
    assert result.calls == expected_log(True)


def test_entries_are_small_plain_data():
    assert plain("x" * 500) == "x" * MAX_TEXT
    assert plain([1, ("a", object())]) == [1, ["a", "<object>"]]
    assert call_entry("ask", ["Bob", "q?", ["Yes", "No"]], "Yes", line=True) == {
        "api": "ask", "args": ["Bob", "q?", ["Yes", "No"]], "result": "Yes", "error": None, "line": None,
    }
    assert valid_log([{"api": "say", "args": ["hi"], "line": 3}, {"api": 1}, "junk"]) == [
        {"api": "say", "args": ["hi"], "result": None, "error": None, "line": 3},
    ]
    assert valid_log(None) == []
    assert call_entry("say", ["x"], line=10**30)["line"] is None and call_entry("say", ["x"], line=-3)["line"] is None
