"""The data that crosses the sandbox boundary: framing and a data-only value codec.

Nothing a sandboxed program writes is trusted, so no pickle crosses the boundary. Every message is a **frame**: one
tag byte, a 4-byte little-endian length and a UTF-8 JSON payload; a reader refuses any frame longer than its cap
before reading it. Values (a function's return value, MBPP+ inputs, robot API arguments) are encoded as JSON with a
few tagged objects for the builtin types JSON lacks:

    tuple {"T": [...]}   set {"S": [...]}   frozenset {"Z": [...]}   dict with non-str keys {"D": [[k, v], ...]}
    dict {"M": {...}}    bytes {"B": base64}   complex {"C": [re, im]}   nan/inf {"F": "nan"|"inf"|"-inf"}
    int beyond 2**63 {"I": hex}   collections.OrderedDict {"O": [[k, v], ...]} (its own order, which ``==``
    between two OrderedDicts compares)

An instance of a subclass of a builtin (``collections.Counter``, a user's ``class Evil(int)`` with its own
``__eq__``) is encoded as the base type's value, read through the base type's own C methods (``dict.items(x)``,
``int.__int__(x)``), so no method the subclass overrides ever runs; any other object is refused (`CodecError`).
Decoding only builds exact builtins, so a judge comparing decoded values with ``==`` runs builtin code only.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import os
import struct
from typing import Any

MAX_DEPTH = 256
"""Nesting deeper than this is refused (both ways)."""
MAX_NODES = 200_000
"""`encode_item` sends a value with more nodes than this as its `digest_value` instead."""
JOB_NODES = 400_000
"""Nodes one job sends in full over all its values; later large values travel as digests."""
MAX_FRAME_ITEMS = MAX_NODES + 50_000
"""A frame with more JSON items than this (counted by its commas outside strings, before parsing) is refused: no
value we send needs them, and parsing millions of tiny items would cost the reader far more memory than the frame's
bytes. A comma inside a string is text, not an item."""
MAX_JOB_ITEMS = JOB_NODES + 100_000
"""All frames of one job together (values in full, plus robot requests and the like)."""
COLLISION_LIMIT = 64
"""Decoded containers may hold at most this many distinct items whose hashes collide (a crafted hash flood would
make every set or dict the judge builds quadratic)."""

HEADER = struct.Struct("<cI")


class CodecError(ValueError):
    """A value that is not plain data, or an encoding that is not ours."""


class FrameError(ValueError):
    """A frame over its size cap or cut short."""


# --- values ------------------------------------------------------------------------------------------------------


class _TooBig(Exception):
    pass


def _enc(x: Any, depth: int, budget: list[int]) -> Any:
    """The tree of ``x``; ``budget[0]`` nodes may still be encoded (`_TooBig` past it)."""
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -(2**63) <= x < 2**63 else {"I": format(x, "x")}
    if t is float:
        return x if math.isfinite(x) else {"F": "nan" if x != x else ("inf" if x > 0 else "-inf")}
    if t is list:
        return [_enc(v, depth + 1, budget) for v in list.__iter__(x)]
    if t is tuple:
        return {"T": [_enc(v, depth + 1, budget) for v in tuple.__iter__(x)]}
    if t is set:
        return {"S": [_enc(v, depth + 1, budget) for v in set.__iter__(x)]}
    if t is frozenset:
        return {"Z": [_enc(v, depth + 1, budget) for v in frozenset.__iter__(x)]}
    if t is dict:
        items = list(dict.items(x))
        if all(type(k) is str for k, _ in items):
            return {"M": {k: _enc(v, depth + 1, budget) for k, v in items}}
        return {"D": [[_enc(k, depth + 1, budget), _enc(v, depth + 1, budget)] for k, v in items]}
    if t is bytes:
        return {"B": base64.b64encode(x).decode("ascii")}
    if isinstance(x, collections.OrderedDict):  # its own C iteration: the order ``move_to_end`` made, no override
        return {"O": [[_enc(k, depth + 1, budget), _enc(v, depth + 1, budget)]
                      for k, v in collections.OrderedDict.items(x)]}
    if t is complex:
        return {"C": [_enc(x.real, depth + 1, budget), _enc(x.imag, depth + 1, budget)]}
    for base, read in _BASES:
        if isinstance(x, base):  # a subclass: its base value, read without calling anything it overrides
            return _enc(read(x), depth, budget)
    raise CodecError(f"not plain data: {t.__module__}.{t.__qualname__}")


_BASES: tuple = (
    (bool, bool.__bool__), (int, int.__int__), (float, float.__float__), (str, lambda x: "".join([x])),
    (bytes, lambda x: b"".join([x])), (complex, lambda x: complex(complex.real.__get__(x), complex.imag.__get__(x))),
    (list, lambda x: list(list.__iter__(x))), (tuple, lambda x: tuple(tuple.__iter__(x))),
    (dict, lambda x: dict(dict.items(x))), (frozenset, lambda x: frozenset(frozenset.__iter__(x))),
    (set, lambda x: set(set.__iter__(x))),
)


def encode_value(value: Any) -> Any:
    """``value`` as a JSON-able tree (see the module docstring); `CodecError` for anything but plain data."""
    try:
        return _enc(value, 0, [1 << 62])
    except RecursionError:
        raise CodecError("value nested too deeply") from None


_job_nodes = [JOB_NODES]


def encode_item(value: Any) -> dict:
    """``{"v": tree}``, or ``{"h": digest}`` when the value has more than `MAX_NODES` nodes or the job has already
    sent `JOB_NODES` nodes in full (a 1.6M-tuple MBPP+ output would be a gigabyte of JSON; equal values have equal
    digests, see `digest_value`). Called in a job child, where the job budget starts full."""
    limit = min(MAX_NODES, _job_nodes[0])
    budget = [limit]
    try:
        tree = _enc(value, 0, budget)
    except RecursionError:
        raise CodecError("value nested too deeply") from None
    except _TooBig:
        return {"h": digest_value(value)}
    _job_nodes[0] -= limit - budget[0]
    return {"v": tree}


class Digest(str):
    """The `digest_value` of a value too large to send (compares equal only to the same digest)."""


def digest_value(value: Any) -> Digest:
    """A SHA-256 fingerprint of plain data that respects ``==``: equal values (``1 == 1.0 == True``, sets and dicts
    in any order, a subclass and its base value) get equal digests, so comparing digests compares values (up to
    hash collisions; NaN, which equals nothing, is the one exception). `CodecError` for anything but plain data."""
    fast = _flat_canonical(value)
    if fast is not None:
        return Digest(hashlib.sha256(fast).hexdigest())
    h = hashlib.sha256()
    try:
        _digest(value, h.update, 0)
    except RecursionError:
        raise CodecError("value nested too deeply") from None
    return Digest(h.hexdigest())


def _flat_canonical(x: Any) -> bytes | None:
    """A C-speed canonical text for the common big outputs: a list or tuple of ``str``/``int`` items, or of tuples
    (or lists) of them. Equal values of this shape have equal texts; a value of another shape (floats, a subclass,
    deeper nesting) takes the general path (so ``[1]`` and ``[1.0]`` digest apart: the one case where equal values
    get different digests)."""
    import itertools

    t = type(x)
    if t is not list and t is not tuple:
        return None
    kinds = set(map(type, x))
    inner = ""
    if not kinds <= {str, int}:
        if kinds != {tuple} and kinds != {list}:
            return None
        inner = kinds.pop().__name__
        if not set(map(type, itertools.chain.from_iterable(x))) <= {str, int}:
            return None
    try:
        text = json.dumps(x, ensure_ascii=False, separators=(",", ":"))
    except ValueError:  # an int too long for str()
        return None
    return f"flat:{t.__name__}:{inner}:".encode() + text.encode("utf-8", "surrogatepass")


def _number(x: Any, put) -> None:
    if type(x) is complex:
        if x.imag != 0:
            put(b"c" + repr(x).encode() + b";")
            return
        x = x.real
    if type(x) is float and math.isfinite(x) and x == int(x):
        x = int(x)
    put((b"n" + str(x).encode() + b";") if type(x) is int else (b"f" + repr(x).encode() + b";"))


def _digest(x: Any, put, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    t = type(x)
    if t not in (type(None), bool, int, float, complex, str, bytes, list, tuple, set, frozenset, dict):
        for base, read in _BASES:
            if isinstance(x, base):
                _digest(read(x), put, depth)
                return
        raise CodecError(f"not plain data: {t.__module__}.{t.__qualname__}")
    if x is None:
        put(b"N")
    elif t in (bool, int, float, complex):
        _number(int(x) if t is bool else x, put)
    elif t is str:
        data = x.encode("utf-8", "surrogatepass")
        put(b"s%d:" % len(data) + data)
    elif t is bytes:
        put(b"b%d:" % len(x) + x)
    elif t in (list, tuple):
        put((b"l" if t is list else b"t") + b"%d[" % len(x))
        for v in x:
            _digest(v, put, depth + 1)
        put(b"]")
    elif t in (set, frozenset):
        put(b"S%d[" % len(x) + b"".join(sorted(digest_value(v).encode() for v in x)) + b"]")
    else:
        pairs = sorted(digest_value(k).encode() + digest_value(v).encode() for k, v in x.items())
        put(b"d%d[" % len(x) + b"".join(pairs) + b"]")


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _dec(x: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    t = type(x)
    if x is None or t in (bool, str, int, float):
        return x
    if t is list:
        return _no_flood([_dec(v, depth + 1) for v in x])
    if t is dict and len(x) == 1:
        ((tag, body),) = x.items()
        if tag == "T" and type(body) is list:
            return tuple(_no_flood([_dec(v, depth + 1) for v in body]))
        if tag in ("S", "Z") and type(body) is list:
            items = _no_flood([_dec(v, depth + 1) for v in body])
            try:
                return set(items) if tag == "S" else frozenset(items)
            except TypeError as exc:
                raise CodecError(f"unhashable set item: {exc}") from None
        if tag == "M" and type(body) is dict:
            return {k: _dec(v, depth + 1) for k, v in body.items()}
        if tag in ("D", "O") and type(body) is list:
            out = {} if tag == "D" else collections.OrderedDict()
            _no_flood([_dec(pair[0], depth + 1) for pair in body if type(pair) is list and pair])
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("bad dict item")
                try:
                    out[_dec(pair[0], depth + 1)] = _dec(pair[1], depth + 1)
                except TypeError as exc:
                    raise CodecError(f"unhashable dict key: {exc}") from None
            return out
        if tag == "B" and type(body) is str:
            try:
                return base64.b64decode(body.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError) as exc:
                raise CodecError(f"bad bytes: {exc}") from None
        if tag == "C" and type(body) is list and len(body) == 2:
            re_, im = (_dec(v, depth + 1) for v in body)
            if type(re_) is not float or type(im) is not float:
                raise CodecError("bad complex")
            return complex(re_, im)
        if tag == "F" and body in _FLOATS:
            return _FLOATS[body]
        if tag == "I" and type(body) is str and 0 < len(body) <= 1 << 16:
            try:
                return int(body, 16)
            except ValueError:
                raise CodecError("bad int") from None
    raise CodecError(f"not an encoded value: {str(x)[:80]}")


def _no_flood(items: list) -> list:
    """``items``, unless more than `COLLISION_LIMIT` distinct hashable ones share a hash (`CodecError`)."""
    if len(items) <= COLLISION_LIMIT:
        return items
    first: dict[int, Any] = {}
    collisions = 0
    for item in items:
        try:
            h = hash(item)
        except TypeError:
            continue
        seen = first.setdefault(h, item)
        if seen is not item and not values_equal(seen, item):
            collisions += 1
            if collisions > COLLISION_LIMIT:
                raise CodecError("too many distinct values with colliding hashes")
    return items


def decode_value(tree: Any) -> Any:
    """The builtin value an `encode_value` tree stands for; `CodecError` for anything else."""
    try:
        return _dec(tree, 0)
    except RecursionError:
        raise CodecError("value nested too deeply") from None


def values_equal(a: Any, b: Any) -> bool:
    """``a == b`` for decoded values, never raising (a comparison of builtins)."""
    try:
        return bool(a == b)
    except Exception:
        return False


# --- frames ------------------------------------------------------------------------------------------------------


def dumps(payload: Any) -> bytes:
    """A JSON payload (``allow_nan`` off: floats travel through `encode_value`)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's reader accepts them, no writer of ours sends them


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # "1e999" reads as inf: not a number we could send back (dumps refuses it)
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def loads(data: bytes) -> Any:
    """Parse a JSON payload; `CodecError` when it is not valid JSON (``NaN``, ``Infinity`` and numbers that overflow
    to them included: non-finite floats travel tagged, see `encode_value`), or nests too deeply."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"bad payload: {str(exc)[:200]}") from None


def frame(tag: bytes, payload: Any) -> bytes:
    """One frame: tag, length, JSON payload."""
    body = dumps(payload)
    return HEADER.pack(tag, len(body)) + body


def write_frame(fd: int, tag: bytes, payload: Any) -> None:
    """Write a whole frame to ``fd`` (blocking)."""
    view = memoryview(frame(tag, payload))
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int) -> tuple[bytes, Any] | None:
    """Read one frame from ``fd``: ``(tag, payload)``, None at end of file; `FrameError` over ``max_bytes``."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    tag, length = HEADER.unpack(header)
    if length > max_bytes:
        raise FrameError(f"frame of {length} bytes over the cap of {max_bytes}")
    body = _read_exact(fd, length)
    if body is None:
        raise FrameError("frame cut short")
    return tag, loads(body)


def count_items(body: bytes, limit: int | None = None) -> int:
    """The items of a JSON payload as its commas outside strings (a comma inside a string is text). With ``limit``
    the raw comma count is returned while it is within ``limit`` (the common frame costs one ``bytes.count``), and
    past it the number of strings when that alone passes ``limit`` (each string is an item too); only then are the
    strings cut out, in C time and in at most ``2 × limit + 1`` pieces."""
    commas = body.count(b",")
    if commas == 0 or limit is not None and commas <= limit:
        return commas
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")  # escaped backslashes, then escaped quotes
    strings = text.count(b'"') // 2
    if limit is not None and strings > limit:
        return strings
    return sum(piece.count(b",") for piece in text.split(b'"')[::2])  # even pieces lie outside strings


def _check_items(body: bytes, limit: int) -> int:
    """``body``'s item count (raw commas when within ``limit``); `FrameError` when its items pass ``limit``."""
    items = count_items(body, limit) if limit else body.count(b",")
    if limit and items > limit:
        raise FrameError(f"frame of more than {limit} items")
    return items


class FrameBuffer:
    """Incremental frame parser for a non-blocking reader, with a cap per frame and on the total bytes taken."""

    def __init__(self, max_frame: int, max_total: int, max_items: int = 0, max_total_items: int = 0) -> None:
        self.max_frame = max_frame
        self.max_total = max_total
        self.max_items = max_items
        self.max_total_items = max_total_items
        self.items = 0
        self.total = 0
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[bytes, Any]]:
        """Add bytes; return the complete frames. `FrameError` once a cap is passed or a payload is not JSON."""
        self.total += len(chunk)
        if self.total > self.max_total:
            raise FrameError(f"more than {self.max_total} bytes of output")
        self._buffer += chunk
        frames = []
        while len(self._buffer) >= HEADER.size:
            tag, length = HEADER.unpack_from(self._buffer)
            if length > self.max_frame:
                raise FrameError(f"frame of {length} bytes over the cap of {self.max_frame}")
            if len(self._buffer) < HEADER.size + length:
                break
            body = bytes(self._buffer[HEADER.size : HEADER.size + length])
            del self._buffer[: HEADER.size + length]
            items = _check_items(body, self.max_items)
            if self.max_total_items:
                if self.items + items > self.max_total_items:  # exact before refusing: commas in strings are text
                    items = count_items(body, self.max_total_items - self.items)
                self.items += items
                if self.items > self.max_total_items:
                    raise FrameError(f"more than {self.max_total_items} items in all")
            try:
                frames.append((tag, loads(body)))
            except CodecError as exc:
                raise FrameError(str(exc)) from None
        return frames
