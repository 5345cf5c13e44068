"""RoboSim throughput: our process model against one fresh Python process per world.

    python benchmarks/simulator_throughput.py [--programs 64] [--worlds 5] [--workers 2] [--repeats 3]

*Ours*: `lit_coderl.robot.robosim.verify_program` drives each program from the caller, and every world is a job
of a `SandboxPool` (forked from a warm, bubblewrap-isolated server; the program talks to the simulator held by the
server). ``--unisolated`` runs the same servers without bubblewrap, to report the isolation's own cost.
*Original-style*: every world is a fresh
``python -c <script>`` (the original harness's process model): the script imports ``sys``, ``time``, the
simulator (and numpy, which the original RoboSim imports; ``--no-numpy`` drops it), builds the robot and runs the
rewritten, mutated program; a non-zero exit is an error. Both sides use the same number of parallel workers and the
same programs (our generator's, not RoboEval material). Prints wall-clock times, worlds per second and the ratio;
ours is timed cold (pool start included, once) and warm (pool already running); warm and original-style times are
medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lit_coderl.robot.generator import generate_pairs  # noqa: E402
from lit_coderl.robot.harness import rewrite_program  # noqa: E402
from lit_coderl.robot.robosim import mutate_membership_tests, verify_program, world_rng  # noqa: E402
from lit_coderl.robot.runner import SandboxRunner  # noqa: E402
from lit_coderl.sandbox import Limits, SandboxPool  # noqa: E402

WORLD_SCRIPT = """import sys
import time
{numpy}from lit_coderl.robot.robosim import RoboSimRobot
import random
robot = RoboSimRobot(random.Random({seed!r}))
{program}
"""


def original_style_world(program: str, seed: int, world: int, timeout_s: float, numpy: bool) -> bool:
    """One world in a fresh interpreter, as the original harness runs it; True when it exits 0."""
    rng = world_rng(seed, world)
    rewritten = rewrite_program(mutate_membership_tests(program, rng))
    script = WORLD_SCRIPT.format(numpy="import numpy\n" if numpy else "", seed=f"{seed}:{world}", program=rewritten)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, timeout=timeout_s, cwd=REPO, start_new_session=True
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def run_original_style(programs: list[str], worlds: int, workers: int, timeout_s: float, numpy: bool) -> float:
    jobs = [(program, index, world) for index, program in enumerate(programs) for world in range(worlds)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        ok = list(pool.map(lambda job: original_style_world(job[0], job[1], job[2], timeout_s, numpy), jobs))
    elapsed = time.perf_counter() - start
    print(f"  original-style: {len(jobs)} worlds in {elapsed:.2f} s, {sum(ok)} passed")
    return elapsed


def run_ours(pool: SandboxPool, programs: list[str], worlds: int, timeout_s: float) -> tuple[float, int]:
    start = time.perf_counter()
    runner = SandboxRunner(pool, count_caught_errors=True)
    futures = [pool.run_driver(verify_program, program, worlds, index, timeout_s, "count", runner)
               for index, program in enumerate(programs)]
    passed = sum(future.result()["passed"] for future in futures)
    return time.perf_counter() - start, passed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=64)
    parser.add_argument("--worlds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2.0, help="per-world wall clock (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (the median is reported)")
    parser.add_argument("--no-numpy", action="store_true", help="do not import numpy in the original-style script")
    parser.add_argument("--unisolated", action="store_true", help="our side without bubblewrap (isolation cost)")
    args = parser.parse_args(argv)

    programs = [program for _, program in generate_pairs(args.programs, args.seed)]
    random.Random(args.seed).shuffle(programs)
    n_worlds = args.programs * args.worlds
    print(f"{args.programs} programs x {args.worlds} worlds, {args.workers} workers")

    start = time.perf_counter()
    limits = Limits(timeout_s=args.timeout + 1.0, memory_mb=1024)
    isolation = "none" if args.unisolated else "bwrap"
    with SandboxPool(workers=args.workers, limits=limits, isolation=isolation) as pool:
        cold, passed = run_ours(pool, programs, args.worlds, args.timeout)
        cold = time.perf_counter() - start
        warm = statistics.median(run_ours(pool, programs, args.worlds, args.timeout)[0] for _ in range(args.repeats))
    print(f"ours (cold, pool start included): {n_worlds} worlds in {cold:.2f} s, {passed} passed")
    print(
        f"ours (warm pool, median of {args.repeats}): {n_worlds} worlds in {warm:.2f} s "
        f"({n_worlds / warm:.0f} worlds/s)"
    )

    original = statistics.median(
        run_original_style(programs, args.worlds, args.workers, args.timeout, numpy=not args.no_numpy)
        for _ in range(args.repeats)
    )
    print(
        f"original-style (median of {args.repeats}): {n_worlds} worlds in {original:.2f} s, "
        f"{n_worlds / original:.1f} worlds/s"
    )
    print(f"speed-up: {original / warm:.1f}x warm, {original / cold:.1f}x cold")


if __name__ == "__main__":
    main()
