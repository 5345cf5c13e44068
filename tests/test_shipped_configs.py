"""Shipped configs: the top-level configs/ folder, carried by the wheel, resolved by name from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lit_coderl.cli import main
from lit_coderl.configs import CONFIG_DIR, list_configs, resolve_config, resolve_config_args, shipped_configs

REPO = Path(__file__).resolve().parents[1]


def test_configs_are_the_top_level_folder():
    assert CONFIG_DIR == REPO / "configs"
    names = set(shipped_configs())
    assert {"demo", "demo-python", "demo-robot-task", "mbpp", "mbpp-tiny", "robo", "strategies/ddp",
            "strategies/deepspeed_zero2"} <= names
    assert {"demo-grpo", "mbpp-tiny-grpo"} <= names  # the critic-free estimators (issue 15)
    assert not list((REPO / "lit_coderl").rglob("*.yaml")), "one source of truth: no second copy in the package"


@pytest.mark.slow
def test_the_wheel_carries_the_configs(tmp_path):
    """Built like `.ci/run` builds it: the same files as package data, where `CONFIG_DIR` looks in an install."""
    import zipfile

    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           str(REPO), "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("lit_coderl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"lit_coderl/configs/files/{name}.yaml" for name in shipped_configs()}
    assert shipped <= names, shipped - names
    assert "lit_coderl/configs/__init__.py" in names and "lit_coderl/assets/tiny-coder/config.json" in names
    assert not [n for n in names if n.startswith("configs/")]  # no top-level `configs` package in site-packages


@pytest.mark.parametrize(
    "given, name",
    [
        ("robo.yaml", "robo.yaml"),
        ("robo", "robo.yaml"),
        ("demo", "demo.yaml"),
        ("configs/demo.yaml", "demo.yaml"),  # the old checkout path keeps working
        ("strategies/ddp", "strategies/ddp.yaml"),
        ("strategies/ddp.yaml", "strategies/ddp.yaml"),
    ],
)
def test_names_resolve_to_shipped_files(given, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(resolve_config(given)) == CONFIG_DIR / name


def test_a_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo.yaml").write_text("seed_everything: 1\n")
    assert resolve_config("demo.yaml") == "demo.yaml"
    assert resolve_config("nope.yaml") == "nope.yaml"  # unknown: the parser reports the missing file
    with pytest.raises(FileNotFoundError, match="no shipped config of that name"):
        resolve_config_args(["fit", "--config", "nope.yaml"])
    args = ["fit", "--config", "robo", "-c", "strategies/ddp", "--config=demo.yaml", "--x", "1"]
    assert resolve_config_args(args) == [
        "fit", "--config", str(CONFIG_DIR / "robo.yaml"), "-c", str(CONFIG_DIR / "strategies/ddp.yaml"),
        "--config=demo.yaml", "--x", "1",
    ]  # fmt: skip


def test_configs_command_lists_each_with_its_purpose(capsys):
    main(["configs"])
    out = capsys.readouterr().out
    assert out == list_configs() + "\n"
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "Offline CPU demo (robot programs)" in lines["demo"]
    assert "Offline CPU demo (robot programs that do the task)" in lines["demo-robot-task"]
    assert "Table 4" in lines["robo"] and "DDP" in lines["strategies/ddp"]
    assert "GRPO" in lines["demo-grpo"] and "GRPO" in lines["mbpp-tiny-grpo"]


def test_robo_by_name_prints_the_paper_config_from_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "robo.yaml", "--config", "strategies/ddp", "--print_config"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["ppo"]["kl_coef"] == 0.9 and printed["model"]["learning_rate"] == 1e-6
    assert printed["model"]["model"]["name_or_path"] == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert printed["trainer"]["strategy"] == "ddp"  # the overlay resolved by name too
    assert "optimizer" not in printed and "lr_scheduler" not in printed


def test_console_script_is_python_m():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'lit-coderl = "lit_coderl.cli:main"' in pyproject
    main_py = (REPO / "lit_coderl" / "__main__.py").read_text()
    assert "from lit_coderl.cli import main" in main_py


def test_python_m_from_an_empty_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "lit_coderl", "configs"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert str(REPO / "configs") in done.stdout


@pytest.mark.parametrize("name", sorted(n for n in shipped_configs() if not n.startswith("strategies/")))
def test_no_shipped_config_asks_for_a_biased_kl_placement(name):
    """PPOConfig warns on a KL estimator whose expected gradient is not ∇KL(π‖ref) where it is placed (k2/k3 in the
    reward, k1 in the loss); no shipped config may ask for one."""
    import warnings

    from lit_coderl.ppo import PPOConfig

    ppo = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text()).get("model", {}).get("ppo", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        PPOConfig(**ppo)
