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


def test_every_frozen_tensor_and_every_sampled_value_enters_the_fingerprint():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(100, 100, bias=False))  # trainable first, then 10 000 frozen
    net[1].requires_grad_(False)
    before = base_fingerprint(net)
    with torch.no_grad():
        net[1].weight.view(-1)[4098] += 1.0  # in the stride-2 sample (10 000 // 4096 = 2), past the first 4096
    assert base_fingerprint(net) != before
    small = _base(0)
    before = base_fingerprint(small)
    with torch.no_grad():
        small[0].weight.view(-1)[1] += 1.0  # 64 values: every one is sampled
    assert base_fingerprint(small) != before


def test_base_identity_is_computed_once_per_module():
    net = _base(0)
    first = base_identity(net, "/models/coder")
    assert first == {"name_or_path": "/models/coder", "fingerprint": base_fingerprint(net)}
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert base_identity(net, "/models/coder") is first  # cached on the module: the frozen base never changes
    assert net._lit_coderl_base_identity is first


def test_rng_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    from lit_coderl.checkpoints import get_rng_state, set_rng_state

    path = tmp_path / "rng.pt"
    torch.save(get_rng_state(), path)
    draws = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(torch.load(path, weights_only=True))
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == draws


def _module(name: str, seed: int = 0):
    from types import SimpleNamespace

    net = _base(seed)
    net.model_options = SimpleNamespace(name_or_path=name)
    return net


def test_load_state_checks_the_base_and_completes_the_state_dict():
    from lit_coderl.checkpoints import load_state, save_state

    trained = _module("/old/coder")
    checkpoint = {"state_dict": trained.state_dict()}
    save_state(trained, checkpoint, {"iteration": 3})
    assert set(checkpoint["state_dict"]) == {"1.weight", "1.bias"}  # the trained layer only
    state = load_state(_module("/new/coder"), checkpoint)  # same weights, moved
    assert state["iteration"] == 3 and set(checkpoint["state_dict"]) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    with pytest.raises(ValueError, match="model.name_or_path '/other/coder' loads a different one"):
        load_state(_module("/other/coder", seed=1), {"lit_coderl": {"base_model": trained._lit_coderl_base_identity}})
    assert load_state(_module("/any"), {"state_dict": {}}) == {}  # an old checkpoint without our state


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: there is no CUDA RNG state to save here")
def test_cuda_rng_state_round_trip():
    from lit_coderl.checkpoints import get_rng_state, set_rng_state

    state = get_rng_state()
    assert state["cuda"] is not None
    draw = torch.rand(4, device="cuda")
    set_rng_state(state)
    assert torch.equal(torch.rand(4, device="cuda"), draw)
