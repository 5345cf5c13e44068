"""Test callbacks for multi-process runs: what each rank sampled, written per rank."""

from __future__ import annotations

import json

import lightning as L


class ResponseRecorder(L.Callback):
    """Appends each iteration's sampled response ids of this rank to ``{path}.rank{r}.jsonl``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        last = getattr(pl_module, "last_iteration", None)
        if not last:
            return
        rollout = last["rollout"]
        ids = [row[mask.bool()].tolist() for row, mask in zip(rollout.response_ids, rollout.response_mask, strict=True)]
        with open(f"{self.path}.rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps({"iteration": pl_module.iteration, "responses": ids}) + "\n")


class PromptReward(__import__("lit_coderl.rewards", fromlist=["RewardComponent"]).RewardComponent):
    """A score per prompt (its task id's characters, mod 10, over 10) on every response token: deterministic, and
    different for the prompts each rank holds, so a metric of one rank's share differs from the global batch's."""

    default_name = "prompt"

    def score(self, rollout):
        scores = rollout.zeros()
        for i, task in enumerate(rollout.tasks):
            scores[i, : int(rollout.response_mask[i].sum())] = (sum(map(ord, str(task["task_id"]))) % 10) / 10
        return scores
