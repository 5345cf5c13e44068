"""The pool, server and child: results, limits, the clock, worker reuse, crashes, fresh state per job."""

from __future__ import annotations

import os
import signal

import pytest

from lit_coderl.sandbox import Limits, SandboxPool, TestResult
from lit_coderl.sandbox.judge import call_values

FAST = Limits(timeout_s=5.0, memory_mb=1024)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, limits=FAST) as p:
        yield p


def test_tests_pass_fail_and_error_line(pool):
    code = "def f(x):\n    if x > 5:\n        raise ValueError('big')\n    return x + 1\n"
    result = pool.submit_tests(code, ["assert f(1) == 2", "assert f(2) == 4", "assert f(9) == 10"]).result()
    assert isinstance(result, TestResult)
    assert (result.status, result.passed, result.error, result.error_line) == ("fail", [True, False, False],
                                                                               "AssertionError", None)
    assert result.fraction == pytest.approx(1 / 3) and result.in_child == 0
    raising = pool.submit_tests(code, ["assert f(9) == 10"]).result()
    assert (raising.error, raising.error_line) == ("ValueError: big", 3)


def test_setup_runs_after_the_code_and_unsplittable_tests_run_in_the_child(pool):
    code = "class Node:\n    def __init__(self, v):\n        self.v = v\n"
    tests = ["assert root.v == 3", "for n in [root]:\n    assert n.v == 3"]
    strict = pool.submit_tests(code, tests, setup="root = Node(3)").result()
    assert (strict.status, strict.passed, strict.in_child, strict.unsplittable) == ("fail", [True, False], 0, 1)
    assert strict.error.startswith("UnsplittableTest")
    result = pool.submit_tests(code, tests, setup="root = Node(3)", in_child=True).result()
    assert (result.status, result.passed, result.in_child) == ("pass", [True, True], 1)
    rebinding = "import builtins\nbuiltins.len = lambda x: 3\n"  # the child's copy of the builtins predates it
    bound = pool.submit_tests(rebinding, ["for _ in [0]:\n    assert len([1]) == 3"], in_child=True).result()
    assert bound.passed == [False]
    broken = pool.submit_tests(code, ["assert True"], setup="raise KeyError('k')").result()
    assert (broken.status, broken.error) == ("fail", "test setup failed: KeyError: 'k'")


def test_syntax_and_import_time_errors(pool):
    bad = pool.submit_tests("def f(:\n    pass\n", ["assert f()"]).result()
    assert (bad.status, bad.passed, bad.error_line) == ("error", [False], 1)
    assert bad.error.startswith("SyntaxError")
    raising = pool.submit_tests("x = 1\ny = undefined_name\n", ["assert x"]).result()
    assert (raising.status, raising.error_line) == ("error", 2)
    assert raising.error == "NameError: name 'undefined_name' is not defined"
    assert pool.submit_tests("x = 1", []).result().status == "pass"


def test_a_timeout_passes_nothing_whatever_ran_before(pool):
    code = "def f(x):\n    while x > 1:\n        pass\n    return x\n"
    result = pool.submit_tests(code, ["assert f(1) == 1", "assert f(2) == 2"], limits=Limits(timeout_s=1.0)).result()
    assert (result.status, result.passed) == ("timeout", [False, False])


def test_cpu_and_memory_limits(pool):
    cpu = pool.submit_tests("while True:\n    pass\n", ["assert True"], limits=Limits(timeout_s=30, cpu_s=1)).result()
    assert cpu.status == "timeout" and "CPU" in cpu.error
    memory = pool.submit_tests("x = bytearray(2 * 1024 ** 3)\n", ["assert x"]).result()
    assert (memory.status, memory.error_line) == ("error", 1) and memory.error.startswith("MemoryError")


def test_output_is_captured_and_capped(pool):
    code = "import sys\nprint('a' * 100)\nsys.stderr.write('err')\n"
    result = pool.submit_tests(code, ["assert True"], limits=Limits(max_output_bytes=10)).result()
    assert (result.status, result.stdout, result.stderr) == ("pass", "a" * 10, "err")


def test_calls_return_plain_values_and_each_input_has_its_own_clock(pool):
    code = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(5)\n    return (x, {x}, [x * 1.5])\n"
    reply = pool.submit_calls(code, "f", [[0], [1], [2], [3]], time_limits=[1.0, 1.0, 0.3, 1.0]).result()
    assert reply.status == "timeout" and reply.error.startswith("input #2 exceeded its time limit of 0.3 s")
    assert call_values(reply) == [(True, (0, {0}, [0.0])), (True, (1, {1}, [1.5]))]
    assert len(reply.times) == 2 and all(0 <= t < 1 for t in reply.times)
    missing = pool.submit_calls("x = 1", "f", [[1]]).result()
    assert call_values(missing) == [(False, "NameError: name 'f' is not defined")]
    objects = pool.submit_calls("def f():\n    return object()\n", "f", [[]]).result()
    assert call_values(objects)[0][0] is False and "not plain data" in call_values(objects)[0][1]


def test_child_environment_is_minimal_and_isolated(pool, monkeypatch):
    monkeypatch.setenv("LIT_CODERL_TEST_SECRET", "do-not-leak")
    code = "import os, json\nprint(json.dumps([dict(os.environ), os.getcwd(), os.getuid()]))\n"
    reply = pool.submit_exec(code).result()
    import json

    env, cwd, uid = json.loads(reply.stdout)
    assert "LIT_CODERL_TEST_SECRET" not in env and env["HOME"] == cwd == "/tmp/job" and uid == 65534


def test_jobs_get_fresh_children_and_state_does_not_leak(pool):
    pool.submit_tests("import math\nmath.pi = 3\nopen('left.txt', 'w').write('x')\n", ["assert math.pi == 3"]).result()
    for _ in range(4):
        clean = pool.submit_tests("import math, os\nfiles = os.listdir('.')\n",
                                  ["assert math.pi > 3.1", "assert files == []"]).result()
        assert clean.status == "pass"


def test_process_per_job_mode_gives_same_results():
    with SandboxPool(workers=2, limits=FAST, reuse_workers=False) as p:
        futures = [p.submit_tests(f"def f():\n    return {i}\n", [f"assert f() == {i}", "assert f() == -1"])
                   for i in range(4)]
        assert [f.result().passed for f in futures] == [[True, False]] * 4


def test_closed_pool_refuses_jobs_and_bad_arguments_fail_in_the_caller(pool):
    p = SandboxPool(workers=1, limits=FAST)
    p.close()
    p.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        p.submit_exec("x = 1")
    with pytest.raises(ValueError):
        pool.submit_calls("x = 1", "f", [[object()]])
    with pytest.raises(ValueError, match="timeout_s"):
        pool.submit_exec("x = 1", limits=Limits(timeout_s=0))


def test_non_utf8_and_surrogate_code_is_safe(pool):
    assert pool.submit_tests("x = '\udcff'\n", ["assert x"]).result().status == "pass"
    assert pool.submit_tests("\x00\xff garbage", ["assert True"]).result().status == "error"


def test_pool_survives_a_dead_server():
    before = set(_servers())
    with SandboxPool(workers=1, limits=FAST) as p:
        assert p.submit_exec("x = 1").result().status == "ok"
        (server,) = set(_servers()) - before
        os.killpg(server.process.pid, signal.SIGKILL)
        result = p.submit_tests("def f():\n    return 1\n", ["assert f() == 1"]).result()
        assert result.status in ("pass", "crash")  # the job that finds the dead server may be lost, never hangs
        assert p.submit_tests("def f():\n    return 1\n", ["assert f() == 1"]).result().status == "pass"


def _servers():
    from lit_coderl.sandbox import pool as pool_module

    return pool_module._LIVE_SERVERS


def test_forked_caller_children_drop_the_server_pipes():
    with SandboxPool(workers=1, limits=FAST) as p:
        assert p.submit_exec("x = 1").result().status == "ok"
        live = len(_servers())
        pid = os.fork()
        if pid == 0:  # e.g. a DataLoader worker forked from the training process
            os._exit(0 if not list(_servers()) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(_servers()) == live and p.submit_exec("x = 1").result().status == "ok"
