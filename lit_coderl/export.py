"""``python -m lit_coderl export --ckpt_path CKPT --out DIR [--merge]``: a checkpoint to a Hugging Face model dir.

Without ``--merge`` a LoRA run is written as an adapter dir (``adapter_config.json`` naming its base model), which
``AutoModelForCausalLM.from_pretrained(DIR)`` loads when peft is installed; with ``--merge`` the adapter is folded into
the base weights and a plain model dir is written. The tokenizer and the value head (``value_head.pt``; none without a
critic: rloo, grpo) go alongside. ``CKPT`` is a ``.ckpt`` file or a DeepSpeed checkpoint folder (``iter-N.ckpt/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def load_checkpoint_module(ckpt_path: str | Path):
    """The `CodeRLModule` of a checkpoint written by ``fit`` (a ``.ckpt`` file or a DeepSpeed checkpoint folder):
    its base rebuilt from ``model.name_or_path``, the trained weights (LoRA adapter and value head, or all weights)
    loaded over it."""
    from lit_coderl import checkpoints
    from lit_coderl.module import CodeRLModule

    ckpt_path = Path(ckpt_path)
    try:
        checkpoint = checkpoints.read_checkpoint(ckpt_path)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        raise ValueError(f"{ckpt_path} is not a checkpoint written by fit ({type(err).__name__}: {reason})") from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{ckpt_path} is not a lit_coderl checkpoint (not a checkpoint dict)")
    if "module" in checkpoint and "state_dict" not in checkpoint:  # DeepSpeed: its weights (trained ones only
        checkpoint = {**checkpoint, "state_dict": dict(checkpoint["module"])}  # with exclude_frozen_parameters)
    hparams = checkpoint.get("hyper_parameters")
    if not hparams or "model" not in hparams or "state_dict" not in checkpoint:
        raise ValueError(f"{ckpt_path} is not a lit_coderl checkpoint (no model hyper-parameters)")
    module = CodeRLModule(**hparams)  # the base model is rebuilt from model.name_or_path
    module.on_load_checkpoint(checkpoint)  # checks the base's identity, adds its frozen weights
    module.load_state_dict(checkpoint["state_dict"])
    return module


def export_checkpoint(ckpt_path: str | Path, out: str | Path, merge: bool = False) -> Path:
    """Write the policy of a lit_coderl checkpoint to ``out`` and return it."""
    out = Path(out)
    module = load_checkpoint_module(ckpt_path)
    policy = module.net.policy
    out.mkdir(parents=True, exist_ok=True)
    if module.net.uses_adapter and merge:
        policy = policy.merge_and_unload()
    policy.save_pretrained(out)
    module.tokenizer.save_pretrained(out)
    if module.net.value_head is not None:  # no critic under rloo / grpo
        torch.save(module.net.value_head.state_dict(), out / "value_head.pt")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lit_coderl export", description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint of fit (a file or a DeepSpeed folder)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--merge", action="store_true", help="fold the LoRA adapter into the base weights")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.ckpt_path, args.out, args.merge)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
