"""Top-p over Qwen's vocabulary: the topk-threshold filter (`sampling.top_p_drop`) against a full sort.

python benchmarks/top_p.py
"""

from __future__ import annotations

import time

import torch

from lit_coderl.sampling import warp_logits

V, TOP_P = 151936, 0.95


def sorted_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    sorted_logits, sorted_idx = torch.sort(logits, dim=-1)
    drop = sorted_logits.softmax(-1).cumsum(-1) <= 1.0 - top_p
    drop[..., -1] = False
    return logits.masked_fill(drop.scatter(-1, sorted_idx, drop), float("-inf"))


def median_ms(fn, logits: torch.Tensor) -> float:
    for _ in range(3):
        fn(logits)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        fn(logits)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    # peaked, LM-like: Zipf over a random permutation of the vocabulary; flat: a random-init model's logits
    ranks = torch.stack([torch.randperm(V) for _ in range(4)]).float() + 1
    cases = {"zipf LM-like": -1.65 * ranks.log(), "flat N(0,1)": torch.randn(4, V)}
    methods = {"sort": lambda x: sorted_top_p(x, TOP_P), "topk": lambda x: warp_logits(x, 1.0, top_p=TOP_P)}
    for case, logits in cases.items():
        reference = sorted_top_p(logits, TOP_P)
        assert torch.equal(torch.isfinite(reference), torch.isfinite(warp_logits(logits, 1.0, top_p=TOP_P)))
        nucleus = int(torch.isfinite(reference).sum(-1).float().mean())
        for name, fn in methods.items():
            print(f"{case} (nucleus {nucleus}): {name}: {median_ms(fn, logits):.1f} ms/step, batch 4 x {V}")


if __name__ == "__main__":
    main()
