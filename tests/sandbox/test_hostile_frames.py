"""Values at the data boundary through a real pool: frames a program forges with non-JSON numbers, honest values the
item cap once refused (commas inside a string), and an ``OrderedDict`` whose order the verdict depends on."""

from __future__ import annotations

import pytest

from lit_coderl.sandbox import Limits, SandboxPool
from tests.hostile_helpers import NEEDS_ISOLATION

pytestmark = NEEDS_ISOLATION

NAN_FRAME = """
import json, os, struct
body = b'{"status":NaN,"stdout":""}'  # a done frame no writer of ours makes: Python's reader takes NaN
os.write(1, struct.pack('<cI', b'D', len(body)) + body)
os._exit(0)
"""


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=1, limits=Limits(timeout_s=5.0, memory_mb=1024)) as p:
        yield p


def test_a_nan_frame_is_refused_without_losing_the_server(pool):
    reply = pool.submit_exec(NAN_FRAME).result()
    assert reply.status == "crash" and reply.error.startswith("unreadable output: bad payload"), reply.error
    after = pool.submit_tests("def f():\n    return 2\n", ["assert f() == 2"]).result()
    assert after.status == "pass"


def test_an_honest_string_with_many_commas_passes():
    code = "def f():\n    return 'a,' * 250_000\n"
    with SandboxPool(workers=1, limits=Limits(timeout_s=10.0, memory_mb=1024)) as pool:
        result = pool.submit_tests(code, ["assert f() == 'a,' * 250_000"]).result()
    assert (result.status, result.error) == ("pass", None)


def test_an_ordered_dict_is_judged_in_its_own_order(pool):
    code = ("from collections import OrderedDict\ndef f():\n    d = OrderedDict(a=1, b=2)\n    d.move_to_end('a')\n"
            "    return d\n")
    right = "assert f() == collections.OrderedDict([('b', 2), ('a', 1)])"
    wrong = "assert f() == collections.OrderedDict([('a', 1), ('b', 2)])"
    assert pool.submit_tests(code, [right, wrong]).result().passed == [True, False]
