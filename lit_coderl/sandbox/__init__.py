"""Running untrusted code: kernel isolation, data-only frames, verdicts judged outside the program.

The package's files are its layers, each reviewable on its own:

| file | layer |
|---|---|
| `codec.py` | protocol: size-capped frames, a data-only value codec (no pickle anywhere) |
| `isolation.py` | the bubblewrap sandbox every server runs in (namespaces, read-only filesystem, no capabilities) |
| `seccomp.py` | the system-call filter bubblewrap installs (built by libseccomp) |
| `limits.py`, `guard.py` | a job's rlimits; the EvalPlus-style guard (semantics, not security) |
| `child.py` | the job child, the only process that runs untrusted code; sends data, never verdicts |
| `server.py` | the in-sandbox server: forks children, keeps the clock, serves robot calls, cleans up |
| `pool.py` | the caller's side: a pool of warm isolated servers, jobs as futures, infrastructure errors apart |
| `probe.py` | the start-up probe: a unit-test job and a robot job before a pool takes work |
| `judge.py` | verdicts: asserts split into program calls (child) and comparisons (judge) |

How a job runs::

    caller ──frames──▶ bwrap ▶ server (PID 1 of its namespaces, uid 65534, read-only fs)
                                  └─ fork ─▶ child: fds 0/1/2 only, rlimits, guard, run ──frames──▶ server
    caller ◀──reply (plain data)── server          judge (in the caller) ◀── values
"""

from lit_coderl.sandbox.child import TEST_CODE_FILENAME, USER_CODE_FILENAME, describe_exception, user_error_line
from lit_coderl.sandbox.isolation import IsolationUnavailable
from lit_coderl.sandbox.judge import TestResult
from lit_coderl.sandbox.limits import Limits
from lit_coderl.sandbox.pool import DEFAULT_PRELOAD, INFRA_ERROR, RunReply, SandboxInfraError, SandboxPool
from lit_coderl.sandbox.probe import SandboxBroken

__all__ = [
    "DEFAULT_PRELOAD", "INFRA_ERROR", "IsolationUnavailable", "Limits", "RunReply", "SandboxBroken",
    "SandboxInfraError", "SandboxPool", "TEST_CODE_FILENAME",
    "TestResult", "USER_CODE_FILENAME", "describe_exception", "user_error_line",
]
