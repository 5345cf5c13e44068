"""What a checkpoint holds: the trained weights only, and the identity of the base model they were trained on.

The frozen base (and, in full fine-tuning, the frozen reference copy) is rebuilt from ``model.name_or_path`` when a
checkpoint is resumed or exported, so a LoRA checkpoint is the adapter, the value head, the optimizer state, the RNG
and the reward callbacks' state: ~220 MB for Qwen2.5-Coder-1.5B with LoRA r16 instead of ~3.1 GB (README).

A DeepSpeed checkpoint is a folder (``<name>.ckpt/checkpoint/``: ``mp_rank_00_model_states.pt`` with the weights and
the run state, one ``*_optim_states.pt`` shard per rank); the shipped overlay saves it without the frozen weights
(``exclude_frozen_parameters``). The base model's identity is checked before any weight is restored, whatever the
strategy (`check_before_restore`).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
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


def base_identity(module: nn.Module, name_or_path: str) -> dict:
    """The base model trained weights belong to: its name/path and a fingerprint of the frozen weights (cached)."""
    cached = getattr(module, "_lit_coderl_base_identity", None)
    if cached is None:
        cached = {"name_or_path": name_or_path, "fingerprint": base_fingerprint(module)}
        module._lit_coderl_base_identity = cached
    return cached


def save_state(module, checkpoint: dict, counters: dict) -> None:
    """Keep only the trained weights in ``checkpoint`` and add the run's counters, RNG state and base identity.

    Every rank samples from its own random stream, and only rank 0 writes the file: ``rng_per_rank`` holds every
    rank's state (gathered here, on every rank), ``rng`` rank 0's."""
    from lit_coderl.ranks import gather

    if "state_dict" in checkpoint:  # absent under DeepSpeed, which writes its own files
        checkpoint["state_dict"] = keep_trainable(checkpoint["state_dict"], trainable_names(module))
    identity = base_identity(module, module.model_options.name_or_path)
    states = gather(get_rng_state())
    checkpoint["lit_coderl"] = counters | {"rng": states[0], "rng_per_rank": states, "base_model": identity}


def load_state(module, checkpoint: dict) -> dict:
    """Check the checkpoint's base model, complete its state dict with the rebuilt base; returns its run state."""
    from lit_coderl.ranks import global_rank, world_size

    state = dict(checkpoint.get("lit_coderl", {}))
    check_base(state.get("base_model"), base_identity(module, module.model_options.name_or_path))
    per_rank = state.get("rng_per_rank")
    if per_rank and len(per_rank) == world_size():
        state["rng"] = per_rank[global_rank()]
    elif global_rank() > 0:  # another process count: these ranks continue on their own fresh streams
        state["rng"] = None
    if "state_dict" in checkpoint:
        checkpoint["state_dict"] = with_frozen(checkpoint["state_dict"], module.state_dict())
    return state


DEEPSPEED_STATES = Path("checkpoint") / "mp_rank_00_model_states.pt"
"""Inside a DeepSpeed checkpoint folder (Lightning saves with tag ``checkpoint``): the weights and the run state."""


def is_deepspeed_checkpoint(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / DEEPSPEED_STATES).is_file()


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint's dict, memory-mapped (nothing is copied until read): a ``.ckpt`` file, or a DeepSpeed folder's
    ``mp_rank_00_model_states.pt`` (its weights under ``module``, the run state beside them)."""
    path = Path(path)
    if path.is_dir():
        if not is_deepspeed_checkpoint(path):
            raise FileNotFoundError(f"{path} is a folder but not a DeepSpeed checkpoint (no {DEEPSPEED_STATES} in it)")
        path = path / DEEPSPEED_STATES
    elif not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def check_before_restore(strategy, module) -> None:
    """Make ``strategy.load_checkpoint`` refuse a checkpoint of another base model before it loads anything.

    Lightning restores weights inside ``strategy.load_checkpoint`` under DeepSpeed (the engine loads them before
    any hook sees the checkpoint), and after ``on_load_checkpoint`` otherwise; checking here covers both. Under
    DeepSpeed the frozen weights are not in the checkpoint, so the module's state is loaded non-strictly, and the
    trained weights are checked to be all there instead."""
    if getattr(strategy, "_lit_coderl_checks_base", False):
        return
    load = strategy.load_checkpoint
    deepspeed = hasattr(strategy, "deepspeed_engine") or type(strategy).__name__.startswith("DeepSpeed")
    if deepspeed:
        module.strict_loading = False

    def checked_load(checkpoint_path, *args, **kwargs):
        if "://" in str(checkpoint_path):  # remote (fsspec): on_load_checkpoint checks once it is loaded
            return load(checkpoint_path, *args, **kwargs)
        saved = read_checkpoint(checkpoint_path)
        current = base_identity(module, module.model_options.name_or_path)
        check_base(saved.get("lit_coderl", {}).get("base_model"), current)
        if deepspeed and isinstance(saved.get("module"), dict):
            missing = sorted(trainable_names(module) - set(saved["module"]))
            if missing:
                raise ValueError(f"{checkpoint_path} lacks trained weights of this model, e.g. {missing[:3]}")
        del saved
        return load(checkpoint_path, *args, **kwargs)

    strategy.load_checkpoint = checked_load
    strategy._lit_coderl_checks_base = True
    if deepspeed:
        save = strategy.save_checkpoint

        def trained_only_save(*args, **kwargs):
            # DeepSpeed's exclude_frozen_parameters misses frozen weights tied to another (a tied LM head: 233M
            # parameters at 1.5B): the module's state_dict itself leaves them out while DeepSpeed saves
            module._lit_coderl_trained_only = True
            try:
                return save(*args, **kwargs)
            finally:
                module._lit_coderl_trained_only = False

        strategy.save_checkpoint = trained_only_save


def drop_frozen_hook(module, state_dict, prefix, local_metadata) -> None:
    """A ``state_dict`` post-hook: while ``module._lit_coderl_trained_only`` is set, only trained weights remain."""
    if getattr(module, "_lit_coderl_trained_only", False):
        trained = {prefix + name for name in trainable_names(module)}
        for key in [k for k in state_dict if k not in trained]:
            del state_dict[key]


def get_rng_state() -> dict:
    # only tensors and Python primitives: Lightning loads checkpoints with weights_only=True
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
