"""Adding or removing one reward without re-listing ``trainer.callbacks``; checkpointing is always there."""

from __future__ import annotations

import pytest
import yaml

from lit_coderl.callback_list import has_checkpoint, remove_callbacks
from lit_coderl.cli import main
from tests.test_module import read_metrics, write_config

SYNTAX = {"class_path": "lit_coderl.rewards.syntax.SyntaxReward"}
LINT = {"class_path": "lit_coderl.rewards.lint.LintReward", "init_args": {"weight": 0.1}}
MINE = {"class_path": "tests.user_rewards.LengthReward", "init_args": {"weight": 0.5}}
NAMED = {"class_path": "lit_coderl.rewards.lint.LintReward", "init_args": {"name": "lint2"}}


def test_remove_by_class_name_class_path_or_reward_name():
    callbacks = [SYNTAX, LINT, MINE, NAMED]
    assert remove_callbacks(callbacks, ["LengthReward"]) == [SYNTAX, LINT, NAMED]
    assert remove_callbacks(callbacks, ["lit_coderl.rewards.syntax.SyntaxReward"]) == [LINT, MINE, NAMED]
    assert remove_callbacks(callbacks, ["length", "lint2"]) == [SYNTAX, LINT]  # default_name; a name in init_args
    assert remove_callbacks(callbacks, []) == callbacks


def test_remove_an_absent_callback_or_the_checkpoint_is_an_error():
    with pytest.raises(ValueError, match=r"no callback named 'DataFlowReward'.*present: SyntaxReward, LintReward"):
        remove_callbacks([SYNTAX, LINT], ["DataFlowReward"])
    with pytest.raises(ValueError, match="IterationCheckpoint is always present"):
        remove_callbacks([SYNTAX], ["IterationCheckpoint"])


def test_checkpoint_subclasses_count():
    assert not has_checkpoint([SYNTAX, {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint"}])
    assert has_checkpoint([{"class_path": "lit_coderl.callbacks.IterationCheckpoint"}])


def test_an_overlay_adds_a_reward_and_removes_one_without_relisting(tmp_path, random_model_dir):
    """The base config lists syntax, lint and SampleTable and no checkpoint callback."""
    config = write_config(tmp_path, random_model_dir, **{"model.max_iterations": 1})
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"trainer": {"callbacks+": [MINE]}, "remove_callbacks": ["lint"]}))
    main(["fit", "--config", str(config), "--config", str(overlay)])
    (row,) = read_metrics(tmp_path)
    assert float(row["reward/length/mean"]) > 0.0
    assert row["reward/syntax/mean"] != ""  # the base's rewards are still there
    assert row.get("reward/lint/mean", "") == ""
    # the CLI added the iteration checkpoint the edited list lacked: `--ckpt_path last` finds it
    assert (tmp_path / "checkpoints" / "last.ckpt").resolve().name == "iter-1.ckpt"
    assert not list(tmp_path.glob("logs/version_0/checkpoints"))  # not Lightning's default checkpoint
    # the saved config runs as the run ran: the removal applied, the checkpoint listed
    saved = yaml.safe_load((tmp_path / "logs" / "version_0" / "config.yaml").read_text())
    classes = [c["class_path"].rpartition(".")[2] for c in saved["trainer"]["callbacks"]]
    assert classes == ["SyntaxReward", "SampleTable", "LengthReward", "IterationCheckpoint"]
    assert saved["remove_callbacks"] == []


def test_command_line_appends_a_reward(tmp_path, random_model_dir, capsys):
    config = write_config(tmp_path, random_model_dir)
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(config), "--trainer.callbacks+=tests.user_rewards.LengthReward",
              "--trainer.callbacks.weight", "0.3", "--remove_callbacks", "SampleTable", "--print_config"])  # fmt: skip
    printed = yaml.safe_load(capsys.readouterr().out)
    classes = [c["class_path"].rpartition(".")[2] for c in printed["trainer"]["callbacks"]]
    assert classes == ["SyntaxReward", "LintReward", "SampleTable", "LengthReward"]
    assert printed["trainer"]["callbacks"][-1]["init_args"]["weight"] == 0.3
    assert printed["remove_callbacks"] == "SampleTable"  # applied when the run starts: the printout runs as given


def test_disabled_checkpointing_adds_none(tmp_path, random_model_dir):
    config = write_config(tmp_path, random_model_dir, **{"model.max_iterations": 1})
    main(["fit", "--config", str(config), "--trainer.enable_checkpointing", "false"])
    assert not (tmp_path / "checkpoints").exists()
