"""DeepSpeed's bf16 engine casts every parameter to bf16, the value head's too; the head must still take the
backbone's hidden states (float32 under autocast, bf16 under DeepSpeed) and return float32 values."""

from __future__ import annotations

import pytest
import torch

from lit_coderl.models import ValueHead


@pytest.mark.parametrize("hidden_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("head_dtype", [torch.float32, torch.bfloat16])
def test_value_head_takes_any_hidden_dtype_and_returns_float32(head_dtype, hidden_dtype):
    torch.manual_seed(0)
    head = ValueHead(8).to(head_dtype)
    hidden = torch.randn(2, 3, 8).to(hidden_dtype)
    values = head(hidden)
    assert values.dtype == torch.float32 and values.shape == (2, 3)
    # the same linear map, computed in the head's dtype by hand
    expected = (hidden.to(head_dtype) @ head.summary.weight.T + head.summary.bias).squeeze(-1).float()
    torch.testing.assert_close(values, expected)
