"""The optimizer: one fused AdamW over the policy and critic, gradient clipping that works under every precision,
and the learning-rate schedule."""

from __future__ import annotations

import math
from typing import Literal

import torch


def all_ranks_true(module, flag: bool) -> bool:
    """Whether ``flag`` holds on every rank (one all-reduce; the flag itself on a single process)."""
    if module._trainer is None or module.trainer.world_size == 1:
        return flag
    count = torch.tensor(0.0 if flag else 1.0, device=module.device)
    return float(module.trainer.strategy.reduce(count, reduce_op="sum")) == 0.0


def rank_share(module, local_count: torch.Tensor) -> torch.Tensor | float:
    """``world_size · local_count / Σ_ranks local_count`` (1 on a single process): weighting each rank's loss by it
    turns the data-parallel mean of per-rank means into one mean over all ranks' tokens (or sequences), DAPO's
    normalisation by the global batch's tokens. One all-reduce."""
    if module._trainer is None or module.trainer.world_size == 1:
        return 1.0
    total = module.trainer.strategy.reduce(local_count.detach().float().clone(), reduce_op="sum")
    return module.trainer.world_size * local_count.detach().float() / total.clamp(min=1)


def refuse_zero3(strategy) -> None:
    config = getattr(strategy, "config", None)
    if isinstance(config, dict) and config.get("zero_optimization", {}).get("stage", 0) >= 3:
        raise ValueError(
            "DeepSpeed ZeRO-3 is not supported: sampling would all-gather the partitioned weights at every "
            "decoding step. Use ZeRO-2 (the shipped strategies/deepspeed_zero2 overlay) or DDP."
        )


def fused_adamw_supported(params: list[torch.Tensor]) -> bool:
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def grad_scaler(module):
    """The precision plugin's gradient scaler (``16-mixed``), or None (``32``, ``bf16-mixed``, no trainer)."""
    if module._trainer is None:
        return None
    return getattr(module.trainer.precision_plugin, "scaler", None)


def build_optimizer(module, policy_params, value_params, lr: float, value_lr: float, weight_decay: float):
    """AdamW with a ``policy`` and (with a critic) a ``value`` parameter group (one optimizer: DeepSpeed supports
    exactly one).

    Fused (one kernel per step: 5.3x faster clip+step than the default on the tiny model on CPU, 2.9x with LoRA;
    what CUDA runs best too) unless a gradient scaler (``16-mixed``) must unscale before clipping."""
    params = policy_params + value_params
    fused = fused_adamw_supported(params) and grad_scaler(module) is None
    groups = [{"params": policy_params, "lr": lr, "name": "policy"}]
    if value_params:  # no critic (rloo, grpo): no value group
        groups.append({"params": value_params, "lr": value_lr, "name": "value"})
    return torch.optim.AdamW(
        groups,
        weight_decay=weight_decay,
        fused=True if fused else None,
    )


def clip_gradients(module, optimizer, max_norm: float) -> None:
    """Clip the gradient norm of each parameter group (policy, value) to ``max_norm`` (`clip_per_group`).

    Without a gradient scaler (``32``, ``bf16-mixed``) the gradients are already unscaled: clip them directly, which
    works with the fused AdamW (Lightning's mixed-precision plugin refuses to clip for fused optimizers). With a
    scaler (``16-mixed``) the plugin unscales first and clips the global norm. Under DeepSpeed Lightning's clipping
    is a no-op: ``gradient_clipping`` in the strategy's config clips the global norm."""
    if grad_scaler(module) is not None or hasattr(module.trainer.model, "set_gradient_accumulation_boundary"):
        module.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")
        return
    clip_per_group(optimizer, max_norm)


def clip_per_group(optimizer, max_norm: float) -> None:
    """Clip each parameter group's gradient norm to ``max_norm`` on its own: a large value-loss gradient (returns
    of O(10–100)) would otherwise shrink the policy's step through one global norm."""
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        if params:
            torch.nn.utils.clip_grad_norm_(params, max_norm)


def lr_factor(iteration: int, warmup: int, total: int, schedule: Literal["constant", "linear", "cosine"]) -> float:
    """Learning-rate multiplier at ``iteration``: linear warm-up to 1 over ``warmup`` iterations, then the schedule's
    decay over the remaining ``total − warmup`` (it starts at 1 where the warm-up ends: no jump)."""
    if warmup and iteration < warmup:
        return (iteration + 1) / warmup
    progress = min(1.0, (iteration - warmup) / max(1, total - warmup))
    if schedule == "linear":
        return 1.0 - progress
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0
