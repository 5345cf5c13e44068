"""User errors: one error line first, naming the key, no traceback; sizes checked before any model loads (#13)."""

from __future__ import annotations

import pytest

from lit_coderl.cli import condense_parser_error, main
from lit_coderl.validation import check_sizes


def run_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "demo", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "args, first_line",
    [
        (["--data.batch_size", "0"], "error: data.batch_size must be an integer >= 1, got 0"),
        (["--data.batch_size", "-3"], "error: data.batch_size must be an integer >= 1, got -3"),
        (["--model.ppo.minibatch_size", "0"], "error: model.ppo.minibatch_size must be an integer >= 1, got 0"),
        (["--model.ppo.ppo_epochs", "0"], "error: model.ppo.ppo_epochs must be an integer >= 1, got 0"),
        (["--model.max_iterations", "0"], "error: model.max_iterations must be an integer >= 1, got 0"),
        (["--trainer.max_epochs", "0"], "error: trainer.max_epochs must be -1 (no limit) or >= 1, got 0"),
        (["--model.generation.max_new_tokens", "0"], "error: model.generation.max_new_tokens must be an integer"),
        (["--model.model.name_or_path", "/no/such/model"], "error: model path '/no/such/model' does not exist"),
        (["--model.ppo.klcoef", "0.3"], "error: unrecognized arguments: --model.ppo.klcoef"),
        (["--optimizer", "torch.optim.SGD"], "error: unrecognized arguments: --optimizer"),
        (["--lr_scheduler", "torch.optim.lr_scheduler.StepLR"], "error: unrecognized arguments: --lr_scheduler"),
        (["--config", "no-such-config.yaml"], "error: --config no-such-config.yaml: no such file, and no shipped"),
    ],
)
def test_user_error_is_the_first_line(capsys, args, first_line):
    assert run_error(capsys, *args).splitlines()[0].startswith(first_line)


def test_callback_argument_typo_names_class_and_option(tmp_path, capsys):
    bad = tmp_path / "cb.yaml"
    bad.write_text(
        "trainer:\n  callbacks:\n    - class_path: lit_coderl.samples.SampleTable\n"
        "      init_args: {every_n_iteration: 3}\n"
    )
    first = run_error(capsys, "--config", str(bad)).splitlines()[0]
    assert "trainer.callbacks" in first and "SampleTable" in first and "every_n_iteration" in first


def test_config_typo_is_named_first(tmp_path, capsys):
    bad = tmp_path / "typo.yaml"
    bad.write_text("model:\n  max_iteration: 3\n")
    first = run_error(capsys, "--config", str(bad)).splitlines()[0]
    assert first.startswith("error:") and "max_iteration" in first


def test_callback_counts_are_validated(tmp_path, capsys):
    bad = tmp_path / "worlds.yaml"
    bad.write_text(
        "trainer:\n  callbacks:\n    - class_path: lit_coderl.rewards.simulator.SimulatorReward\n"
        "      init_args: {worlds: 0}\n"
    )
    first = run_error(capsys, "--config", str(bad)).splitlines()[0]
    assert first == "error: trainer.callbacks[0].init_args.worlds must be an integer >= 1, got 0"


def test_check_sizes_accepts_the_defaults_and_none():
    check_sizes({"model": {"ppo": {"micro_batch_size": None, "minibatch_size": 4}}, "trainer": {"max_epochs": -1}})
    with pytest.raises(ValueError, match=r"^x\.world_timeout_s must be > 0, got 0$"):
        check_sizes({"x": {"world_timeout_s": 0}})


def test_condensed_union_report():
    report = (
        'Parser key "trainer.callbacks":\n  Does not validate against any of the Union subtypes\n  Errors:\n'
        "    - Problem with given class_path 'a.B':\n        Option 'x' is not accepted\n"
    )
    assert condense_parser_error(report) == "Parser key \"trainer.callbacks\": a.B: Option 'x' is not accepted"


def test_debug_env_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("LIT_CODERL_DEBUG", "1")
    with pytest.raises(ValueError, match="data.batch_size"):
        from lit_coderl.validation import check_sizes as check

        check({"data": {"batch_size": 0}})
