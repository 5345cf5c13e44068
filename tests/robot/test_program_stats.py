"""Static API-call counts and the trivial-program share."""

from lit_coderl.robot.program_stats import api_call_count, is_trivial, program_stats

TRIVIAL = 'def task_program():\n    go_to("kitchen")\n    say("hi")'
LOOP = (
    "def task_program():\n    start = get_current_location()\n    for room in get_all_rooms():\n"
    '        go_to(room)\n        if is_in_room("cup"):\n            say(room)\n    go_to(start)'
)


def test_counts_call_sites_not_executions():
    assert api_call_count(TRIVIAL) == 2
    assert api_call_count(LOOP) == 6
    assert api_call_count("def task_program():\n    x.say('a')\n    essay('b')\n    go_to") == 0


def test_unparsable_programs_are_counted_textually():
    assert api_call_count('def task_program():\n    go_to("a"\n    say ("b")\n    robot.pick("c")') == 2
    assert api_call_count(None) == 0


def test_trivial_share():
    assert is_trivial(TRIVIAL) and not is_trivial(LOOP)
    assert program_stats([TRIVIAL, LOOP, "def task_program():\n    pass"]) == {
        "api_calls_mean": 8 / 3, "trivial_share": 2 / 3,
    }
    assert program_stats([]) == {"api_calls_mean": 0.0, "trivial_share": 0.0}
