"""Sample tables: per-token reward heat-maps, W&B offline run files, and the export → evaluate round trip."""

from __future__ import annotations

import json

import torch

from lit_coderl.cli import main
from lit_coderl.samples import token_heatmap_html
from tests.test_module import write_config


def test_token_heatmap_html_colours_and_escapes():
    text = "x = '<b>'"
    offsets = [(0, 1), (1, 3), (3, 9), (9, 9)]
    total = torch.tensor([1.0, 0.0, -0.5, 0.0])
    page = token_heatmap_html(text, offsets, {"lint": torch.tensor([0.0, 0.0, -0.5, 0.0])}, total)
    assert page.count("<span") == 3  # the zero-width EOS token is not drawn
    assert "rgba(0,160,0,1.00)" in page and "rgba(220,0,0,0.50)" in page
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert "lint -0.500" in page


def test_wandb_offline_run_has_curves_and_table(tmp_path, random_model_dir, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    # wandb keeps its settings in a process-wide singleton: an earlier test's run under WANDB_MODE=disabled (the
    # suite's default) would make this one disabled too; a user's process starts one run
    wandb.teardown()
    config = write_config(tmp_path, random_model_dir)
    config_data = json.loads(json.dumps(__import__("yaml").safe_load(config.read_text())))
    config_data["trainer"]["logger"] = {
        "class_path": "lightning.pytorch.loggers.WandbLogger",
        "init_args": {"project": "lit_coderl_test", "save_dir": str(tmp_path), "offline": True},
    }
    config.write_text(__import__("yaml").safe_dump(config_data))
    main(["fit", "--config", str(config)])
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))
    tables = list(runs[0].glob("files/media/table/samples_*.table.json"))
    assert tables, "no samples table logged"
    table = json.loads(tables[0].read_text())
    assert "heatmap" in table["columns"] and "syntax" in table["columns"]
    # the heat-maps are HTML media files of the run, and the table's heatmap column references them by path
    media = sorted(runs[0].glob("files/media/html/samples_heatmap_*.html"))
    assert media, "no HTML media saved"
    column = table["columns"].index("heatmap")
    for row in table["data"]:
        assert row[column] != "Html" and (runs[0] / "files" / row[column]).is_file()
        page = (runs[0] / "files" / row[column]).read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page and "<span" in page


def test_export_load_evaluate_round_trip(tmp_path, random_model_dir, data_dir, capsys):
    callbacks = [
        {"class_path": "lit_coderl.rewards.syntax.SyntaxReward"},
        {"class_path": "lit_coderl.callbacks.IterationCheckpoint", "init_args": {"dirpath": str(tmp_path / "ck")}},
    ]
    config = write_config(tmp_path, random_model_dir, **{"trainer.callbacks": callbacks, "model.max_iterations": 1})
    main(["fit", "--config", str(config)])
    from lit_coderl.export import main as export_main

    for merge in (False, True):
        out = tmp_path / ("merged" if merge else "adapter")
        assert (
            export_main(
                ["--ckpt_path", str(tmp_path / "ck" / "last.ckpt"), "--out", str(out)] + (["--merge"] if merge else [])
            )
            == 0
        )
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(out)
        assert model(input_ids=torch.tensor([[3, 4, 5]])).logits.shape[-1] >= 600
    from lit_coderl.evaluate.cli import main as evaluate_main

    results = tmp_path / "eval.jsonl"
    code = evaluate_main(
        [
            "robosim",
            "--model",
            str(tmp_path / "merged"),
            "--limit",
            "2",
            "--max-new-tokens",
            "8",
            "--out",
            str(results),
            "--data-dir",
            str(data_dir),
            "--workers",
            "1",
        ]
    )
    assert code == 0
    lines = results.read_text().splitlines()
    assert len(lines) == 2 and all("task_id" in json.loads(line) for line in lines)
    assert "samples scored" in capsys.readouterr().out
