"""SynCode 0.4.16 as a per-token Python grammar checker and token masker (the optional ``syncode`` extra).

SynCode pins ``transformers==4.53.2``; lit_coderl runs on transformers 5.x, so it is installed with
``pip install --no-deps syncode==0.4.16`` on top of the ``syncode`` extra (its real runtime needs: ``interegular``,
``regex``, ``tqdm``). ``import syncode`` itself also imports SynCode's evaluation code (``datasets``, ``fire``,
``jsonschema``); `load_syncode` avoids that by registering the installed package without running its
``__init__`` and importing only the grammar-mask modules. See ``docs/syntax.md``.

Mask stores are cached under ``<cache_dir>/<vocab hash>/`` (SynCode's own key, tokenizer class name + vocab size,
lets two different tokenizers of the same size share one store).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch

SYNCODE_VERSION = "0.4.16"
CACHE_ENV = "LIT_CODERL_SYNCODE_CACHE"
INSTALL_HINT = (
    "the SynCode syntax backend needs the optional 'syncode' extra: "
    f"pip install 'lit_coderl[syncode]' && pip install --no-deps syncode=={SYNCODE_VERSION} "
    "(see docs/syntax.md)"
)

_LOCK = threading.Lock()
_ENGINES: dict[tuple[str, str, str], SyncodeChecker] = {}


class SyncodeUnavailableError(ImportError):
    """SynCode or one of its runtime dependencies is not installed."""


def load_syncode() -> SimpleNamespace:
    """SynCode's grammar-mask modules: ``SyncodeLogitsProcessor``, ``Grammar``, ``common``, ``create_parser``.

    Raises `SyncodeUnavailableError` with the install command when SynCode or a runtime dependency is missing.
    """
    if "syncode" not in sys.modules:
        spec = importlib.util.find_spec("syncode")
        if spec is None or spec.submodule_search_locations is None:
            raise SyncodeUnavailableError(f"syncode is not installed; {INSTALL_HINT}")
        # register the package without executing syncode/__init__.py (it imports the evaluation code: datasets, fire)
        sys.modules["syncode"] = importlib.util.module_from_spec(spec)
    try:
        processor = importlib.import_module("syncode.grammar_mask.logits_processor")
        grammars = importlib.import_module("syncode.parsers.grammars")
        parsers = importlib.import_module("syncode.parsers")
        common = importlib.import_module("syncode.common")
    except ImportError as err:
        raise SyncodeUnavailableError(f"a SynCode runtime dependency is missing ({err}); {INSTALL_HINT}") from err
    try:
        version = importlib.metadata.version("syncode")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if version != SYNCODE_VERSION:
        warnings.warn(
            f"syncode {version} is installed; lit_coderl is tested with {SYNCODE_VERSION} and uses its internals",
            stacklevel=2,
        )
    return SimpleNamespace(
        SyncodeLogitsProcessor=processor.SyncodeLogitsProcessor,
        Grammar=grammars.Grammar,
        common=common,
        create_parser=parsers.create_parser,
    )


def syncode_available() -> bool:
    try:
        load_syncode()
        return True
    except SyncodeUnavailableError:
        return False


def vocab_hash(tokenizer) -> str:
    """A hash of everything the mask store depends on: the vocabulary, special ids, EOS id, class and size."""
    payload = {
        "vocab": sorted(tokenizer.get_vocab().items()),
        "special": sorted(int(i) for i in tokenizer.all_special_ids),
        "eos": tokenizer.eos_token_id,
        "size": tokenizer.vocab_size,
        "class": type(tokenizer).__name__,
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "lit_coderl" / "syncode"


class _RowState:
    """The incremental parser state of one sequence (SynCode keeps one per engine; we swap them in)."""

    def __init__(self, parser) -> None:
        self.parser = parser
        self.start_from: int | None = None


class SyncodeChecker:
    """One SynCode grammar engine (mask store loaded once) serving any number of sequences.

    Use `get` (process-wide cache per tokenizer hash, cache dir and mode) rather than the constructor. Not
    thread-safe: one sequence is processed at a time, with its own parser state swapped into the engine.
    """

    def __init__(self, tokenizer, cache_dir: str | os.PathLike | None = None, mode: str = "grammar_mask") -> None:
        sc = load_syncode()
        self._sc = sc
        self.tokenizer = tokenizer
        self.mode = mode
        self.key = vocab_hash(tokenizer)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.store_dir = self.cache_dir / self.key
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.grammar = sc.Grammar("python")
        with self._cache_env():
            self.processor = sc.SyncodeLogitsProcessor(
                self.grammar, tokenizer, use_cache=True, parse_output_only=True, mode=mode
            )
        self.engine = self.processor.grammar_engine
        self._free: list[_RowState] = []

    @classmethod
    def get(cls, tokenizer, cache_dir: str | os.PathLike | None = None, mode: str = "grammar_mask") -> SyncodeChecker:
        directory = str(Path(cache_dir) if cache_dir is not None else default_cache_dir())
        key = (vocab_hash(tokenizer), directory, mode)
        with _LOCK:
            if key not in _ENGINES:
                _ENGINES[key] = cls(tokenizer, directory, mode)
            return _ENGINES[key]

    def _cache_env(self):
        common = self._sc.common
        directory = str(self.store_dir) + os.sep

        class _Swap:
            def __enter__(self_inner):
                self_inner.old = common.SYNCODE_CACHE
                common.SYNCODE_CACHE = directory

            def __exit__(self_inner, *exc):
                common.SYNCODE_CACHE = self_inner.old
                return False

        return _Swap()

    # -- per-sequence state -------------------------------------------------------------------------------------------

    def new_row(self) -> _RowState:
        """A fresh parser state (reused from finished rows when possible)."""
        if self._free:
            row = self._free.pop()
        else:
            with self._cache_env():
                parser = self._sc.create_parser(
                    self.grammar, parser="lalr", ignore_whitespace=self.engine._ignore_whitespace
                )
            row = _RowState(parser)
        row.parser.reset()
        row.start_from = None
        return row

    def release(self, row: _RowState) -> None:
        self._free.append(row)

    def _enter(self, row: _RowState) -> None:
        self.engine.inc_parser = row.parser
        self.engine.start_from = row.start_from
        self.engine.parse_failed = False

    def _leave(self, row: _RowState) -> None:
        row.start_from = self.engine.start_from

    # -- checks -------------------------------------------------------------------------------------------------------

    def is_valid(self, row: _RowState, prefix_ids: list[int], token: int) -> bool:
        """SynCode's ``is_valid``: may ``token`` follow the code tokens ``prefix_ids``? Rows are fed in order."""
        self._enter(row)
        try:
            return bool(
                self.engine.is_valid(torch.tensor([prefix_ids], dtype=torch.long).reshape(1, -1), torch.tensor([token]))
            )
        finally:
            self._leave(row)

    def flags(self, token_ids: list[int]) -> list[bool]:
        """``is_valid`` of every token of a code token sequence, fed one by one from a fresh state."""
        row = self.new_row()
        try:
            return [self.is_valid(row, token_ids[:k], t) for k, t in enumerate(token_ids)]
        finally:
            self.release(row)

    def accept_mask(self, row: _RowState, prefix_ids: list[int], vocab: int) -> torch.Tensor | None:
        """The tokens SynCode allows after ``prefix_ids`` as a ``[vocab]`` bool mask, or None when it cannot tell (the
        partial code does not parse, or nothing is allowed): generation is then left unconstrained at this step, as
        SynCode itself does."""
        self._enter(row)
        try:
            engine = self.engine
            if engine.start_from is None:
                engine.start_from = 0
            ids = torch.tensor([prefix_ids], dtype=torch.long).reshape(1, -1)
            partial, remainder = engine._get_partial_outputs(ids)[0]
            res, skip = engine._parse_partial_output(0, partial, remainder, accepted_generation=False)
            if skip:
                return None
            mask = engine.dfa_mask_store.get_accept_mask(res).bool()
        finally:
            self._leave(row)
        if not bool(mask.any()):
            return None
        out = torch.zeros(vocab, dtype=torch.bool)
        n = min(vocab, mask.numel())
        out[:n] = mask[:n]
        return out
