"""PPO math for language models, as pure functions on ``[B, T]`` tensors (no Lightning, no models).

Every per-token tensor is aligned on response tokens and comes with a ``mask`` (1.0 on real tokens, 0.0 on padding).
Read top to bottom: statistics → KL → rewards → advantages → losses → diagnostics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import torch

KLEstimator = Literal["k1", "k2", "k3"]
Advantage = Literal["gae", "rloo", "grpo"]
KLPlacement = Literal["reward", "loss"]
LossAggregation = Literal["token_mean", "seq_mean_token_mean", "token_sum_norm"]
GroupBaseline = Literal["position", "sequence"]
ZERO_SPREAD_RTOL = 1e-5
"""A group has zero spread (all K answers got the same verdict) when the standard deviation of its verdicts is at
most ``ZERO_SPREAD_RTOL · mean |verdict| + ZERO_SPREAD_ATOL``: relative, so verdicts equal up to float rounding
(a sum of weighted components, 7.0 vs 7.0000005) count as equal at any scale."""
ZERO_SPREAD_ATOL = 1e-8
"""The absolute part of the zero-spread threshold (verdicts all 0)."""


@dataclass
class PPOConfig:
    """PPO hyper-parameters (defaults: the paper's released configuration where it has one, else TRL's)."""

    ppo_epochs: int = 4
    """Passes over each rollout batch."""
    minibatch_size: int = 8
    """Samples per optimizer step (the rollout batch is split into minibatches)."""
    micro_batch_size: int | None = None
    """Samples per backward pass; a minibatch's gradient is accumulated over its micro-batches (None: one pass).
    Lowers activation memory without changing the update."""
    clip_range: float = 0.2
    """ε of the clipped surrogate: the policy ratio is clipped to [1 − ε, 1 + ε]."""
    clip_range_value: float = 0.3
    """Value predictions may move at most this far from the rollout's values before the loss is clipped."""
    vf_coef: float = 1.0
    """Weight of the value loss in ``policy_loss + vf_coef · value_loss`` (one backward, one optimizer). The value
    loss never reaches the policy's weights: the head critic reads the policy's hidden states detached, the adapter
    and model critics have weights of their own, and gradients are clipped per parameter group
    (`optim.clip_gradients`). So ``vf_coef`` only scales the critic's gradient (with AdamW, hardly its step, which
    ``value_learning_rate`` sets)."""
    gamma: float = 1.0
    """Discount over response tokens (1.0: the episode is one short response)."""
    lam: float = 0.95
    """GAE λ: bias/variance trade-off of the advantage estimate."""
    kl_coef: float = 0.1
    """β of the KL to the reference: ``R_t −= β · KL_t`` (``kl_in: reward``) or ``+ β · aggregate(KL_t)`` in the
    loss (``kl_in: loss``)."""
    kl_estimator: KLEstimator | None = None
    """Per-token KL estimator (`kl_penalty`, r = log π − log π_ref): ``k1`` = r, ``k2`` = ½ r², ``k3`` =
    (e^−r − 1) + r. None: ``k1`` in the reward, ``k2`` in the loss, the two whose expected gradient is
    ∇KL(π‖π_ref) (`kl_gradient_note`). In the reward the estimate is a detached reward, so its expected gradient is
    E[k · ∇log π]: k1 gives ∇KL(π‖π_ref) (the paper's Algorithm 1 line 11, TRL's PPO); k3 gives
    ∇[KL(π‖π_ref) − KL(π_ref‖π)] and k2 neither (both warn). In the loss the gradient is E[∇k]: k2 gives
    ∇KL(π‖π_ref); k3 (GRPO's) ∇KL(π_ref‖π), the reverse KL; k1 nothing in expectation (warns)."""
    whiten_rewards: bool = False
    """Whiten per-token rewards before GAE (off in the paper; gae only: the group estimators normalise by group)."""
    entropy_coef: float = 0.0
    """Entropy bonus weight in the loss (0: entropy is only logged)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip per optimizer step and parameter group (policy, value; 0 disables)."""
    missing_eos_penalty: float = 1.0
    """Subtracted from the last token's reward of responses truncated before EOS (TRL's missing_eos_penalty)."""
    log_ratio_clamp: float = 10.0
    """Log-ratios are clamped to ±this before exponentiation, so one bad token cannot overflow the ratio."""
    advantage: Advantage = "gae"
    """Advantage estimator. ``gae``: a learned critic (`gae`, advantages whitened over the batch). ``rloo`` and
    ``grpo``: critic-free group baselines over the ``generation.samples_per_prompt`` answers to each prompt
    (`rloo_advantages`, `grpo_advantages`; no critic is built; group statistics from the sequence-level verdicts,
    `iteration.group_advantages`). With dense rewards each token gets its reward-to-go minus the group baseline
    (``group_baseline``); with ``reward_placement: eos`` and the KL in the loss (their default) they are the
    textbook sequence-level forms."""
    group_baseline: GroupBaseline = "position"
    """rloo/grpo, what a token's reward-to-go is compared with (`baseline_targets`): ``position``, the group's
    reward-to-go at the same position (an answer that ended earlier counts with its last token's); ``sequence``, the
    group's sequence returns. The same under eos placement; under dense rewards ``position`` keeps late tokens of
    good answers from being pushed down because little reward is left after them."""
    grpo_scale_std: bool = True
    """GRPO divides by the group's standard deviation of returns (False: Dr. GRPO's mean-only centring)."""
    skip_zero_spread: bool = False
    """rloo/grpo: groups whose K answers got the same verdict (`zero_spread`) leave the loss (their tokens are
    masked out; DAPO's dynamic-sampling filter without re-sampling). False: they stay, centred and not scaled (0
    under eos placement with the KL in the loss; the task reward-to-go differences under dense placement, plus the
    centred KL reward-to-go when the KL is in the reward)."""
    kl_in: KLPlacement | None = None
    """Where the KL to the reference acts: ``reward`` (``R_t −= β·KL_t``, the critic sees it) or ``loss``
    (``+ β · aggregate(KL_t)`` with the current policy's log-probs and ``kl_estimator``). None: ``reward`` under gae
    (the paper, TRL's PPO), ``loss`` under rloo and grpo (TRL's and verl's GRPO): their advantages are then the task
    verdicts' alone."""
    loss_aggregation: LossAggregation = "token_mean"
    """How per-token losses become one number (`aggregate_tokens`). ``token_mean``: over all tokens of the
    minibatch (DAPO's token-level loss; long answers weigh more). ``seq_mean_token_mean``: each sequence's token
    mean, then the mean over sequences (the GRPO paper's). ``token_sum_norm``: the sum over all tokens divided by a
    constant, sequences × ``loss_norm_tokens`` (Dr. GRPO's; no token's weight depends on any length)."""
    loss_norm_tokens: int | None = None
    """Tokens per sequence in the constant of ``token_sum_norm`` (None: ``generation.max_new_tokens``)."""

    def __post_init__(self) -> None:
        if self.whiten_rewards and self.advantage != "gae":
            raise ValueError("whiten_rewards is for advantage: gae (rloo and grpo normalise within each group)")
        if self.kl_in is None:
            self.kl_in = "reward" if self.advantage == "gae" else "loss"
        if self.kl_in not in ("reward", "loss"):
            raise ValueError(f"kl_in must be 'reward' or 'loss', got {self.kl_in!r}")
        if self.kl_estimator is None:
            self.kl_estimator = "k1" if self.kl_in == "reward" else "k2"
        if self.kl_estimator not in ("k1", "k2", "k3"):
            raise ValueError(f"unknown KL estimator {self.kl_estimator!r}; expected one of k1, k2, k3")
        note = kl_gradient_note(self.kl_estimator, self.kl_in)
        if note and self.kl_coef:
            warnings.warn(note, stacklevel=3)


def kl_gradient_note(estimator: KLEstimator, placement: KLPlacement) -> str | None:
    """Why ``estimator`` at ``placement`` does not give the expected gradient ∇KL(π‖π_ref), or None when it does
    (k1 in the reward, k2 in the loss) or is a documented other regulariser (k3 in the loss: GRPO's reverse KL)."""
    if placement == "reward" and estimator == "k3":
        return (
            "kl_estimator k3 in the reward is biased: as a detached reward its expected gradient is "
            "∇[KL(π‖π_ref) − KL(π_ref‖π)], not ∇KL(π‖π_ref), so the run optimises another objective; use k1 in the "
            "reward (the paper's Algorithm 1, TRL's PPO) or k3/k2 with kl_in: loss"
        )
    if placement == "reward" and estimator == "k2":
        return (
            "kl_estimator k2 in the reward is biased: as a detached reward its expected gradient is not "
            "∇KL(π‖π_ref); use k1 in the reward or k2 with kl_in: loss"
        )
    if placement == "loss" and estimator == "k1":
        return (
            "kl_estimator k1 in the loss has zero expected gradient (E_π[∇log π] = 0): the KL term regularises "
            "nothing; use k2 (∇KL(π‖π_ref)) or k3 (GRPO's, ∇KL(π_ref‖π)) in the loss, or k1 in the reward"
        )
    return None


# ---------------------------------------------------------------------------------------------------------------------
# masked statistics


def masked_sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    return (x * mask).sum() if dim is None else (x * mask).sum(dim)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean over the masked-in entries (0 when nothing is masked in)."""
    count = mask.sum() if dim is None else mask.sum(dim)
    return masked_sum(x, mask, dim) / count.clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance over the masked-in entries, with Bessel's correction by default (as TRL's ``masked_var``)."""
    mean = masked_mean(x, mask)
    sq = masked_mean((x - mean) ** 2, mask)
    if unbiased:  # tensor ops only (no host sync, works on any device)
        n = mask.sum()
        sq = torch.where(n > 1, sq * n / (n - 1).clamp(min=1), sq)
    return sq


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over masked-in entries; padding stays 0. ``shift_mean=False`` only rescales (for rewards)."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


# ---------------------------------------------------------------------------------------------------------------------
# KL to the reference policy


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: KLEstimator = "k1") -> torch.Tensor:
    """Per-token estimate of KL(π ‖ π_ref) from the log-probs of the sampled tokens.

    With ``r = log π − log π_ref`` (http://joschu.net/blog/kl-approx.html): k1 = r (unbiased, can be negative),
    k2 = ½ r², k3 = (e^(−r) − 1) + r (unbiased and ≥ 0).
    """
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; expected one of k1, k2, k3")


# ---------------------------------------------------------------------------------------------------------------------
# rewards


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last masked-in token of each row (0 for an empty row)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return torch.where(mask > 0, positions, torch.zeros_like(positions)).max(dim=1).values


def place_scores(
    scores: torch.Tensor,
    mask: torch.Tensor,
    placement: Literal["dense", "eos"],
    sequence_scores: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token task scores as the reward sees them.

    ``dense`` keeps them where the components put them; ``eos`` puts each sequence's score once on its last response
    token (TRL's baseline): ``sequence_scores`` ``[B]`` (the components' `sequence_score`), or the per-token total.
    """
    scores = scores * mask
    if placement == "dense":
        return scores
    if placement != "eos":
        raise ValueError(f"unknown reward placement {placement!r}; expected dense or eos")
    total = scores.sum(dim=1) if sequence_scores is None else sequence_scores.to(scores)
    placed = torch.zeros_like(scores)
    placed.scatter_(1, last_token_index(mask).unsqueeze(1), total.unsqueeze(1))
    return placed * mask


def total_rewards(scores: torch.Tensor, kl: torch.Tensor, kl_coef: float, mask: torch.Tensor) -> torch.Tensor:
    """``R_t = scores_t − β · KL_t`` on masked-in tokens."""
    return (scores - kl_coef * kl) * mask


# ---------------------------------------------------------------------------------------------------------------------
# advantages


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over per-token rewards.

    ``δ_t = r_t + γ V_{t+1} − V_t`` and ``A_t = δ_t + γλ A_{t+1}``, where the value after the last masked-in token is 0
    (the episode ends with the response). Returns ``(advantages, returns = advantages + values)``, zero on padding.
    """
    rewards, values = rewards * mask, values * mask
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last_adv = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        # mask[t+1] = 0 marks the end of the response: no bootstrap from padding
        next_mask = mask[:, t + 1] if t + 1 < T else torch.zeros_like(mask[:, 0])
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value * next_mask - values[:, t]
        last_adv = delta + gamma * lam * next_mask * last_adv
        advantages[:, t] = last_adv
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def returns_to_go(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """``G_t = Σ_{s≥t} γ^(s−t) r_s`` over masked-in tokens (0 on padding): what follows token t, itself included."""
    rewards = rewards * mask
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out * mask


def group_matrix(group_ids: torch.Tensor) -> torch.Tensor:
    """``[B, B]`` 1.0 where samples i and j answer the same prompt (group ids are any labels, in any order)."""
    return (group_ids[:, None] == group_ids[None, :]).float()


def _group_sizes(same: torch.Tensor) -> torch.Tensor:
    sizes = same.sum(1)
    if bool((sizes < 2).any()):
        raise ValueError("a group baseline needs at least 2 samples per prompt (generation.samples_per_prompt ≥ 2)")
    return sizes


def group_mean_std(returns: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's group mean and standard deviation (Bessel-corrected, as ``torch.std``) of ``returns`` ``[B]``."""
    same = group_matrix(group_ids)
    sizes = _group_sizes(same)
    mean = same @ returns / sizes
    var = same @ (returns - mean) ** 2 / (sizes - 1)
    return mean, var.sqrt()


def zero_spread(verdicts: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """``[B]`` True for the samples of groups whose ``verdicts`` ``[B]`` are all equal: standard deviation at most
    ``ZERO_SPREAD_RTOL · mean |verdict| + ZERO_SPREAD_ATOL`` over the group (relative: rounding never counts as
    spread)."""
    same = group_matrix(group_ids)
    std = group_mean_std(verdicts, group_ids)[1]
    magnitude = same @ verdicts.abs() / _group_sizes(same)
    return std <= ZERO_SPREAD_RTOL * magnitude + ZERO_SPREAD_ATOL


def baseline_targets(to_go: torch.Tensor, mask: torch.Tensor, baseline: GroupBaseline = "position") -> torch.Tensor:
    """``[B, T]`` what each sample contributes to the group baseline of the tokens at position t.

    ``position``: its reward-to-go at t, held at its last token's value past its end (``G_min(t, last)``).
    ``sequence``: its return ``R = G_0`` at every position."""
    if baseline == "sequence":
        return to_go[:, :1].expand_as(to_go)
    if baseline != "position":
        raise ValueError(f"unknown group baseline {baseline!r}; expected position or sequence")
    positions = torch.arange(to_go.shape[1], device=to_go.device).expand_as(to_go)
    held = torch.minimum(positions, last_token_index(mask)[:, None])
    return to_go.gather(1, held)


def rloo_advantages(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group_ids: torch.Tensor,
    gamma: float = 1.0,
    baseline: GroupBaseline = "position",
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE leave-one-out with per-token rewards: ``A_t^i = G_t^i − mean_{j≠i} b_t^j``.

    ``G_t^i`` is sample i's reward-to-go (`returns_to_go`): each token carries the penalties and credits that fall
    at or after it, none from before it. ``b_t^j`` (`baseline_targets`) is, with ``position``, the other answer's
    reward-to-go at the same position (held at its last token past its end): a time-dependent baseline, so a token
    late in a good answer is not pushed down because little reward is left after it; with ``sequence``, the other
    answer's return ``R^j`` at every position. Either way the baseline never depends on sample i's own tokens, so
    the gradient stays unbiased. Under eos placement with γ = 1 and no per-token reward besides the verdicts (the
    KL in the loss) ``G_t^j = R^j`` up to the last token, and both are the sequence-level RLOO of Ahmadian et al.
    (2024), ``R^i − (Σ_j R^j − R^i)/(K−1)``. RLOO has no scale, so it is linear in the rewards: the KL's
    reward-to-go, when the KL is in the reward, is centred the same way.
    Returns ``(advantages, returns-to-go)``, zero on padding."""
    to_go = returns_to_go(rewards, mask, gamma)
    targets = baseline_targets(to_go, mask, baseline)
    same = group_matrix(group_ids)
    sizes = _group_sizes(same)
    others_mean = (same @ targets - targets) / (sizes - 1)[:, None]
    return (to_go - others_mean) * mask, to_go


def grpo_advantages(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group_ids: torch.Tensor,
    gamma: float = 1.0,
    scale_std: bool = True,
    eps: float = 1e-4,
    baseline: GroupBaseline = "position",
    verdicts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group-relative advantages with per-token rewards: ``A_t^i = (G_t^i − mean_j b_t^j) / (std_j V^j + eps)``.

    The centre is the group mean (sample i included, as GRPO) of `baseline_targets`, as in `rloo_advantages`. The
    scale is one number per group, the (Bessel-corrected) standard deviation of its sequence-level ``verdicts``
    ``V`` ``[B]`` (default: the returns ``G_0``): the task verdicts, so that neither per-token KL nor sums that grow
    with length make a spread where the answers scored alike (a per-position spread would also vanish near the ends
    of the answers). A group with zero spread (`zero_spread`: equal verdicts, relative to their size) is centred but
    not scaled: its differences would otherwise be multiplied by 1/eps. ``scale_std=False`` only centres (Dr.
    GRPO). Under eos placement with γ = 1 and ``V = G_0`` this is DeepSeekMath's ``(R^i − mean(R)) / (std(R) + eps)``
    with TRL's ``eps``. Returns ``(advantages, returns-to-go)``, zero on padding."""
    to_go = returns_to_go(rewards, mask, gamma)
    same = group_matrix(group_ids)
    centre = same @ baseline_targets(to_go, mask, baseline) / _group_sizes(same)[:, None]
    centred = to_go - centre
    if scale_std:
        verdicts = to_go[:, 0] if verdicts is None else verdicts.to(to_go)
        std = group_mean_std(verdicts, group_ids)[1]
        scale = torch.where(zero_spread(verdicts, group_ids), torch.ones_like(std), std + eps)
        centred = centred / scale[:, None]
    return centred * mask, to_go


# ---------------------------------------------------------------------------------------------------------------------
# losses


def aggregate_tokens(
    losses: torch.Tensor, mask: torch.Tensor, mode: LossAggregation = "token_mean", norm_tokens: int | None = None
) -> torch.Tensor:
    """One number from per-token ``losses`` ``[B, T]`` (see `PPOConfig.loss_aggregation`).

    ``token_mean``: Σ_{i,t} ℓ / Σ_{i,t} 1. ``seq_mean_token_mean``: mean over sequences with tokens of
    (Σ_t ℓ / n_i). ``token_sum_norm``: Σ_{i,t} ℓ / (sequences with tokens × ``norm_tokens``)."""
    if mode == "token_mean":
        return masked_mean(losses, mask)
    rows = (mask.sum(1) > 0).float()
    if mode == "seq_mean_token_mean":
        return masked_sum(masked_mean(losses, mask, dim=1), rows) / rows.sum().clamp(min=1)
    if mode == "token_sum_norm":
        if not norm_tokens:
            raise ValueError("token_sum_norm needs norm_tokens (ppo.loss_norm_tokens or generation.max_new_tokens)")
        return masked_sum(losses, mask) / (rows.sum().clamp(min=1) * norm_tokens)
    raise ValueError(f"unknown loss aggregation {mode!r}; expected token_mean, seq_mean_token_mean or token_sum_norm")


def aggregation_count(mask: torch.Tensor, mode: LossAggregation) -> torch.Tensor:
    """What `aggregate_tokens` divides by, up to its constant: the tokens (``token_mean``), else the sequences with
    tokens."""
    return mask.sum() if mode == "token_mean" else (mask.sum(1) > 0).sum().float()


def micro_batch_share(micro_mask: torch.Tensor, minibatch_mask: torch.Tensor, mode: LossAggregation) -> torch.Tensor:
    """Weight of a micro-batch's aggregated loss in its minibatch's, so the weighted sum over micro-batches equals
    `aggregate_tokens` over the whole minibatch: its share of the minibatch's `aggregation_count`."""
    return aggregation_count(micro_mask, mode) / aggregation_count(minibatch_mask, mode).clamp(min=1)


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
    log_ratio_clamp: float = 10.0,
    aggregation: LossAggregation = "token_mean",
    norm_tokens: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate objective, as a loss to minimise: ``mean(max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)))``, the mean
    taken by `aggregate_tokens`.

    Returns the loss and diagnostics: ``approxkl`` (½·mean(log ρ)², as TRL), ``clipfrac`` (share of tokens where the
    clipped branch is active) and ``ratio`` (mean ρ).
    """
    log_ratio = (logprobs - old_logprobs).clamp(-log_ratio_clamp, log_ratio_clamp)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = aggregate_tokens(torch.maximum(unclipped, clipped), mask, aggregation, norm_tokens)
    with torch.no_grad():
        stats = {
            "approxkl": 0.5 * masked_mean(log_ratio**2, mask),
            "clipfrac": masked_mean((clipped > unclipped).float(), mask),
            "ratio": masked_mean(ratio, mask),
        }
    return loss, stats


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range_value: float = 0.2,
    aggregation: LossAggregation = "token_mean",
    norm_tokens: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss ``½·mean(max((V − R)², (clip(V, V_old ± ε_v) − R)²))`` (mean: `aggregate_tokens`) and its
    clip fraction."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * aggregate_tokens(torch.maximum(loss_unclipped, loss_clipped), mask, aggregation, norm_tokens)
    with torch.no_grad():
        stats = {"clipfrac": masked_mean((loss_clipped > loss_unclipped).float(), mask)}
    return loss, stats


def minibatches(order: list[int], cfg: PPOConfig) -> list[list[list[int]]]:
    """One epoch's minibatches (one optimizer step each) as lists of micro-batches (one backward each), in ``order``.

    ``minibatch_size`` and ``micro_batch_size`` are capped by the batch and the minibatch; at least 1."""
    mb_size = max(1, min(cfg.minibatch_size, len(order)))
    micro = max(1, min(cfg.micro_batch_size or mb_size, mb_size))
    batches = [order[start : start + mb_size] for start in range(0, len(order), mb_size)]
    return [[mb[k : k + micro] for k in range(0, len(mb), micro)] for mb in batches]


def ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor | None,
    response_ids: torch.Tensor,
    old_logprobs: torch.Tensor,
    old_values: torch.Tensor | None,
    advantages: torch.Tensor,
    returns: torch.Tensor | None,
    mask: torch.Tensor,
    cfg: PPOConfig,
    ref_logprobs: torch.Tensor | None = None,
    norm_tokens: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of a micro-batch (policy + ``vf_coef`` · value + β · KL − ``entropy_coef`` · entropy) and its
    diagnostics, from the current logits and values; all other arguments are the micro-batch's rows.

    ``values=None`` (no critic: rloo, grpo) drops the value loss. The KL term is there when ``cfg.kl_in == "loss"``
    (it needs ``ref_logprobs``). Every term is aggregated by ``cfg.loss_aggregation`` (`aggregate_tokens`)."""
    agg = cfg.loss_aggregation
    logprobs = logprobs_from_logits(logits, response_ids)
    pg_loss, pg_stats = policy_loss(
        logprobs, old_logprobs, advantages, mask, cfg.clip_range, cfg.log_ratio_clamp, agg, norm_tokens
    )
    loss = pg_loss
    stats = {}
    if values is not None:
        vf_loss, vf_stats = value_loss(values, old_values, returns, mask, cfg.clip_range_value, agg, norm_tokens)
        loss = loss + cfg.vf_coef * vf_loss
        stats |= {"loss/value_avg": vf_loss.detach(), "val/clipfrac_avg": vf_stats["clipfrac"]}
    if cfg.kl_in == "loss":
        if ref_logprobs is None:
            raise ValueError("kl_in: loss needs the reference log-probs")
        kl = aggregate_tokens(kl_penalty(logprobs, ref_logprobs, cfg.kl_estimator), mask, agg, norm_tokens)
        loss = loss + cfg.kl_coef * kl
        stats["loss/kl_avg"] = kl.detach()
    if cfg.entropy_coef:  # a full-vocabulary softmax per token: only computed when it is part of the loss
        entropy = aggregate_tokens(entropy_from_logits(logits), mask, agg, norm_tokens)
        loss = loss - cfg.entropy_coef * entropy
        stats["loss/entropy_avg"] = entropy.detach()
    return loss, stats | {
        "loss/policy_avg": pg_loss.detach(),
        "loss/total": loss.detach(),
        "policy/approxkl_avg": pg_stats["approxkl"],
        "policy/clipfrac_avg": pg_stats["clipfrac"],
        "val/ratio": pg_stats["ratio"],
    }


# ---------------------------------------------------------------------------------------------------------------------
# diagnostics


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution at each position: ``−Σ p·log p`` (``-inf`` logits, filtered by top-k
    or top-p, contribute 0)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -_p_log_p(logp).sum(dim=-1)


def _p_log_p(logp: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(logp), logp.exp() * logp, torch.zeros_like(logp))


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 − Var(R − V) / Var(R)`` over masked-in tokens (1 = perfect critic, ≤ 0 = no better than a constant)."""
    var_returns = masked_var(returns, mask)
    if var_returns == 0:
        return torch.tensor(float("nan"))
    return 1.0 - masked_var(returns - values, mask) / var_returns


def logprobs_from_logits(logits: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Log-probability of ``token_ids`` under ``logits`` (``[B, T, V]`` → ``[B, T]``)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)


def logprobs_and_entropy(logits: torch.Tensor, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`logprobs_from_logits` and `entropy_from_logits` from one log-softmax."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1), -_p_log_p(logp).sum(dim=-1)
