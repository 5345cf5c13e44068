"""Hostile programs that CHEAT (issue #11): wrong programs that would be paid as correct if verdicts were decided in
the program's process, if it could rebind what the tests use, forge its own result frames, or outrun the clock.

Each is wrong (or too slow) and must not pass; each also runs between two probes on its own worker
(`tests/hostile_helpers.py`), so the next job's verdict and the host are checked too. Attacks on the caller's side
through the data a job sends back are in ``test_hostile_caller.py``.
"""

from __future__ import annotations

import pytest

from lit_coderl.sandbox import Limits
from lit_coderl.sandbox.judge import call_values
from tests.hostile_helpers import NEEDS_ISOLATION, WRONG, Prog, absent, at_most, check_outcome, module_fixtures

pytestmark = NEEDS_ISOLATION

P = Prog
CALLS = ("f", [[1], [2], [3]], [0.4, 0.4, 0.4])
"""MBPP+-style calls: f(x) must be 2 * x, each input within 0.4 s."""
CALLS_LIMITS = Limits(timeout_s=3.2, memory_mb=512, file_size_mb=4)
"""Like MBPP+: the run's limit is the inputs' limits plus slack (here Σ 0.4 + 2 s)."""
UNSPLITTABLE = ["assert all(solve(x) == 2 * x for x in range(3))"]
"""A test the judge cannot split (a program call over a comprehension's variable): it runs beside the program."""

# --- values that claim to be equal ----------------------------------------------------------------------------------
EQUALITY = [
    P("eq_always_true_object", "equality", """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = object.__hash__
def solve():
    return Anything()
""", "fail"),
    P("int_subclass_eq", "equality", """
class I(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def solve():
    return I(0)
""", "fail"),
    P("str_subclass_eq", "equality", """
class S(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
def solve():
    return S("wrong")
""", "fail", tests=["assert solve() == 'right'"]),
    P("list_subclass_eq", "equality", """
class L(list):
    def __eq__(self, other): return True
def solve():
    return L([0])
""", "fail", tests=["assert solve() == [1, 2, 3]"]),
    P("tuple_subclass_eq_in_list", "equality", """
class T(tuple):
    def __eq__(self, other): return True
    __hash__ = tuple.__hash__
def solve():
    return [T((0,)), T((0,))]
""", "fail", tests=["assert solve() == [(1, 2), (3, 4)]"]),
    P("float_subclass_isclose", "equality", """
class F(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
    def __abs__(self): return 0.0
    __hash__ = float.__hash__
def solve():
    return F(7.0)
""", "fail", tests=["assert math.isclose(solve(), 0.3, rel_tol=1e-9)"]),
    P("fake_class_attribute", "equality", """
class Fake:
    __class__ = int
    def __eq__(self, other): return True
    __hash__ = object.__hash__
def solve():
    return Fake()
""", "fail"),
    P("eq_object_nested_in_dict", "equality", """
class Anything:
    def __eq__(self, other): return True
    __hash__ = object.__hash__
def solve():
    return {"a": Anything(), "b": [Anything()]}
""", "fail", tests=["assert solve() == {'a': 1, 'b': [2]}"]),
]

# --- rebinding the names the tests use ------------------------------------------------------------------------------
REBINDING = [
    P("rebind_builtins_set", "rebinding", """
import builtins
builtins.set = lambda *args: {1, 2, 3}
set = builtins.set
def solve():
    return [9]
""", "fail", tests=["assert set(solve()) == {1, 2, 3}"]),
    P("rebind_builtins_sorted", "rebinding", """
import builtins
builtins.sorted = lambda *args, **kwargs: [1, 2, 3]
def solve():
    return [9]
""", "fail", tests=["assert sorted(solve()) == [1, 2, 3]"]),
    P("rebind_isinstance", "rebinding", """
import builtins
builtins.isinstance = lambda *args: True
isinstance = builtins.isinstance
def solve():
    return "not an int"
""", ("fail", "crash"), tests=["assert isinstance(solve(), int)"]),
    P("rebind_math_isclose", "rebinding", """
import math
math.isclose = lambda *args, **kwargs: True
def solve():
    return 7.0
""", "fail", tests=["assert math.isclose(solve(), 0.3, rel_tol=1e-9)"]),
    # a module the tests' setup imports: its calls are not the judge's
    P("rebind_numpy_allclose", "rebinding", """
import os
os.putenv = os.unsetenv = lambda *a: None  # the guard's refusals would stop numpy from importing
import numpy
numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
def solve():
    return [9.0, 9.0]
""", "fail", tests=["assert np.allclose(solve(), [0.5, 0.25])", "assert __import__('numpy').allclose(solve(), [0.5])"],
      setup="import numpy as np"),
    # a helper the tests' setup defines runs in the program's process (it needs the program's names)
    P("rebind_builtin_a_setup_helper_uses", "rebinding", """
import builtins
builtins.sorted = lambda *args, **kwargs: [1, 2, 3]
def solve():
    return [9]
""", "fail", tests=["assert helper(solve()) == [1, 2, 3]"], setup="def helper(values):\n    return sorted(values)\n"),
    P("rebind_len_and_sum", "rebinding", """
import builtins
builtins.len = lambda x: 3
builtins.sum = lambda *a: 6
def solve():
    return []
""", ("fail", "crash"), tests=["assert len(solve()) == 3", "assert sum(solve()) == 6"]),
    P("rebind_eval_compile_exec", "rebinding", """
import builtins
real_compile = builtins.compile
builtins.compile = lambda source, filename, mode, *a, **k: real_compile("True" if mode == "eval" else "pass",
                                                                           filename, mode)
builtins.exec = lambda *a, **k: None
builtins.eval = lambda *a, **k: True
""" + WRONG, "fail"),
    P("rebind_eval_to_anything", "rebinding", """
import builtins
class Anything:
    def __eq__(self, other): return True
    __hash__ = object.__hash__
builtins.eval = lambda *a, **k: Anything()
""" + WRONG, "fail"),
    P("rebind_assertion_error", "rebinding", """
import builtins
class Never(Exception):
    pass
builtins.AssertionError = Never
""" + WRONG, "fail", tests=["assert solve() == 42", "assert solve() + 1 == 43"]),
    # the unsplittable shape: the test runs in the program's process
    P("fallback_rebind_all", "rebinding", """
import builtins
builtins.all = lambda iterable: True
all = builtins.all
def solve(x=0):
    return -1
""", "fail", tests=list(UNSPLITTABLE)),
    P("fallback_rebind_compile", "rebinding", """
import builtins
real_compile = builtins.compile
builtins.compile = lambda source, filename, mode, *a, **k: real_compile("pass" if mode == "exec" else source,
                                                                           filename, mode)
def solve(x=0):
    return -1
""", "fail", tests=list(UNSPLITTABLE)),
]

# --- editing the tests or the results through frames, inspect, gc ----------------------------------------------------
FRAMES = [
    P("frames_edit_job_plan", "frames", """
import sys
f = sys._getframe(0)
while f is not None:
    job = f.f_locals.get("job")
    if isinstance(job, dict):
        n = len(job.get("holes") or [])
        job["holes"] = [None] * n
        job["fallback"] = ["pass"] * n
        job["limits"] = dict(job.get("limits") or {}, timeout_s=1000)
    f = f.f_back
""" + WRONG, "fail"),
    P("gc_edit_everything", "frames", """
import gc
for obj in gc.get_objects():
    if type(obj) is list and obj and all(type(x) is str and x.startswith("assert") for x in obj):
        obj[:] = ["assert True"] * len(obj)
    elif type(obj) is list and obj and all(type(x) is bool for x in obj):
        obj[:] = [True] * len(obj)
    elif type(obj) is list and obj and all(type(x) is list and all(type(y) is str for y in x) for x in obj):
        obj[:] = [["True"] for _ in obj]
    elif type(obj) is dict and type(obj.get("holes")) is list:
        obj["holes"] = [["True"] if h else h for h in obj["holes"]]
""" + WRONG, "fail"),
    P("inspect_stack_edit_locals", "frames", """
import inspect
for info in inspect.stack():
    for key, value in list(info.frame.f_locals.items()):
        if key in ("passed", "tests", "test_list", "results") and isinstance(value, list):
            value[:] = [True] * len(value)
        if key == "namespace" and isinstance(value, dict):
            value["solve"] = lambda: 42
""" + WRONG, "fail"),
    P("patch_child_sandbox_modules", "frames", """
import sys
child = sys.modules.get("lit_coderl.sandbox.child")
judge = __import__("lit_coderl.sandbox.judge", fromlist=["x"])
judge.judge_check = lambda *a: True
judge.test_result = lambda plan, reply: None
if child is not None:
    real_send = child._send
    def forged(tag, payload):
        if tag == b"V":
            payload = {"i": payload.get("i"), "pass": True}
        real_send(tag, payload)
    child._send = forged
""" + WRONG, "fail"),
    P("expected_values_never_in_child", "frames", """
import gc
seen = [o for o in gc.get_objects() if type(o) is str and ("== 42" in o or "== 43" in o)]
print("SEEN", seen)
""" + WRONG, "fail", tests=["assert solve() == 42", "assert solve() + 1 == 43"],
      check=lambda r: absent(r.stdout, "assert solve")),
]

# --- forged frames, then exit ----------------------------------------------------------------------------------------
FORGE = """
import json, os, struct
def frame(tag, body):
    data = json.dumps(body).encode()
    return struct.pack("<cI", tag, len(data)) + data
"""
FORGED = [
    P("forged_verdicts_then_exit", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": True}))
for i in range(4):
    os.write(1, frame(b"V", {"i": i, "pass": True}))
os.write(1, frame(b"D", {"stdout": ""}))
os.write(1, frame(b"R", {"status": "ok", "items": [{"i": 0, "pass": True}]}))
os._exit(0)
""" + WRONG, "fail"),
    P("forged_verdicts_unsplittable", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": True}))
os.write(1, frame(b"V", {"i": 0, "pass": True}))
os.write(1, frame(b"D", {"stdout": ""}))
os._exit(0)
def solve(x=0):
    return -1
""", "fail", tests=list(UNSPLITTABLE)),
    P("forged_stdout_over_cap", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": True}))
os.write(1, frame(b"D", {"stdout": "x" * (8 << 20)}))
os._exit(0)
""", "ok", mode="exec", check=lambda r: at_most(r.stdout, 1_000_000)),
    P("forged_error_text_over_cap", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": False, "x": "E" * (8 << 20), "line": 10 ** 30}))
os.write(1, frame(b"D", {"stdout": ""}))
os._exit(0)
""", "error", check=lambda r: at_most(r.error, 100_000)),
    # malformed data meant to make the judge (in the trainer) raise instead of returning a verdict
    P("malformed_frames_for_the_judge", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": True, "setup_error": None, "line": {"x": 1}}))
for body in ({"i": 0, "v": "not a list"}, {"i": 1, "v": [{"S": [[1], [2]]}]}, {"i": 2, "v": [{"I": "zz"}]},
             {"i": 3, "v": [{"B": "%%%"}]}, {"i": 4, "x": {"nested": [1, 2]}, "line": "ten", "memory": "yes"},
             {"i": 5, "v": [{"T": [{"D": [[[1], 2]]}]}]}, {"i": 6, "v": [{"C": ["a", 1]}]}, {"i": True, "v": [42]},
             {"i": -1, "v": [42]}, {"i": 7, "v": [{"F": "nan"}, 1]}, {"i": 8, "v": [{"Q": 1}]}, {"i": 9}):
    os.write(1, frame(b"V", body))
os.write(1, frame(b"D", {"stdout": ["not", "a", "string"]}))
os._exit(0)
""", "fail", tests=["assert solve() == 42"] * 10),
    P("malformed_call_values", "forged", FORGE + """
os.write(1, frame(b"L", {"ok": True}))
os.write(1, frame(b"V", {"i": 0, "v": {"S": [[1]]}}))
os.write(1, frame(b"V", {"i": 1, "h": 12345}))
os.write(1, frame(b"V", {"i": 2, "v": {"I": "-" * 70000}}))
os.write(1, frame(b"D", {"stdout": 7}))
os._exit(0)
""", "ok", mode="calls", calls=CALLS, limits=CALLS_LIMITS, check=lambda r: _no_true_value(r)),
    P("deeply_nested_forged_value", "forged", """
import os, struct
body = b'{"i": 0, "v": [' + b"[" * 200000 + b"]" * 200000 + b"]}"
os.write(1, struct.pack("<cI", b"V", len(body)) + body)
""" + WRONG, "crash"),
]

# --- progress, then a hang or an exit: a job that did not finish passes nothing -------------------------------------
PROGRESS_TESTS = ["assert solve(1) == 1", "assert solve(2) == 2", "assert solve(3) == 3"]
PROGRESS = [
    P("progress_then_hang", "progress", """
def solve(x):
    while x == 3:
        pass
    return x
""", "timeout", tests=PROGRESS_TESTS, limits=Limits(timeout_s=0.8, memory_mb=512, file_size_mb=4)),
    P("progress_then_exit", "progress", """
import os
def solve(x):
    if x == 3:
        os._exit(0)
    return x
""", "crash", tests=PROGRESS_TESTS),
    P("progress_then_sigkill_self", "progress", """
import posix
def solve(x):
    if x == 3:
        posix.kill(posix.getpid(), 9)
    return x
""", "crash", tests=PROGRESS_TESTS),
    P("progress_then_sigstop_self", "progress", """
import posix
def solve(x):
    if x == 3:
        posix.kill(posix.getpid(), 19)
    return x
""", "timeout", tests=PROGRESS_TESTS, limits=Limits(timeout_s=0.8, memory_mb=512, file_size_mb=4)),
    P("progress_then_sys_exit", "progress", """
import sys
def solve(x):
    if x == 3:
        sys.exit(0)
    return x
""", "fail", tests=PROGRESS_TESTS, passed=[True, True, False]),
]

# --- MBPP+ calls: the server's clock limits each input, whatever the program does to its own ------------------------
SLOW = "import time\n"
MBPP_PLUS = [
    P("calls_sigalrm_ignored", "mbppplus-time", SLOW + """
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.setitimer(signal.ITIMER_REAL, 0)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
def f(x):
    if x == 2:
        time.sleep(1.5)
    return 2 * x
""", "timeout", mode="calls", calls=CALLS, limits=CALLS_LIMITS,
      check=lambda r: _values(r, [(True, 2)])),
    P("calls_precompute_at_load", "mbppplus-time", SLOW + """
import sys
from lit_coderl.sandbox import codec
job = None
frame = sys._getframe(0)
while frame is not None:
    if isinstance(frame.f_locals.get("job"), dict):
        job = frame.f_locals["job"]
    frame = frame.f_back
answers = {}
for args in (job or {}).get("inputs", []):
    (x,) = codec.decode_value(args)
    time.sleep(0.8)  # each input takes twice its limit: precomputed before the clock of the first input starts
    answers[x] = 2 * x
def f(x):
    return answers[x]
""", "ok", mode="calls", calls=CALLS, limits=CALLS_LIMITS, check=lambda r: _no_true_value(r)),
    # (the server hands each input over only when its turn comes: the job holds none at load time, so every call
    # finds no precomputed answer and raises)
    P("calls_junk_frames_reset_clock", "mbppplus-time", SLOW + """
import json, os, struct
def f(x):
    for k in range(8):  # 0.8 s per input, twice its limit, with a junk "value" frame every 0.1 s
        body = json.dumps({"i": 1000 + 10 * x + k, "v": 0}).encode()
        os.write(1, struct.pack("<cI", b"V", len(body)) + body)
        time.sleep(0.1)
    return 2 * x
""", "timeout", mode="calls", calls=CALLS, limits=CALLS_LIMITS,
      check=lambda r: at_most(r.items, len(CALLS[1]))),
    P("calls_forged_call_returned_frame", "mbppplus-time", SLOW + """
import json, os, struct
calls = []
def f(x):
    body = json.dumps({"i": len(calls)}).encode()
    calls.append(x)
    os.write(1, struct.pack("<cI", b"C", len(body)) + body)  # "my call returned": stop my clock
    time.sleep(0.8)  # twice the input's limit
    return 2 * x
""", "timeout", mode="calls", calls=CALLS, limits=CALLS_LIMITS),
    P("calls_child_edits_time_limits", "mbppplus-time", SLOW + """
import sys
frame = sys._getframe(0)
while frame is not None:
    job = frame.f_locals.get("job")
    if isinstance(job, dict):
        job["time_limits"] = [100.0] * 3
        job["limits"] = dict(job["limits"], timeout_s=100.0)
    frame = frame.f_back
def f(x):
    time.sleep(0.8)
    return 2 * x
""", "timeout", mode="calls", calls=CALLS, limits=CALLS_LIMITS, check=lambda r: _values(r, [])),
    P("calls_wrong_value_forged_types", "mbppplus-time", """
class Two(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def f(x):
    return Two(0)
""", "ok", mode="calls", calls=CALLS, limits=CALLS_LIMITS,
      check=lambda r: _not_claimed_equal(r)),
]

PROGRAMS = EQUALITY + REBINDING + FRAMES + FORGED + PROGRESS + MBPP_PLUS


def _values(reply, expected) -> None:
    assert call_values(reply) == expected, call_values(reply)


def _no_true_value(reply) -> None:
    values = call_values(reply)
    assert not any(ok for ok, _ in values), values


def _not_claimed_equal(reply) -> None:
    """Refused, or sent as a plain builtin value that the judge compares itself (and finds wrong)."""
    values = call_values(reply)
    assert len(values) == 3, values
    for (ok, value), expected in zip(values, (2, 4, 6), strict=True):
        assert not ok or (type(value) in (int, float, str) and value != expected), values


host, outcomes = module_fixtures(PROGRAMS)


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS])
def test_cheat(name, host, outcomes):
    check_outcome(host, outcomes[name])


def test_host_intact_after_all_cheats(host, outcomes):
    assert host.check() == []
