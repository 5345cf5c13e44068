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
