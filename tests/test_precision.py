"""Mixed precision: bf16-mixed trains with fused AdamW and gradient clipping; the value head stays fp32."""

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


def test_value_head_runs_in_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    head = ValueHead(16)
    torch.nn.init.normal_(head.summary.weight)
    hidden = torch.randn(2, 5, 16).bfloat16()
    expected = head(hidden.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values = head(hidden)
    assert values.dtype == torch.float32
    torch.testing.assert_close(values, expected, rtol=0, atol=0)
