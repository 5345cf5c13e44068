"""`iteration.assemble_rewards`, GAE branch, end to end against a reference written here with Python floats and loops.

Component weights → placement → KL in the reward → missing-EOS penalty on the truncated rows → optional reward
whitening (scale only) → GAE → advantage whitening (centred). Every step of the reference is the textbook formula
(the docstrings of `lit_coderl.ppo`), not a call into it.
"""

from __future__ import annotations

import math

import pytest
import torch

from lit_coderl.iteration import assemble_rewards
from lit_coderl.ppo import PPOConfig

MASK = [[1, 1, 1], [1, 1, 0]]
SCORES = {"a": [[0.5, 0.0, 1.0], [0.2, -0.4, 9.0]], "b": [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]]}
SEQUENCE = {"a": [1.5, 0.3], "b": [1.0, 2.0]}
WEIGHTS = {"a": 2.0, "b": -0.5}
OLD = [[-0.5, -1.0, -0.2], [-0.3, -2.0, 0.0]]
REF = [[-0.7, -0.6, -0.2], [-0.1, -2.5, -4.0]]
VALUES = [[0.3, -0.2, 0.1], [0.5, 0.4, 3.0]]
ENDED = [True, False]  # row 1 was cut at max_new_tokens: it gets the missing-EOS penalty on its last token (t = 1)
BETA, GAMMA, LAM, PENALTY = 0.2, 0.9, 0.8, 1.5


def _k3(r: float) -> float:
    return math.exp(-r) - 1 + r


def _masked_stats(x: list[list[float]]) -> tuple[float, float]:
    """Mean and Bessel-corrected variance of the masked-in entries."""
    items = [x[i][t] for i in range(2) for t in range(3) if MASK[i][t]]
    mean = sum(items) / len(items)
    return mean, sum((v - mean) ** 2 for v in items) / (len(items) - 1)


def _reference(placement: str, whiten_rewards: bool):
    weighted = [[sum(WEIGHTS[n] * SCORES[n][i][t] for n in WEIGHTS) for t in range(3)] for i in range(2)]
    if placement == "dense":
        placed = [[weighted[i][t] * MASK[i][t] for t in range(3)] for i in range(2)]
    else:  # each row's weighted sequence score on its last real token
        seq = [sum(WEIGHTS[n] * SEQUENCE[n][i] for n in WEIGHTS) for i in range(2)]
        placed = [[seq[i] if t == sum(MASK[i]) - 1 else 0.0 for t in range(3)] for i in range(2)]
    kl = [[_k3(OLD[i][t] - REF[i][t]) * MASK[i][t] for t in range(3)] for i in range(2)]
    rewards = [[(placed[i][t] - BETA * kl[i][t]) * MASK[i][t] for t in range(3)] for i in range(2)]
    for i in range(2):
        if not ENDED[i]:
            rewards[i][sum(MASK[i]) - 1] -= PENALTY
    if whiten_rewards:  # rescaled, mean kept
        mean, var = _masked_stats(rewards)
        rewards = [[((rewards[i][t] - mean) / math.sqrt(var + 1e-8) + mean) * MASK[i][t] for t in range(3)]
                   for i in range(2)]
    raw = [[0.0] * 3 for _ in range(2)]
    for i in range(2):
        n = sum(MASK[i])
        running = 0.0
        for t in reversed(range(n)):
            next_value = VALUES[i][t + 1] if t + 1 < n else 0.0
            delta = rewards[i][t] + GAMMA * next_value - VALUES[i][t]
            running = delta + GAMMA * LAM * running
            raw[i][t] = running
    returns = [[(raw[i][t] + VALUES[i][t]) * MASK[i][t] for t in range(3)] for i in range(2)]
    mean, var = _masked_stats(raw)
    advantages = [[(raw[i][t] - mean) / math.sqrt(var + 1e-8) * MASK[i][t] for t in range(3)] for i in range(2)]
    return weighted, kl, rewards, advantages, returns


def _run(placement: str, whiten_rewards: bool, ended: list[bool] | None = ENDED):
    cfg = PPOConfig(advantage="gae", kl_in="reward", kl_coef=BETA, kl_estimator="k3", gamma=GAMMA, lam=LAM,
                    missing_eos_penalty=PENALTY, whiten_rewards=whiten_rewards)
    tensor = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    return assemble_rewards(
        {n: tensor(s) for n, s in SCORES.items()}, {n: tensor(s) for n, s in SEQUENCE.items()}, WEIGHTS,
        tensor(MASK), tensor(OLD), tensor(REF), tensor(VALUES), None if ended is None else torch.tensor(ended), cfg,
        placement,
    )


def close(actual: torch.Tensor, expected) -> None:
    torch.testing.assert_close(actual.double(), torch.tensor(expected, dtype=torch.float64), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("whiten_rewards", [False, True])
@pytest.mark.parametrize("placement", ["dense", "eos"])
def test_gae_branch_matches_the_reference(placement, whiten_rewards):
    out = _run(placement, whiten_rewards)
    weighted, kl, rewards, advantages, returns = _reference(placement, whiten_rewards)
    close(out.weighted, weighted)
    close(out.kl, kl)
    close(out.rewards, rewards)
    close(out.returns, returns)
    close(out.advantages, advantages)
    close(out.loss_mask, MASK)
    assert out.zero_spread is None


def test_missing_eos_penalty_lands_on_the_truncated_rows_last_token_only():
    # the same batch with both rows ended, minus the batch with row 1 truncated: −PENALTY at row 1, t = 1, nowhere else
    diff = _run("dense", False).rewards - _run("dense", False, ended=[True, True]).rewards
    close(diff, [[0.0, 0.0, 0.0], [0.0, -PENALTY, 0.0]])


def test_whitened_advantages_have_zero_mean_and_unit_variance():
    adv = _run("dense", False).advantages
    items = adv[torch.tensor(MASK, dtype=torch.bool)].double()
    assert items.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert items.var().item() == pytest.approx(1.0, abs=1e-5)


def test_whitened_rewards_keep_their_mean():
    raw, whitened = _run("dense", False).rewards, _run("dense", True).rewards
    keep = torch.tensor(MASK, dtype=torch.bool)
    assert whitened[keep].mean().item() == pytest.approx(raw[keep].mean().item(), abs=1e-6)
    assert whitened[keep].var().item() == pytest.approx(1.0, abs=1e-5)
    assert whitened[~keep].abs().max().item() == 0.0


def test_without_ended_flags_no_penalty_is_applied():
    # a rollout without EOS information (built from texts): nothing is known to be truncated
    diff = _run("dense", False, ended=None).rewards - _run("dense", False, ended=[True, True]).rewards
    close(diff, [[0.0] * 3, [0.0] * 3])


# ---------------------------------------------------------------------------------------------------------------------
# the group branch: rloo and grpo over two prompts with two answers each (no critic)

G_REWARDS = [[0.0, 1.0], [0.0, 3.0], [0.5, 0.5], [0.5, 0.5]]  # group 1's answers score alike (zero spread)
G_IDS = [7, 7, 3, 3]
G_VERDICTS = [sum(r) for r in G_REWARDS]  # each answer's sequence score: its verdict, what GRPO scales by


def _group_run(advantage: str, skip_zero_spread: bool):
    cfg = PPOConfig(advantage=advantage, kl_in="loss", kl_coef=0.5, kl_estimator="k3", gamma=0.5,
                    missing_eos_penalty=0.0, whiten_rewards=False, group_baseline="position", grpo_scale_std=True,
                    skip_zero_spread=skip_zero_spread)
    scores = torch.tensor(G_REWARDS)
    zeros = torch.zeros(4, 2)
    return assemble_rewards({"a": scores}, {"a": torch.tensor(G_VERDICTS)}, {"a": 1.0}, torch.ones(4, 2), zeros - 1.0,
                            zeros - 3.0, None, None, cfg, "dense", group_ids=torch.tensor(G_IDS))


def _group_reference(advantage: str):
    to_go = [[r[0] + 0.5 * r[1], r[1]] for r in G_REWARDS]  # γ = 0.5; the KL is in the loss, not the reward
    out = []
    for i in range(4):
        j = i ^ 1  # the other answer to the same prompt
        if advantage == "rloo":
            out.append([to_go[i][t] - to_go[j][t] for t in range(2)])
            continue
        centre = [(to_go[i][t] + to_go[j][t]) / 2 for t in range(2)]
        std = abs(G_VERDICTS[i] - G_VERDICTS[j]) / math.sqrt(2)  # of the verdicts, Bessel-corrected over 2
        scale = 1.0 if std < 1e-6 else std + 1e-4
        out.append([(to_go[i][t] - centre[t]) / scale for t in range(2)])
    return to_go, out


@pytest.mark.parametrize("skip_zero_spread", [False, True])
@pytest.mark.parametrize("advantage", ["rloo", "grpo"])
def test_group_branch_matches_the_reference(advantage, skip_zero_spread):
    out = _group_run(advantage, skip_zero_spread)
    to_go, expected = _group_reference(advantage)
    keep = [[0.0, 0.0] if skip_zero_spread and i >= 2 else [1.0, 1.0] for i in range(4)]
    close(out.returns, to_go)
    close(out.advantages, [[expected[i][t] * keep[i][t] for t in range(2)] for i in range(4)])
    close(out.loss_mask, keep)
    assert out.zero_spread.tolist() == [False, False, True, True]
    close(out.rewards, G_REWARDS)  # kl_in: loss leaves the reward alone
    close(out.kl, [[_k3(2.0)] * 2] * 4)  # still measured: old − ref = 2
    close(out.weighted, G_REWARDS)


def test_group_branch_errors():
    cfg = PPOConfig(advantage="rloo")
    args = ({"a": torch.zeros(2, 1)}, {"a": torch.zeros(2)}, {"a": 1.0}, torch.ones(2, 1), torch.zeros(2, 1),
            torch.zeros(2, 1), None, None)
    with pytest.raises(ValueError, match=r"^advantage: rloo needs a rollout with group ids"):
        assemble_rewards(*args, cfg, "dense")
    with pytest.raises(ValueError, match=r"^unknown advantage estimator 'ppo'; expected gae, rloo or grpo$"):
        assemble_rewards(*args, PPOConfig(advantage="ppo"), "dense", group_ids=torch.tensor([0, 0]))


@pytest.mark.parametrize(("advantage", "expected"), [
    ("rloo", [[2.0, 0.5], [-2.0, -1.5]]),  # G_t^i − G_0^j
    ("grpo", [[1.0, -0.5], [-1.0, -0.5]]),  # G_t^i − mean_j G_0^j (1.5), not scaled
])
def test_group_branch_sequence_baseline_unscaled(advantage, expected):
    # group 0: G (γ = 0.5) = [2.5, 1] and [0.5, 1]: equal at t = 1 only, so it has spread, and its sequence
    # baseline (1.5) is not its position baseline at t = 1 (1); group 1 scores alike (zero spread, skipped)
    rewards = torch.tensor([[2.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 0.0]])
    cfg = PPOConfig(advantage=advantage, kl_in="loss", kl_coef=0.0, kl_estimator="k3", gamma=0.5,
                    missing_eos_penalty=0.0, group_baseline="sequence", grpo_scale_std=False, skip_zero_spread=True)
    zeros = torch.zeros(4, 2)
    verdicts = rewards.sum(1)  # [3, 1, 2, 2]: group 1's answers score alike
    out = assemble_rewards({"a": rewards}, {"a": verdicts}, {"a": 1.0}, torch.ones(4, 2), zeros, zeros, None,
                           None, cfg, "dense", group_ids=torch.tensor([0, 0, 1, 1]))
    assert out.zero_spread.tolist() == [False, False, True, True]
    close(out.loss_mask, [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    close(out.advantages, [expected[0], expected[1], [0.0, 0.0], [0.0, 0.0]])
