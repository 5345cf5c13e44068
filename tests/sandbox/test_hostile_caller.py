"""The caller's side (issue #11): what the data a job sends back may cost the trainer. The server and the judge
run outside the program, but on its data: a reply's size, a forged value index, values whose hashes all collide
must not cost the trainer (or the server, which has no memory limit) more than a small, fixed amount."""

from __future__ import annotations

import time

import pytest

from lit_coderl.sandbox import Limits, SandboxPool
from lit_coderl.sandbox.judge import call_values
from tests.hostile_helpers import NEEDS_ISOLATION, descendants

pytestmark = NEEDS_ISOLATION

M = 2**61 - 1
N = 7_000
VALUES = {
    "honest": "list(range(N))",
    "same_type": "[k * M for k in range(1, N + 1)]",  # every k * M hashes to 0
    "float_first": "[0.5] + [2 ** 60 + k * M for k in range(1, N)]",  # hash(0.5) == 2 ** 60 == hash of every int
}
"""Lists of 7 000 numbers; the hostile ones all share a hash, so a set or dict of them costs O(n^2) equality tests
in whoever builds it (a frame of 800 000 would cost the trainer an hour)."""


def _server_pythons() -> list[int]:
    """The processes of the live sandbox servers (bwrap, privilege dropper, the server itself)."""
    from lit_coderl.sandbox import pool as pool_module

    return [pid for server in list(pool_module._LIVE_SERVERS) for pid in descendants(server.process.pid)]


def _vm(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


@pytest.fixture(scope="module")
def quiet_pool():
    limits = Limits(timeout_s=4.0, memory_mb=1024, file_size_mb=4)
    with SandboxPool(workers=1, limits=limits, isolation="bwrap") as pool:
        yield pool


def _judged_s(pool: SandboxPool, value: str) -> float:
    code = f"M = {M}\nN = {N}\ndef solve():\n    return {value}\n"
    start = time.monotonic()
    result = pool.submit_tests(code, ["assert set(solve()) == {1, 2, 3}"]).result()
    assert result.status == "fail", result
    return time.monotonic() - start - result.duration_s


@pytest.mark.parametrize("kind", ["same_type", "float_first"])
def test_judging_colliding_hashes_is_cheap(quiet_pool, kind):
    """The judge runs in the trainer without a clock: judging ``set(solve())`` of a hostile list must cost about
    what an honest list of the same size costs."""
    honest = min(_judged_s(quiet_pool, VALUES["honest"]) for _ in range(2))
    hostile = _judged_s(quiet_pool, VALUES[kind])
    assert hostile < honest + 0.1, f"judging one reply took {hostile:.2f} s of the trainer's CPU (honest {honest:.2f})"


def _decoded_s(pool: SandboxPool, value: str) -> tuple[float, list]:
    code = f"""
import json, os, struct
from lit_coderl.sandbox import codec
M = {M}
N = {N}
body = json.dumps({{"i": 0, "v": {{"S": codec.encode_value({value})}}}}).encode()
os.write(1, struct.pack("<cI", b"V", len(body)) + body)
def f(x):
    return 2 * x
"""
    reply = pool.submit_calls(code, "f", [[1]]).result()
    start = time.monotonic()
    values = call_values(reply)
    return time.monotonic() - start, values


@pytest.mark.parametrize("kind", ["same_type", "float_first"])
def test_decoding_colliding_set_is_cheap(quiet_pool, kind):
    """Same through the codec: a forged ``{"S": [...]}`` value decoded by `call_values` (the MBPP+ judge)."""
    honest, values = min(_decoded_s(quiet_pool, VALUES["honest"]) for _ in range(2))
    assert values == [(True, set(range(N)))]  # the forged frame is decoded when it is honest data
    hostile, _ = _decoded_s(quiet_pool, VALUES[kind])
    assert hostile < honest + 0.1, f"decoding one reply took {hostile:.2f} s of the trainer's CPU (honest {honest:.2f})"


def test_value_index_cannot_inflate_the_reply(quiet_pool):
    """A forged value frame for input #1 000 000 must not make the server (no memory limit) and the trainer build a
    million-entry reply (``items`` for #10**12 would exhaust the host)."""
    code = """
import os, struct
body = b'{"i": 1000000, "v": 0}'
os.write(1, struct.pack("<cI", b"V", len(body)) + body)
def f(x):
    return 2 * x
"""
    reply = quiet_pool.submit_calls(code, "f", [[1], [2]]).result()
    assert len(reply.items) <= 2, f"{len(reply.items)} items for 2 inputs"
    # the program ran (an empty reply would meet the bound too): its own values for the real inputs are there
    assert reply.status == "ok" and (True, 4) in call_values(reply), (reply.status, reply.error, reply.items)


def _growth_mb(pool, code: str) -> tuple[int, int]:
    """Peak growth in MB of this (trainer) process and of the pool's sandbox server while one ``calls`` job of
    ``code`` runs and its reply is decoded."""
    pool.submit_exec("pass").result()
    servers = _server_pythons()
    for pid in ["self", *servers]:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # reset the peak
    base = _vm("VmRSS")
    server_base = {pid: _vm("VmRSS", pid) for pid in servers}
    reply = pool.submit_calls(code, "f", [[1]]).result()
    call_values(reply)
    grown = _vm("VmHWM") - base
    return grown, max(_vm("VmHWM", pid) - server_base[pid] for pid in servers)


def test_big_reply_does_not_balloon_the_trainer(quiet_pool):
    """One job's 8 MB value frame (4 M zeros) must not grow the trainer by more than 32 MB."""
    code = """
import os, struct
N = 4_000_000
body = b'{"i": 0, "v": [' + b"0," * (N - 1) + b'0]}'
os.write(1, struct.pack("<cI", b"V", len(body)) + body)
del body
def f(x):
    return 1
"""
    grown, server_grown = _growth_mb(quiet_pool, code)
    assert grown < 32 and server_grown < 32, (
        f"one job grew the trainer by {grown} MB and its sandbox server by {server_grown} MB")


def test_many_frames_of_tiny_items_do_not_balloon_the_trainer(quiet_pool):
    """Two value frames, each just under the per-frame item cap, of empty lists (3 bytes of JSON, ~60 bytes of
    Python each; the job may send 64 MB of them): a 5 MB job must not grow the trainer or its server by more than
    64 MB."""
    code = """
import os, struct
N = 790_000
for i in range(2):
    body = b'{"i": %d, "v": [' % i + b"[]," * (N - 1) + b'[]]}'
    os.write(1, struct.pack("<cI", b"V", len(body)) + body)
def f(x):
    return 1
"""
    grown, server_grown = _growth_mb(quiet_pool, code)
    assert grown < 64 and server_grown < 64, (
        f"one job grew the trainer by {grown} MB and its sandbox server by {server_grown} MB")
