"""User-defined reward components, loaded by ``class_path`` in the integration tests."""

import torch

from lit_coderl.rewards import RewardComponent


class LengthReward(RewardComponent):
    """+1 on every code token: a user's own reward, written in a few lines."""

    default_name = "length"

    def __init__(self, weight: float = 1.0, per_token: float = 1.0) -> None:
        super().__init__(weight)
        self.per_token = per_token
        self.calls = 0

    def score(self, rollout):
        self.calls += 1
        scores = rollout.zeros()
        for i in range(rollout.batch_size):
            scores[i, rollout.code_token_indices(i)] = self.per_token
        return scores

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state_dict):
        self.calls = state_dict["calls"]


class NaNReward(RewardComponent):
    """Returns NaN on every token: the run must survive and count it."""

    default_name = "nan"

    def score(self, rollout):
        return torch.full(rollout.response_ids.shape, float("nan"))


class GradientRecorder(__import__("lightning").pytorch.Callback):
    """Saves the gradients seen at the first optimizer step to ``{path}.rank{r}.pt`` (gradient-equivalence tests)."""

    def __init__(self, path: str) -> None:
        self.path, self.done = path, False

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.done:
            return
        self.done = True
        grads = {}
        for name, param in pl_module.named_parameters():
            grad = param.grad
            if grad is None and param.requires_grad and hasattr(trainer.strategy, "deepspeed_engine"):
                from deepspeed.utils import safe_get_full_grad  # ZeRO keeps gradients partitioned

                grad = safe_get_full_grad(param)
            if grad is not None:
                grads[name] = grad.detach().float().clone()
        torch.save(grads, f"{self.path}.rank{trainer.global_rank}.pt")


class FailingSandboxReward(__import__("lit_coderl.rewards.sandboxed", fromlist=["SandboxedReward"]).SandboxedReward):
    """Stands for a sandboxed component whose sandbox fails before every program (a hidden mount): it records an
    infrastructure error for every sample and scores nothing, as the real components do."""

    default_name = "broken_sandbox"

    def score(self, rollout):
        self.note_infra_errors(["sandbox server died before the program started"] * rollout.batch_size)
        return torch.zeros(rollout.response_ids.shape)
