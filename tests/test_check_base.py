"""`checkpoints.check_base`: a checkpoint belongs to the base WEIGHTS it was trained on, wherever they now live.

The same path holding other weights is refused; the same weights under another path (a moved or re-downloaded
model folder) are accepted."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_coderl.checkpoints import base_fingerprint, base_identity, check_base


def _base(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    net[0].requires_grad_(False)  # the frozen base; net[1] stands in for trained weights
    return net


def test_same_path_other_weights_is_refused():
    saved = base_identity(_base(0), "/models/coder")
    current = base_identity(_base(1), "/models/coder")
    assert saved["fingerprint"] != current["fingerprint"]
    with pytest.raises(ValueError, match="different one"):
        check_base(saved, current)


def test_moved_path_same_weights_is_accepted():
    saved = base_identity(_base(0), "/old/place/coder")
    current = base_identity(_base(0), "/new/place/coder")
    assert saved["fingerprint"] == current["fingerprint"]
    check_base(saved, current)  # no error


def test_trained_weights_do_not_enter_the_fingerprint():
    a, b = _base(0), _base(0)
    with torch.no_grad():
        b[1].weight.add_(1.0)  # training moved the trainable layer only
    assert base_fingerprint(a) == base_fingerprint(b)
    with torch.no_grad():
        b[0].weight[0, 0] += 1.0  # a frozen weight that the strided sample reads (the first)
    assert base_fingerprint(a) != base_fingerprint(b)


def test_old_checkpoints_without_identity_are_accepted():
    check_base(None, base_identity(_base(0), "/models/coder"))
    check_base({}, base_identity(_base(0), "/models/coder"))
