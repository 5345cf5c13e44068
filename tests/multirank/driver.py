"""Runs several ``lit_coderl fit`` commands one after another in one process of a multi-process launch.

``torchrun --nproc_per_node 2 tests/multirank/driver.py RUNS.json``: each process reads the same list of argument
lists and runs them in order, so one launch (one import of torch, Lightning and DeepSpeed per process, one process
group) covers several configs. The process group is started by the first run and reused by the others. A run that
fails writes its traceback to ``<its root>/error.rank<r>.txt`` and the driver exits 1 after the remaining runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


def main(path: str) -> int:
    from lit_coderl.cli import main as cli

    runs = json.loads(Path(path).read_text())
    rank = os.environ.get("RANK", "0")
    failed = 0
    for run in runs:
        start = time.perf_counter()
        try:
            cli(run["args"])
        except BaseException:  # noqa: BLE001 - SystemExit from the CLI included: recorded, the next run goes on
            failed += 1
            Path(run["root"], f"error.rank{rank}.txt").write_text(traceback.format_exc())
        Path(run["root"], f"seconds.rank{rank}.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main(sys.argv[1]))
