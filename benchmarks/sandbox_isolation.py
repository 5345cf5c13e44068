"""What kernel isolation costs: server start-up and per-job time, bubblewrap against plain processes.

    python benchmarks/sandbox_isolation.py [--jobs 300] [--repeats 5]

Both sides run the same pool code (`lit_coderl.sandbox.SandboxPool`, one worker), once with ``isolation="bwrap"``
(the default) and once with ``isolation="none"``: the cold start of a server (the first job, which starts it) and the
median per-job time of ``--jobs`` trivial unit-test jobs on a warm server (fork, limits, guard, run, judge, cleanup).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lit_coderl.sandbox import Limits, SandboxPool  # noqa: E402

CODE = "def f(x):\n    return x * 2\n"
TESTS = ["assert f(2) == 4", "assert f(3) == 6", "assert sorted([f(1), f(0)]) == [0, 2]"]


def measure(isolation: str, jobs: int, repeats: int) -> tuple[float, float]:
    """(median cold start of a server in s, median seconds per job on a warm server)."""
    cold, per_job = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            with SandboxPool(workers=1, limits=Limits(timeout_s=5, memory_mb=512), isolation=isolation) as pool:
                start = time.perf_counter()
                assert pool.submit_tests(CODE, TESTS).result().status == "pass"
                cold.append(time.perf_counter() - start)
                start = time.perf_counter()
                futures = [pool.submit_tests(CODE, TESTS) for _ in range(jobs)]
                assert all(f.result().status == "pass" for f in futures)
                per_job.append((time.perf_counter() - start) / jobs)
    return statistics.median(cold), statistics.median(per_job)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = {name: measure(name, args.jobs, args.repeats) for name in ("none", "bwrap")}
    print(f"{'isolation':<10} {'server start (ms)':>18} {'per job (ms)':>13}")
    for name, (cold, job) in rows.items():
        print(f"{name:<10} {1000 * cold:>18.1f} {1000 * job:>13.2f}")
    (cold_none, job_none), (cold_bwrap, job_bwrap) = rows["none"], rows["bwrap"]
    print(f"bubblewrap adds {1000 * (cold_bwrap - cold_none):+.1f} ms per server start and "
          f"{1000 * (job_bwrap - job_none):+.2f} ms per job ({job_bwrap / job_none:.2f}x)")


if __name__ == "__main__":
    main()
