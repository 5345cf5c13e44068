"""Every branch of the judge's job-level verdict (`judge._job_failure`, through `judge.test_result`), on hand-built
server replies: what the server said is a failure of the whole job, and what says nothing about the tests.

A reply that reports nothing about loading the program must never be read as "no failure": its tests were not run.
"""

from __future__ import annotations

import pytest

from lit_coderl.sandbox import judge
from lit_coderl.sandbox.pool import RunReply

TESTS = ["assert f(1) == 2", "assert f(2) == 3"]
PLAN = judge.plan_tests(TESTS, "def f(x):\n    return x + 1\n")
PASSING_ITEMS = [{"v": [2]}, {"v": [3]}]  # the codec's encoding of small ints is the int itself


def test_plain_values_decode_as_themselves():
    # the hand-built items above rely on it
    assert judge.codec.decode_value(2) == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # the job failed while the program loaded: the load error is the better message, with its line
        (RunReply(status="timeout", error="time limit", load={"ok": False, "x": "NameError: y", "line": 3}),
         ("error", "NameError: y", 3)),
        # the job failed after a good load (or before any load report): the job's own status and error
        (RunReply(status="timeout", error="time limit", load={"ok": True}), ("timeout", "time limit", None)),
        (RunReply(status="memory", error="out of memory", load=None), ("memory", "out of memory", None)),
        (RunReply(status="crash", error="server died", load={}), ("crash", "server died", None)),
        # the job ended "ok" but the program never reported loading: nothing ran, it is a crash
        (RunReply(status="ok", load=None, items=PASSING_ITEMS), ("crash", "the program reported nothing", None)),
        (RunReply(status="ok", load={}, items=PASSING_ITEMS), ("crash", "the program reported nothing", None)),
        # the program did not load
        (RunReply(status="ok", load={"ok": False, "x": "SyntaxError: bad", "line": 1}),
         ("error", "SyntaxError: bad", 1)),
        # it loaded but the tests' setup code raised
        (RunReply(status="ok", load={"ok": True, "setup_error": "ImportError: z", "line": 7}, items=PASSING_ITEMS),
         ("fail", "test setup failed: ImportError: z", 7)),
    ],
)
def test_job_failures(reply, expected):
    assert judge._job_failure(reply) == expected
    status, error, line = expected
    result = judge.test_result(PLAN, reply)
    assert (result.status, result.error, result.error_line) == (status, error, line)
    assert result.passed == [False, False]  # a failed job passes no test, whatever items it sent
    assert result.fraction == 0.0


def test_a_clean_load_is_no_failure_and_the_items_are_judged():
    reply = RunReply(status="ok", load={"ok": True}, items=PASSING_ITEMS)
    assert judge._job_failure(reply) is None
    result = judge.test_result(PLAN, reply)
    assert (result.status, result.passed, result.error) == ("pass", [True, True], None)
    wrong = judge.test_result(PLAN, RunReply(status="ok", load={"ok": True}, items=[{"v": [2]}, {"v": [4]}]))
    assert (wrong.status, wrong.passed, wrong.error) == ("fail", [True, False], "AssertionError")


def test_a_non_int_line_is_dropped():
    reply = RunReply(status="ok", load={"ok": False, "x": "SyntaxError: bad", "line": "1"})
    assert judge.test_result(PLAN, reply).error_line is None
