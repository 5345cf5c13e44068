"""The sandbox: results, limits, the pool, worker reuse and safe loading of child values."""

from __future__ import annotations

import os
import pickle
import signal

import pytest

from lit_coderl.sandbox import (
    CallResult,
    Limits,
    SandboxPool,
    TestResult,
    run_call,
    run_tests,
    safe_loads,
)

FAST = Limits(timeout_s=5.0, memory_mb=1024)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, limits=FAST) as p:
        yield p


def test_tests_pass_fail_and_error_line(pool):
    code = "def f(x):\n    if x > 5:\n        raise ValueError('big')\n    return x + 1\n"
    result = pool.submit_tests(code, ["assert f(1) == 2", "assert f(2) == 4", "assert f(9) == 10"]).result()
    assert isinstance(result, TestResult)
    assert result.status == "fail"
    assert result.passed == [True, False, False]
    assert result.error == "AssertionError"  # the first failure
    assert result.error_line is None  # raised in the test itself
    assert result.fraction == pytest.approx(1 / 3)

    raising = pool.submit_tests(code, ["assert f(9) == 10"]).result()
    assert raising.error == "ValueError: big"
    assert raising.error_line == 3


def test_all_pass_with_setup_after_code(pool):
    code = "class Node:\n    def __init__(self, v):\n        self.v = v\n"
    result = pool.submit_tests(code, ["assert root.v == 3"], setup="root = Node(3)").result()
    assert result.status == "pass"
    assert result.passed == [True]


def test_syntax_and_import_time_errors(pool):
    bad = pool.submit_tests("def f(:\n    pass\n", ["assert True"]).result()
    assert (bad.status, bad.passed, bad.error_line) == ("error", [False], 1)
    assert bad.error.startswith("SyntaxError")
    raising = pool.submit_tests("x = 1\ny = undefined_name\n", ["assert True"]).result()
    assert (raising.status, raising.error_line) == ("error", 2)
    assert raising.error == "NameError: name 'undefined_name' is not defined"


def test_no_tests_is_a_pass_with_empty_list(pool):
    result = pool.submit_tests("x = 1", []).result()
    assert (result.status, result.passed, result.fraction) == ("pass", [], 0.0)


def test_timeout_keeps_finished_tests(pool):
    code = "def f(x):\n    while x > 1:\n        pass\n    return x\n"
    result = pool.submit_tests(code, ["assert f(1) == 1", "assert f(2) == 2"], limits=Limits(timeout_s=1.0)).result()
    assert result.status == "timeout"
    assert result.passed == [True, False]


def test_cpu_limit_is_a_timeout(pool):
    limits = Limits(timeout_s=30, cpu_s=1)
    result = pool.submit_tests("while True:\n    pass\n", ["assert True"], limits=limits).result()
    assert result.status == "timeout"
    assert "CPU" in result.error


def test_memory_limit(pool):
    result = pool.submit_tests("x = bytearray(2 * 1024 ** 3)\n", ["assert True"]).result()
    assert result.status == "memory"
    assert result.error_line == 1


def test_output_is_captured_and_capped(pool):
    code = "import sys\nprint('a' * 100)\nsys.stderr.write('err')\n"
    result = pool.submit_tests(code, ["assert True"], limits=Limits(max_output_bytes=10)).result()
    assert result.status == "pass"
    assert result.stdout == "a" * 10
    assert result.stderr == "err"


def test_child_environment_is_minimal_and_isolated(pool, monkeypatch):
    monkeypatch.setenv("LIT_CODERL_TEST_SECRET", "do-not-leak")
    result = pool.submit_call("lit_coderl.sandbox:describe_exception", {"exc": KeyError("k")}).result()
    assert result == CallResult(status="ok", value="KeyError: 'k'", duration_s=result.duration_s)
    env = pool.submit_call("os:environ.copy", {}).result().value
    assert "/lit_coderl-sandbox-" in env["HOME"] and "/job-" in env["HOME"]
    assert env["TMPDIR"] == env["HOME"]
    assert "LIT_CODERL_TEST_SECRET" not in env
    cwd = pool.submit_call("os.path:abspath", {"path": "."}).result().value
    assert "/lit_coderl-sandbox-" in cwd and "/job-" in cwd


def test_call_errors_and_unknown_targets(pool):
    result = pool.submit_call("statistics:mean", {"data": []}).result()
    assert (result.status, result.error) == ("error", "StatisticsError: mean requires at least one data point")
    missing = pool.submit_call("no_such_module_xyz:f", {}).result()
    assert missing.status == "error"
    assert "No module named 'no_such_module_xyz'" in missing.error
    malformed = pool.submit_call("math.sqrt", {}).result()
    assert malformed.status == "error"
    assert "package.module:function" in malformed.error


def test_run_call_and_run_tests_one_off():
    assert run_call("statistics:median", {"data": [3, 1, 2]}).value == 2
    assert run_tests("def f():\n    return 2\n", ["assert f() == 2"]).status == "pass"


def test_workers_are_reused_but_jobs_get_fresh_children(pool):
    pids = {pool.submit_call("os:getpid", {}).result().value for _ in range(6)}
    assert len(pids) == 6  # a new child for every job
    # state set by one job does not leak into the next one on the same server
    pool.submit_tests("import math\nmath.pi = 3\n", ["assert math.pi == 3"]).result()
    assert pool.submit_tests("import math", ["assert math.pi > 3.1"]).result().status == "pass"


def test_process_per_job_mode_gives_same_results():
    with SandboxPool(workers=2, limits=FAST, reuse_workers=False) as p:
        futures = [p.submit_tests(f"def f():\n    return {i}\n", [f"assert f() == {i}", "assert f() == -1"])
                   for i in range(4)]
        assert [f.result().passed for f in futures] == [[True, False]] * 4


def test_closed_pool_refuses_jobs():
    p = SandboxPool(workers=1, limits=FAST)
    p.close()
    p.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        p.submit_call("os:getpid", {})


def test_safe_loads_refuses_code():
    assert safe_loads(pickle.dumps({"a": (1, 2.5, {3}), "b": [None, True, 1j]})) == {"a": (1, 2.5, {3}),
                                                                                      "b": [None, True, 1j]}
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        safe_loads(b"cos\nsystem\n(S'true'\ntR.")
    # bytes(10**12) would exhaust the caller's memory
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load __builtin__\.bytes"):
        safe_loads(b"c__builtin__\nbytes\n(I1000000000000\ntR.")
    assert safe_loads(pickle.dumps(bytearray(b"ab"), protocol=5)) == bytearray(b"ab")


def test_unpicklable_arguments_fail_in_the_caller(pool):
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pool.submit_call("os:getpid", {"f": lambda: 1})
    assert pool.submit_call("os:getpid", {}).result().status == "ok"


def test_unpicklable_return_value_is_an_error(pool):
    result = pool.submit_call("threading:Lock", {}).result()
    assert result.status == "error"
    assert result.error.startswith("unpicklable return value")


def test_non_utf8_and_surrogate_code_is_safe(pool):
    result = pool.submit_tests("x = '\udcff'\n", ["assert x"]).result()
    assert result.status in ("pass", "error")
    binary = pool.submit_tests("\x00\xff garbage", ["assert True"]).result()
    assert binary.status == "error"


def test_pool_survives_a_dead_server():
    with SandboxPool(workers=1, limits=FAST) as p:
        server_pid = p.submit_call("os:getppid", {}).result().value
        killed_root = os.path.dirname(p.submit_call("os:getenv", {"key": "HOME"}).result().value)
        os.killpg(server_pid, signal.SIGKILL)
        result = p.submit_tests("def f():\n    return 1\n", ["assert f() == 1"]).result()
        assert result.status in ("pass", "crash")  # the job that finds the dead server may be lost, never hangs
        assert p.submit_tests("def f():\n    return 1\n", ["assert f() == 1"]).result().status == "pass"
        assert p.submit_call("os:getppid", {}).result().value != server_pid
        live_root = os.path.dirname(p.submit_call("os:getenv", {"key": "HOME"}).result().value)
    assert not os.path.exists(killed_root) and not os.path.exists(live_root)  # no temp dirs left behind


def test_forked_caller_children_drop_the_server_pipes():
    from lit_coderl import sandbox

    with SandboxPool(workers=1, limits=FAST) as p:
        assert p.submit_call("os:getpid", {}).result().status == "ok"
        live = len(sandbox._LIVE_SERVERS)
        assert live >= 1
        pid = os.fork()
        if pid == 0:  # e.g. a DataLoader worker forked from the training process
            servers = list(sandbox._LIVE_SERVERS)
            os._exit(0 if not servers else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(sandbox._LIVE_SERVERS) == live  # the caller keeps its servers
        assert p.submit_call("os:getpid", {}).result().status == "ok"
