"""lit_coderl side of `vs_trl.py`: our PPO iteration (`CodeRLModule.training_step`) on the shared workload.

Runs in the project venv, through the CLI exactly as a user runs it (LightningCLI, CSVLogger):

    .venv/bin/python benchmarks/_ours_side.py MODEL_DIR OUT.json --iterations 10 --threads 2

The reward is `ParseReward` below (+1/−1 at EOS, as TRL gets it); EOS and pad are suppressed while sampling so that
every response has exactly ``new_tokens`` tokens (TRL: ``min_new_tokens = max_new_tokens``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
from _workload import PROMPTS, SETTINGS, score  # noqa: E402
from lightning.pytorch import Callback  # noqa: E402
from transformers import LogitsProcessor  # noqa: E402

from lit_coderl.data.base import TaskSource  # noqa: E402
from lit_coderl.rewards.base import RewardComponent  # noqa: E402


class FixedPrompts(TaskSource):
    """The benchmark's prompts as completion rows."""

    def load(self) -> list[dict]:
        return [{"task_id": f"bench/{i}", "prompt": p} for i, p in enumerate(PROMPTS)]


class _Suppress(LogitsProcessor):
    """Never sample these tokens (EOS and pad): fixed-length responses, as HF's min_new_tokens does."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = token_ids

    def __call__(self, input_ids, scores):
        scores[:, self.token_ids] = -float("inf")
        return scores


class ParseReward(RewardComponent):
    """+1 if prompt + response parses as Python, else −1; the whole score on the last response token.

    Its logits processor only forbids EOS/pad while sampling (TRL's ``min_new_tokens``), and ``constrain_logits``
    forbids them in training too, as the `RewardComponent` contract asks: PPO's log-probs are those of the
    distribution the tokens were drawn from, so the sampler's log-probs serve as the old ones (TRL uses the
    unconstrained policy's; the work differs by one 4-column fill per forward).
    """

    def constrain_logits(self, rollout, index, logits):
        return logits.index_fill(-1, torch.tensor(self._ids, device=logits.device), -float("inf"))

    default_name = "parse"

    def logits_processor(self, tokenizer):
        self._ids = sorted({tokenizer.eos_token_id, tokenizer.pad_token_id, 0, 2} - {None})
        return _Suppress(self._ids)

    def score(self, rollout) -> torch.Tensor:
        out = rollout.zeros()
        for b, (prompt, text) in enumerate(zip(rollout.prompts, rollout.texts, strict=True)):
            last = int(rollout.response_mask[b].sum().item()) - 1
            if last >= 0:
                out[b, last] = score(prompt, text)
        return out


class IterationTimer(Callback):
    """Wall and process CPU time of each loop iteration (batch end to batch end: Lightning's overhead included), the
    module's ``timing/*`` split, and the peak RSS, written as JSON when training ends."""

    def __init__(self, path: str, threads: int) -> None:
        self.path, self.threads = path, threads
        self.iterations: list[dict] = []
        self._last = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._last, self._last_cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now, now_cpu = time.perf_counter(), time.process_time()
        m = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("timing/", "reward/", "obj"))}
        wall, cpu = now - self._last, now_cpu - self._last_cpu
        self._last, self._last_cpu = now, now_cpu
        generate, update = m.get("timing/generate", 0.0), m.get("timing/update", 0.0)
        forwards = m.get("timing/values", 0.0) + m.get("timing/ref_logprobs", 0.0)
        self.iterations.append(
            {
                "wall": wall,
                "cpu": cpu,
                "generate": generate,
                "update": update,
                "forwards": forwards,
                "other": wall - generate - update - forwards,
                "reward_mean": m.get("reward/parse/mean", float("nan")),
                "kl": m.get("objective/kl", float("nan")),
                "timings": {k[len("timing/") :]: v for k, v in m.items() if k.startswith("timing/")},
                # everything else the module logged: equal across speed edits (same seed, same work)
                "metrics": {
                    k: float(v)
                    for k, v in trainer.callback_metrics.items()
                    if not k.startswith(("timing/", "perf/")) and v.numel() == 1
                },
            }
        )

    def on_train_end(self, trainer, pl_module) -> None:
        import transformers

        result = {
            "side": "ours",
            "threads": self.threads,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "iterations": self.iterations,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "pid": os.getpid(),
        }
        Path(self.path).write_text(json.dumps(result, indent=1))


def config(model_dir: str, out: str, iterations: int, threads: int, root: str) -> dict:
    s = SETTINGS
    return {
        "seed_everything": s["seed"],
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
            "default_root_dir": root,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": root, "name": "logs"},
            },
            "callbacks": [
                {"class_path": "_ours_side.ParseReward"},
                {"class_path": "_ours_side.IterationTimer", "init_args": {"path": out, "threads": threads}},
            ],
        },
        "model": {
            "model": {"name_or_path": model_dir, "lora": {"enabled": False}},  # full fine-tune, frozen ref copy
            "generation": {
                "max_new_tokens": s["new_tokens"],
                "temperature": s["temperature"],
                "top_p": 1.0,
                "top_k": 0,
            },
            "ppo": {
                "ppo_epochs": s["ppo_epochs"],
                "minibatch_size": s["minibatch_size"],
                "clip_range": s["clip_range"],
                "clip_range_value": s["clip_range_value"],
                "vf_coef": s["vf_coef"],
                "gamma": s["gamma"],
                "lam": s["lam"],
                "kl_coef": s["kl_coef"],
                "kl_estimator": "k1",
                "max_grad_norm": 0.0,  # TRL 0.11.4: max_grad_norm None
                "missing_eos_penalty": 0.0,  # fixed length: every response is "truncated"; TRL has no such penalty
            },
            "learning_rate": s["learning_rate"],
            "reward_placement": "eos",
            "max_iterations": iterations,
            "forward_batch_size": s["batch_size"],
        },
        "data": {"sources": [{"class_path": "_ours_side.FixedPrompts"}], "batch_size": s["batch_size"]},
    }


def run_side(config_fn, prefix: str, default_threads: int) -> None:
    """The side's command line (``MODEL_DIR OUT --iterations --threads``): writes ``config_fn``'s config and runs
    ``fit`` on it through the CLI (shared by this PPO side and `_ours_grpo_side.py`)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("out")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=default_threads)
    args = parser.parse_args()
    os.environ["LIT_CODERL_THREADS"] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    import yaml

    from lit_coderl.cli import main as cli_main

    with tempfile.TemporaryDirectory(prefix=prefix) as root:
        path = Path(root) / "config.yaml"
        out = str(Path(args.out).resolve())
        path.write_text(yaml.safe_dump(config_fn(args.model_dir, out, args.iterations, args.threads, root)))
        cli_main(["fit", "--config", str(path)])


def main() -> None:
    run_side(config, "vs_trl_ours_", default_threads=2)


if __name__ == "__main__":
    main()
