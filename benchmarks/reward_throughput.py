"""Unit-test reward throughput: serial vs a pool of workers, a fresh Python per sample vs reused warm workers.

    python benchmarks/reward_throughput.py [--samples 64] [--workers 2] [--repeats 5] [--data-dir ../shared/data]

Scores ``--samples`` responses (MBPP train-split reference solutions in a ```python block, three asserts each; a
small built-in set when the data is absent) with `UnitTestReward` in four settings: {1 worker, ``--workers``} ×
{``reuse_workers=False`` (a fresh, plain Python per sample: the original harnesses' model, no isolation), ``True``
(one warm bubblewrap-isolated server per worker forks each job)}; plus reused workers without isolation, to report
the isolation's own per-job cost.
Each setting scores one warm-up batch (server start-up excluded for reused workers), then ``--repeats`` timed batches;
the median time is reported, with samples per second and the speed-up ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from lit_coderl.rewards.tests import UnitTestReward  # noqa: E402
from lit_coderl.rollout import Rollout  # noqa: E402

FALLBACK_TASKS = [
    (
        "def add(a, b):\n    return a + b\n",
        ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"],
    ),
    (
        "def rev(s):\n    return s[::-1]\n",
        ["assert rev('ab') == 'ba'", "assert rev('') == ''", "assert rev('x') == 'x'"],
    ),
    (
        "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n",
        ["assert fact(0) == 1", "assert fact(5) == 120", "assert fact(3) == 6"],
    ),
    (
        "def evens(xs):\n    return [x for x in xs if x % 2 == 0]\n",
        ["assert evens([1, 2, 3, 4]) == [2, 4]", "assert evens([]) == []", "assert evens([1]) == []"],
    ),
]


def load_samples(n: int, data_dir: Path) -> tuple[list[str], list[dict], str]:
    """``n`` (response text, task row) pairs: MBPP train references, or the built-in tasks repeated."""
    try:
        from lit_coderl.data.mbpp import MBPP

        rows = MBPP(split="train", data_dir=data_dir).load()
        source = f"MBPP train split ({data_dir})"
    except FileNotFoundError:
        rows = [{"reference": code, "tests": tests, "test_setup": ""} for code, tests in FALLBACK_TASKS]
        source = "built-in tasks (MBPP data not found)"
    rows = [rows[i % len(rows)] for i in range(n)]
    texts = [f"Here is the solution:\n```python\n{row['reference']}\n```\n" for row in rows]
    return texts, rows, source


def tiny_tokenizer(texts: list[str]):
    """A byte-level BPE trained on the responses themselves (the reward only needs offsets)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=800, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def time_setting(rollout: Rollout, workers: int, reuse: bool, repeats: int, isolated: bool = True
                 ) -> tuple[float, float]:
    """Median wall-clock seconds of one ``score`` of the batch, and its pass rate."""
    import os
    import warnings

    os.environ["LIT_CODERL_SANDBOX"] = "bwrap" if isolated else "unisolated"
    reward = UnitTestReward(workers=workers, reuse_workers=reuse)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reward.pool  # noqa: B018 - start the pool under this setting
        reward.score(rollout)  # warm-up: starts the servers of reused workers
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            reward.submit(rollout)
            reward.score(rollout)
            seconds.append(time.perf_counter() - start)
        return statistics.median(seconds), reward.metrics()["pass_rate"]
    finally:
        reward.close()
        os.environ.pop("LIT_CODERL_SANDBOX", None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    texts, rows, source = load_samples(args.samples, args.data_dir)
    rollout = Rollout.from_texts(tiny_tokenizer(texts), texts, rows)
    print(f"{args.samples} samples from {source}; median of {args.repeats} batches after one warm-up batch\n")
    times: dict[tuple[int, bool], float] = {}
    print(f"{'workers':>7} {'mode':<34} {'seconds':>8} {'samples/s':>10} {'pass rate':>9}")
    # the baseline is the original harnesses' model: one fresh, plain Python per sample (no isolation)
    for reuse in (False, True):
        for workers in (1, args.workers):
            seconds, pass_rate = time_setting(rollout, workers, reuse, args.repeats, isolated=reuse)
            times[(workers, reuse)] = seconds
            mode = "reused isolated workers" if reuse else "fresh Python per sample (no isol.)"
            print(f"{workers:>7} {mode:<34} {seconds:>8.3f} {args.samples / seconds:>10.1f} {pass_rate:>9.3f}")
    w = args.workers
    plain, _ = time_setting(rollout, w, True, args.repeats, isolated=False)
    print(f"{w:>7} {'reused workers, no isolation':<34} {plain:>8.3f} {args.samples / plain:>10.1f}")
    print(f"isolation's cost per job ({w} workers): {1000 * (times[(w, True)] - plain) / args.samples:+.2f} ms "
          f"({times[(w, True)] / plain:.2f}x)")
    print()
    print(f"parallel speed-up ({w} vs 1 worker), process per sample: {times[(1, False)] / times[(w, False)]:.2f}x")
    print(f"parallel speed-up ({w} vs 1 worker), reused workers:     {times[(1, True)] / times[(w, True)]:.2f}x")
    print(f"reuse speed-up (1 worker):                          {times[(1, False)] / times[(1, True)]:.2f}x")
    print(f"reuse speed-up ({w} workers):                         {times[(w, False)] / times[(w, True)]:.2f}x")
    print(f"overall ({w} reused workers vs 1 process per sample):  {times[(1, False)] / times[(w, True)]:.2f}x")


if __name__ == "__main__":
    main()
