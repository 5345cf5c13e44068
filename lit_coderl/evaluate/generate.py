"""Generating benchmark samples with a model (``evaluate --model``)."""

from __future__ import annotations

from typing import Any

import torch

from lit_coderl.data.prompts import render_prompt
from lit_coderl.evaluate.base import Evaluator
from lit_coderl.models import load_tokenizer, resolve_model_path
from lit_coderl.sampling import GenerationOptions, eos_token_ids, sample


@torch.no_grad()
def generate_samples(
    evaluator: Evaluator, model_path: str, settings: dict[str, Any], batch_size: int = 8, limit: int = 0
) -> list[dict[str, Any]]:
    """One sample ``{task_id, completion, solution}`` per benchmark task, in task order."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(model_path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(model_path), dtype=dtype).to(device).eval()
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
