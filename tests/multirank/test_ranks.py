"""The rank helpers on their own: seeds, metric reduction across ranks, validation shards, the restore guard, the
sandbox pool's size and world seeds per rank, and the sampler check's precision-aware threshold."""

from __future__ import annotations

import math
import statistics
from types import SimpleNamespace

import pytest
import torch

from lit_coderl import checkpoints, ranks
from lit_coderl.sampler_check import sampler_gap_threshold


def test_rank_seeds_are_distinct_reproducible_and_rank_0_keeps_the_run_seed():
    assert ranks.rank_seed(7, 0) == 7
    seeds = [ranks.rank_seed(7, r) for r in range(8)]
    assert len(set(seeds)) == 8 and seeds == [ranks.rank_seed(7, r) for r in range(8)]
    assert ranks.rank_seed(8, 1) != ranks.rank_seed(7, 1)
    torch.manual_seed(0)
    ranks.seed_rank(7, 1)
    a = torch.rand(3)
    ranks.seed_rank(7, 1)
    assert torch.equal(a, torch.rand(3))
    ranks.seed_rank(7, 0)
    assert not torch.equal(a, torch.rand(3))


def test_combine_weights_means_sums_counts_takes_the_slowest_time_and_pools_std():
    # rank 0: samples [1, 2, 3]; rank 1: samples [10] (hand-computed below)
    m0 = {"reward/x/mean": 2.0, "reward/x/std": 1.0, "val/num_eos_tokens": 3.0, "timing/step": 1.5,
          "perf/samples_per_s": 2.0, "loss/value_avg": 0.5}  # fmt: skip
    m1 = {"reward/x/mean": 10.0, "reward/x/std": 0.0, "val/num_eos_tokens": 1.0, "timing/step": 2.5,
          "perf/samples_per_s": 0.5, "loss/value_avg": 2.0}  # fmt: skip
    r0, r1 = (m0, {"samples": 3.0, "tokens": 30.0, "loss": 30.0}), (m1, {"samples": 1.0, "tokens": 10.0, "loss": 10.0})
    out = ranks.combine([r0, r1], lambda key: "loss" if key.startswith("loss/") else "samples")
    assert out["reward/x/mean"] == pytest.approx(4.0)  # (1 + 2 + 3 + 10) / 4
    assert out["reward/x/std"] == pytest.approx(statistics.stdev([1, 2, 3, 10]))
    assert out["val/num_eos_tokens"] == 4.0 and out["perf/samples_per_s"] == 2.5 and out["timing/step"] == 2.5
    assert out["loss/value_avg"] == pytest.approx((0.5 * 30 + 2.0 * 10) / 40)


def test_combine_tolerates_keys_only_some_ranks_report():
    out = ranks.combine([({"a": 1.0}, {"samples": 2.0}), ({"a": 3.0, "b": 5.0}, {"samples": 2.0})])
    assert out == {"a": 2.0, "b": 5.0}


def test_pooled_std_of_single_samples_and_empty_groups():
    assert ranks.pooled_std([(1, 4.0, 0.0), (1, 6.0, 0.0)]) == pytest.approx(math.sqrt(2.0))
    assert ranks.pooled_std([(1, 4.0, 0.0)]) == 0.0


def test_shards_hold_every_row_once():
    rows = list(range(5))
    shards = [ranks.shard(rows, r, 2) for r in range(2)]
    assert shards == [[0, 2, 4], [1, 3]]


def test_validation_loader_shards_without_padding_duplicates():
    from lit_coderl.data.module import CodeRLDataModule

    class Rows:
        def load(self):
            return [{"task_id": i} for i in range(5)]

    seen = []
    for rank in range(2):
        dm = CodeRLDataModule(sources=[Rows()], val_sources=[Rows()], val_batch_size=2)
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        batches = list(dm.val_dataloader())
        assert len(dm.val_dataloader()) == len(batches)
        seen += [row["task_id"] for batch in batches for row in batch]
    assert sorted(seen) == [0, 1, 2, 3, 4]
    # fewer rows than ranks: the rank without one still runs one (empty) batch, and so reaches the epoch's end
    dm = CodeRLDataModule(sources=[Rows()], val_sources=[Rows()], val_limit=1)
    dm.trainer = SimpleNamespace(global_rank=1, world_size=2)
    assert list(dm.val_dataloader()) == [[]]


class _Strategy:
    """Records whether its (real) load ran."""

    def __init__(self):
        self.loaded = []

    def load_checkpoint(self, path, weights_only=None):
        self.loaded.append(path)
        return {}

    def save_checkpoint(self, checkpoint, filepath, storage_options=None):
        pass


def _module(fingerprint_source: torch.nn.Module):
    module = torch.nn.Module()
    module.base = fingerprint_source.requires_grad_(False)
    module.adapter = torch.nn.Linear(2, 2)
    module.model_options = SimpleNamespace(name_or_path="base")
    return module


def test_restore_guard_refuses_another_base_before_the_strategy_loads_anything(tmp_path):
    torch.manual_seed(0)
    trained_on, other = _module(torch.nn.Linear(4, 4)), _module(torch.nn.Linear(4, 4))
    checkpoint = {"lit_coderl": {"base_model": checkpoints.base_identity(trained_on, "base")}, "state_dict": {}}
    path = tmp_path / "iter-1.ckpt"
    torch.save(checkpoint, path)
    strategy = _Strategy()
    checkpoints.check_before_restore(strategy, other)
    with pytest.raises(ValueError, match="different one"):
        strategy.load_checkpoint(path)
    assert strategy.loaded == []  # refused before the strategy read a single weight
    same = _Strategy()
    checkpoints.check_before_restore(same, trained_on)
    same.load_checkpoint(path)
    assert same.loaded == [path]


def test_rng_state_is_restored_per_rank(monkeypatch):
    states = [{"torch": torch.tensor([r])} for r in range(2)]
    checkpoint = {"lit_coderl": {"rng": states[0], "rng_per_rank": states}}
    module = _module(torch.nn.Linear(2, 2))
    monkeypatch.setattr(checkpoints, "check_base", lambda saved, current: None)
    monkeypatch.setattr(ranks, "world_size", lambda: 2)
    monkeypatch.setattr(ranks, "global_rank", lambda: 1)
    assert checkpoints.load_state(module, checkpoint)["rng"] is states[1]


def test_sandbox_pool_is_shared_by_the_local_ranks_and_worlds_are_seeded_per_rank(monkeypatch):
    from lit_coderl.rewards.simulator import SimulatorReward

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    seeds, workers = [], []
    for rank in range(2):
        reward = SimulatorReward(seed=3)
        reward.setup(SimpleNamespace(num_devices=2, global_rank=rank), None, "fit")
        seeds.append(reward.seed)
        workers.append(reward.workers)
    assert workers == [8, 8]
    assert seeds[0] == 3 and seeds[1] == ranks.rank_seed(3, 1) != 3
    pinned = SimulatorReward(workers=3)
    pinned.setup(SimpleNamespace(num_devices=4, global_rank=0), None, "fit")
    assert pinned.workers == 3


def test_sampler_gap_threshold_follows_the_precision():
    assert sampler_gap_threshold(torch.float32) == 1e-3
    # bf16's measured sampler/training gap (~4e-3 nats/token) is rounding, not a mismatch
    assert sampler_gap_threshold(torch.bfloat16) > 4.7e-3
    assert 1e-3 < sampler_gap_threshold(torch.float16) < sampler_gap_threshold(torch.bfloat16)
