"""The data-only codec and the frames: exact round trips, refusals, caps, digests that respect ``==``."""

from __future__ import annotations

import math
import os
from collections import Counter, OrderedDict

import pytest

from lit_coderl.sandbox import codec
from lit_coderl.sandbox.codec import CodecError, FrameBuffer, FrameError, decode_value, digest_value, encode_value


def test_round_trip_of_every_plain_type():
    value = [None, True, 3, -(2**70), 2.5, "é\udcff", b"\x00\xff", 1 + 2j, (1, (2,)), {1, 2}, frozenset({"a"}),
             {"k": [1]}, {(1, 2): "tuple key", 3: None}, [], (), {}]
    back = decode_value(codec.loads(codec.dumps(encode_value(value))))
    assert back == value
    assert [type(v) for v in back] == [type(v) for v in value]
    assert encode_value((1, {2})) == {"T": [1, {"S": [2]}]}
    assert encode_value({"a": 1}) == {"M": {"a": 1}} and encode_value({1: 2}) == {"D": [[1, 2]]}


def test_non_finite_floats_travel_tagged():
    back = decode_value(codec.loads(codec.dumps(encode_value([math.inf, -math.inf, math.nan]))))
    assert back[:2] == [math.inf, -math.inf] and math.isnan(back[2])


def test_user_objects_are_refused_and_builtin_subclasses_become_their_base():
    class Always:
        def __eq__(self, other):
            return True

    class EvilInt(int):
        def __eq__(self, other):
            return True

        def __int__(self):
            return 99

    class EvilStr(str):
        def __str__(self):
            return "forged"

    with pytest.raises(CodecError, match="not plain data"):
        encode_value(Always())
    with pytest.raises(CodecError):
        encode_value([1, {"k": Always()}])
    # read through the base type's own methods: the overrides never run, and the judge gets exact builtins
    assert encode_value(EvilInt(5)) == 5 and encode_value(EvilStr("ab")) == "ab"
    assert decode_value(encode_value(Counter("aab"))) == {"a": 2, "b": 1}
    assert type(decode_value(encode_value(OrderedDict(a=1)))) is OrderedDict  # see the order test below


def test_decoding_refuses_what_we_never_encode():
    for tree in ({"X": 1}, {"T": 1}, {"S": [[1]]}, {"I": "zz"}, {"C": [1, 2]}, {"a": 1, "b": 2}, {"B": "!!"}):
        with pytest.raises(CodecError):
            decode_value(tree)
    deep: list = []
    for _ in range(1000):
        deep = [deep]
    with pytest.raises(CodecError, match="deeply"):
        encode_value(deep)


def test_large_values_travel_as_equality_respecting_digests():
    big = [("Red", "Green")] * (codec.MAX_NODES + 1)
    item = codec.encode_item(big)
    assert set(item) == {"h"} and item["h"] == digest_value(list(big))
    assert codec.encode_item([1, 2]) == {"v": [1, 2]}
    assert digest_value([1, {2: "a"}, (3.0,), {1, 2}]) == digest_value([True, {2.0: "a"}, (3,), {2, 1}])
    assert digest_value([1, 2]) != digest_value((1, 2))  # (1, 2) != [1, 2]
    assert digest_value([("a", 1)]) != digest_value([("a", 2)])


def test_frames_are_capped_before_reading():
    r, w = os.pipe()
    codec.write_frame(w, b"V", {"i": 0, "v": [1, 2]})
    assert codec.read_frame(r, 1000) == (b"V", {"i": 0, "v": [1, 2]})
    os.write(w, codec.HEADER.pack(b"V", 10**9))
    with pytest.raises(FrameError, match="over the cap"):
        codec.read_frame(r, 1000)
    os.close(r)
    os.close(w)
    buffer = FrameBuffer(max_frame=100, max_total=1000)
    frame = codec.frame(b"L", {"ok": True})
    assert buffer.feed(frame[:3]) == [] and buffer.feed(frame[3:]) == [(b"L", {"ok": True})]
    with pytest.raises(FrameError):
        FrameBuffer(100, 1000).feed(codec.HEADER.pack(b"V", 101))
    with pytest.raises(FrameError, match="more than"):
        FrameBuffer(100, 10).feed(b"x" * 11)
    with pytest.raises(FrameError):
        FrameBuffer(100, 1000).feed(codec.HEADER.pack(b"V", 3) + b"{{{")


def test_an_ordered_dict_keeps_its_order_and_its_order_sensitive_equality():
    moved = OrderedDict(x=1, y=2, z=3)
    moved.move_to_end("x")  # its own order now differs from its insertion order, which a plain dict would keep
    back = decode_value(codec.loads(codec.dumps(encode_value(moved))))
    assert type(back) is OrderedDict and list(back.items()) == [("y", 2), ("z", 3), ("x", 1)]
    assert back != OrderedDict(x=1, y=2, z=3)  # a wrong order is still wrong for an OrderedDict
    assert decode_value(encode_value(OrderedDict([((1, 2), "k")]))) == OrderedDict([((1, 2), "k")])

    class Evil(OrderedDict):  # its overrides never run: read through OrderedDict's own C iteration
        def items(self):
            raise AssertionError("override ran")

        def __iter__(self):
            raise AssertionError("override ran")

    assert list(decode_value(encode_value(Evil(a=1, b=2))).items()) == [("a", 1), ("b", 2)]


def test_nan_and_infinity_frames_are_refused_as_unreadable():
    buffer = FrameBuffer(1 << 20, 1 << 30, 1000, 1000)
    for body in (b'{"v":NaN}', b'{"v":-Infinity}', b'{"v":1e999}'):
        with pytest.raises(FrameError, match="bad payload"):
            FrameBuffer(1 << 20, 1 << 30).feed(codec.HEADER.pack(b"V", len(body)) + body)
        with pytest.raises(CodecError):
            codec.loads(body)
    assert buffer.feed(codec.frame(b"V", {"v": encode_value(math.nan)})) == [(b"V", {"v": {"F": "nan"}})]


def test_commas_inside_strings_are_not_items():
    text = "a," * 250_000  # an honest string: one item however many commas it holds
    frames = FrameBuffer(16 << 20, 64 << 20, codec.MAX_FRAME_ITEMS, codec.MAX_JOB_ITEMS).feed(
        codec.frame(b"V", {"i": 0, "v": [text, 'q\\",', "\\"]}) * 3)
    assert len(frames) == 3 and frames[0][1]["v"][0] == text
    assert codec.count_items(codec.dumps(["a,b", 'c\\",d', 1, 2])) == 3
    with pytest.raises(FrameError, match="items"):  # items outside strings still count, and so do many strings
        FrameBuffer(16 << 20, 64 << 20, 1000).feed(codec.frame(b"V", {"v": [","] * 2000}))
    with pytest.raises(FrameError, match="items"):
        FrameBuffer(16 << 20, 64 << 20, 1000).feed(codec.frame(b"V", {"v": list(range(2000))}))
