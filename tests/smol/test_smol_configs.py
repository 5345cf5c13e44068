"""The shipped configs of the real model: listed by `configs`, parsed as shipped, the named model in them."""

from __future__ import annotations

import pytest
import yaml

from lit_coderl.cli import main
from lit_coderl.configs import list_configs, shipped_configs


@pytest.mark.parametrize("name, reward", [("smol-mbpp", "UnitTestReward"), ("smol-robot", "SimulatorReward")])
def test_smol_configs_are_listed_and_parse(name, reward, capsys):
    assert name in shipped_configs()
    assert any(line.split()[0] == name and "SmolLM2-135M-Instruct" in line for line in list_configs().splitlines())
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", name, "--print_config"])
    assert exit_.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    model = config["model"]["model"]
    assert model["name_or_path"] == "smollm2-135m-instruct" and model["lora"]["enabled"] is True
    assert config["trainer"]["accelerator"] == "cpu"
    rewards = [c["class_path"].rsplit(".", 1)[-1] for c in config["trainer"]["callbacks"]]
    assert {reward, "SyntaxReward", "LintReward"} <= set(rewards)
