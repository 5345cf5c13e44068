"""Several processes (DDP, DeepSpeed; one or many nodes): per-rank seeds and metrics of the whole global batch.

Each process holds its own share of the batch. Every number a run logs must describe all of them together, so a
metric is reduced across ranks by what it is: a mean is weighted by its rank's sample (or token) count, a count or a
throughput is summed, a time is the slowest rank's, a standard deviation is pooled from each rank's count, mean and
standard deviation. One ``all_gather_object`` per reduction: ranks may report different keys (a component's metric
that only appears for some batches) without a collective of mismatched sizes.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable

import numpy as np
import torch

SUM = ("val/num_eos_tokens", "rollout/truncated_prompts", "train/nonfinite_rewards", "perf/")
"""Keys (or key prefixes, ending in ``/``) that are counts or throughputs: the global value is the ranks' sum."""
MAX = ("timing/",)
"""Keys (prefixes) that are times: an iteration takes as long as its slowest rank."""


def distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    return torch.distributed.get_world_size() if distributed() else 1


def global_rank() -> int:
    return torch.distributed.get_rank() if distributed() else 0


def gather(value) -> list:
    """``value`` of every rank, in rank order (``[value]`` on a single process)."""
    if not distributed() or world_size() == 1:
        return [value]
    out: list = [None] * world_size()
    torch.distributed.all_gather_object(out, value)
    return out


def rank_seed(seed: int, rank: int) -> int:
    """The seed of ``rank`` in a run seeded with ``seed``: ``seed`` itself on rank 0 (a single-process run keeps its
    stream), a distinct 32-bit seed from NumPy's ``SeedSequence`` of (seed, rank) on the others."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(rank)]).generate_state(1)[0])


def run_seed() -> int:
    """The run's seed: what ``seed_everything`` set (``PL_GLOBAL_SEED``; the CLI's ``seed_everything``), else 0."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0) or 0)


def seed_rank(seed: int, rank: int) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) with ``rank_seed(seed, rank)``; returns it."""
    derived = rank_seed(seed, rank)
    random.seed(derived)
    np.random.seed(derived)
    torch.manual_seed(derived)  # all CUDA devices too
    return derived


def local_world_size(trainer=None) -> int:
    """Processes on this node: the trainer's devices per node, else ``LOCAL_WORLD_SIZE`` (torchrun), else 1."""
    if trainer is not None:
        return max(1, int(getattr(trainer, "num_devices", 1) or 1))
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1) or 1))


def sandbox_workers(local_ranks: int) -> int:
    """Sandbox workers of one rank: the node's cores shared among its ranks (each starts its own pool)."""
    return max(1, (os.cpu_count() or 1) // max(1, local_ranks))


def _rule(key: str) -> str:
    def matches(patterns):
        return any(key.startswith(p) if p.endswith("/") else key == p for p in patterns)

    if matches(SUM):
        return "sum"
    if matches(MAX):
        return "max"
    if key.endswith("/std"):
        return "std"
    return "mean"


def combine(
    per_rank: list[tuple[dict[str, float], dict[str, float]]], weight_of: Callable[[str], str] | None = None
) -> dict[str, float]:
    """One dict from every rank's ``(metrics, weights)``.

    ``weights`` names each rank's counts (``{"samples": 4, "tokens": 37}``); ``weight_of(key)`` says which count a
    mean is weighted by (default ``samples``). A ``.../std`` is pooled with the ``.../mean`` of the same prefix and
    the sample counts (the sample standard deviation of all ranks' samples together)."""
    weight_of = weight_of or (lambda key: "samples")
    keys = sorted({key for metrics, _ in per_rank for key in metrics})
    out: dict[str, float] = {}
    for key in keys:
        rows = [(metrics[key], weights) for metrics, weights in per_rank if key in metrics]
        rule = _rule(key)
        if rule == "sum":
            out[key] = float(sum(value for value, _ in rows))
        elif rule == "max":
            out[key] = float(max(value for value, _ in rows))
        elif rule == "std":
            out[key] = pooled_std(
                [(w["samples"], metrics.get(key[: -len("std")] + "mean", 0.0), metrics[key]) for metrics, w in per_rank
                 if key in metrics]
            )  # fmt: skip
        else:
            count = [weights.get(weight_of(key), 1.0) for _, weights in rows]
            total = sum(count)
            if total <= 0:
                out[key] = float(sum(value for value, _ in rows) / len(rows))
            else:
                out[key] = float(sum(value * c for (value, _), c in zip(rows, count, strict=True)) / total)
    return out


def pooled_std(groups: list[tuple[float, float, float]]) -> float:
    """The sample standard deviation (n − 1) of the union of groups given as ``(n, mean, std)`` (each std itself a
    sample standard deviation; 0 for a group of one)."""
    n = sum(g[0] for g in groups)
    if n <= 1:
        return 0.0
    mean = sum(k * m for k, m, _ in groups) / n
    squares = sum((k - 1) * s * s + k * m * m for k, m, s in groups if k > 0)
    return math.sqrt(max(0.0, (squares - n * mean * mean) / (n - 1)))


def reduce_metrics(metrics: dict[str, float], weights: dict[str, float], weight_of=None) -> dict[str, float]:
    """``metrics`` of this rank → the same keys for the whole global batch (every rank gets the same dict)."""
    return combine(gather((metrics, weights)), weight_of)


def shard(rows: list, rank: int, world: int) -> list:
    """Rank ``rank``'s share of ``rows``: every ``world``-th row from its own, so each row is on exactly one rank
    (no padding duplicates, unlike ``DistributedSampler``; ranks may hold one row more or less)."""
    return rows[rank::world]


def metric_weight(key: str) -> str:
    """Which count a metric's mean is weighted by across ranks (`ranks.combine`)."""
    if key.startswith(("loss/", "policy/clipfrac", "policy/approxkl", "val/ratio", "val/clipfrac")):
        return "loss"
    if key.startswith(("policy/entropy_avg", "policy/sampler_logprob_gap")):
        return "tokens"
    return "samples"
