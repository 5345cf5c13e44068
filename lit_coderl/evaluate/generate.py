"""Generating benchmark samples with a model (``evaluate --model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lit_coderl.data.prompts import render_prompt
from lit_coderl.evaluate.base import Evaluator
from lit_coderl.models import _looks_local, load_tokenizer, resolve_model_path
from lit_coderl.sampling import GenerationOptions, eos_token_ids, sample

MODEL_FILES = ("config.json", "adapter_config.json")
"""A model folder holds one of these: a model (``export --merge``, the hub's layout) or a LoRA adapter (``export``)."""

KINDS = "a model folder (`export` writes one), a checkpoint written by fit (.ckpt), a hub id, or `tiny`"


def is_checkpoint(model_path: str) -> bool:
    """Whether ``--model`` names a training checkpoint (a file: model folders and hub ids are not files)."""
    return Path(model_path).expanduser().is_file()


def load_model(model_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """(policy in eval mode on ``device``, tokenizer) from ``--model``.

    A training checkpoint (``iter-N.ckpt``, ``last.ckpt``) holds only the trained weights: its base model is rebuilt
    from the checkpoint's ``model.name_or_path`` and the LoRA adapter (or the full weights) loaded over it, as
    ``export`` does. A folder needs a ``config.json`` (a model) or an ``adapter_config.json`` (a LoRA adapter, loaded
    over the base model it names).
    """
    from transformers import AutoModelForCausalLM

    path = Path(model_path).expanduser()
    if path.is_file():
        from lit_coderl.export import load_checkpoint_module

        module = load_checkpoint_module(path)
        return module.net.policy.to(device=device, dtype=dtype).eval(), module.tokenizer
    if path.is_dir() and not any((path / name).is_file() for name in MODEL_FILES):
        raise ValueError(f"--model {model_path}: the folder has no config.json or adapter_config.json; give {KINDS}")
    if not path.exists() and _looks_local(model_path):
        raise FileNotFoundError(f"--model {model_path}: no such file or folder; give {KINDS}")
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(model_path), dtype=dtype).to(device).eval()
    return model, tokenizer


@torch.no_grad()
def generate_samples(
    evaluator: Evaluator, model_path: str, settings: dict[str, Any], batch_size: int = 8, limit: int = 0
) -> list[dict[str, Any]]:
    """One sample ``{task_id, completion, solution}`` per benchmark task, in task order."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model, tokenizer = load_model(model_path, device, dtype)
    return generate_with(evaluator, model, tokenizer, settings, batch_size, limit, device)


@torch.no_grad()
def generate_with(
    evaluator: Evaluator, model, tokenizer, settings: dict[str, Any], batch_size: int = 8, limit: int = 0,
    device: str | torch.device = "cpu",
) -> list[dict[str, Any]]:
    """`generate_samples` with a model already in memory (a policy during training, `MBPPPassAt1`)."""
    tasks = list(evaluator.tasks().items())
    if limit:
        tasks = tasks[:limit]
    sampling = GenerationOptions(
        max_new_tokens=int(settings.get("max_new_tokens", 512)),
        temperature=float(settings.get("temperature", 0.0)),
        top_p=float(settings.get("top_p", 1.0)),
        stop_strings=list(settings.get("stop_strings") or []),
    )
    eos_ids = eos_token_ids(model, tokenizer)
    samples = []
    for start in range(0, len(tasks), batch_size):
        chunk = tasks[start : start + batch_size]
        prompts = []
        for _, task in chunk:
            prompt = evaluator.prompt(task)
            prompts.append(
                render_prompt({"messages": prompt} if isinstance(prompt, list) else {"prompt": prompt}, tokenizer)
            )
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        out = sample(
            model,
            enc["input_ids"],
            enc["attention_mask"],
            sampling,
            eos_ids=eos_ids,
            pad_id=tokenizer.pad_token_id,
            tokenizer=tokenizer,
        )
        completions = [
            tokenizer.decode(row[:n], skip_special_tokens=True)
            for row, n in zip(out.tokens.tolist(), out.lengths.tolist(), strict=True)
        ]
        for (task_id, task), completion in zip(chunk, completions, strict=True):
            samples.append(
                {"task_id": task_id, "completion": completion, "solution": evaluator.extract(task, completion)}
            )
    return samples
