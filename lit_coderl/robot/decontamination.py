"""Decontamination of generated robot tasks against the RoboEval prompts (evaluation-only material).

Robo-Instruct's rule: an instruction whose token-level Levenshtein similarity to a benchmark prompt exceeds 0.6 is
dropped. `Decontaminator` applies it (with a cheap upper bound to skip most comparisons); `load_roboeval_prompts`
reads the 80 prompts through the benchmark data resolution. The prompts are read to keep away from, never emitted.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

DEFAULT_DATA_DIR = "auto"
"""Where the RoboEval prompts for decontamination are looked for: ``"auto"`` is the benchmark data resolution
(`lit_coderl.data.benchmarks`: ``LIT_CODERL_DATA_DIR``, then the user cache; never a download at training time)."""
SIMILARITY_THRESHOLD = 0.6

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (a stand-in for the CodeLlama tokenizer Robo-Instruct used)."""
    return _TOKEN.findall(text.lower())


def token_similarity(a: list[str], b: list[str]) -> float:
    """``1 - levenshtein(a, b) / max(len(a), len(b))`` over token lists (1.0 for two empty lists)."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, token_a in enumerate(a, 1):
        current = [i]
        for j, token_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token_a != token_b)))
        previous = current
    return 1.0 - previous[-1] / longest


def _similarity_bound(a: list[str], b: list[str], b_counts: Counter) -> float:
    """An upper bound of `token_similarity` (edits ≥ max length − shared tokens), cheap to compute."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    shared = sum((Counter(a) & b_counts).values())
    return shared / longest


class Decontaminator:
    """Flags instructions whose token similarity to any reference prompt exceeds a threshold.

    Args:
        references: The prompts to keep away from (the 80 RoboEval prompts).
        threshold: Similarity above which an instruction is contaminated (Robo-Instruct: 0.6).
    """

    def __init__(self, references: list[str], threshold: float = SIMILARITY_THRESHOLD) -> None:
        self.threshold = threshold
        self.references = [(tokens, Counter(tokens)) for tokens in map(tokenize, references)]

    def max_similarity(self, instruction: str) -> float:
        """The highest similarity of ``instruction`` to a reference (0.0 without references)."""
        tokens = tokenize(instruction)
        best = 0.0
        for ref_tokens, ref_counts in self.references:
            if _similarity_bound(tokens, ref_tokens, ref_counts) > best:
                best = max(best, token_similarity(tokens, ref_tokens))
        return best

    def is_contaminated(self, instruction: str) -> bool:
        """Whether some reference is more similar than the threshold (pruned with a cheap upper bound)."""
        tokens = tokenize(instruction)
        return any(
            _similarity_bound(tokens, ref_tokens, ref_counts) > self.threshold
            and token_similarity(tokens, ref_tokens) > self.threshold
            for ref_tokens, ref_counts in self.references
        )


def load_roboeval_prompts(data_dir: Path | str = DEFAULT_DATA_DIR) -> list[str]:
    """The 80 RoboEval prompts (first line of each ``roboeval_data.csv`` row), or ``[]`` when the file is absent
    (with ``"auto"``, a warning saying how to provide it).

    Read for decontamination only: these prompts must never be emitted as training data.
    """
    if data_dir == "auto":
        from lit_coderl.data.benchmarks import resolve_data_dir

        try:
            data_dir = resolve_data_dir("roboeval", fetch=False)
        except FileNotFoundError:
            import warnings

            warnings.warn("RoboEval prompts not found (set LIT_CODERL_DATA_DIR or run `python -m lit_coderl data "
                          "fetch roboeval`): generated robot tasks are not decontaminated against them", stacklevel=2)
            return []
    path = Path(data_dir) / "roboeval" / "roboeval_data.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["prompt_program"].split("\n", 1)[0].strip() for row in csv.DictReader(handle)]
