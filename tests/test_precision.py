"""Mixed precision: the shipped bf16-mixed configs train (fused AdamW with gradient clipping), the value head is fp32."""

from __future__ import annotations

import torch

from lit_coderl.cli import main
from lit_coderl.models import ValueHead
from tests.test_module import read_metrics, write_config


def test_bf16_mixed_with_clipping_trains(tmp_path, random_model_dir):
    config = write_config(
        tmp_path, random_model_dir, **{"trainer.precision": "bf16-mixed", "model.ppo.max_grad_norm": 1.0}
    )
    main(["fit", "--config", str(config)])
    rows = read_metrics(tmp_path)
    assert [float(r["iteration"]) for r in rows] == [1.0, 2.0]
    assert all(float(r["train/skipped_updates"]) == 0.0 for r in rows)
