"""A new user's path through the installed command: their own reward module next to their config, from any folder."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}
ENV.pop("PYTHONPATH", None)  # the installed package, as a user has it; nothing of the checkout on the path

#: the shipped demo, one short iteration
TINY = [
    "--model.max_iterations", "1", "--data.batch_size", "4", "--model.ppo.minibatch_size", "4",
    "--model.generation.max_new_tokens", "16", "--trainer.enable_progress_bar", "false",
]  # fmt: skip

MY_REWARD = '''
from lit_coderl.rewards import RewardComponent


class MyReward(RewardComponent):
    """+1 on every code token."""

    default_name = "mine"

    def score(self, rollout):
        scores = rollout.zeros()
        for i in range(rollout.batch_size):
            scores[i, rollout.code_token_indices(i)] = 1.0
        return scores
'''


def console_script() -> str:
    """The installed ``lit-coderl`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "lit-coderl"
    found = str(script) if script.exists() else shutil.which("lit-coderl")
    if not found:
        pytest.skip("the lit-coderl console script is not installed (pip install -e .)")
    return found


def run(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [console_script(), *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
    )


def metrics_rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return [row for row in csv.DictReader(f) if row.get("reward/total")]


@pytest.mark.slow
def test_console_script_imports_a_reward_module_from_the_current_directory(tmp_path):
    (tmp_path / "my_reward.py").write_text(MY_REWARD)
    (tmp_path / "mine.yaml").write_text(
        "trainer:\n  callbacks:\n    - class_path: my_reward.MyReward\n      init_args: {weight: 0.5}\n"
    )
    done = run(tmp_path, "fit", "--config", "demo.yaml", "--config", "mine.yaml", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = metrics_rows(tmp_path / "runs" / "demo" / "csv" / "version_0" / "metrics.csv")
    assert float(row["reward/mine/mean"]) > 0.0
