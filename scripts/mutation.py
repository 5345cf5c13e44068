"""Mutation testing of the core modules with mutmut (https://github.com/boxed/mutmut), one module at a time.

Each module is mutated against only the test files that target it, in a scratch copy of the repository
(``.mutation/<module>/``, git-ignored), at low CPU priority (``nice -n 15``, one mutant at a time). Not part of CI:
a run takes about an hour on two cores. ``docs/mutation.md`` records a run's result and explains every survivor.

    pip install "mutmut==3.8.1"
    python scripts/mutation.py                       # every module, results in .mutation/summary.json
    python scripts/mutation.py ppo spans --budget-s 900
    python scripts/mutation.py ppo --resume          # go on where a run that ran out of time stopped
    python scripts/mutation.py --report              # print the survivors of the last run (with their diffs)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRATCH = REPO / ".mutation"

MODULES = {
    "ppo": ("lit_coderl/ppo.py", ["tests/test_ppo.py", "tests/test_ppo_exact.py"]),
    "iteration": ("lit_coderl/iteration.py", ["tests/test_iteration.py", "tests/test_iteration_exact.py",
                                              "tests/test_iteration_inputs.py"]),
    "spans": ("lit_coderl/rewards/spans.py", ["tests/rewards/test_spans.py", "tests/rewards/test_spans_exact.py"]),
    "judge": ("lit_coderl/sandbox/judge.py", ["tests/sandbox/test_judge.py", "tests/sandbox/test_job_failure.py",
                                              "tests/sandbox/test_judge_exact.py"]),
    "codec": ("lit_coderl/sandbox/codec.py", ["tests/sandbox/test_codec.py", "tests/sandbox/test_codec_exact.py"]),
    "checkpoints": ("lit_coderl/checkpoints.py", ["tests/test_check_base.py", "tests/test_checkpoints.py"]),
}
"""name: (the file mutated, the test files that run against its mutants)."""


def prepare(name: str) -> Path:
    """A scratch copy of the package, the tests and the project's config, with mutmut's config for ``name``."""
    source, tests = MODULES[name]
    work = SCRATCH / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "lit_coderl", work / "lit_coderl", ignore=ignore)
    shutil.copytree(REPO / "tests", work / "tests", ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", work / "pyproject.toml")
    tests = [t for t in tests if (REPO / t).exists()]
    config = ["[mutmut]", "source_paths = lit_coderl", f"only_mutate = {source}",
              "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests),
              "pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -q"]
    (work / "setup.cfg").write_text("\n".join(config) + "\n")
    return work


def run(name: str, budget_s: float, resume: bool = False) -> dict:
    """Run mutmut on one module for at most ``budget_s`` seconds; the counts of each outcome so far. ``resume``
    keeps the scratch copy and its results (mutmut then tests only the mutants not yet checked)."""
    work = SCRATCH / name if resume and (SCRATCH / name / "setup.cfg").exists() else prepare(name)
    env = os.environ | {"LIT_CODERL_THREADS": "1", "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled",
                        "TOKENIZERS_PARALLELISM": "false", "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = ["nice", "-n", "15", sys.executable, "-m", "mutmut", "run", "--max-children", "1"]
    start = time.monotonic()
    with open(work / "mutmut.log", "w") as log:
        process = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            process.wait(timeout=budget_s)
            finished = process.returncode == 0
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 15)
            process.wait()
            finished = False
    summary = collect(name) | {"finished": finished, "seconds": round(time.monotonic() - start)}
    print(json.dumps({name: summary}), flush=True)
    return summary


def collect(name: str) -> dict:
    """Outcome counts and survivors' names from mutmut's result files of one module."""
    from mutmut.stats import status_by_exit_code

    source = MODULES[name][0]
    meta = SCRATCH / name / "mutants" / (source + ".meta")
    if not meta.exists():
        return {"counts": {}, "survived": []}
    data = json.loads(meta.read_text())
    counts: dict[str, int] = {}
    survived = []
    for key, code in data.get("exit_code_by_key", {}).items():
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
        if status == "survived":
            survived.append(key)
    return {"counts": counts, "survived": sorted(survived)}


def report(names: list[str]) -> None:
    for name in names:
        work = SCRATCH / name
        for key in collect(name)["survived"]:
            diff = subprocess.run([sys.executable, "-m", "mutmut", "show", key], cwd=work, capture_output=True,
                                  text=True).stdout
            print(diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--budget-s", type=float, default=600.0, help="seconds per module (then it stops)")
    parser.add_argument("--report", action="store_true", help="print the survivors of the last run")
    parser.add_argument("--resume", action="store_true", help="go on with the last run's mutants (same sources)")
    args = parser.parse_args()
    names = args.modules or list(MODULES)
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; expected one of {', '.join(MODULES)}")
    if args.report:
        report(names)
        return
    SCRATCH.mkdir(exist_ok=True)
    results_file = SCRATCH / "summary.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name in names:
        results[name] = run(name, args.budget_s, args.resume)
        results_file.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
