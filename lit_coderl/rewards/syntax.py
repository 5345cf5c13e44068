"""`SyntaxReward`: per-token Python syntax validity of the code region.

The CPython backend classifies every prefix of the code as complete / incomplete (a valid proper prefix) / invalid
with CPython's own parser (``PyCF_ALLOW_INCOMPLETE_INPUT``, the mechanism behind `codeop`), and flags the first token
at which the code stops being a valid prefix. See ``shared/docs/syntax-checking.md`` §4 for the algorithm.

The SynCode backend (optional extra, `lit_coderl.rewards.syncode_backend`) asks SynCode's Python grammar whether each
token may follow the code before it, and can constrain generation to the tokens the grammar allows. ``docs/syntax.md``
compares both.
"""

from __future__ import annotations

import ast
import functools
import re
import time
import warnings
from typing import Literal

import torch

from lit_coderl.rewards.base import RewardComponent
from lit_coderl.rewards.spans import SpreadMode, extract_code_span, spread
from lit_coderl.rollout import Rollout

Status = Literal["complete", "incomplete", "invalid"]

_SINGLE_FLAGS = ast.PyCF_ONLY_AST | 0x200 | 0x4000  # DONT_IMPLY_DEDENT | ALLOW_INCOMPLETE_INPUT
_TOP_LEVEL_START = re.compile(r"^[^\s#)\]}]", re.MULTILINE)
_INCOMPLETE_TOKEN_MESSAGES = (
    "unterminated",
    "invalid decimal literal",
    "invalid hexadecimal",
    "invalid octal literal",  # "0o" at the very end
    "invalid binary literal",  # "0b" at the very end
)
_MAX_FAILED_HEADS = 4


@functools.lru_cache(maxsize=4096)
def compiles_exec(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<head>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def _tail_status(tail: str) -> Status:
    if not tail.strip():
        return "complete"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(tail, "<tail>", "single", _SINGLE_FLAGS, dont_inherit=True)
        return "complete"
    except SyntaxError as err:
        message = err.msg or ""
        if message == "incomplete input":
            return "incomplete"
        last_line = tail.count("\n") + 1
        if any(m in message for m in _INCOMPLETE_TOKEN_MESSAGES) and (err.lineno or 0) >= last_line:
            # a string or number still being written at the very end; the tokenizer reports it before any parser
            # error in front of it, so the text before that token must still be a valid prefix
            lines = tail.split("\n")
            cut = sum(len(line) + 1 for line in lines[: last_line - 1]) + max(0, (err.offset or 1) - 1)
            if 0 < cut < len(tail) and python_prefix_status(tail[:cut]) == "invalid":
                return "invalid"
            return "incomplete"
        if message.startswith("multiple statements"):
            return "complete" if compiles_exec(tail) else "invalid"
        return "invalid"
    except ValueError:  # e.g. NUL bytes
        return "invalid"


def python_prefix_status(text: str) -> Status:
    """Whether ``text`` is a complete Python program, a valid proper prefix of one, or neither."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1].strip(" \t") == "":
        text = "\n".join(lines[:-1]) + "\n"  # a half-written indentation line
        if not text.strip():
            return "incomplete"
    starts = [m.start() for m in _TOP_LEVEL_START.finditer(text)]
    failed = 0
    for start in reversed(starts):
        if start == 0 or compiles_exec(text[:start]):
            return _tail_status(text[start:])
        failed += 1
        if failed >= _MAX_FAILED_HEADS:
            break
    if not starts or starts[0] != 0:
        return _tail_status(text)
    return "invalid"


def first_invalid_prefix(code: str, ends: list[int]) -> int | None:
    """Index ``k`` of the first prefix ``code[:ends[k]]`` that is invalid, or None.

    Validity is monotone (an extension of an invalid prefix stays invalid) up to rare heuristic exceptions, so a
    valid full text needs no further check and otherwise a binary search finds the boundary in O(log n) parser calls.
    This bisection *defines* the flagged token of the CPython backend (`bisect_invalid`), whether the statuses are
    computed after generation or recorded during it.
    """
    return bisect_invalid(len(ends), lambda k: python_prefix_status(code[: ends[k]]) == "invalid")


def bisect_invalid(n: int, is_invalid) -> int | None:
    """The boundary ``k`` found by bisection over ``is_invalid(0..n-1)`` (None if the last one is valid)."""
    if n == 0 or not is_invalid(n - 1):
        return None
    lo, hi = 0, n - 1  # invariant: prefix hi is invalid
    while lo < hi:
        mid = (lo + hi) // 2
        if is_invalid(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


Backend = Literal["cpython", "syncode"]
Mode = Literal["flag", "constrain"]
Check = Literal["after", "during"]

_STATUS_CODE = {"invalid": 0, "incomplete": 1, "complete": 2}
MASKED_LOGIT = -1e9
"""What `SyntaxReward.constrain_logits` puts on tokens the mask forbade: finite, so entropies stay finite, and
``exp`` of it is exactly 0 in float32, so probabilities equal those of the ``-inf`` mask used while sampling."""

# token_info keys written by the logits processor (all ``[B, T]`` unless noted)
INFO_START = "syntax/span_start"  # int32: code-span start the token was checked against (-1: not checked)
INFO_END = "syntax/checked_end"  # int32: end (chars) of the text that was checked
INFO_VALUE = "syntax/value"  # int8: cpython: 0 invalid, 1 incomplete, 2 complete; syncode: 0/1 is_valid; -1 none
INFO_CONSTRAINED = "syntax/constrained"  # bool: a grammar mask was applied when this token was sampled
INFO_ALLOWED = "syntax/allowed_bits"  # uint8 [B, T, ceil(V/8)]: that mask, bit-packed (bit j of byte k: id 8k+j)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """Bit-pack a bool tensor along its last dim: ``[..., V]`` -> uint8 ``[..., ceil(V/8)]`` (little-endian bits)."""
    vocab = mask.shape[-1]
    pad = (-vocab) % 8
    bits = torch.nn.functional.pad(mask.to(torch.uint8), (0, pad)).reshape(*mask.shape[:-1], -1, 8)
    weights = torch.tensor([1 << j for j in range(8)], dtype=torch.uint8, device=mask.device)
    return (bits * weights).sum(dim=-1).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, vocab: int) -> torch.Tensor:
    """Inverse of `pack_bits`: uint8 ``[..., n]`` -> bool ``[..., vocab]``."""
    shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(*packed.shape[:-1], -1)[..., :vocab].bool()


class _Row:
    """What the processor knows about one sequence being generated."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.ends: list[int] = []  # character end of each token in the text so far
        self.done = False
        self.span_start: int | None = None
        self.stream_start = 0  # syncode: first token fed to the checker
        self.fed = 0  # syncode: tokens fed so far
        self.flag_state = None  # syncode parser state for flags
        self.mask_state = None  # syncode parser state for masks
        self.records: dict[int, tuple[int, int, int]] = {}  # token index -> (span start, checked end, value)
        self.allowed: dict[int, torch.Tensor] = {}  # token index -> packed mask it was sampled under


class SyntaxLogitsProcessor:
    """The generation-time hook of `SyntaxReward` (a `transformers` logits processor).

    * ``flag`` mode with ``check="during"``: checks each sampled token as soon as it is in ``input_ids`` (the next
      step) and records the result per token; the last token is checked in `finish`.
    * ``constrain`` mode: masks the scores of every row with SynCode's allowed-token mask (the code region is the
      whole response: constrained decoding writes bare code) and records the masks, bit-packed.

    `finish(rollout)` (called by `SyntaxReward.submit` right after generation) returns the ``token_info`` tensors.
    """

    def __init__(self, reward: SyntaxReward, tokenizer) -> None:
        self.reward = reward
        self.tokenizer = tokenizer
        self.flag = reward.check == "during"
        self.constrain = reward.mode == "constrain"
        self.stop_ids = {i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None}
        self.prompt_len: int | None = None
        self.rows: list[_Row] = []
        self.vocab = 0
        self.seconds = 0.0  # time spent in this hook (benchmarks)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        started = time.perf_counter()
        if self.prompt_len is None:
            self.prompt_len = input_ids.shape[1]
            self.rows = [_Row() for _ in range(input_ids.shape[0])]
            self.vocab = scores.shape[-1]
        for b, row in enumerate(self.rows):
            if row.done:
                continue
            for token in input_ids[b, self.prompt_len + len(row.ids) :].tolist():
                self._observe(row, int(token))
            if row.done or not self.constrain:
                continue
            checker = self.reward.syncode_checker(self.tokenizer)
            if row.mask_state is None:
                row.mask_state = checker.new_row()
            mask = checker.accept_mask(row.mask_state, row.ids, scores.shape[-1])
            if self.reward.verify_constrained:
                mask = self._verify(row, mask, scores.shape[-1])
            if mask is not None:
                scores[b] = scores[b].masked_fill(~mask.to(scores.device), float("-inf"))
                row.allowed[len(row.ids)] = pack_bits(mask)
        self.seconds += time.perf_counter() - started
        return scores

    def _verify(self, row: _Row, mask: torch.Tensor | None, vocab: int) -> torch.Tensor | None:
        """Keep the tokens after which the response is still a valid Python prefix for CPython too.

        SynCode's mask over-approximates (its lexer lookahead lets e.g. ``isc`` follow ``x is``): every token it allows
        is checked with `python_prefix_status`. Where SynCode cannot tell (``mask`` None: it cannot parse the code, e.g.
        a walrus), every token of the vocabulary is checked. Tokens that are only part of a multi-byte character are
        dropped (they cannot be checked; whole non-ASCII characters stay allowed), and so are special tokens other
        than EOS. If nothing is left, only EOS is allowed."""
        text = self.tokenizer.decode(row.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return mask
        pieces = self.reward.token_pieces(self.tokenizer)
        eos = self.tokenizer.eos_token_id
        candidates = range(min(vocab, len(pieces))) if mask is None else mask.nonzero().flatten().tolist()
        out = torch.zeros(vocab, dtype=torch.bool)
        for c in candidates:
            if c >= len(pieces):
                continue
            piece = pieces[c]
            if "\ufffd" in piece:
                continue  # a partial UTF-8 character cannot be checked: such tokens are not allowed
            if not piece:
                out[c] = c == eos and (mask is None or bool(mask[c]))  # of the special tokens only EOS
            else:
                out[c] = python_prefix_status(text + piece) != "invalid"
        if not bool(out.any()) and eos is not None and eos < vocab:
            out[eos] = True
        return out

    def _observe(self, row: _Row, token: int) -> None:
        if token in self.stop_ids:
            row.done = True
            return
        row.ids.append(token)
        if not self.flag:
            return
        text = self.tokenizer.decode(row.ids, skip_special_tokens=True)
        half_char = text.endswith("\ufffd")
        end = (row.ends[-1] if row.ends else 0) if half_char else len(text)
        row.ends.append(end)
        start = extract_code_span(text)[0]
        if self.reward.backend == "cpython":
            if half_char or end <= start:
                return
            status = python_prefix_status(text[start:end])
            row.records[len(row.ids) - 1] = (start, end, _STATUS_CODE[status])
            return
        checker = self.reward.syncode_checker(self.tokenizer)
        if row.flag_state is not None and row.span_start != start:
            checker.release(row.flag_state)  # a fence opened: the code starts later than assumed
            row.flag_state = None
        if row.flag_state is None:
            if end <= start:
                return
            row.flag_state, row.span_start = checker.new_row(), start
            row.stream_start = next(j for j, e in enumerate(row.ends) if e > start)
            row.fed = row.stream_start
        while row.fed < len(row.ids):
            j = row.fed
            valid = checker.is_valid(row.flag_state, row.ids[row.stream_start : j], row.ids[j])
            row.records[j] = (start, row.ends[j], int(valid))
            row.fed += 1

    def finish(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        """Check the tokens the hook has not seen yet (the last one) and return the per-token records."""
        started = time.perf_counter()
        B, T = rollout.response_ids.shape
        if not self.rows:
            self.rows = [_Row() for _ in range(B)]
        info: dict[str, torch.Tensor] = {}
        if self.flag:
            span_start = torch.full((B, T), -1, dtype=torch.int32)
            checked_end = torch.full((B, T), -1, dtype=torch.int32)
            value = torch.full((B, T), -1, dtype=torch.int8)
            for b, row in enumerate(self.rows[:B]):
                n = int(rollout.response_mask[b].sum().item())
                for token in rollout.response_ids[b, len(row.ids) : n].tolist():
                    if row.done:
                        break
                    self._observe(row, int(token))
                for t, (s, e, v) in row.records.items():
                    if t < T:
                        span_start[b, t], checked_end[b, t], value[b, t] = s, e, v
            info.update({INFO_START: span_start, INFO_END: checked_end, INFO_VALUE: value})
        if self.constrain:
            vocab = self.vocab or 1
            allowed = torch.zeros((B, T, (vocab + 7) // 8), dtype=torch.uint8)
            constrained = torch.zeros((B, T), dtype=torch.bool)
            for b, row in enumerate(self.rows[:B]):
                for t, packed in row.allowed.items():
                    if t < T:
                        allowed[b, t], constrained[b, t] = packed, True
            info.update({INFO_ALLOWED: allowed, INFO_CONSTRAINED: constrained})
        if self.reward.backend == "syncode":
            checker = self.reward.syncode_checker(self.tokenizer)
            for row in self.rows:
                for state in (row.flag_state, row.mask_state):
                    if state is not None:
                        checker.release(state)
                row.flag_state = row.mask_state = None
        self.seconds += time.perf_counter() - started
        return info


class SyntaxReward(RewardComponent):
    """Flags the token at which the code stops being valid Python; optionally constrains generation to valid Python.

    Only the code region of each response is judged (the first fenced block, or the whole response without a
    fence); the prompt and prose outside the fences are ignored. See ``docs/syntax.md``.

    Args:
        weight: λ of this component.
        backend: Parser that judges prefixes. ``cpython`` (default: exact, ~0.1 ms per check, no dependency) or
            ``syncode`` (the paper's choice; SynCode 0.4.16's LALR Python grammar with its known false flags, the
            optional ``syncode`` extra).
        mode: ``flag`` (default) scores tokens. ``constrain`` (``syncode`` only) also masks, during generation,
            every token SynCode's grammar does not allow (grammar-constrained decoding); the masks are recorded in
            ``rollout.token_info`` and re-applied by `constrain_logits`, so old and new log-probs come from the
            distribution the tokens were sampled from. The response is then treated as bare code from its first
            token; flags are still computed (SynCode's mask over-approximates).
        check: When tokens are checked. ``after`` (default, cheaper: see ``docs/syntax.md``) checks the sampled
            tokens after generation; ``during`` checks each token inside generation through a logits-processor hook
            (as in the paper). The flags are identical.
        spreading: How the program's verdict lands on its tokens. ``sum`` (default, length-neutral): the token
            scores sum to the verdict (the sequence score below): ``valid_bonus`` split over the code tokens of a
            complete program, ``invalid_penalty`` on the flagged token (split over it and every later code token
            with ``penalize_after``), ``incomplete_penalty`` on the last code token. ``constant`` (the paper's):
            every code token before the flag gets ``valid_bonus`` and, with ``penalize_after``, every token from it
            on ``invalid_penalty``, so the sum grows with the program's length and pays for padding.
        invalid_penalty: Score of the first token that makes the code an invalid prefix.
        penalize_after: Also penalise every later code token (the code never recovers).
        valid_bonus: Bonus of a valid program: in total (``sum``) or on each code token before the first invalid
            one (``constant``). 0 by default; the paper: 1.0 per token with weight 0.1.
        incomplete_penalty: Score added to the last code token when the code ends as a valid but unfinished
            prefix (an unclosed bracket or an empty block at the end of the response); judged by CPython for both
            backends.
        syncode_flag: ``first``: the first token SynCode rejects is flagged (the paper); ``persistent``: the first
            token after which SynCode rejects every token (ignores its transient false flags on f-strings and
            docstring ends; a real error makes every later token fail).
        syncode_cache_dir: Where SynCode mask stores are cached, one subdirectory per vocabulary hash (default:
            ``$LIT_CODERL_SYNCODE_CACHE`` or ``~/.cache/lit_coderl/syncode``).
        syncode_grammar_mode: SynCode's ``grammar_mask`` (over-approximating mask, default) or ``grammar_strict``.
        verify_constrained: In ``constrain`` mode, also check every token SynCode's mask allows with CPython and
            drop those that make the response an invalid prefix (SynCode's mask over-approximates; costs one CPython
            check per allowed token and step). With it, constrained responses are always valid Python prefixes.
        name: Log name.

    Token scores and sequence score (``reward_placement: eos``, TRL's baseline): the sequence score is the
    program's verdict, once: ``invalid_penalty`` if the code stops being a valid prefix, ``incomplete_penalty`` if it
    is a valid prefix that never gets finished, ``valid_bonus`` if it is a complete program, 0 without a code region.
    Under ``spreading: sum`` the token scores sum to it. Under ``constant`` they do too with ``valid_bonus`` 0 and
    ``penalize_after`` off; otherwise the token sum grows with the number of tokens before or after the error (a
    long valid program collects more bonus than a short one), which is no verdict of the whole program.
    """

    default_name = "syntax"

    def __init__(
        self,
        weight: float = 0.1,
        backend: Backend = "cpython",
        mode: Mode = "flag",
        check: Check = "after",
        spreading: SpreadMode = "sum",
        invalid_penalty: float = -1.0,
        penalize_after: bool = False,
        valid_bonus: float = 0.0,
        incomplete_penalty: float = -1.0,
        syncode_flag: Literal["first", "persistent"] = "first",
        syncode_cache_dir: str | None = None,
        syncode_grammar_mode: Literal["grammar_mask", "grammar_strict"] = "grammar_mask",
        verify_constrained: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(weight, name)
        if backend not in ("cpython", "syncode"):
            raise ValueError(f"unknown syntax backend {backend!r}; available: cpython, syncode")
        if mode not in ("flag", "constrain"):
            raise ValueError(f"unknown syntax mode {mode!r}; available: flag, constrain")
        if check not in ("after", "during"):
            raise ValueError(f"unknown check {check!r}; available: after, during")
        if syncode_flag not in ("first", "persistent"):
            raise ValueError(f"unknown syncode_flag {syncode_flag!r}; available: first, persistent")
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        if mode == "constrain" and backend != "syncode":
            raise ValueError("mode='constrain' needs backend='syncode' (CPython cannot mask a whole vocabulary)")
        if backend == "syncode":
            from lit_coderl.rewards.syncode_backend import load_syncode

            load_syncode()  # fails here, with the install command, when the extra is missing
        self.backend, self.mode, self.check, self.spreading = backend, mode, check, spreading
        self.invalid_penalty, self.penalize_after = invalid_penalty, penalize_after
        self.valid_bonus, self.incomplete_penalty = valid_bonus, incomplete_penalty
        self.syncode_flag = syncode_flag
        self.syncode_cache_dir = syncode_cache_dir
        self.syncode_grammar_mode = syncode_grammar_mode
        self.verify_constrained = verify_constrained
        self._pieces: tuple[int, list[str]] | None = None
        self._tokenizer = None
        self._processor: SyntaxLogitsProcessor | None = None
        self._valid_share = 0.0
        self._constrained_share = 0.0

    # -- tokenizer and SynCode engine ---------------------------------------------------------------------------------

    def set_tokenizer(self, tokenizer) -> None:
        """The policy's tokenizer (the SynCode backend decodes token ids). The module's hooks set it."""
        self._tokenizer = tokenizer

    def syncode_checker(self, tokenizer=None):
        """The SynCode engine for the tokenizer (built or loaded from the cache on first use)."""
        from lit_coderl.rewards.syncode_backend import SyncodeChecker

        tokenizer = tokenizer if tokenizer is not None else self._tokenizer
        if tokenizer is None:
            raise RuntimeError("the syncode backend needs the tokenizer: call SyntaxReward.set_tokenizer(tokenizer)")
        return SyncodeChecker.get(tokenizer, self.syncode_cache_dir, self.syncode_grammar_mode)

    def token_pieces(self, tokenizer) -> list[str]:
        """The text of every token id on its own (cached per tokenizer)."""
        if self._pieces is None or self._pieces[0] != id(tokenizer):
            self._pieces = (
                id(tokenizer),
                [tokenizer.decode([i], skip_special_tokens=True) for i in range(len(tokenizer))],
            )
        return self._pieces[1]

    def setup(self, trainer, pl_module, stage: str) -> None:
        tokenizer = getattr(pl_module, "tokenizer", None)
        if tokenizer is not None:
            self.set_tokenizer(tokenizer)
            if self.backend == "syncode":
                self.syncode_checker()  # build / load the mask store before the first iteration

    # -- generation hooks ---------------------------------------------------------------------------------------------

    def logits_processor(self, tokenizer):
        self.set_tokenizer(tokenizer)
        if self.mode != "constrain" and self.check != "during":
            self._processor = None
            return None
        self._processor = SyntaxLogitsProcessor(self, tokenizer)
        return self._processor

    def submit(self, rollout: Rollout) -> None:
        """Move what the processor recorded during generation into ``rollout.token_info``."""
        if self._processor is not None:
            rollout.token_info.update(self._processor.finish(rollout))
            self._processor = None

    def constrain_logits(self, rollout: Rollout, index, logits: torch.Tensor) -> torch.Tensor:
        if self.mode != "constrain" or INFO_ALLOWED not in rollout.token_info:
            return logits
        packed = rollout.token_info[INFO_ALLOWED][index].to(logits.device)
        constrained = rollout.token_info[INFO_CONSTRAINED][index].to(logits.device)
        allowed = unpack_bits(packed, logits.shape[-1]) | ~constrained.unsqueeze(-1)
        return logits.masked_fill(~allowed, MASKED_LOGIT)

    # -- scoring ------------------------------------------------------------------------------------------------------

    def score(self, rollout: Rollout) -> torch.Tensor:
        """``[B, T]`` token flags; records each response's verdict as its `sequence_score` (see the class)."""
        scores = rollout.zeros()
        sequence = torch.zeros(rollout.batch_size)  # the verdict, for reward_placement: eos (TRL's baseline)
        n_valid = 0
        for i in range(rollout.batch_size):
            code_tokens = rollout.code_token_indices(i)
            if not code_tokens:
                continue
            start, end = rollout.code_spans[i]
            code = rollout.texts[i][start:end]
            ends = [min(rollout.offsets[i][t][1], end) - start for t in code_tokens]
            first_bad = self.first_flagged(rollout, i, code_tokens, ends)
            n_ok = len(code_tokens) if first_bad is None else first_bad
            if self.spreading == "constant":
                for t in code_tokens[:n_ok]:
                    scores[i, t] = self.valid_bonus
            if first_bad is not None:
                flagged = code_tokens[first_bad:] if self.penalize_after else [code_tokens[first_bad]]
                scores[i] += spread(self.invalid_penalty, flagged, rollout.response_length, self.spreading)
                sequence[i] = self.invalid_penalty
            elif not compiles_exec(code):  # a valid prefix that never got finished
                scores[i, code_tokens[-1]] += self.incomplete_penalty
                sequence[i] = self.incomplete_penalty
            else:
                n_valid += 1
                sequence[i] = self.valid_bonus
                if self.spreading == "sum":
                    scores[i] += spread(self.valid_bonus, code_tokens, rollout.response_length, "sum")
        self.record_sequence_scores(rollout, sequence)
        self._valid_share = n_valid / max(1, rollout.batch_size)
        if INFO_CONSTRAINED in rollout.token_info:
            mask = rollout.response_mask
            self._constrained_share = float((rollout.token_info[INFO_CONSTRAINED].float() * mask).sum()) / max(
                1.0, float(mask.sum())
            )
        return scores

    def first_flagged(self, rollout: Rollout, i: int, code_tokens: list[int], ends: list[int]) -> int | None:
        """Index into ``code_tokens`` of the flagged token of sample ``i`` (None: no flag).

        ``ends[k]`` is the end of code token ``k`` relative to the code start. Uses the records of the generation
        hook where they were made on exactly the same text, and checks the rest now.
        """
        start = rollout.code_spans[i][0]
        code = rollout.code(i)
        records = rollout.token_info if INFO_VALUE in rollout.token_info else None
        if self.backend == "cpython":
            if records is None:
                return first_invalid_prefix(code, ends)
            rec_start, rec_end, rec_value = records[INFO_START][i], records[INFO_END][i], records[INFO_VALUE][i]

            def is_invalid(k: int) -> bool:
                t = code_tokens[k]
                if int(rec_start[t]) == start and int(rec_end[t]) == start + ends[k] and int(rec_value[t]) >= 0:
                    return int(rec_value[t]) == 0
                return python_prefix_status(code[: ends[k]]) == "invalid"

            return bisect_invalid(len(code_tokens), is_invalid)
        first = code_tokens[0]
        stream = list(range(first, code_tokens[-1] + 1))
        if records is not None and all(
            int(records[INFO_START][i, t]) == start and int(records[INFO_VALUE][i, t]) >= 0 for t in stream
        ):
            valid = [int(records[INFO_VALUE][i, t]) == 1 for t in stream]
        else:
            valid = self.syncode_checker().flags(rollout.response_ids[i, stream].tolist())
        per_token = [valid[t - first] for t in code_tokens]
        if self.syncode_flag == "first":
            return next((k for k, ok in enumerate(per_token) if not ok), None)
        if per_token[-1]:
            return None
        last_ok = max((k for k, ok in enumerate(per_token) if ok), default=-1)
        return last_ok + 1

    def metrics(self) -> dict[str, float]:
        out = {"valid_share": self._valid_share}
        if self.mode == "constrain":
            out["constrained_share"] = self._constrained_share
        return out


def replay_through_processor(processor: SyntaxLogitsProcessor, rollout: Rollout, vocab: int) -> dict[str, torch.Tensor]:
    """Feed a rollout's response tokens through a processor step by step, exactly as ``generate()`` calls it
    (``input_ids`` = prompt + the tokens so far, dummy ``[B, vocab]`` scores), then finish it.

    Used to compare generation-time and after-generation checks on fixed texts (tests, benchmarks)."""
    B, T = rollout.response_ids.shape
    prompt = rollout.query_ids
    for t in range(T):
        processor(torch.cat([prompt, rollout.response_ids[:, :t]], dim=1), torch.zeros((B, vocab)))
    return processor.finish(rollout)
