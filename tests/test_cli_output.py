"""What the command prints: YAML errors with file and line, --version, a bar with total and remaining time on a
terminal, and quiet redirected logs (no module table, no device lines, no final bar frame)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lit_coderl.cli import main
from lit_coderl.progress import IterationProgressBar

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "LIT_CODERL_THREADS": "1", "WANDB_MODE": "disabled", "COLUMNS": "120"}
TINY = [
    "--model.max_iterations", "2", "--data.batch_size", "4", "--model.ppo.minibatch_size", "4",
    "--model.generation.max_new_tokens", "16",
]  # fmt: skip
COMMAND = [sys.executable, "-m", "lit_coderl", "fit", "--config", "demo", *TINY]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("model:\n  max_iterations: 3\n  ppo: [unclosed\n", 4, "flow sequence"),
        ("model:\n  max_iterations: 3\n   bad_indent: 2\n", 3, "mapping values are not allowed"),
        ("data:\n\tbatch_size: 4\n", 2, "found character '\\t'"),
    ],
)
def test_malformed_yaml_names_file_and_line(tmp_path, capsys, text, line, problem):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(bad)])
    assert exit_info.value.code == 2
    first, *rest = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"error: {re.escape(str(bad))}:{line}:\d+: not valid YAML: .*", first), first
    assert problem in first
    assert rest == ["  (LIT_CODERL_DEBUG=1 shows the traceback)"]


def test_a_malformed_second_config_is_named_too(tmp_path, capsys):
    bad = tmp_path / "overlay.yaml"
    bad.write_text("trainer: {max_epochs: 1\n")
    with pytest.raises(SystemExit):
        main(["fit", "--config", "demo", f"--config={bad}"])
    assert capsys.readouterr().err.startswith(f"error: {bad}:2:")


def test_version(capsys):
    from importlib.metadata import version

    main(["--version"])
    assert capsys.readouterr().out == f"lit_coderl {version('lit_coderl')}\n"


def test_bar_counts_iterations_to_max_iterations():
    bar = IterationProgressBar()
    module = SimpleNamespace(max_iterations=60, iteration=7)
    bar._trainer = SimpleNamespace(lightning_module=module)
    assert bar.total_train_batches == 60
    assert bar._get_train_description(0).strip() == "iteration"


def _run_on_a_terminal(cwd: Path) -> str:
    """The demo with stdout and stderr on a pseudo-terminal: everything it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(COMMAND, cwd=cwd, env=ENV, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 600)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_terminal_bar_shows_total_and_remaining_time(tmp_path):
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _run_on_a_terminal(tmp_path))
    frames = [f for f in re.split(r"[\r\n]", drawn) if f.startswith("iteration ") and "━" in f]
    assert frames, drawn[-2000:]
    assert all("/--" not in f and "Epoch" not in f for f in frames)
    assert re.search(r"\b2/2\b.*\d:\d\d:\d\d • \d:\d\d:\d\d", frames[-1]), frames[-1]  # elapsed • remaining


@pytest.mark.slow
def test_redirected_log_is_quiet(tmp_path):
    done = subprocess.run(COMMAND, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert re.fullmatch(r"model tiny: 3\.1 M parameters, 1\.54 M trained; cpu × 1", out[0]), out[0]
    assert [line.split()[1] for line in out if line.startswith("iteration ")] == ["1/2", "2/2"]
    assert out[3].startswith("done: iteration 2/2 (2 in this run, ")
    assert out[4:] == ["  checkpoints: runs/demo/checkpoints", "  csv: runs/demo/csv/version_0"]
    for noise in ("━", "FLOPs", "Modules in", "Trainable params"):
        assert noise not in done.stdout, noise
    for noise in ("GPU available", "TPU available", "Loading weights", "max_epochs=1", "wandb:"):
        assert noise not in done.stderr, noise
