"""The command line: documented --help, runnable --print_config, clear errors for bad input."""

from __future__ import annotations

import pytest
import yaml

from lit_coderl.cli import main
from tests.test_module import read_metrics, write_config


def test_top_level_usage(capsys):
    main([])
    assert "evaluate" in capsys.readouterr().out


def test_fit_help_documents_hyper_parameters(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "--model.ppo.kl_coef",
        "of the KL to the reference",
        "--model.reward_placement",
        "--model.model.lora.r",
        "--model.generation.temperature",
        "--data.batch_size",
        "--model.max_iterations",
    ):
        assert text in out, text


def test_print_config_runs_as_a_config(tmp_path, random_model_dir, capsys):
    config = write_config(tmp_path, random_model_dir, **{"model.max_iterations": 1})
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    dumped = yaml.safe_load(printed)
    assert dumped["model"]["ppo"]["clip_range"] == 0.2
    assert dumped["model"]["model"]["lora"]["r"] == 4
    round_trip = tmp_path / "printed.yaml"
    round_trip.write_text(printed)
    main(["fit", "--config", str(round_trip)])
    assert [float(r["iteration"]) for r in read_metrics(tmp_path)] == [1.0]


def test_unknown_yaml_key_is_named(tmp_path, random_model_dir, capsys):
    config = write_config(tmp_path, random_model_dir, **{"model.ppo.klcoef": 0.3})
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config)])
    assert exit_info.value.code != 0
    assert "klcoef" in capsys.readouterr().err


def test_malformed_yaml_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(bad)])
    assert exit_info.value.code != 0


def test_missing_model_path_is_clear(tmp_path, random_model_dir, capsys):
    config = write_config(tmp_path, random_model_dir, **{"model.model.name_or_path": str(tmp_path / "nope")})
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"error: model path {str(tmp_path / 'nope')!r} does not exist"
    assert "Traceback" not in err
