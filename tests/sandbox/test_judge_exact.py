"""`judge.call_values` on hand-built ``calls`` replies: each item is a value, a digest of a value too large to send,
an unreadable value or the program's exception; the first item that is not a dict ends the list."""

from __future__ import annotations

from lit_coderl.sandbox import codec, judge
from lit_coderl.sandbox.pool import RunReply

DIGEST = "ab" * 32


def test_call_values_item_by_item():
    reply = RunReply(status="ok", load={"ok": True}, items=[
        {"v": [1, "a", {"T": [2.5]}, {"S": [3]}]},   # [1, "a", (2.5,), {3}]
        {"h": DIGEST},                                # a digest: 64 hex characters
        {"h": "short", "v": 7},                       # not a digest: the value
        {"v": {"Q": 1}},                              # not an encoded value
        {"x": "ZeroDivisionError: division by zero"},  # the program raised
        {},                                           # neither: its (missing) exception, as text
        "junk",                                       # the list ends here
        {"v": 9},
    ])
    values = judge.call_values(reply)
    assert values[0] == (True, [1, "a", (2.5,), {3}])
    assert values[1] == (True, DIGEST) and type(values[1][1]) is codec.Digest
    assert values[2] == (True, 7)
    assert values[3] == (False, "unreadable value: not an encoded value: {'Q': 1}")
    assert values[4] == (False, "ZeroDivisionError: division by zero")
    assert values[5] == (False, "None")
    assert len(values) == 6


def test_a_digest_needs_exactly_64_characters():
    values = judge.call_values(RunReply(status="ok", items=[{"h": "a" * 63, "v": 1}, {"h": 5, "v": 2}]))
    assert values == [(True, 1), (True, 2)]
