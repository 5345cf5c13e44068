"""The shipped configs parse and build their objects; the hub config fails only at the hub, with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_coderl.cli import _lightning_cli, main
from lit_coderl.configs import CONFIG_DIR as CONFIGS
from lit_coderl.ppo import PPOConfig

CPU = ["--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.precision", "32"]


def build(config: str, model_dir: Path, *extra: str):
    args = ["--config", str(CONFIGS / config), "--model.model.name_or_path", str(model_dir)]
    return _lightning_cli(args + ["--model.model.dtype", "float32", *CPU, *extra], run=False)


def reward_weights(cli) -> dict[str, float]:
    from lit_coderl.rewards import RewardComponent

    return {c.name: c.weight for c in cli.trainer.callbacks if isinstance(c, RewardComponent)}


def test_mbpp_config_is_the_paper_table_3(random_model_dir):
    cli = build("mbpp.yaml", random_model_dir)  # the 1.5B model is swapped for a tiny one, only here
    module = cli.model
    assert module.learning_rate == 3e-6
    assert module.ppo == PPOConfig(
        ppo_epochs=4,
        minibatch_size=8,
        clip_range=0.2,
        clip_range_value=0.3,
        vf_coef=1.0,
        kl_coef=0.1,
        kl_estimator="k1",  # the paper's config: k3; its Algorithm 1 (and a sound reward-side KL): k1
        missing_eos_penalty=1.0,
    )
    assert module.value_learning_rate == 1e-4
    assert module.model_options.lora.r == 16 and module.model_options.lora.alpha == 32
    assert reward_weights(cli) == {"syntax": 0.1, "lint": 0.1, "dataflow": 0.1, "unit_tests": 0.7}
    source = cli.datamodule.sources[0]
    assert type(source).__name__ == "OpenCodeInstruct" and source.n == 5000


def test_robo_config_is_the_paper_table_4(random_model_dir):
    cli = build("robo.yaml", random_model_dir)
    module = cli.model
    assert module.learning_rate == 1e-6
    assert (module.ppo.kl_coef, module.ppo.kl_estimator, module.ppo.minibatch_size) == (0.9, "k1", 4)
    assert (module.ppo.ppo_epochs, module.ppo.clip_range) == (4, 0.2)
    assert reward_weights(cli) == {"syntax": 0.1, "lint": 0.1, "simulator": 0.8}
    assert cli.datamodule.batch_size == 4


def test_demo_config_builds_with_the_embedded_model():
    cli = _lightning_cli(["--config", str(CONFIGS / "demo.yaml")], run=False)
    assert cli.model.model_options.name_or_path == "tiny"
    assert reward_weights(cli)


@pytest.mark.parametrize("config", ["demo-grpo.yaml", "mbpp-tiny-grpo.yaml"])
def test_grpo_configs_build_without_a_critic(config, random_model_dir):
    """The shipped GRPO configs: 8 prompts × 4 answers (their plain twins' 32 samples), no critic, same rewards."""
    cli = build(config, random_model_dir)
    module, twin = cli.model, build(config.replace("-grpo", ""), random_model_dir).model
    assert module.ppo.advantage == "grpo" and module.generation.samples_per_prompt == 4
    assert cli.datamodule.batch_size * module.generation.samples_per_prompt == 32
    assert module.net.value_head is None and module.net.critic_parameters() == []
    assert reward_weights(cli) == reward_weights(build(config.replace("-grpo", ""), random_model_dir))
    assert (module.learning_rate, module.ppo.kl_coef) == (twin.learning_rate, twin.ppo.kl_coef)


def test_robo_config_fails_only_at_the_hub(monkeypatch, capsys):
    # what an unreachable hub looks like, without waiting for network timeouts (the flag is read at import time)
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "robo.yaml", *CPU])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not load 'Qwen/Qwen2.5-Coder-1.5B-Instruct'") and "Traceback" not in err
    assert "hub may be unreachable" in err
