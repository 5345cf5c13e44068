"""What a checkpoint holds: the trained weights only, and the identity of the base model they were trained on.

The frozen base (and, in full fine-tuning, the frozen reference copy) is rebuilt from ``model.name_or_path`` when a
checkpoint is resumed or exported, so a LoRA checkpoint is the adapter, the value head, the optimizer state, the RNG
and the reward callbacks' state: ~220 MB for Qwen2.5-Coder-1.5B with LoRA r16 instead of ~3.1 GB.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

SAMPLE = 4096
"""Values per frozen tensor that enter the base model's fingerprint."""


def trainable_names(module: nn.Module) -> set[str]:
    """State-dict keys of ``module`` whose parameters are trained (everything else is rebuilt from the base)."""
    return {name for name, param in module.named_parameters() if param.requires_grad}


def base_fingerprint(module: nn.Module) -> str:
    """A hash of the frozen weights' names, shapes, dtypes and an evenly strided sample of their values.

    Cheap (no pass over all 1.5B weights) and it tells two different bases apart; it is not a cryptographic proof
    that every weight is equal."""
    digest = hashlib.sha256()
    for name, param in module.named_parameters():
        if param.requires_grad:
            continue
        flat = param.detach().reshape(-1)
        step = max(1, flat.numel() // SAMPLE)
        values = flat[::step][:SAMPLE].float().cpu()
        digest.update(f"{name}:{tuple(param.shape)}:{param.dtype}".encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()[:16]


def keep_trainable(state_dict: dict[str, torch.Tensor], trainable: set[str]) -> dict[str, torch.Tensor]:
    """The entries of ``state_dict`` that are trained weights."""
    return {key: value for key, value in state_dict.items() if key in trainable}


def check_base(saved: dict | None, current: dict) -> None:
    """Refuse a checkpoint trained on another base model (``saved`` may be absent in old full checkpoints)."""
    if saved and saved.get("fingerprint") != current["fingerprint"]:
        raise ValueError(
            f"the checkpoint was trained on base model {saved.get('name_or_path')!r} (fingerprint "
            f"{saved.get('fingerprint')}), but model.name_or_path {current['name_or_path']!r} loads a different one "
            f"(fingerprint {current['fingerprint']}); resume or export with the checkpoint's base model"
        )


def with_frozen(saved: dict[str, torch.Tensor], current: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A full state dict: the checkpoint's trained weights over the freshly built module's frozen ones."""
    return {**current, **saved}
