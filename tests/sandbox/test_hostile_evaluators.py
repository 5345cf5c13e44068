"""Hostile samples through the public evaluators (`MBPPEvaluator`, `MBPPPlusEvaluator`): the cheats of issue #11
must not be paid by the numbers the project reports, and the host must stay intact while they are scored."""

from __future__ import annotations

import pytest

from lit_coderl.evaluate.mbpp import MBPPEvaluator, MBPPPlusEvaluator
from tests.hostile_helpers import NEEDS_ISOLATION, Host

pytestmark = NEEDS_ISOLATION

CANONICAL_11 = """
def remove_Occ(s, ch):
    for i in range(len(s)):
        if s[i] == ch:
            s = s[0:i] + s[i + 1:]
            break
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ch:
            s = s[0:i] + s[i + 1:]
            break
    return s
"""

MBPP_SAMPLES = {
    "honest": (CANONICAL_11, "pass"),
    "honest_after_attacks": ("""
import posix, sys
for name in ("ctypes", "_ctypes"):
    sys.modules.pop(name, None)
import ctypes
libc = ctypes.CDLL(None)
libc.kill(SENTINEL_PID, 9)
libc.kill(TEST_PID, 9)
for path in (MINE + "/keep.txt", PROJECT + "/lit_coderl/evaluate/mbpp.py"):
    try:
        posix.unlink(path)
    except OSError:
        pass
""" + CANONICAL_11, "pass"),
    "eq_always_true": ("""
class Anything(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
def remove_Occ(s, ch):
    return Anything("")
""", "fail"),
    "rebind_str_eq_everything": ("""
import builtins
class Anything:
    def __eq__(self, other): return True
    __hash__ = object.__hash__
builtins.remove_Occ = lambda *a: Anything()
remove_Occ = builtins.remove_Occ
""", "fail"),
    "gc_edit_tests": ("""
import gc
for obj in gc.get_objects():
    if type(obj) is list and obj and all(type(x) is str and x.startswith("assert") for x in obj):
        obj[:] = ["assert True"] * len(obj)
def remove_Occ(s, ch):
    return s
""", "fail"),
    "forged_frames_then_exit": ("""
import json, os, struct
for tag, body in ((b"L", {"ok": True}), (b"V", {"i": 0, "pass": True}), (b"V", {"i": 1, "pass": True}),
                  (b"V", {"i": 2, "pass": True}), (b"D", {"stdout": ""})):
    data = json.dumps(body).encode()
    os.write(1, struct.pack("<cI", tag, len(data)) + data)
os._exit(0)
""", "fail"),
    "progress_then_hang": ("""
def remove_Occ(s, ch):
    if s == "PHP":
        while True:
            pass
    return {"hello": "heo", "abcda": "bcd"}[s]
""", "timeout"),
}

# Mbpp/3 (is_not_prime): 5 base inputs, each limited to max(1 s, 4 x the reference time) = 1 s
CANONICAL_3 = """
import math
def is_not_prime(n):
    if n == 1:
        return True
    for i in range(2, int(math.sqrt(n)) + 1):
        if n % i == 0:
            return True
    return False
"""
PLUS_SAMPLES = {
    "honest": (CANONICAL_3, "pass"),
    "slow_input_sigalrm_ignored": (CANONICAL_3 + """
import signal, time
_fast = is_not_prime
def is_not_prime(n):
    if n == 10:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0)
        time.sleep(1.6)
    return _fast(n)
""", "fail"),
    "slow_input_precomputed_at_load": (CANONICAL_3 + """
import sys, time
from lit_coderl.sandbox import codec
_job, _frame = None, sys._getframe(0)
while _frame is not None:
    if isinstance(_frame.f_locals.get("job"), dict):
        _job = _frame.f_locals["job"]
    _frame = _frame.f_back
_answers = {}
for _args in (_job or {}).get("inputs", []):
    (_n,) = codec.decode_value(_args)
    if _n == 10:
        time.sleep(1.6)  # the slow input, computed before any input's clock starts
    _answers[_n] = is_not_prime(_n)
def is_not_prime(n):
    return _answers[n]
""", "fail"),
    "slow_input_junk_frames": (CANONICAL_3 + """
import json, os, struct, time
_fast = is_not_prime
def is_not_prime(n):
    if n == 10:
        for k in range(16):
            body = json.dumps({"i": 100 + k, "v": 0}).encode()
            os.write(1, struct.pack("<cI", b"V", len(body)) + body)
            time.sleep(0.1)
    return _fast(n)
""", "fail"),
    "int_subclass_eq": ("""
class Yes(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def is_not_prime(n):
    return Yes(7)
""", "fail"),
}


@pytest.fixture(scope="module")
def host():
    with Host() as h:
        h.prepare(["evaluators"])
        yield h


def _with_prelude(host: Host, code: str) -> str:
    return host.prelude("evaluators") + code


def test_mbpp_evaluator_pays_no_cheat(host, data_dir):
    evaluator = MBPPEvaluator(data_dir=data_dir, workers=2, timeout_s=1.5)
    samples = [{"task_id": "Mbpp/11", "solution": _with_prelude(host, code), "id": name}
               for name, (code, _) in MBPP_SAMPLES.items()]
    results = {r["id"]: r for r in evaluator.score(samples)}
    got = {name: results[name]["status"] for name in MBPP_SAMPLES}
    assert got == {name: status for name, (_, status) in MBPP_SAMPLES.items()}
    assert host.canary_of("evaluators") == []
    assert host.check() == []


def test_mbppplus_evaluator_pays_no_cheat(host, data_dir, tmp_path):
    evaluator = MBPPPlusEvaluator(data_dir=data_dir, workers=2, cache_dir=tmp_path, base_only=True)
    samples = [{"task_id": "Mbpp/3", "solution": _with_prelude(host, code), "id": name}
               for name, (code, _) in PLUS_SAMPLES.items()]
    results = {r["id"]: r for r in evaluator.score(samples)}
    got = {name: "pass" if results[name]["base"] else "fail" for name in PLUS_SAMPLES}
    assert got == {name: status for name, (_, status) in PLUS_SAMPLES.items()}, {
        name: (r["base_status"], r.get("error")) for name, r in results.items()}
    assert host.check() == []


SURROGATE_RAISERS = {
    "mbpp": ("Mbpp/11", "def remove_Occ(s, ch):\n    raise ValueError('bad \\udc80 text')\n"),
    "mbppplus": ("Mbpp/11", "def remove_Occ(s, ch):\n    raise ValueError('bad \\udc80 text')\n"),
    "roboeval": ("SayGoodDay_0", "def task_program():\n    raise ValueError('bad \\udc80 text')\n"),
    "robosim": ("SayGoodDay_0", "def task_program():\n    raise ValueError('bad \\udc80 text')\n"),
}
"""A program whose exception message holds a lone surrogate, which no UTF-8 writer can encode as it is."""


@pytest.mark.parametrize("kind", sorted(SURROGATE_RAISERS))
def test_every_evaluator_writes_a_lone_surrogate_error(kind, data_dir, tmp_path, capsys):
    import json

    from lit_coderl.evaluate.cli import main

    task_id, code = SURROGATE_RAISERS[kind]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": task_id, "solution": code, "id": "surrogate"}) + "\n"
                       + json.dumps({"task_id": task_id, "solution": "x = 1\n", "id": "plain"}) + "\n")
    out = tmp_path / "out.jsonl"
    options = ["--option", "base_only=true", "--option", f"cache_dir={tmp_path}"] if kind == "mbppplus" else []
    assert main([kind, "--samples", str(samples), "--out", str(out), "--workers", "1", "--data-dir", str(data_dir),
                 *options]) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["surrogate", "plain"]  # one line per input, in order
    assert "bad \udc80 text" in json.dumps(rows[0], ensure_ascii=False)  # the message, read back as it was
