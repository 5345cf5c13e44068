"""The pieces of one PPO iteration that are plain functions: sequence assembly, response logits and values, and the
tensor assembly from component scores to advantages. `CodeRLModule` composes them; tests drive them directly.

Device rule: rollouts and reward components live on the CPU; everything here moves what it reads to the device of
the tensor it combines it with (the model's for inputs, the mask's for rewards), never the other way round.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from typing import Literal

import torch

from lit_coderl import ppo
from lit_coderl.models import accepts_logits_to_keep
from lit_coderl.ppo import PPOConfig
from lit_coderl.rewards.spans import comment_chars
from lit_coderl.rollout import Rollout
from lit_coderl.sampling import GenerationOptions, policy_logits


def sequence_inputs(rollout: Rollout, idx, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, position_ids)`` of prompt + response for samples ``idx``, on ``device``.

    Left-padded prompts: positions count real tokens only, exactly as the sampler numbered them."""
    response_mask = rollout.response_mask[idx].to(device)
    input_ids = torch.cat([rollout.query_ids[idx].to(device), rollout.response_ids[idx].to(device)], dim=1)
    attention_mask = torch.cat([rollout.query_mask[idx].to(device), response_mask.long()], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


def response_logits_and_values(
    net, rollout: Rollout, idx, device, generation: GenerationOptions, constrain=None, reference: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Forward pass over prompt+response of samples ``idx``: the logits of the distribution each response token was
    drawn from (`sampling.policy_logits`: constraints, temperature, top-k, top-p) and the values, on response tokens.

    ``constrain(logits [b, T, V]) -> logits`` applies the components' `constrain_logits`. ``reference=True`` runs the
    reference model (call it inside ``net.reference_context()``) and returns no values.
    """
    input_ids, attention_mask, position_ids = sequence_inputs(rollout, idx, device)
    q_len, t_len = rollout.query_ids.shape[1], rollout.response_ids.shape[1]
    # only the logits that predict response tokens are projected onto the vocabulary (the last t_len + 1
    # positions, less the final one); the result is the same as slicing the full logits
    keep = t_len + 1 if q_len > 0 else 0
    if reference:
        model = net.reference_model()
        kwargs = {"logits_to_keep": keep} if keep and accepts_logits_to_keep(model) else {}
        out = model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False, **kwargs
        )
        all_logits, all_values = out.logits, None
    else:
        all_logits, all_values = net(input_ids, attention_mask, position_ids, with_values=True, logits_to_keep=keep)
    # the logits at position p predict token p+1, and the value there is the value of the state before it
    response_positions = slice(q_len - 1, q_len + t_len - 1)
    logit_positions = response_positions if all_logits.shape[1] == input_ids.shape[1] else slice(0, t_len)
    sampled = rollout.response_ids[idx].to(device)
    logits = policy_logits(all_logits[:, logit_positions], generation, constrain=constrain, keep=sampled)
    values = None if all_values is None else all_values[:, response_positions]
    return logits, values


def logprobs_values_entropy(forward, rollout: Rollout, chunk: int, device, reference: bool):
    """Log-probs of the sampled tokens under the sampling distribution, in chunks of ``chunk`` samples without
    gradients; unless ``reference``, also the values (None without a critic) and the policy's per-token entropy
    (else None, None).
    ``forward(idx) -> (logits, values)`` is `response_logits_and_values` bound to the module."""
    logprobs, values, entropies = [], [], []
    with torch.no_grad():
        for start in range(0, rollout.batch_size, chunk):
            idx = slice(start, start + chunk)
            logits, v = forward(idx)
            response_ids = rollout.response_ids[idx].to(device)
            if reference:
                logprobs.append(ppo.logprobs_from_logits(logits, response_ids))
                continue
            lp, entropy = ppo.logprobs_and_entropy(logits, response_ids)
            logprobs, values, entropies = [*logprobs, lp], [*values, v], [*entropies, entropy]
    if reference:
        return torch.cat(logprobs), None, None
    values = None if values[0] is None else torch.cat(values)
    return torch.cat(logprobs), values, torch.cat(entropies)


def sampler_logprobs_values_entropy(net, rollout: Rollout, chunk: int, device):
    """Old log-probs, values and entropy taken from the sampling pass instead of a second forward.

    The sampler drew each token from `sampling.policy_logits`, so its log-probs are what a recomputation over the
    whole sequence gives, up to rounding (incremental KV-cache attention vs one pass; ``tests/test_sampling.py``
    bounds the gap). The head critic's values come from the sampler too (``Rollout.sampler_values``); an ``adapter``
    or ``model`` critic runs its own forward, in chunks of ``chunk`` samples without gradients; no critic, no
    values (None)."""
    if rollout.sampler_logprobs is None or rollout.sampler_entropy is None:
        raise ValueError("this rollout has no sampler log-probs (built from texts?): recompute them instead")
    values = rollout.sampler_values
    mask = rollout.response_mask.to(device)
    if net.critic_mode == "none":
        return rollout.sampler_logprobs.to(device), None, rollout.sampler_entropy.to(device)
    if values is None:
        q_len, t_len = rollout.query_ids.shape[1], rollout.response_ids.shape[1]
        chunks = []
        with torch.no_grad():
            for start in range(0, rollout.batch_size, chunk):
                inputs = sequence_inputs(rollout, slice(start, start + chunk), device)
                chunks.append(net.critic_values(*inputs)[:, q_len - 1 : q_len + t_len - 1])
        values = torch.cat(chunks)
    return rollout.sampler_logprobs.to(device), values.to(device) * mask, rollout.sampler_entropy.to(device)


@dataclasses.dataclass
class IterationTensors:
    """Everything between the component scores and the PPO update, on the mask's device."""

    weighted: torch.Tensor
    """``[B, T]`` Σ λ_i · score_i (dense, before placement)."""
    kl: torch.Tensor
    """``[B, T]`` per-token KL estimate (masked)."""
    rewards: torch.Tensor
    """``[B, T]`` per-token rewards R_t."""
    advantages: torch.Tensor
    returns: torch.Tensor
    """``[B, T]`` GAE's returns (the critic's targets), or the reward-to-go under the group estimators."""
    loss_mask: torch.Tensor
    """``[B, T]`` the tokens the loss sees: the response mask, less the zero-spread groups when they are skipped."""
    zero_spread: torch.Tensor | None = None
    """``[B]`` True for samples of groups whose verdicts are all equal (`ppo.zero_spread`; group estimators only)."""


def assemble_rewards(
    scores: dict[str, torch.Tensor],
    sequence_scores: dict[str, torch.Tensor],
    weights: dict[str, float],
    mask: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    values: torch.Tensor | None,
    ended: torch.Tensor | None,
    cfg: PPOConfig,
    placement: Literal["dense", "eos"],
    group_ids: torch.Tensor | None = None,
) -> IterationTensors:
    """Component scores → placed scores → KL (in the reward unless ``cfg.kl_in == "loss"``) → rewards (missing-EOS
    penalty) → advantages: GAE on the critic's ``values`` (whitened), or the group estimators over ``group_ids``.

    Group estimators (`group_advantages`) take their group statistics (GRPO's scale, the zero-spread test) from the
    sequence-level verdicts ``Σ_c λ_c · sequence_score_c`` less the missing-EOS penalty, never from dense returns
    with KL in them.

    ``scores`` ``{name: [B, T]}`` and ``sequence_scores`` ``{name: [B]}`` may live on the CPU (components do); the
    result lives on ``mask``'s device."""
    device = mask.device
    weighted = torch.zeros(mask.shape, dtype=torch.float32, device=device)
    sequence = torch.zeros(mask.shape[0], dtype=torch.float32, device=device)
    for name, weight in weights.items():
        weighted = weighted + weight * scores[name].to(device)
        sequence = sequence + weight * sequence_scores[name].to(device)
    task = ppo.place_scores(weighted, mask, placement, sequence_scores=sequence)
    if cfg.missing_eos_penalty and ended is not None:
        truncated = (~ended.to(device)).float()
        last = ppo.last_token_index(mask)
        task = task.scatter_add(1, last[:, None], (-cfg.missing_eos_penalty * truncated)[:, None]) * mask
        sequence = sequence - cfg.missing_eos_penalty * truncated
    kl = ppo.kl_penalty(old_logprobs, ref_logprobs, cfg.kl_estimator) * mask
    kl_rewards = ppo.total_rewards(torch.zeros_like(task), kl, reward_kl_coef(cfg), mask)
    rewards = task + kl_rewards
    if cfg.whiten_rewards:
        rewards = ppo.masked_whiten(rewards, mask, shift_mean=False)
    if cfg.advantage == "gae":
        advantages, returns = ppo.gae(rewards, values, mask, cfg.gamma, cfg.lam)
        advantages = ppo.masked_whiten(advantages, mask)
        return IterationTensors(weighted, kl, rewards, advantages, returns, mask)
    if group_ids is None:
        raise ValueError(f"advantage: {cfg.advantage} needs a rollout with group ids (generation.samples_per_prompt)")
    group_ids = group_ids.to(device)
    advantages = group_advantages(task, kl_rewards, sequence, mask, group_ids, cfg)
    returns = ppo.returns_to_go(rewards, mask, cfg.gamma)
    flat = ppo.zero_spread(sequence, group_ids)
    loss_mask = mask * (~flat).float()[:, None] if cfg.skip_zero_spread else mask
    return IterationTensors(weighted, kl, rewards, advantages * loss_mask, returns, loss_mask, flat)


def group_advantages(
    task: torch.Tensor,
    kl_rewards: torch.Tensor,
    verdicts: torch.Tensor,
    mask: torch.Tensor,
    group_ids: torch.Tensor,
    cfg: PPOConfig,
) -> torch.Tensor:
    """rloo/grpo advantages ``[B, T]`` from the per-token task rewards ``task`` (placed scores and missing-EOS
    penalty), the per-token KL rewards ``kl_rewards`` (−β·KL_t, zero under ``kl_in: loss``) and the sequence-level
    ``verdicts`` ``[B]``.

    RLOO is linear (no scale): `ppo.rloo_advantages` of their sum. GRPO: the task part is centred by the group and
    scaled by the standard deviation of the verdicts (not scaled where they are all equal, `ppo.zero_spread`); the
    KL part is centred by the same baseline and never scaled, so a per-token KL cannot make a spread, nor be blown
    up by one. With ``kl_in: loss`` (the default of both) and eos placement they are the textbook sequence-level
    RLOO and GRPO of the verdicts."""
    if cfg.advantage == "rloo":
        return ppo.rloo_advantages(task + kl_rewards, mask, group_ids, cfg.gamma, baseline=cfg.group_baseline)[0]
    if cfg.advantage != "grpo":
        raise ValueError(f"unknown advantage estimator {cfg.advantage!r}; expected gae, rloo or grpo")
    advantages, _ = ppo.grpo_advantages(
        task, mask, group_ids, cfg.gamma, cfg.grpo_scale_std, baseline=cfg.group_baseline, verdicts=verdicts
    )
    if bool((kl_rewards != 0).any()):
        kl_part, _ = ppo.grpo_advantages(kl_rewards, mask, group_ids, cfg.gamma, False, baseline=cfg.group_baseline)
        advantages = advantages + kl_part
    return advantages


def reward_kl_coef(cfg: PPOConfig) -> float:
    """β of the KL inside the reward: ``cfg.kl_coef``, or 0 when the KL is a loss term (``kl_in: loss``)."""
    if cfg.kl_in not in ("reward", "loss"):
        raise ValueError(f"kl_in must be 'reward' or 'loss', got {cfg.kl_in!r}")
    return cfg.kl_coef if cfg.kl_in == "reward" else 0.0


def iteration_metrics(
    rollout: Rollout,
    components: list,
    scores: dict[str, torch.Tensor],
    t: IterationTensors,
    values: torch.Tensor | None,
    mask: torch.Tensor,
    cfg: PPOConfig,
    timings: dict[str, float],
    counters: dict[str, float] | None = None,
) -> dict[str, float]:
    """The iteration's logged numbers: objective, rewards per component, rollout shape, timings, throughput, and the
    module's ``counters`` (iteration, skipped updates, ...)."""
    n_tokens = float(mask.sum())
    seq_kl = (t.kl * mask).sum(1)
    metrics = {key: float(value) for key, value in (counters or {}).items()}
    metrics |= {
        "reward/total": float(t.rewards.sum(1).mean()),
        "objective/scores": float(t.weighted.mul(mask).sum(1).mean()),
        "objective/kl": float(seq_kl.mean()),
        "objective/non_score_reward": float((-reward_kl_coef(cfg) * seq_kl).mean()),
        "objective/entropy": float(-(rollout.logprobs * mask).sum(1).mean()),
        "val/num_eos_tokens": float(rollout.ended.sum()) if rollout.ended is not None else 0.0,
        "response/length_mean": n_tokens / rollout.batch_size,
        "code/comment_share": comment_share(rollout),
        "rollout/truncated_prompts": float(rollout.truncated_prompts),
    }
    if values is not None:  # a critic (gae)
        metrics["val/vf_explained_var"] = float(ppo.explained_variance(values, t.returns, mask))
    if t.zero_spread is not None:  # group estimators: share of samples whose group's answers all scored alike
        metrics["advantage/zero_spread"] = float(t.zero_spread.float().mean())
    if rollout.sampler_logprobs is not None:  # 0 when training's log-probs are the sampler's (on-policy)
        gap = (rollout.logprobs.cpu() - rollout.sampler_logprobs).abs() * rollout.response_mask
        metrics["policy/sampler_logprob_gap"] = float(gap.sum() / rollout.response_mask.sum().clamp(min=1))
    for component in components:
        per_seq = scores[component.name].sum(1)
        metrics[f"reward/{component.name}/mean"] = float(per_seq.mean())
        metrics[f"reward/{component.name}/std"] = float(per_seq.std()) if len(per_seq) > 1 else 0.0
        for key, value in component.metrics().items():
            metrics[f"reward/{component.name}/{key}"] = float(value)
    for phase, seconds in timings.items():
        metrics[f"timing/{phase}"] = seconds
    prompt_tokens = float(rollout.query_mask.sum())
    metrics["perf/gen_tokens_per_s"] = n_tokens / max(timings["generate"], 1e-9)
    metrics["perf/train_tokens_per_s"] = (n_tokens + prompt_tokens) * cfg.ppo_epochs / max(timings["update"], 1e-9)
    metrics["perf/samples_per_s"] = rollout.batch_size / max(timings["step"], 1e-9)
    return metrics


def comment_share(rollout: Rollout) -> float:
    """Share of the batch's code characters inside ``#`` comments: a policy paid per token pads with comments."""
    codes = [rollout.code(i) for i in range(rollout.batch_size)]
    total = sum(len(code) for code in codes)
    return sum(comment_chars(code) for code in codes) / total if total else 0.0


@contextmanager
def timed(timings: dict[str, float], phase: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start


def critic_for(cfg: PPOConfig, model, generation):
    """``model`` (`ModelOptions`) with the critic the estimator needs: none under the group baselines (rloo, grpo),
    which also need ``generation.samples_per_prompt ≥ 2``; gae needs one."""
    if cfg.advantage not in ("gae", "rloo", "grpo"):
        raise ValueError(f"unknown ppo.advantage {cfg.advantage!r}; expected gae, rloo or grpo")
    if cfg.advantage == "gae":
        if model.critic == "none":
            raise ValueError("ppo.advantage: gae needs a critic (model.critic: head, adapter or model)")
        return model
    if generation.samples_per_prompt < 2:
        raise ValueError(
            f"ppo.advantage: {cfg.advantage} compares the answers to one prompt: set generation.samples_per_prompt ≥ 2"
        )
    return dataclasses.replace(model, critic="none")


def as_options(cls, value):
    """A dataclass instance from itself or from its dict (hyper-parameters restored from a checkpoint)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, item in value.items():
            nested = getattr(cls(), key, None)
            kwargs[key] = as_options(type(nested), item) if dataclasses.is_dataclass(nested) and key in fields else item
        return cls(**kwargs)
    raise TypeError(f"expected {cls.__name__} or a dict of its fields, got {type(value).__name__}")
