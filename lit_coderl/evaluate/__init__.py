"""Benchmarks: ``python -m lit_coderl evaluate KIND --samples FILE.jsonl --out OUT.jsonl [--model PATH]``."""

from __future__ import annotations

import importlib

from lit_coderl.evaluate.base import Evaluator

EVALUATORS: dict[str, str] = {
    "mbpp": "lit_coderl.evaluate.mbpp:MBPPEvaluator",
    "mbppplus": "lit_coderl.evaluate.mbpp:MBPPPlusEvaluator",
    "roboeval": "lit_coderl.evaluate.roboeval:RoboEvalEvaluator",
    "robosim": "lit_coderl.evaluate.robosim:RoboSimEvaluator",
}


def get_evaluator(kind: str) -> type[Evaluator]:
    """The evaluator class registered under ``kind``."""
    if kind not in EVALUATORS:
        raise ValueError(f"unknown benchmark {kind!r}; choose one of {', '.join(sorted(EVALUATORS))}")
    module, _, name = EVALUATORS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


__all__ = ["EVALUATORS", "Evaluator", "get_evaluator"]
