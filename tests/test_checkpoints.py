"""Checkpoints hold the trained weights only (with optimizer, RNG, callbacks, base identity); `last` links."""

from __future__ import annotations

import shutil

import pytest
import torch

from lit_coderl.checkpoints import check_base, keep_trainable, with_frozen
from lit_coderl.cli import main
from lit_coderl.export import export_checkpoint
from tests.test_module import write_config


def test_trainable_entries_are_kept_and_frozen_ones_restored():
    state = {"base.w": torch.ones(2), "lora_A": torch.zeros(1), "value_head.b": torch.ones(1)}
    saved = keep_trainable(state, {"lora_A", "value_head.b"})
    assert list(saved) == ["lora_A", "value_head.b"]
    fresh = {"base.w": torch.full((2,), 5.0), "lora_A": torch.full((1,), 7.0), "value_head.b": torch.zeros(1)}
    restored = with_frozen(saved, fresh)
    assert restored["base.w"].tolist() == [5.0, 5.0] and restored["lora_A"].tolist() == [0.0]


def test_another_base_is_refused():
    check_base(None, {"name_or_path": "x", "fingerprint": "a"})  # old checkpoints carry no identity
    with pytest.raises(ValueError, match=r"trained on base model 'x'.*fingerprint a.*'y'.*fingerprint b"):
        check_base({"name_or_path": "x", "fingerprint": "a"}, {"name_or_path": "y", "fingerprint": "b"})


def _fit(tmp_path, model_dir):
    callbacks = [
        {"class_path": "lit_coderl.rewards.syntax.SyntaxReward"},
        {
            "class_path": "lit_coderl.callbacks.IterationCheckpoint",
            "init_args": {"every_n_iterations": 1, "dirpath": str(tmp_path / "ckpt")},
        },
    ]
    main(["fit", "--config", str(write_config(tmp_path, model_dir, **{"trainer.callbacks": callbacks}))])
    return tmp_path / "ckpt"


def test_lora_checkpoint_is_the_adapter_and_last_is_a_link(tmp_path, random_model_dir):
    ckpt_dir = _fit(tmp_path, random_model_dir)
    last = ckpt_dir / "last.ckpt"
    assert last.is_symlink() and last.resolve().name == "iter-2.ckpt"
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["iter-2.ckpt", "last.ckpt"]
    checkpoint = torch.load(last, weights_only=True)
    keys = list(checkpoint["state_dict"])
    assert keys and all("lora_" in k or "value_head" in k for k in keys)
    assert checkpoint["optimizer_states"] and checkpoint["lit_coderl"]["rng"]
    base = checkpoint["lit_coderl"]["base_model"]
    assert base["name_or_path"] == str(random_model_dir) and len(base["fingerprint"]) == 16
    out = export_checkpoint(last, tmp_path / "export")
    assert (out / "adapter_config.json").exists() and (out / "value_head.pt").exists()

    # a different base under the same path is refused
    other = tmp_path / "other-base"
    shutil.copytree(random_model_dir, other)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(other)
    with torch.no_grad():
        model.model.embed_tokens.weight.add_(1.0)
    model.save_pretrained(other)
    checkpoint["hyper_parameters"]["model"]["name_or_path"] = str(other)
    torch.save(checkpoint, tmp_path / "moved.ckpt")
    with pytest.raises(ValueError, match="loads a different one"):
        export_checkpoint(tmp_path / "moved.ckpt", tmp_path / "export2")
