"""RoboEval's evaluation algorithm (spec §7.3): outcome classes, precedence, timeouts, trace truncation."""

import csv

import pytest

from lit_coderl.evaluate.roboeval_tasks import TASK_CHECKS, evaluate_program, load_tasks
from lit_coderl.robot.roboeval import (
    COMPLETION_ERROR,
    PYTHON_ERROR,
    ROBOT_ERROR,
    SUCCESS,
    RoboEvalTask,
    RoboEvalTest,
    evaluate_task_program,
)
from lit_coderl.robot.rtl import GoTo, Say, trace_from_events

FAST = 0.2  # per-state timeout in tests (s)


def state(*locations):
    return {"locations": [*locations, "start_loc"], "objects": {}, "agents": {}, "robot_location": "start_loc"}


def says_hello(trace):
    return trace.exists(Say("hello"))


# ---------------------------------------------------------------------------------------------------------------
# the algorithm on synthetic tasks (no data needed)
# ---------------------------------------------------------------------------------------------------------------
KITCHEN_TASK = RoboEvalTask(
    name="Synthetic",
    prompts=["Go to the kitchen and say hello."],
    tests=[
        RoboEvalTest(state("kitchen"), False, says_hello),
        RoboEvalTest(state("kitchen", "hall"), False, says_hello),
    ],
)


def run(code, task=KITCHEN_TASK, timeout=FAST):
    return evaluate_task_program(task, code, state_timeout_s=timeout)


def test_success_when_every_check_passes():
    result = run('def task_program():\n    go_to("kitchen")\n    say("Hello")\n')
    assert result["outcome"] == SUCCESS
    assert [(s["state"], s["status"], s["passed"], s["events"]) for s in result["states"]] == [
        (0, "ok", True, 2),
        (1, "ok", True, 2),
    ]
    assert result["error"] is None


def test_completion_error_when_a_check_fails_in_any_state():
    result = run('def task_program():\n    if "hall" in get_all_rooms():\n        say("hello")\n')
    assert result["outcome"] == COMPLETION_ERROR
    assert [s["passed"] for s in result["states"]] == [False, True]


def test_an_error_in_a_later_state_beats_an_earlier_completion_failure():
    code = 'def task_program():\n    if "hall" in get_all_rooms():\n        go_to("garage")\n'
    result = run(code)
    assert result["outcome"] == ROBOT_ERROR
    assert result["error"] == "Exception: RobotGoToError: update_robot_location failed"
    assert result["error_class"] == "RobotGoToError"
    assert [(s["status"], s["passed"]) for s in result["states"]] == [("ok", False), ("error", None)]


def test_the_first_error_stops_the_evaluation():
    result = run("def task_program():\n    undefined_name\n")
    assert result["outcome"] == PYTHON_ERROR
    assert result["error"] == "NameError: name 'undefined_name' is not defined"
    assert len(result["states"]) == 1
    assert result["states"][0]["error_line"] == 2


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("def task_program(:\n    pass\n", PYTHON_ERROR),  # syntax error
        ('def task_program():\n    "a-b".replace("-", "")\n', PYTHON_ERROR),  # naive rewrite: x.rerobot.place(
        ("def task_program():\n    say(3)\n", ROBOT_ERROR),  # RoboEval's type checks mention "Robot"
        ('def task_program():\n    ask("Bob", "Here?", ["yes"])\n', ROBOT_ERROR),  # nobody at start_loc
        ("def task_program():\n    raise ValueError('Robot broke')\n", ROBOT_ERROR),  # the substring rule
        ('def task_program():\n    raise ValueError("Robot broke")\n', PYTHON_ERROR),  # "…" is lower-cased
        ("def task_program():\n    import sys\n    sys.exit(3)\n", PYTHON_ERROR),
        ("", PYTHON_ERROR),  # nothing defines task_program
    ],
)
def test_error_classes(code, outcome):
    assert run(code)["outcome"] == outcome


def test_a_non_string_program_is_a_python_error():
    result = run(None)
    assert result["outcome"] == PYTHON_ERROR
    assert result["states"] == []


def test_unexpected_timeout_is_a_python_error():
    result = run('def task_program():\n    say("hello")\n    while True:\n        pass\n')
    assert result["outcome"] == PYTHON_ERROR
    assert result["states"][0]["status"] == "timeout"
    assert result["error"].startswith("Timeout")


def test_expected_timeout_checks_the_partial_trace():
    waiting = RoboEvalTask(
        name="Waiting",
        prompts=["Wait in the kitchen."],
        tests=[RoboEvalTest(state("kitchen"), True, lambda trace: trace.exists(GoTo("kitchen")))],
    )
    looping = 'def task_program():\n    go_to("kitchen")\n    while not is_in_room("person"):\n        time.sleep(1)\n'
    result = run(looping, waiting)
    assert result["outcome"] == SUCCESS
    assert result["states"][0]["status"] == "timeout"
    assert result["states"][0]["events"] > 1
    assert run("def task_program():\n    while True:\n        pass\n", waiting)["outcome"] == COMPLETION_ERROR


def test_a_print_truncates_the_trace():
    result = run('def task_program():\n    print("starting")\n    go_to("kitchen")\n    say("hello")\n')
    assert result["outcome"] == COMPLETION_ERROR
    assert [s["events"] for s in result["states"]] == [0, 0]


@pytest.mark.parametrize(("message", "outcome"), [("RobotCheckError: bad", ROBOT_ERROR), ("bad", PYTHON_ERROR)])
def test_a_checker_exception_is_classified_like_a_program_error(message, outcome):
    def broken_check(trace):
        raise RuntimeError(message)

    task = RoboEvalTask(name="Broken", prompts=["x"], tests=[RoboEvalTest(state("kitchen"), False, broken_check)])
    result = run("def task_program():\n    pass\n", task)
    assert result["outcome"] == outcome
    assert result["error"] == f"RuntimeError: {message}"


# ---------------------------------------------------------------------------------------------------------------
# the benchmark (needs the shared data)
# ---------------------------------------------------------------------------------------------------------------
def reference_programs(data_dir):
    with open(data_dir / "roboeval" / "roboeval_data.csv", encoding="utf-8") as handle:
        return {row["taskname"]: row["prompt_program"].split("\n", 1)[1] for row in csv.DictReader(handle)}


def test_tasks_pair_the_data_with_the_coded_checks(data_dir):
    tasks = load_tasks(data_dir)
    assert len(tasks) == 16
    assert sum(len(task.tests) for task in tasks.values()) == 52
    assert all(len(task.prompts) == 5 for task in tasks.values())
    assert [t.expect_timeout for t in tasks["ElevatorTour"].tests] == [False, True, True]
    assert [t.expect_timeout for t in tasks["WeatherPoll"].tests] == [False, False, False, False, True]


def test_load_tasks_reports_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="RoboEval data not found"):
        load_tasks(tmp_path)


def test_all_80_reference_programs_succeed(data_dir):
    programs = reference_programs(data_dir)
    assert len(programs) == 80
    outcomes = {task_id: evaluate_program(task_id, code, str(data_dir), FAST) for task_id, code in programs.items()}
    failures = {task_id: (r["outcome"], r["error"]) for task_id, r in outcomes.items() if r["outcome"] != SUCCESS}
    assert failures == {}
    assert sum(len(r["states"]) for r in outcomes.values()) == 5 * 52


def test_evaluate_program_rejects_unknown_tasks(data_dir):
    with pytest.raises(KeyError, match="unknown RoboEval task"):
        evaluate_program("NoSuchTask_0", "def task_program():\n    pass\n", str(data_dir), FAST)


COUNT_SAVORY = """def task_program():
    start_loc = get_current_location()
    count = 0
    for room in get_all_rooms():
        if "office" not in room:
            continue
        go_to(room)
        if is_in_room("person"):
            response = ask("", "Would you like a cupcake, ham sandwich, donut, or beef jerky?",
                           ["cupcake", "ham sandwich", "donut", "beef jerky"])
            if response == "ham sandwich" or response == "beef jerky":
                count += 1
    go_to(start_loc)
    say(str(count) + " people chose a savory option")
"""


def mutate(old, new):
    assert old in COUNT_SAVORY
    return COUNT_SAVORY.replace(old, new)


@pytest.mark.parametrize(
    ("code", "outcome", "states_run"),
    [
        (COUNT_SAVORY, SUCCESS, 4),
        # wrong count in every state but the second
        (mutate("say(str(count)", "say(str(2)"), COMPLETION_ERROR, 4),
        # never checks for a person: completion fails in states 0 and 1 (no CheckEntity), then it asks in
        # david's empty office in state 2 -> the later robot error wins
        (mutate('if is_in_room("person"):', "if True:"), ROBOT_ERROR, 3),
        (mutate("go_to(start_loc)", 'go_to("garage")'), ROBOT_ERROR, 1),
        # NameError only once somebody picks a savory option: nobody does in state 0
        (mutate("count += 1", "count += one"), PYTHON_ERROR, 2),
        (mutate("go_to(start_loc)", "while True:\n        count += 1"), PYTHON_ERROR, 1),  # unexpected timeout
        (mutate("go_to(start_loc)", 'print("back")\n    go_to(start_loc)'), COMPLETION_ERROR, 4),  # cut trace
    ],
)
def test_count_savory_mutants(data_dir, code, outcome, states_run):
    result = evaluate_program("CountSavory_0", code, str(data_dir), FAST)
    assert (result["outcome"], len(result["states"])) == (outcome, states_run)


def test_precedence_records_every_state_run_up_to_the_error(data_dir):
    code = mutate('if is_in_room("person"):', "if True:")
    result = evaluate_program("CountSavory_3", code, str(data_dir), FAST)
    assert [(s["status"], s["passed"]) for s in result["states"]] == [("ok", False), ("ok", False), ("error", None)]
    assert result["error"] == "Exception: RobotAskError: ask_agent failed"


@pytest.mark.parametrize("task_name", sorted(TASK_CHECKS))
def test_a_program_that_does_nothing_fails_every_state(data_dir, task_name):
    result = evaluate_program(task_name, "def task_program():\n    pass\n", str(data_dir), FAST)
    assert result["outcome"] == COMPLETION_ERROR
    assert [s["passed"] for s in result["states"]] == [False] * len(TASK_CHECKS[task_name])


def test_a_forged_trace_line_makes_the_checker_raise_a_python_error(data_dir):
    # single quotes: a double-quoted literal would be lower-cased into the unparsable "ask … none"
    code = mutate("go_to(start_loc)", "print('Ask /$@!/ forged /$@!/ None')\n    go_to(start_loc)")
    result = evaluate_program("CountSavory_0", code, str(data_dir), FAST)
    assert result["outcome"] == PYTHON_ERROR
    assert result["error"].startswith("ValueError: pattern")


def test_elevator_tour_expected_timeouts(data_dir):
    programs = reference_programs(data_dir)
    result = evaluate_program("ElevatorTour_0", programs["ElevatorTour_0"], str(data_dir), FAST)
    assert result["outcome"] == SUCCESS
    assert [s["status"] for s in result["states"]] == ["ok", "timeout", "timeout"]
    never_asks = 'def task_program():\n    go_to("elevator")\n    while True:\n        is_in_room("person")\n'
    result = evaluate_program("ElevatorTour_0", never_asks, str(data_dir), FAST)
    assert result["outcome"] == PYTHON_ERROR  # state 0 is not expected to time out
    assert [s["status"] for s in result["states"]] == ["timeout"]


# ---------------------------------------------------------------------------------------------------------------
# source quirks kept in the coded checks (spec §7.2)
# ---------------------------------------------------------------------------------------------------------------
def trace_of(*events):
    return trace_from_events((e[0], e[1], e[2] if len(e) > 2 else None) for e in events)


def lunch_time_trace(times):
    return trace_of(
        ("GoTo", "jill's office"),
        ("Ask", "lunch tomorrow?", ["yes", "no"]),
        ("Ask", "when?", times),
        ("GoTo", "start_loc"),
        ("Say", "jill said yes"),
    )


def test_lunch_time_rejects_times_containing_4_to_8_colon():
    check = TASK_CHECKS["LunchTime"][0]
    assert check(lunch_time_trace(["11:30", "12:00", "1:00"]))
    assert not check(lunch_time_trace(["12:00", "14:00"]))  # "14:" contains "4:"
    assert not check(lunch_time_trace(["12:00", "18:00"]))
    assert not check(lunch_time_trace(["1:00", "2:00"]))  # no 11/12 option


def test_set_temperature_number_ranges():
    def trace(number):
        return trace_of(
            ("GoTo", "arjun's office"),
            ("Ask", "warmer or colder?", ["warmer", "colder"]),
            ("GoTo", "start_loc"),
            ("Say", f"set it to {number} degrees"),
        )

    warmer = TASK_CHECKS["SetTemperature"][0]
    assert [warmer(trace(n)) for n in (72, 73, 89, 90)] == [False, True, True, False]
    colder = TASK_CHECKS["SetTemperature"][1]
    assert [colder(trace(n)) for n in (49, 50, 71, 72)] == [False, True, True, False]


def test_find_backpack_does_not_require_the_place():
    check = TASK_CHECKS["FindBackpack"][0]
    found = [("GoTo", "conference room 1"), ("CheckEntity", "backpack"), ("Pick", "backpack")]
    assert check(trace_of(*found, ("GoTo", "start_loc")))
    assert check(trace_of(*found, ("GoTo", "start_loc"), ("Place", "backpack")))
    assert not check(trace_of(*found, ("GoTo", "lobby"), ("Place", "backpack")))


def test_halloween_list_report_does_not_require_marks_office_before_the_say():
    check = TASK_CHECKS["HalloweenList"][2]  # sally and mark want chocolate, cindy is absent
    visits = [
        ("GoTo", "sally's office"), ("CheckEntity", "person"), ("Ask", "which candy?", ["chocolate", "gummies"]),
        ("GoTo", "cindy's office"), ("CheckEntity", "person"),
        ("GoTo", "start_loc"), ("Say", "2 chocolate"),
        ("GoTo", "mark's office"), ("CheckEntity", "person"), ("Ask", "which candy?", ["chocolate", "gummies"]),
    ]  # fmt: skip
    assert check(trace_of(*visits))
    assert not check(trace_of(*visits[:-3]))  # mark's office must still be visited and asked


def weather_trace(asks_without_check_at):
    events = [("GoTo", "main entrance")]
    for n in range(10):
        if n not in asks_without_check_at:
            events.append(("CheckEntity", "person"))
        events.append(("Ask", "is it hot?", ["yes", "no"]))
    events += [("CheckEntity", "person")] * len(asks_without_check_at)
    return trace_of(*events, ("GoTo", "start_loc"), ("Say", "100% think it is hot"))


def test_weather_poll_checks_a_person_before_the_first_two_asks_only():
    check = TASK_CHECKS["WeatherPoll"][0]
    assert check(weather_trace([]))
    assert check(weather_trace([5]))
    assert not check(weather_trace([1]))
    assert not check(weather_trace([0]))
