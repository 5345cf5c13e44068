"""``evaluate --model`` takes what ``fit`` wrote: a checkpoint (full weights or LoRA-only) as well as an exported
folder; anything else is one clear error line."""

from __future__ import annotations

import json

import pytest

from lit_coderl.cli import main
from lit_coderl.evaluate.cli import main as evaluate_main
from lit_coderl.evaluate.cli import model_out_dir
from lit_coderl.export import export_checkpoint
from tests.benchmark_fixtures import write_mbpp
from tests.test_module import write_config

#: greedy, short: the same checkpoint must give the same completions whichever form it is loaded from
EVAL = ["--limit", "2", "--max-new-tokens", "12", "--workers", "1", "--batch-size", "2"]


def _completions(path) -> list[str]:
    return [json.loads(line)["completion"] for line in path.read_text().splitlines()]


def _evaluate(capsys, data, out, model) -> list[str]:
    code = evaluate_main(["mbpp", "--model", str(model), "--data-dir", str(data), "--out", str(out), *EVAL])
    assert code == 0, capsys.readouterr().err
    assert "pass@1" in capsys.readouterr().out.lower()
    return _completions(out.with_name("mbpp.samples.jsonl"))


def test_demo_checkpoint_and_its_export_give_the_same_samples(tmp_path, monkeypatch, capsys):
    """The shipped demo (full fine-tuning of the tiny model), one iteration."""
    monkeypatch.chdir(tmp_path)
    main(["fit", "--config", "demo", "--model.max_iterations", "1", "--data.batch_size", "4",
          "--model.ppo.minibatch_size", "4", "--model.generation.max_new_tokens", "16",
          "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"])  # fmt: skip
    last = tmp_path / "runs" / "demo" / "checkpoints" / "last.ckpt"
    assert model_out_dir(str(last)).as_posix() == "runs/eval/demo-iter-1"
    data = write_mbpp(tmp_path / "data")
    from_ckpt = _evaluate(capsys, data, tmp_path / "a" / "mbpp.eval.jsonl", last)
    export_checkpoint(last, tmp_path / "exported")
    from_folder = _evaluate(capsys, data, tmp_path / "b" / "mbpp.eval.jsonl", tmp_path / "exported")
    assert len(from_ckpt) == 2 and from_ckpt == from_folder


def test_lora_checkpoint_and_its_adapter_folder(tmp_path, random_model_dir, capsys):
    callbacks = [{"class_path": "lit_coderl.rewards.syntax.SyntaxReward"}]
    main(["fit", "--config", str(write_config(tmp_path, random_model_dir, **{"model.max_iterations": 1,
                                                                            "trainer.callbacks": callbacks}))])
    last = tmp_path / "checkpoints" / "last.ckpt"
    data = write_mbpp(tmp_path / "data")
    from_ckpt = _evaluate(capsys, data, tmp_path / "a" / "mbpp.eval.jsonl", last)
    export_checkpoint(last, tmp_path / "adapter")  # no --merge: adapter_config.json naming the base
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    from_adapter = _evaluate(capsys, data, tmp_path / "b" / "mbpp.eval.jsonl", tmp_path / "adapter")
    assert len(from_ckpt) == 2 and from_ckpt == from_adapter


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "notes.ckpt").write_text("not a checkpoint") and p / "notes.ckpt", "is not a checkpoint"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "the folder has no config.json or adapter_config.json"),
        (lambda p: p / "runs" / "nope.ckpt", "no such file or folder"),
    ],
)
def test_other_model_paths_are_one_clear_error(tmp_path, capsys, make, message):
    data = write_mbpp(tmp_path / "data")
    model = make(tmp_path)
    code = evaluate_main(["mbpp", "--model", str(model), "--data-dir", str(data), *EVAL])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
