"""The evaluator interface (EvalPlus-style): score given generations, one output line per input, in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

#: no fixed folder: `lit_coderl.data.benchmarks.resolve_data_dir` looks in LIT_CODERL_DATA_DIR, the user cache, then
#: fetches from upstream (``python -m lit_coderl data fetch KIND``)
DEFAULT_DATA_DIR = None


INFRA_ERROR = "infra_error"
"""The status (``status``, ``base_status``, ``plus_status``, ``outcome``) of a sample the sandbox could not run: the
machinery failed before the program started. It is no verdict: left out of pass@1; the command exits non-zero."""


def has_infra_error(row: dict[str, Any]) -> bool:
    """Whether a result line is marked `INFRA_ERROR`."""
    return any(row.get(key) == INFRA_ERROR for key in ("status", "base_status", "plus_status", "outcome"))


class Evaluator(ABC):
    """Scores samples ``{"task_id", "solution", ...}`` of one benchmark.

    Subclasses are registered in ``lit_coderl.evaluate.EVALUATORS`` under their ``kind``. The CLI
    (``python -m lit_coderl evaluate KIND``) reads ``--samples`` (or generates them with ``--model``), calls
    ``score`` and writes one JSON line per input sample, echoing any ``id`` field, then prints ``summary``.
    """

    kind: str = ""
    #: generation defaults for ``--model`` (the paper's inference settings unless a benchmark says otherwise)
    generation: dict[str, Any] = {"temperature": 0.01, "top_p": 0.95, "max_new_tokens": 1024}

    def __init__(
        self, data_dir: Path | str | None = DEFAULT_DATA_DIR, workers: int | None = None, **options: Any
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.options = options

    @property
    def data_dir(self) -> Path:
        """The benchmark's data folder, resolved on first use (explicit folder, env var, user cache, upstream)."""
        if self._data_dir is None:
            from lit_coderl.data.benchmarks import resolve_data_dir

            self._data_dir = resolve_data_dir(self.kind, self._explicit_data_dir)
        return self._data_dir

    @data_dir.setter
    def data_dir(self, value: Path | str | None) -> None:
        self._explicit_data_dir = Path(value).expanduser() if value is not None else None
        self._data_dir = None

    @abstractmethod
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Benchmark tasks by ``task_id``. Raise `FileNotFoundError` with a clear message when data is absent."""

    @abstractmethod
    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]] | str:
        """The prompt for ``--model`` generation: chat messages, or a raw completion-style string."""

    @abstractmethod
    def extract(self, task: dict[str, Any], completion: str) -> str:
        """The solution (code) inside a model completion."""

    @abstractmethod
    def score(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result dict per sample, in order; each keeps ``task_id`` (and ``id`` when given)."""

    @abstractmethod
    def summary(self, results: list[dict[str, Any]]) -> str:
        """A human-readable table of the results."""
