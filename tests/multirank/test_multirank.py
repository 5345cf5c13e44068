"""The shipped strategy overlays on 2 CPU processes (gloo): real DeepSpeed ZeRO-2 in bf16 and DDP in bf16-mixed.

Each overlay runs as shipped (``configs/strategies/*.yaml``), with a small CPU adaptation on top (accelerator cpu,
2 devices, gloo; DeepSpeed through `tests.cpu_deepspeed.CPUDeepSpeedStrategy`, which only lifts Lightning's CUDA
checks). One ``torchrun`` launch runs every case in sequence (`driver.py`), so the suite pays the imports and the
process group once:

- DeepSpeed: the ``head``, ``adapter`` and ``model`` critics and ``grpo``, 2 iterations each with a checkpoint per
  iteration, each resumed from iteration 1; then a resume on another base model, which must be refused.
- DDP: the ``head`` critic the same way, a run on one repeated prompt (each rank must sample its own answers), and
  ``validate`` on 5 held-out prompts.

Their iteration-1 losses and metrics are compared with single-process runs on the same global batch (greedy
sampling, so both see the same responses): rank 0 holds prompts 0-1, rank 1 prompts 2-3, the single process 0-3.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lit_coderl.cli import main
from tests.test_module import REPO_ROOT, write_config

# one 2-process launch runs every case (minutes on a busy 2-core machine): above the suite's per-test default
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

STRATEGIES = REPO_ROOT / "configs" / "strategies"
PER_RANK = 2
"""Prompts per rank (data.batch_size); the single-process reference runs 2 × this."""

needs_deepspeed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("deepspeed") is None,
    reason="deepspeed is not installed (pip install -e '.[deepspeed]')",
)


def _cpu_overlay(root: Path, name: str, devices: int = 2) -> Path:
    """The shipped overlay ``name`` made runnable on CPU processes: accelerator, devices and (DeepSpeed) the CPU
    strategy class with gloo; the overlay's own DeepSpeed config, precision and options are kept."""
    shipped = yaml.safe_load((STRATEGIES / f"{name}.yaml").read_text())["trainer"]
    trainer = {"accelerator": "cpu", "devices": devices}
    strategy = shipped["strategy"]
    if isinstance(strategy, dict):
        args = {**strategy["init_args"], "process_group_backend": "gloo"}
        trainer["strategy"] = {"class_path": "tests.cpu_deepspeed.CPUDeepSpeedStrategy", "init_args": args}
    path = root / f"cpu-{name}-{devices}.yaml"
    path.write_text(yaml.safe_dump({"trainer": trainer}))
    return path


def _case(root: Path, model_dir: Path, mode: str, per_rank: int, iterations: int = 2, **extra) -> Path:
    """A run config: deterministic rewards (length; a score per prompt, so ranks' shares differ), a checkpoint
    every iteration, greedy sampling (grpo samples: its two answers per prompt must differ), 2 PPO epochs over one
    minibatch per rank."""
    root.mkdir(parents=True, exist_ok=True)
    callbacks = [
        {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.1}},
        {"class_path": "tests.multirank.recorders.PromptReward", "init_args": {"weight": 0.5}},
        {
            "class_path": "lit_coderl.callbacks.IterationCheckpoint",
            "init_args": {"every_n_iterations": 1, "save_top_k": -1, "dirpath": str(root / "ckpt")},
        },
        {"class_path": "tests.multirank.recorders.ResponseRecorder", "init_args": {"path": str(root / "responses")}},
    ]
    grpo = mode == "grpo"
    samples = 2 if grpo else 1
    overrides = {
        "trainer.callbacks": callbacks,
        "model.max_iterations": iterations,
        "model.generation": {"max_new_tokens": 12, "temperature": 1.0 if grpo else 0.0, "samples_per_prompt": samples},
        "model.ppo": {"ppo_epochs": 2, "minibatch_size": per_rank * samples, "advantage": "grpo" if grpo else "gae"},
        "data.batch_size": per_rank,
        **extra,
    }
    if not grpo:
        overrides["model.model.critic"] = mode
    return write_config(root, model_dir, **overrides)


def _rows(root: Path) -> list[dict[str, str]]:
    files = sorted(root.glob("logs/version_*/metrics.csv"))
    assert files, f"no metrics under {root}: {list(root.glob('error.rank*.txt'))}"
    with open(files[-1]) as f:
        return [row for row in csv.DictReader(f) if row.get("reward/total") or row.get("valid/reward/total")]


def _launch(tmp: Path, name: str, runs: list[dict]) -> subprocess.CompletedProcess:
    plan = tmp / f"{name}.json"
    plan.write_text(json.dumps(runs))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled",
           "OMP_NUM_THREADS": "1", "LIT_CODERL_DEBUG": "1"}  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += [str(REPO_ROOT / "tests" / "multirank" / "driver.py"), str(plan)]
    return subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=1500)


def _fit(config: Path, overlay: Path, *more: str) -> list[str]:
    """``fit`` with the run config, the shipped overlay, and its CPU adaptation (`_cpu_overlay`) on top."""
    shipped = STRATEGIES / f"{overlay.stem.split('-')[1]}.yaml"
    return ["fit", "--config", str(config), "--config", str(shipped), "--config", str(overlay), *more]


def _plan(tmp: Path, model_dir: Path, strategy: str, modes: list[str]) -> tuple[list[dict], Path]:
    overlay = _cpu_overlay(tmp, strategy)
    runs = []
    for mode in modes:
        root = tmp / strategy / mode
        config = _case(root, model_dir, mode, PER_RANK)
        runs.append({"args": _fit(config, overlay), "root": str(root)})
        resumed = tmp / strategy / f"{mode}-resumed"
        config = _case(resumed, model_dir, mode, PER_RANK)
        ckpt = root / "ckpt" / "iter-1.ckpt"
        runs.append({"args": _fit(config, overlay, "--ckpt_path", str(ckpt)), "root": str(resumed)})
    return runs, overlay


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, random_model_dir) -> Path:
    """The random model with other weights (same architecture and tokenizer): another base model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path_factory.mktemp("other-base")
    model = AutoModelForCausalLM.from_pretrained(random_model_dir)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(random_model_dir).save_pretrained(path)
    return path


def _deepspeed_plan(tmp: Path, model_dir: Path, other_model_dir: Path) -> list[dict]:
    runs, overlay = _plan(tmp, model_dir, "deepspeed_zero2", ["head", "adapter", "model", "grpo"])
    # resuming the head run on another base model must be refused before DeepSpeed loads any weight
    wrong = tmp / "deepspeed_zero2" / "other-base"
    config = _case(wrong, other_model_dir, "head", PER_RANK)
    ckpt = tmp / "deepspeed_zero2" / "head" / "ckpt" / "iter-1.ckpt"
    return [*runs, {"args": _fit(config, overlay, "--ckpt_path", str(ckpt)), "root": str(wrong)}]


def _ddp_plan(tmp: Path, model_dir: Path) -> list[dict]:
    runs, overlay = _plan(tmp, model_dir, "ddp", ["head"])
    # one prompt repeated: every rank gets the same prompt, and must sample its own answers to it
    same = tmp / "ddp" / "same-prompt"
    source = {"class_path": "lit_coderl.data.stdlib.StdlibFunctions", "init_args": {"split": "heldout", "limit": 1}}
    config = _case(same, model_dir, "grpo", PER_RANK, iterations=1, **{"data.sources": [source]})
    runs.append({"args": _fit(config, overlay), "root": str(same)})
    validate = tmp / "ddp" / "validate"
    runs.append({"args": ["validate", *_fit(_validate_config(validate, model_dir), overlay)[1:]],
                 "root": str(validate)})  # fmt: skip
    return runs


@pytest.fixture(scope="module")
def launch(tmp_path_factory, random_model_dir, other_model_dir):
    """One 2-process launch: the DDP cases, then (with deepspeed installed) the DeepSpeed ones; the process group
    started by the first run serves them all."""
    tmp = tmp_path_factory.mktemp("multirank")
    runs = _ddp_plan(tmp, random_model_dir)
    if __import__("importlib").util.find_spec("deepspeed") is not None:
        runs += _deepspeed_plan(tmp, random_model_dir, other_model_dir)
    return tmp, _launch(tmp, "runs", runs)


@pytest.fixture(scope="module")
def deepspeed_runs(launch):
    return launch[0] / "deepspeed_zero2", launch[1]


@pytest.fixture(scope="module")
def ddp_runs(launch):
    return launch[0] / "ddp", launch[1]


def _validate_config(root: Path, model_dir: Path) -> Path:
    """5 held-out prompts (an odd count: DistributedSampler would pad rank 1 with a duplicate) in batches of 2."""
    source = {"class_path": "lit_coderl.data.stdlib.StdlibFunctions", "init_args": {"split": "heldout", "limit": 5}}
    return _case(root, model_dir, "head", PER_RANK, **{"data.val_sources": [source], "data.val_batch_size": 2})


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, random_model_dir):
    """Single-process references on the same global batch (2 × PER_RANK prompts), bf16-mixed like the overlays."""
    tmp = tmp_path_factory.mktemp("single")
    rows = {}
    for mode in ("head", "adapter", "model"):
        root = tmp / mode
        config = _case(root, random_model_dir, mode, 2 * PER_RANK, iterations=1, **{"trainer.precision": "bf16-mixed"})
        main(["fit", "--config", str(config)])
        rows[mode] = _rows(root)[0]
    root = tmp / "validate"
    main(["validate", "--config", str(_validate_config(root, random_model_dir)), "--trainer.precision", "bf16-mixed"])
    rows["validate"] = _rows(root)[0]
    return rows


def _assert_finished(done: subprocess.CompletedProcess, base: Path, expected_failures: set[str]) -> None:
    errors = {p.parent.name: p.read_text() for p in base.glob("*/error.rank*.txt")}
    unexpected = {name: text[-2000:] for name, text in errors.items() if name not in expected_failures}
    assert not unexpected, unexpected or done.stderr[-3000:]


#: iteration-1 metrics of the whole batch that do not depend on how it was split over ranks
COMPARED = ("reward/total", "objective/scores", "objective/kl", "response/length_mean", "loss/value_avg",
            "val/vf_explained_var", "reward/length/mean", "reward/prompt/mean", "reward/prompt/std",
            "val/num_eos_tokens")  # fmt: skip


def _assert_matches(rows: list[dict], reference: dict, rel: float, abs_: float) -> None:
    for key in COMPARED:
        assert float(rows[0][key]) == pytest.approx(float(reference[key]), rel=rel, abs=abs_), key


def _assert_resumed_exactly(base: Path, mode: str) -> None:
    straight, resumed = _rows(base / mode), _rows(base / f"{mode}-resumed")
    assert [float(r["iteration"]) for r in straight] == [1.0, 2.0]
    assert [float(r["iteration"]) for r in resumed] == [2.0]
    for key, value in straight[1].items():
        if value and not key.startswith(("timing/", "perf/")) and key in resumed[0]:
            assert float(resumed[0][key]) == pytest.approx(float(value), rel=1e-5, abs=1e-6), (mode, key)
    # each rank sampled its own answers in the resumed iteration exactly as in the straight run
    for rank in (0, 1):
        lines = (base / mode / f"responses.rank{rank}.jsonl").read_text().splitlines()
        again = (base / f"{mode}-resumed" / f"responses.rank{rank}.jsonl").read_text().splitlines()
        assert json.loads(lines[1])["responses"] == json.loads(again[0])["responses"], (mode, rank)


@needs_deepspeed
def test_deepspeed_overlay_every_critic_and_grpo_finish_match_and_resume(deepspeed_runs, single_process):
    base, done = deepspeed_runs
    _assert_finished(done, base, expected_failures={"other-base"})
    for mode in ("head", "adapter", "model", "grpo"):
        _assert_resumed_exactly(base, mode)
        rows = _rows(base / mode)
        assert all(float(r["train/skipped_updates"]) == 0.0 for r in rows), mode
        if mode != "grpo":  # DeepSpeed holds every weight in bf16, the reference only computes in bf16
            _assert_matches(rows, single_process[mode], rel=0.01, abs_=2e-3)


@needs_deepspeed
def test_deepspeed_resume_on_another_base_is_refused_before_loading(deepspeed_runs):
    base, _ = deepspeed_runs
    for rank in (0, 1):
        error = (base / "other-base" / f"error.rank{rank}.txt").read_text()
        assert "different one" in error and "checked_load" in error, error[-2000:]


@needs_deepspeed
def test_deepspeed_checkpoint_holds_trained_weights_only_and_exports(deepspeed_runs, tmp_path):
    from lit_coderl.checkpoints import DEEPSPEED_STATES
    from lit_coderl.export import export_checkpoint

    base, _ = deepspeed_runs
    ckpt = base / "head" / "ckpt" / "iter-2.ckpt"
    states = torch.load(ckpt / DEEPSPEED_STATES, map_location="cpu", weights_only=True)
    names = set(states["module"])
    assert names and all(".lora_" in n or n.startswith("net.value_head.") for n in names), sorted(names)[:5]
    assert not states.get("frozen_param_fragments")
    out = export_checkpoint(ckpt, tmp_path / "export")
    exported = __import__("safetensors.torch").torch.load_file(out / "adapter_model.safetensors")
    lora = {k: v for k, v in states["module"].items() if ".lora_" in k}
    assert len(exported) == len(lora) > 0
    value_head = torch.load(out / "value_head.pt", weights_only=True)
    saved_head = states["module"]["net.value_head.summary.weight"]
    torch.testing.assert_close(value_head["summary.weight"].float(), saved_head.float())


def test_ddp_overlay_matches_a_single_process_and_resumes(ddp_runs, single_process):
    base, done = ddp_runs
    _assert_finished(done, base, expected_failures=set())
    _assert_resumed_exactly(base, "head")
    _assert_matches(_rows(base / "head"), single_process["head"], rel=2e-3, abs_=1e-4)


def test_ddp_ranks_sample_their_own_answers(ddp_runs):
    base, _ = ddp_runs
    answers = [json.loads((base / "same-prompt" / f"responses.rank{r}.jsonl").read_text())["responses"] for r in (0, 1)]
    assert answers[0] != answers[1]  # the same prompt on both ranks: the same seed would give the same answers


def test_ddp_validate_counts_every_prompt_once(ddp_runs, single_process):
    base, _ = ddp_runs
    (row,) = _rows(base / "validate")
    reference = single_process["validate"]
    for key in ("valid/reward/total", "valid/reward/length/mean", "valid/reward/prompt/mean"):
        assert float(row[key]) == pytest.approx(float(reference[key]), rel=1e-3, abs=1e-4), key
