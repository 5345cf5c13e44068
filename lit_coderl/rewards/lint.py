"""`LintReward`: Ruff diagnostics on the generated code, each mapped to the tokens of its span.

One Ruff process checks the whole batch (a file per sample, JSON output). Each diagnostic's (row, column)–(end row,
end column) span becomes a character span of the response and then the tokens that overlap it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from lit_coderl.rewards.base import RewardComponent
from lit_coderl.rewards.spans import LineIndex, SpreadMode, char_span_to_tokens, spread
from lit_coderl.rollout import Rollout


def ruff_executable() -> str:
    """The Ruff binary of the installed ``ruff`` package, else the one on PATH."""
    try:
        from ruff.__main__ import find_ruff_bin

        return os.fsdecode(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise FileNotFoundError("Ruff is not installed: `pip install ruff`") from None
        return found


def run_ruff(
    codes: list[str], select: list[str], ignore: list[str], builtins: list[str], timeout_s: float = 60.0
) -> list[list[dict]]:
    """Ruff's JSON diagnostics for each code string (one process for all of them)."""
    results: list[list[dict]] = [[] for _ in codes]
    with tempfile.TemporaryDirectory(prefix="lit_coderl_ruff_") as tmp:
        paths = []
        for i, code in enumerate(codes):
            path = Path(tmp) / f"sample_{i}.py"
            path.write_text(code, encoding="utf-8", errors="replace")
            paths.append(str(path))
        if not paths:
            return results
        cmd = [
            ruff_executable(),
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--isolated",
            "--exit-zero",
            "--select",
            ",".join(select),
        ]
        if ignore:
            cmd += ["--ignore", ",".join(ignore)]
        if builtins:
            cmd += ["--config", f"builtins = {json.dumps(builtins)}"]
        proc = subprocess.run(cmd + paths, capture_output=True, text=True, timeout=timeout_s, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ruff failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        index = {Path(p).name: i for i, p in enumerate(paths)}
        for diag in json.loads(proc.stdout or "[]"):
            i = index.get(Path(diag.get("filename") or "").name)
            if i is not None:
                results[i].append(diag)
    return results


class LintReward(RewardComponent):
    """Penalises the tokens that Ruff's diagnostics point at.

    Args:
        weight: λ of this component.
        select: Ruff rule codes or prefixes to check (Ruff's ``--select``).
        ignore: Rule codes to skip (``S101``: asserts are fine in generated code).
        rule_weights: Per rule-prefix multiplier of ``penalty``; the longest matching prefix wins (e.g. weigh ``E9``
            compile errors above ``B`` bug patterns). Unlisted rules use 1.0.
        spreading: ``sum`` (default, length-neutral): each diagnostic's value is split over the tokens of its span
            (on the last code token when its span has none) and ``clean_bonus`` over the code tokens of a program
            without diagnostics, so the token scores sum to the verdict below. ``constant`` (the paper's): every
            token of a span carries the value (accumulated over overlapping diagnostics, then clamped at ``penalty``
            times the largest rule weight) and every untouched code token ``clean_bonus``: the sum grows with the
            length of spans and programs.
        penalty: Value of a diagnostic (times its rule weight).
        syntax_error_penalty: Value of a syntax error Ruff reports (code that does not parse).
        clean_bonus: Bonus of a program without diagnostics: in total (``sum``) or on every code token that no
            diagnostic touches (``constant``; the paper: 1.0 per token with weight 0.1).
        builtins: Extra names to treat as defined (e.g. the robot API functions a program calls without defining).
        name: Log name.

    Token scores and sequence score (``reward_placement: eos``, TRL's baseline): the sequence score is Ruff's
    verdict on the program, each diagnostic counted once: the sum over its diagnostics of ``penalty`` × rule weight
    (``syntax_error_penalty`` for a syntax error), or ``clean_bonus`` once when there is none (0 without a code
    region). Under ``spreading: sum`` the token scores sum to it. Under ``constant`` they do not: a diagnostic
    scores every token of its span (an unused import of a long dotted name costs more than one of ``os``), and
    ``clean_bonus`` lands on every untouched token, so their sum grows with the length of spans and programs.
    """

    default_name = "lint"

    def __init__(
        self,
        weight: float = 0.1,
        select: list[str] | None = None,
        ignore: list[str] | None = None,
        rule_weights: dict[str, float] | None = None,
        penalty: float = -1.0,
        syntax_error_penalty: float = -1.0,
        clean_bonus: float = 0.0,
        builtins: list[str] | None = None,
        spreading: SpreadMode = "sum",
        name: str | None = None,
    ) -> None:
        super().__init__(weight, name)
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        self.spreading = spreading
        self.select = select if select is not None else ["E9", "F", "B", "S", "PLE"]
        self.ignore = ignore if ignore is not None else ["S101"]
        self.rule_weights = rule_weights or {}
        self.penalty, self.syntax_error_penalty, self.clean_bonus = penalty, syntax_error_penalty, clean_bonus
        self.builtins = builtins or []
        self._stats = {"diagnostics_per_sample": 0.0, "clean_share": 0.0}
        self._executor = None
        self._pending = None

    def rule_weight(self, rule: str | None) -> float:
        if not rule:
            return 1.0
        matches = [p for p in self.rule_weights if rule.startswith(p)]
        return self.rule_weights[max(matches, key=len)] if matches else 1.0

    def submit(self, rollout: Rollout) -> None:
        """Start Ruff on the batch in a background thread (a subprocess: it runs while the model computes)."""
        from concurrent.futures import ThreadPoolExecutor

        codes = [rollout.code(i) for i in range(rollout.batch_size)]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ruff")
        self._pending = (id(rollout), self._executor.submit(run_ruff, codes, self.select, self.ignore, self.builtins))

    def _diagnostics(self, rollout: Rollout) -> list[list[dict]]:
        if self._pending is not None and self._pending[0] == id(rollout):
            future, self._pending = self._pending[1], None
            return future.result()
        self._pending = None
        codes = [rollout.code(i) for i in range(rollout.batch_size)]
        return run_ruff(codes, self.select, self.ignore, self.builtins)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._pending = None

    def diagnostic_value(self, diag: dict) -> float:
        """The penalty of one Ruff diagnostic (its rule's weighted ``penalty``, or ``syntax_error_penalty``)."""
        rule = diag.get("code")
        if rule in (None, "invalid-syntax", "syntax-error"):
            return self.syntax_error_penalty
        return self.penalty * self.rule_weight(rule)

    def score(self, rollout: Rollout) -> torch.Tensor:
        """``[B, T]`` penalties on each diagnostic's tokens; records the per-response verdict (see the class)."""
        scores = rollout.zeros()
        sequence = torch.zeros(rollout.batch_size)  # the verdict, for reward_placement: eos (TRL's baseline)
        diagnostics = self._diagnostics(rollout)
        floor = min(self.penalty * max([1.0, *self.rule_weights.values()]), self.syntax_error_penalty)
        n_diag, n_clean = 0, 0
        for i, diags in enumerate(diagnostics):
            code_tokens = rollout.code_token_indices(i)
            if not code_tokens:
                continue
            code_set = set(code_tokens)
            text, (base, _) = rollout.texts[i], rollout.code_spans[i]
            lines = LineIndex(text, base)
            hit: dict[int, float] = {}
            length = rollout.response_length
            for diag in diags:
                start = lines.char(diag["location"]["row"], diag["location"]["column"])
                end_loc = diag.get("end_location") or diag["location"]
                end = lines.char(end_loc["row"], end_loc["column"])
                value = self.diagnostic_value(diag)
                tokens = char_span_to_tokens(rollout.offsets[i], start, end)
                if self.spreading == "sum":
                    scores[i] += spread(value, [t for t in tokens if t < length] or code_tokens[-1:], length, "sum")
                    continue
                for t in tokens:
                    hit[t] = hit.get(t, 0.0) + value
            sequence[i] = sum(self.diagnostic_value(d) for d in diags) if diags else self.clean_bonus
            n_diag += len(diags)
            n_clean += not diags
            if self.spreading == "sum":
                if not diags:
                    scores[i] = spread(self.clean_bonus, code_tokens, length, "sum")
                continue
            row = scores[i].tolist()  # one tensor write per sample, not one per token
            for t in code_tokens:
                row[t] = max(hit[t], floor) if t in hit else self.clean_bonus
            for t, value in hit.items():  # a span can reach past the code (e.g. end of file): keep the penalty
                if t < len(row) and t not in code_set:
                    row[t] = max(value, floor)
            scores[i] = torch.tensor(row, dtype=scores.dtype)
        self._stats = {
            "diagnostics_per_sample": n_diag / max(1, rollout.batch_size),
            "clean_share": n_clean / max(1, rollout.batch_size),
        }
        self.record_sequence_scores(rollout, sequence)
        return scores

    def metrics(self) -> dict[str, float]:
        return dict(self._stats)
