"""PPO math for language models, as pure functions on ``[B, T]`` tensors (no Lightning, no models).

Every per-token tensor is aligned on response tokens and comes with a ``mask`` (1.0 on real tokens, 0.0 on padding).
Read top to bottom: statistics → KL → rewards → advantages → losses → diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

KLEstimator = Literal["k1", "k2", "k3"]


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
    """Weight of the value loss in ``policy_loss + vf_coef · value_loss`` (one backward, one optimizer)."""
    gamma: float = 1.0
    """Discount over response tokens (1.0: the episode is one short response)."""
    lam: float = 0.95
    """GAE λ: bias/variance trade-off of the advantage estimate."""
    kl_coef: float = 0.1
    """β: per-token KL-to-reference penalty in the reward, ``R_t −= β · KL_t``."""
    kl_estimator: KLEstimator = "k3"
    """Per-token KL estimator: ``k1`` = log-ratio, ``k2`` = ½·log-ratio², ``k3`` = (e^−r − 1) + r (low variance)."""
    whiten_rewards: bool = False
    """Whiten per-token rewards before GAE (off in the paper)."""
    entropy_coef: float = 0.0
    """Entropy bonus weight in the loss (0: entropy is only logged)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip per optimizer step (0 disables)."""
    missing_eos_penalty: float = 1.0
    """Subtracted from the last token's reward of responses truncated before EOS (TRL's missing_eos_penalty)."""
    log_ratio_clamp: float = 10.0
    """Log-ratios are clamped to ±this before exponentiation, so one bad token cannot overflow the ratio."""


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


# ---------------------------------------------------------------------------------------------------------------------
# losses


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
    log_ratio_clamp: float = 10.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate objective, as a loss to minimise: ``mean(max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)))``.

    Returns the loss and diagnostics: ``approxkl`` (½·mean(log ρ)², as TRL), ``clipfrac`` (share of tokens where the
    clipped branch is active) and ``ratio`` (mean ρ).
    """
    log_ratio = (logprobs - old_logprobs).clamp(-log_ratio_clamp, log_ratio_clamp)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss ``½·mean(max((V − R)², (clip(V, V_old ± ε_v) − R)²))`` and its clip fraction."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
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
    values: torch.Tensor,
    response_ids: torch.Tensor,
    old_logprobs: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cfg: PPOConfig,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of a micro-batch (policy + ``vf_coef`` · value − ``entropy_coef`` · entropy) and its diagnostics,
    from the current logits and values; all other arguments are the micro-batch's rows."""
    logprobs = logprobs_from_logits(logits, response_ids)
    pg_loss, pg_stats = policy_loss(logprobs, old_logprobs, advantages, mask, cfg.clip_range, cfg.log_ratio_clamp)
    vf_loss, vf_stats = value_loss(values, old_values, returns, mask, cfg.clip_range_value)
    loss = pg_loss + cfg.vf_coef * vf_loss
    stats = {}
    if cfg.entropy_coef:  # a full-vocabulary softmax per token: only computed when it is part of the loss
        entropy = masked_mean(entropy_from_logits(logits), mask)
        loss = loss - cfg.entropy_coef * entropy
        stats["loss/entropy_avg"] = entropy.detach()
    return loss, stats | {
        "loss/policy_avg": pg_loss.detach(),
        "loss/value_avg": vf_loss.detach(),
        "loss/total": loss.detach(),
        "policy/approxkl_avg": pg_stats["approxkl"],
        "policy/clipfrac_avg": pg_stats["clipfrac"],
        "val/ratio": pg_stats["ratio"],
        "val/clipfrac_avg": vf_stats["clipfrac"],
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
