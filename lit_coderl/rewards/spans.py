"""Attribution: from characters, lines and code regions of a response to its tokens.

Every reward component scores text (a Ruff diagnostic's row/column span, the line of a traceback, the whole code
block); PPO needs one number per response token. These helpers are the single place where that mapping happens.

Conventions:
- ``offsets[i] = (start, end)`` is the character span of response token ``i`` in the decoded response text.
  Special tokens (EOS, padding) and tokens that only complete a multi-byte character have zero width or the width
  of the completed character.
- Lines are 1-based (as Ruff and tracebacks report them), columns 1-based as Ruff reports them.
"""

from __future__ import annotations

import bisect
import io
import re
import tokenize
from collections.abc import Sequence
from typing import Literal

import torch

Offsets = Sequence[tuple[int, int]]
SpreadMode = Literal["constant", "sum"]

_FENCE_OPEN = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n")
_FENCE_CLOSE = re.compile(r"\n?```")


def token_char_offsets(tokenizer, token_ids: Sequence[int], text: str | None = None) -> list[tuple[int, int]]:
    """Character span of each token in ``decode(token_ids, skip_special_tokens=True)``.

    A byte-level BPE token that splits a multi-byte character gets an empty span, and the token that completes the
    character gets its span; special tokens get empty spans. Linear in the number of tokens: the tokenizer's own
    streaming decoder (`tokenizers.decoders.DecodeStream`) yields each token's new text. Where that stream does not
    reproduce ``text`` exactly (a slow tokenizer, decoder clean-up), `prefix_char_offsets` gives the same spans by
    decoding every prefix (quadratic).
    """
    ids = [int(t) for t in token_ids]
    if text is None:
        text = tokenizer.decode(ids, skip_special_tokens=True)
    if not ids:
        return []
    streamed = _stream_offsets(tokenizer, ids, text)
    return streamed if streamed is not None else prefix_char_offsets(tokenizer, ids, text)


def _stream_offsets(tokenizer, ids: list[int], text: str) -> list[tuple[int, int]] | None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if "\ufffd" in text:  # bytes that never form a character: the stream attributes them differently
        return None
    try:
        from tokenizers.decoders import DecodeStream
    except ImportError:  # tokenizers < 0.21
        return None
    if backend is None:
        return None
    stream = DecodeStream(skip_special_tokens=True)
    offsets, end = [], 0
    for token in ids:
        try:
            chunk = stream.step(backend, token)
        except Exception:  # an id outside the vocabulary, a decoder that cannot stream
            return None
        start = end
        if chunk:
            if text[end : end + len(chunk)] != chunk:
                return None  # the stream and the full decode disagree: use the reference method
            end += len(chunk)
        offsets.append((start, end))
    return offsets if end == len(text) else None


def prefix_char_offsets(tokenizer, ids: Sequence[int], text: str) -> list[tuple[int, int]]:
    """`token_char_offsets` by decoding every prefix in one batched call and taking the length of the part that
    agrees with the full text (the reference method; quadratic in the number of tokens)."""
    ids = [int(t) for t in ids]
    if not ids:
        return []
    prefixes = tokenizer.batch_decode([ids[: k + 1] for k in range(len(ids))], skip_special_tokens=True)
    offsets, prev_end = [], 0
    for prefix in prefixes:
        end = _common_prefix_len(prefix, text)
        # a prefix ending in U+FFFD is a half character: its bytes belong to the token that completes it
        end = max(prev_end, end)
        offsets.append((prev_end, end))
        prev_end = end
    return offsets


def _common_prefix_len(a: str, b: str) -> int:
    if b.startswith(a):
        return len(a)
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def extract_code_span(text: str) -> tuple[int, int]:
    """Character span of the code in a response.

    The first fenced block (```` ```python ```` or a bare ```` ``` ````) if there is one, up to its closing fence or,
    for a truncated response, to the end of the text; otherwise the whole response.
    """
    opening = _FENCE_OPEN.search(text)
    if opening is None:
        return 0, len(text)
    start = opening.end()
    closing = _FENCE_CLOSE.search(text, start)
    end = closing.start() if closing is not None else len(text)
    return start, max(start, end)


def char_span_to_tokens(offsets: Offsets, start: int, end: int) -> list[int]:
    """Indices of the tokens whose character span overlaps ``[start, end)``; zero-width tokens never do.

    An empty span (``start == end``, e.g. a diagnostic at the end of the file) maps to the token that contains or
    ends at that position, so a penalty is never lost.
    """
    if end <= start:
        for i, (s, e) in enumerate(offsets):
            if e > s and s <= start < e:
                return [i]
        for i in range(len(offsets) - 1, -1, -1):
            s, e = offsets[i]
            if e > s and e <= start:
                return [i]
        return []
    # token spans are contiguous and in order: jump to the first token ending after ``start`` (O(log T) per span)
    first = bisect.bisect_right(offsets, start, key=lambda span: span[1])
    tokens = []
    for i in range(first, len(offsets)):
        s, e = offsets[i]
        if s >= end:
            break
        if e > s:
            tokens.append(i)
    return tokens


def line_char_span(text: str, line: int, base: int = 0) -> tuple[int, int]:
    """Character span (without the newline) of 1-based ``line`` of the text starting at offset ``base``."""
    lines = text[base:].split("\n")
    if line < 1 or line > len(lines):
        return base + len(text[base:]), base + len(text[base:])
    start = base + sum(len(x) + 1 for x in lines[: line - 1])
    return start, start + len(lines[line - 1])


class LineIndex:
    """Line starts of the text from ``base`` on, computed once, for many (row, column) → offset look-ups."""

    def __init__(self, text: str, base: int = 0) -> None:
        self.end = len(text)
        self.starts = [base] + [i + 1 for i in range(base, len(text)) if text[i] == "\n"]

    def char(self, row: int, col: int) -> int:
        """`rowcol_to_char` in O(1)."""
        if row < 1 or row > len(self.starts):
            return self.end
        start = self.starts[row - 1]
        line_end = self.starts[row] - 1 if row < len(self.starts) else self.end
        return min(start + max(col - 1, 0), line_end)


def rowcol_to_char(text: str, row: int, col: int, base: int = 0) -> int:
    """Offset of a 1-based (row, column) position of the code starting at ``base`` (columns count characters)."""
    start, end = line_char_span(text, row, base)
    return min(start + max(col - 1, 0), end)


def code_token_mask(offsets: Offsets, code_span: tuple[int, int]) -> list[bool]:
    """True for tokens that carry part of the code region."""
    start, end = code_span
    return [e > s and s < end and e > start for s, e in offsets]


def spread(value: float, token_idx: Sequence[int], length: int, mode: SpreadMode = "constant") -> torch.Tensor:
    """A ``[length]`` vector with ``value`` spread over ``token_idx``; zero elsewhere.

    ``sum``: every listed token gets ``value / n``, so the tokens sum to ``value`` (a verdict keeps its scale
    whatever the program's length: the components' default). ``constant``: every listed token gets ``value`` (the
    paper's choice: the signal does not fade on long programs, but its sum grows with their length)."""
    out = torch.zeros(length)
    idx = sorted({i for i in token_idx if 0 <= i < length})
    if not idx:
        return out
    out[idx] = value if mode == "constant" else value / len(idx)
    return out


def comment_chars(code: str) -> int:
    """Characters of ``code`` inside ``#`` comments (Python's tokenizer; for code it cannot tokenize, each line's
    text from a ``#`` that is not inside a quote on that line)."""
    try:
        return sum(
            len(tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(code).readline)
            if tok.type == tokenize.COMMENT
        )
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError):
        total = 0
        for line in code.split("\n"):
            quote = None
            for k, ch in enumerate(line):
                if quote is None and ch == "#":
                    total += len(line) - k
                    break
                if ch in "'\"":
                    quote = None if quote == ch else (ch if quote is None else quote)
        return total
