"""The shared execution harness (spec §3-4)."""

import signal
import sys
import threading

import pytest

from lit_coderl.robot.harness import (
    SPECIAL_DELIM,
    classify_error,
    error_class,
    extract_program,
    locate_program,
    parse_trace,
    rewrite_program,
    run_program,
)


class EchoRobot:
    """Prints a GoTo trace line; raises like a simulator on an empty location."""

    def go_to(self, location):
        if not location:
            raise Exception("RobotGoToError: location must be a non-empty string")
        print(f"GoTo {SPECIAL_DELIM} {location} {SPECIAL_DELIM} None")

    def say(self, message):
        print(f"Say {SPECIAL_DELIM} {message} {SPECIAL_DELIM} None")


def run(body: str, timeout_s: float = 1.0):
    return run_program(rewrite_program("def task_program():\n" + body), EchoRobot(), timeout_s)


# ---- extract_program -------------------------------------------------------------------------------------------


def test_extract_takes_the_fenced_program_and_drops_prose_and_code_outside_the_function():
    text = 'Sure!\n```python\nimport os\ndef task_program():\n    go_to("a")\n\nprint(1)\n```\nDone.'
    assert extract_program(text) == 'def task_program():\n    go_to("a")\n'


def test_extract_prepends_the_def_line_to_a_completion_style_body():
    body = '\n    go_to("a")\n    say("b")\n# Instruction: next\ndef task_program():'
    assert extract_program(body) == 'def task_program():\n\n    go_to("a")\n    say("b")'


def test_extract_strips_a_llama3_header_and_reads_to_the_end_without_closing_fence():
    text = '<|start_header_id|>assistant<|end_header_id|>\n\n```python\ndef task_program():\n    say("x")'
    assert extract_program(text) == 'def task_program():\n    say("x")'


def test_extract_of_empty_or_garbage_gives_the_bare_def_line():
    assert extract_program("") == "def task_program():\n"
    assert extract_program(None) == "def task_program():\n"


def test_locate_program_reports_the_start_offset_in_the_answer():
    text = 'x\n```python\ndef task_program():\n    say("a")\n```'
    found = locate_program(text)
    assert found.start == text.index("def task_program")
    assert not found.prepended
    assert text[found.start : found.start + len(found.code)] == found.code


# ---- rewrite_program -------------------------------------------------------------------------------------------


def test_rewrite_lowercases_double_quoted_spans_everywhere_but_not_single_quoted_strings():
    code = "def task_program():\n    go_to(\"Kitchen\")  # \"Note\"\n    say('Hello \"World\"')\n    say('Keep')"
    out = rewrite_program(code)
    assert 'robot.go_to("kitchen")  # "note"' in out
    assert "robot.say('Hello \"world\"')" in out
    assert "robot.say('Keep')" in out


def test_rewrite_is_a_naive_substring_replacement():
    code = 'def task_program():\n    x = "a".replace("a", "b")\n    essay("x")\n    mask("y")\n    robot.go_to("z")'
    out = rewrite_program(code)
    assert out.splitlines() == [
        "def task_program(robot):",
        '    x = "a".rerobot.place("a", "b")',
        '    esrobot.say("x")',
        '    mrobot.ask("y")',
        '    robot.robot.go_to("z")',
        "",
        "task_program(robot)",
    ]


def test_rewrite_sleep_modes():
    code = "def task_program():\n    time.sleep(1)\n    time.sleep(max(2, 3))"
    zero = rewrite_program(code)
    assert "time.sleep((1) * 0)" in zero and "time.sleep((max(2, 3)) * 0)" in zero
    codebotler = rewrite_program(code, sleep="codebotler")
    assert "time.sleep(0.01)" in codebotler and "time.sleep(max(2, 3))" in codebotler
    with pytest.raises(ValueError, match="sleep"):
        rewrite_program(code, sleep="fast")


# ---- parse_trace / classify_error --------------------------------------------------------------------------------


def test_parse_trace_reads_records_and_stops_at_the_first_malformed_line():
    d = SPECIAL_DELIM
    stdout = f"GoTo {d} kitchen {d} None\nAsk {d} Tea? {d} ['yes', 'no']\nhello\nSay {d} lost {d} None\n"
    assert parse_trace(stdout) == [("GoTo", "kitchen", None), ("Ask", "Tea?", ["yes", "no"])]


def test_parse_trace_never_evaluates_code():
    d = SPECIAL_DELIM
    assert parse_trace(f"Say {d} x {d} __import__('os').getcwd()\n") == []
    assert parse_trace("") == []


def test_classify_error_uses_the_case_sensitive_robot_substring():
    assert classify_error("Exception: RobotGoToError: update_robot_location failed") == "robot"
    assert classify_error("TypeError: RobotAskError: options must be a list") == "robot"
    assert classify_error("NameError: name 'robot_x' is not defined") == "python"
    assert classify_error("") == "python"


def test_error_class_names_the_robot_error_or_the_exception_type():
    assert error_class("Exception: RobotPlaceError: Robot is not currently holding 'x'") == "RobotPlaceError"
    assert error_class("NameError: name 'x' is not defined") == "NameError"
    assert error_class("TimeOutError: Program did not terminate") == "TimeOutError"
    assert error_class("") == "Error"
    assert error_class(None) is None


# ---- run_program -------------------------------------------------------------------------------------------------


def test_run_ok_captures_the_trace_and_restores_stdout():
    before = sys.stdout
    result = run('    go_to("Kitchen")\n    say(str(time.time() > 0))\n')
    assert sys.stdout is before
    assert result.status == "ok" and result.error is None
    assert result.trace == [("GoTo", "kitchen", None), ("Say", "True", None)]


def test_a_program_print_truncates_the_trace_as_in_the_original_process():
    result = run('    go_to("a")\n    print("debug")\n    go_to("b")\n')
    assert result.stdout.splitlines()[1] == "debug"
    assert result.trace == [("GoTo", "a", None)]


def test_robot_error_text_and_line_in_the_original_program():
    result = run('    go_to("a")\n    go_to("")\n')
    assert result.status == "error"
    assert result.error == "Exception: RobotGoToError: location must be a non-empty string"
    assert result.error_line == 3
    assert result.trace == [("GoTo", "a", None)]


def test_python_errors_keep_the_last_stderr_line_form():
    assert run("    undefined_name\n").error == "NameError: name 'undefined_name' is not defined"
    broken = run('    x = "a".replace("a", "b")\n')
    assert broken.error == "AttributeError: 'str' object has no attribute 'rerobot'" and broken.error_line == 2
    multi = run('    raise ValueError("first\\nsecond")\n')
    assert multi.error == "second"


def test_syntax_error_is_reported_with_its_line():
    result = run_program(rewrite_program("def task_program():\n    x = (\n"), EchoRobot(), 1.0)
    assert result.status == "error" and result.error.startswith("SyntaxError")
    assert result.trace == []


def test_error_raised_in_the_appended_call_has_no_program_line():
    result = run_program(rewrite_program("x = 1"), EchoRobot(), 1.0)
    assert result.error == "NameError: name 'task_program' is not defined"
    assert result.error_line is None


def test_timeout_even_when_the_program_swallows_the_interruption():
    result = run("    while True:\n        try:\n            pass\n        except:\n            pass\n", timeout_s=0.2)
    assert result.status == "timeout" and result.error is None


def test_timeout_off_the_main_thread_uses_the_trace_hook():
    results = []
    thread = threading.Thread(target=lambda: results.append(run("    while True:\n        pass\n", timeout_s=0.2)))
    thread.start()
    thread.join(10)
    assert results[0].status == "timeout" and results[0].error_line in (2, 3)


def test_an_outer_alarm_timer_and_handler_survive_a_run():
    def outer(signum, frame):
        raise AssertionError("outer alarm fired")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        assert run("    while True:\n        pass\n", timeout_s=0.1).status == "timeout"
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining < 100.0
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_system_exit_zero_is_success_and_nonzero_an_error_with_empty_text():
    assert run("    sys.exit(0)\n").status == "ok"
    failed = run("    sys.exit(3)\n")
    assert failed.status == "error" and failed.error == ""
    assert classify_error(failed.error) == "python"


def test_output_is_capped_and_null_bytes_do_not_crash():
    big = run('    print("x" * 3_000_000)\n')
    assert big.status == "ok" and len(big.stdout) == 1_000_000
    nul = run_program("x = 1\x00", EchoRobot(), 1.0)
    assert nul.status == "error" and nul.error_line is None
