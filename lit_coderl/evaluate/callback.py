"""`MBPPPassAt1`: MBPP pass@1 of the policy being trained, every N iterations, logged with the training metrics.

Switch it on in YAML (benchmark data as for ``evaluate``: ``fit --data-dir``, ``LIT_CODERL_DATA_DIR``, the cache)::

    trainer:
      callbacks+:
        - class_path: lit_coderl.evaluate.callback.MBPPPassAt1
          init_args: {every_n_iterations: 50, limit: 90}

It generates greedily with the current policy for MBPP's validation split (tasks 511-600: neither the test split
the benchmark reports nor the train split the configs learn from), runs each answer's asserts in the sandbox as
``evaluate mbpp`` does, and logs ``valid/mbpp/pass_at_1`` in the row of that iteration. Single process: under DDP
rank 0 evaluates while the other ranks wait for it at the next iteration.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback


class MBPPPassAt1(Callback):
    """MBPP pass@1 (greedy) on a fixed set of tasks, every ``every_n_iterations`` PPO iterations.

    Args:
        every_n_iterations: Evaluate after every N iterations (and not at all with 0).
        split: MBPP split: ``validation`` (511-600) or ``test`` (11-510; the benchmark itself).
        limit: Only the first N tasks of the split (0: all), to keep the check short.
        max_new_tokens: Generation length per answer.
        batch_size: Prompts per generation batch.
        few_shot: The paper's 3-shot prompt (tasks 2, 3, 4), as ``evaluate mbpp``.
        data_dir: Benchmark data folder (default: resolved as for ``evaluate``).
        workers: Sandbox processes for the asserts.
    """

    def __init__(
        self,
        every_n_iterations: int = 50,
        split: str = "validation",
        limit: int = 0,
        max_new_tokens: int = 512,
        batch_size: int = 8,
        few_shot: bool = True,
        data_dir: str | None = None,
        workers: int = 2,
    ) -> None:
        from lit_coderl.evaluate.mbpp import MBPPEvaluator

        self.every_n_iterations = every_n_iterations
        self.limit, self.max_new_tokens, self.batch_size = limit, max_new_tokens, batch_size
        self.evaluator = MBPPEvaluator(data_dir=data_dir, workers=workers, few_shot=few_shot, split=split)
        self.last: float | None = None
        """The last pass@1 measured."""

    def pass_at_1(self, samples: list[dict[str, Any]]) -> float:
        """The share of samples whose program passes all of its task's asserts (one sample per task)."""
        results = self.evaluator.score(samples)
        return sum(bool(r.get("pass")) for r in results) / max(1, len(results))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        iteration = int(getattr(pl_module, "iteration", trainer.global_step))
        if not self.every_n_iterations or iteration % self.every_n_iterations:
            return
        if trainer.is_global_zero:
            from lit_coderl.evaluate.generate import generate_with

            settings = {"max_new_tokens": self.max_new_tokens, "temperature": 0.0}
            samples = generate_with(
                self.evaluator, pl_module.net.policy, pl_module.tokenizer, settings, self.batch_size, self.limit,
                pl_module.device,
            )  # fmt: skip
            self.last = self.pass_at_1(samples)
            pl_module.log("valid/mbpp/pass_at_1", self.last, on_step=True, rank_zero_only=True, batch_size=1)
