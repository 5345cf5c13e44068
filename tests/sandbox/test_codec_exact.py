"""`codec.digest_value` against the canonical bytes its docstrings define, written out here by hand, and the nesting
bound of the digest and the encoder at its exact edge.

Flat lists/tuples of ``str``/``int`` (or of lists/tuples of them) hash ``flat:<type>:<inner type>:<compact JSON>``;
everything else hashes a tagged prefix form: ``n<int>;``, ``f<repr>;``, ``c<repr>;``, ``s<len>:<utf-8>``,
``l<len>[...]``/``t<len>[...]``, ``N``."""

from __future__ import annotations

import hashlib
import sys

import pytest

from lit_coderl.sandbox import codec


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("value", "canonical"), [
    (["a", 1], b'flat:list::["a",1]'),
    (("é", "\ud800"), 'flat:tuple::["é","\ud800"]'.encode("utf-8", "surrogatepass")),  # no ASCII escapes
    ([[1, "b"], [2]], b'flat:list:list:[[1,"b"],[2]]'),
    ([(1,), (2,)], b"flat:list:tuple:[[1],[2]]"),
    ([], b"flat:list::[]"),
    ([[1], (2,)], b"l2[l1[n1;]t1[n2;]]"),  # mixed inner types: the general form
    ([1.5, "x"], b"l2[f1.5;s1:x]"),
    ((None, True), b"t2[Nn1;]"),
    (2.0, b"n2;"),
    (complex(3, 0), b"n3;"),
    (complex(1, 2), b"c(1+2j);"),
    (-0.25, b"f-0.25;"),
])
def test_digest_canonical_bytes(value, canonical):
    digest = codec.digest_value(value)
    assert type(digest) is codec.Digest and digest == sha(canonical)


def test_equal_numbers_digest_alike_and_unequal_apart():
    assert codec.digest_value(1) == codec.digest_value(1.0) == codec.digest_value(True) == codec.digest_value(1 + 0j)
    assert codec.digest_value(1) != codec.digest_value(1.5) != codec.digest_value(1 + 1j)


def _nested(levels: int):
    value = 0
    for _ in range(levels):
        value = [value, "x"]  # a list holding a list is never flat: the general form at every level
    return value


@pytest.fixture
def deep_stack():
    """Room for the explicit bound to act first (instrumented runs, e.g. mutation testing, add stack frames)."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(max(saved, 20_000))
    yield
    sys.setrecursionlimit(saved)


def test_nesting_bound_is_exact(deep_stack):
    codec.digest_value(_nested(codec.MAX_DEPTH))
    with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
        codec.digest_value(_nested(codec.MAX_DEPTH + 1))
    assert codec.decode_value(codec.encode_value(_nested(codec.MAX_DEPTH))) == _nested(codec.MAX_DEPTH)
    assert codec.decode_value(codec.encode_item(_nested(codec.MAX_DEPTH))["v"]) == _nested(codec.MAX_DEPTH)
    for encode in (codec.encode_value, codec.encode_item):
        with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
            encode(_nested(codec.MAX_DEPTH + 1))


class Text(str):
    pass


class Items(list):
    pass


def test_containers_bytes_and_subclasses():
    n1, n2 = sha(b"n1;").encode(), sha(b"n2;").encode()
    assert codec.digest_value(b"ab") == sha(b"b2:ab")
    both = sha(b"S2[" + b"".join(sorted([n1, n2])) + b"]")
    assert codec.digest_value({2, 1}) == codec.digest_value(frozenset({1, 2})) == both
    assert codec.digest_value({"k": 1}) == sha(b"d1[" + sha(b"s1:k").encode() + n1 + b"]")
    # a subclass digests as its base value (read through the base type, never through its own methods)
    assert codec.digest_value(Text("k")) == codec.digest_value("k") == sha(b"s1:k")
    assert codec.digest_value(Items([1, 2])) == sha(b"l2[n1;n2;]")
    assert codec.digest_value([Text("k")]) == sha(b"l1[s1:k]")
    with pytest.raises(codec.CodecError, match=r"^not plain data: builtins\.object$"):
        codec.digest_value([object()])


def test_integer_range_of_plain_json():
    assert codec.encode_value(2**63 - 1) == 2**63 - 1 and codec.encode_value(-(2**63)) == -(2**63)
    assert codec.encode_value(2**63) == {"I": "8000000000000000"}
    assert codec.encode_value(-(2**63) - 1) == {"I": "-8000000000000001"}
    assert codec.encode_value(2**64 - 1) == {"I": "ffffffffffffffff"}
    assert codec.decode_value(codec.encode_value(-(2**70))) == -(2**70)


@pytest.mark.parametrize("wrap", [
    lambda v: (v, "x"), lambda v: frozenset({v}), lambda v: {"k": v}, lambda v: {1: v}, lambda v: [{1: v}],
])
def test_every_container_counts_one_level(wrap, deep_stack):
    def nested(levels):
        value = 0
        for _ in range(levels):
            value = wrap(value)
        return value

    levels = codec.MAX_DEPTH if wrap(0) != [{1: 0}] else codec.MAX_DEPTH // 2
    assert codec.decode_value(codec.encode_value(nested(levels))) == nested(levels)
    with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
        codec.encode_value(nested(levels + 1))


def test_complex_parts_and_sets_sit_one_level_down(deep_stack):
    inner = [1 + 2j, {3}]
    for _ in range(codec.MAX_DEPTH - 2):
        inner = [inner]
    assert codec.decode_value(codec.encode_value(inner)) == inner  # the parts at exactly MAX_DEPTH
    with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
        codec.encode_value([inner])
    for part in (1 + 2j, 2j):  # a complex at exactly MAX_DEPTH: its parts are one level too deep
        deep = part
        for _ in range(codec.MAX_DEPTH):
            deep = [deep]
        with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
            codec.encode_value(deep)


def test_node_budget_per_item_and_per_job(monkeypatch):
    monkeypatch.setattr(codec, "_job_nodes", [codec.JOB_NODES])
    exact = list(range(codec.MAX_NODES - 1))  # the list itself and its items: MAX_NODES nodes
    assert codec.encode_item(exact) == {"v": exact}
    assert codec._job_nodes == [codec.JOB_NODES - codec.MAX_NODES]
    assert codec.encode_item([*exact, 0]) == {"h": codec.digest_value([*exact, 0])}  # one node too many
    assert codec._job_nodes == [codec.JOB_NODES - codec.MAX_NODES]  # a digest sends no nodes
    assert codec.encode_item(exact) == {"v": exact}
    assert codec._job_nodes == [codec.JOB_NODES - 2 * codec.MAX_NODES]
    assert codec.encode_item([0]) == {"h": codec.digest_value([0])}  # the job's budget is spent


def test_strings_digest_with_their_surrogates_and_dicts_pair_by_pair():
    assert codec.digest_value("\ud800") == sha(b"s3:\xed\xa0\x80")
    pairs = sorted([sha(b"s1:a").encode() + sha(b"n1;").encode(), sha(b"s1:b").encode() + sha(b"n2;").encode()])
    assert codec.digest_value({"b": 2, "a": 1}) == sha(b"d2[" + b"".join(pairs) + b"]")


def test_python_recursion_limit_is_reported_as_too_deep():
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        for call in (codec.digest_value, codec.encode_value, codec.encode_item):
            with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
                call(_nested(200))
    finally:
        sys.setrecursionlimit(saved)


@pytest.mark.parametrize("outer", [lambda v: {v}, lambda v: {v: 0}])
def test_set_items_and_dict_keys_sit_one_level_down(outer, deep_stack):
    def tuples(levels):
        value = 0
        for _ in range(levels):
            value = (value,)
        return value

    ok = outer(tuples(codec.MAX_DEPTH - 1))  # the innermost int at exactly MAX_DEPTH
    assert codec.decode_value(codec.encode_value(ok)) == ok
    with pytest.raises(codec.CodecError, match="^value nested too deeply$"):
        codec.encode_value(outer(tuples(codec.MAX_DEPTH)))
