"""The sandbox works wherever Python lives, tells machinery failures from program failures, and no program can
break a worker: a venv and checkout under /tmp, with spaces, through a symlink; the start-up probe; infrastructure
errors kept apart from scores (pool, reward, training stop, evaluate's exit status); worker-breaking programs
(deep folder chains, rlimits, nice value and scheduler of the server) among correct ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lit_coderl.sandbox import INFRA_ERROR, Limits, SandboxBroken, SandboxPool, isolation
from lit_coderl.sandbox import pool as pool_module
from lit_coderl.sandbox.server import _wipe
from tests.hostile_helpers import NEEDS_ISOLATION

REPO = Path(__file__).resolve().parents[2]
FAST = Limits(timeout_s=10.0, memory_mb=1024)
ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]

# --- the sandbox wherever the venv and the checkout live ---------------------------------------------------------

_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import lit_coderl
assert lit_coderl.__file__.startswith(sys.argv[1]), lit_coderl.__file__
from lit_coderl.robot.runner import SandboxRunner
from lit_coderl.robot.robosim import run_world
from lit_coderl.sandbox import SandboxPool
with SandboxPool(workers=1) as pool:
    tests = pool.submit_tests("def add(a, b):\\n    return a + b\\n", ["assert add(1, 2) == 3"]).result()
    run = pool.submit_exec("import numpy, venv_marker\\nprint(venv_marker.VALUE)").result()
    world = run_world("def task_program():\\n    say('hi')\\n", 0, 0, 5.0, SandboxRunner(pool))
print(json.dumps([tests.status, run.status, run.stdout.strip(), run.load, world["status"]]))
"""


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


@pytest.mark.parametrize("layout", ["tmp", "spaces", "symlinked_venv"])
def test_jobs_run_with_the_venv_and_checkout_under_tmp(layout):
    """A checkout and a venv in a temporary folder (the private /tmp of the sandbox once hid them: every job died);
    a job imports a module that only the venv holds."""
    root = Path(tempfile.mkdtemp(prefix="lit coderl " if layout == "spaces" else "lit_coderl_"))
    try:
        checkout = root / ("my checkout" if layout == "spaces" else "checkout")
        checkout.mkdir()
        shutil.copytree(REPO / "lit_coderl", checkout / "lit_coderl", ignore=shutil.ignore_patterns("__pycache__"))
        venv = root / ("my venv" if layout == "spaces" else "venv")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                       check=True)
        # this environment's packages (bubblewrap, numpy) through a .pth file, as a user's venv would hold them
        site = next((venv / "lib").glob("python*/site-packages"))
        (site / "host.pth").write_text(_site_packages() + "\n")
        (site / "venv_marker.py").write_text("VALUE = 'ran'\n")  # a package the venv itself holds
        python = venv / "bin" / "python"
        if layout == "symlinked_venv":
            link = root / "link"
            link.symlink_to(venv)
            python = link / "bin" / "python"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([str(python), "-c", _CHILD, str(checkout)], capture_output=True, text=True, env=env,
                              timeout=300, cwd=root)
        assert done.returncode == 0, done.stderr[-2000:]
        statuses = json.loads(done.stdout.strip().splitlines()[-1])
        assert statuses == ["pass", "ok", "ran", {"ok": True}, "ok"], statuses
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- the start-up probe ------------------------------------------------------------------------------------------


@NEEDS_ISOLATION
def test_probe_runs_a_real_job_and_names_the_missing_mount(monkeypatch):
    from lit_coderl.sandbox import probe

    package = str(isolation.package_root() / "lit_coderl")
    kept = isolation._readonly_paths()
    monkeypatch.setattr(isolation, "_readonly_paths", lambda: [p for p in kept if p != package])
    probe.check_reward_path.cache_clear()
    try:
        with pytest.raises(SandboxBroken) as caught:
            probe.check_reward_path(True, ("math",))
    finally:
        probe.check_reward_path.cache_clear()
    message = str(caught.value)
    assert "sandbox start-up probe failed" in message and "cannot import lit_coderl" in message
    assert f"not visible in the sandbox: ['{package}']" in message


# --- infrastructure errors are their own outcome -----------------------------------------------------------------


class _BrokenServers:
    """Servers whose import path misses the package (the failure a hidden mount caused), the first ``broken`` ones."""

    def __init__(self, monkeypatch, broken: int) -> None:
        self.started = 0
        self.broken = broken
        real = isolation.import_path
        original = pool_module._Server.__init__
        counter = self

        def init(server, *args, **kwargs):
            counter.started += 1
            if counter.started <= counter.broken:
                monkeypatch.setattr(isolation, "import_path", lambda: ["/nonexistent"])
            try:
                original(server, *args, **kwargs)
            finally:
                monkeypatch.setattr(isolation, "import_path", real)

        monkeypatch.setattr(pool_module._Server, "__init__", init)


def test_a_failed_server_is_an_infra_error_not_a_crash(monkeypatch):
    with SandboxPool(workers=1, limits=FAST) as pool:  # probed with healthy servers first
        servers = _BrokenServers(monkeypatch, broken=10**6)
        reply = pool.submit_exec("print(1)").result()
        result = pool.submit_tests(ADD, ADD_TESTS).result()
    assert reply.status == INFRA_ERROR and reply.infra_error, reply
    assert "health check" in reply.error
    assert result.status == INFRA_ERROR and result.passed == [False, False]
    assert servers.started == 4  # each job: a server, then once more on a fresh one
    assert (pool.infra_errors, pool.retries) == (2, 2)


def test_an_infra_error_is_retried_once_on_a_fresh_server(monkeypatch):
    with SandboxPool(workers=1, limits=FAST) as pool:
        servers = _BrokenServers(monkeypatch, broken=1)
        result = pool.submit_tests(ADD, ADD_TESTS).result()
    assert (result.status, servers.started, pool.infra_errors, pool.retries) == ("pass", 2, 0, 1)


def test_reward_gives_no_score_and_fit_stops_on_the_second_iteration(monkeypatch, tiny_tokenizer):
    import torch

    from lit_coderl.rewards.sandboxed import SandboxInfrastructureFailure, check_infra_errors, infra_error_count
    from lit_coderl.rewards.tests import UnitTestReward
    from lit_coderl.rollout import Rollout

    reward = UnitTestReward(workers=1, timeout_s=10.0, memory_mb=1024, spreading="constant")  # per-token values
    texts = [f"```python\n{ADD}```", "```python\ndef add(a, b):\n    return 0\n```"]
    rollout = Rollout.from_texts(tiny_tokenizer, texts, [{"tests": ADD_TESTS}, {"tests": ADD_TESTS}])
    try:
        healthy = reward.score(rollout)
        assert reward.metrics()["infra_errors"] == 0.0 and check_infra_errors([reward], 0, 2) == 0
        assert healthy[1].min() == pytest.approx(-0.3)  # the wrong program's failure penalty
        reward.close()
        _BrokenServers(monkeypatch, broken=10**6)  # the next pool's servers cannot import the package
        broken = reward.score(rollout)
    finally:
        reward.close()
    assert torch.equal(broken, torch.zeros_like(broken))  # no score: neither the pass value nor the penalty
    metrics = reward.metrics()
    assert (metrics["infra_errors"], metrics["scored"], metrics["crashes"]) == (1.0, 0.0, 0.0)
    assert infra_error_count([reward]) == 2
    assert check_infra_errors([reward], 0, 2) == 1  # the first iteration: logged, training goes on
    with pytest.raises(SandboxInfrastructureFailure) as caught:
        check_infra_errors([reward], 1, 2)
    assert "\n" not in str(caught.value) and "2 consecutive iterations (unit_tests: 2 sample(s)" in str(caught.value)


def test_evaluate_marks_infra_errors_and_exits_non_zero(monkeypatch, tmp_path, capsys, data_dir):
    from lit_coderl.evaluate.cli import main

    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": 11, "solution": "def remove_Occ(s, ch):\n    return s\n"}) + "\n")
    with SandboxPool(workers=1, limits=FAST):
        pass  # the probe, with healthy servers
    _BrokenServers(monkeypatch, broken=10**6)
    out = tmp_path / "out.jsonl"
    code = main(["mbpp", "--samples", str(samples), "--out", str(out), "--workers", "1", "--data-dir",
                 str(data_dir)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 3
    assert [r["status"] for r in rows] == [INFRA_ERROR] and rows[0]["pass"] is False
    assert "could not be run, the sandbox failed before their program started" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["robosim", "roboeval"])
def test_robot_evaluators_mark_infra_errors(monkeypatch, data_dir, kind):
    from lit_coderl.evaluate import get_evaluator
    from lit_coderl.evaluate.base import has_infra_error

    with SandboxPool(workers=1, limits=FAST):
        pass  # the probe, with healthy servers
    _BrokenServers(monkeypatch, broken=10**6)
    evaluator = get_evaluator(kind)(data_dir=data_dir, workers=1)
    rows = evaluator.score([{"task_id": "StaplerDelivery_0", "solution": "def task_program():\n    say('hi')\n"}])
    assert [has_infra_error(r) for r in rows] == [True] and rows[0]["passed"] is False
    assert "not run (sandbox infrastructure errors, not counted): 1" in evaluator.summary(rows)


# --- no program can break a worker ---------------------------------------------------------------------------

_LIBC = """
import sys
for name in ("ctypes", "_ctypes", "ctypes.util"):
    sys.modules.pop(name, None)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
"""
_PRLIMIT = """
class R(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
assert libc.prlimit(1, {which}, ctypes.byref(R({value}, {value})), None) == 0
"""
BREAKERS = {
    # a folder chain deeper than the recursion limit and than PATH_MAX (the recursive wipe raised RecursionError)
    "deep_folders": _LIBC + "for _ in range(3000):\n    libc.mkdir(b'd', 0o700)\n    libc.chdir(b'd')\n",
    "prlimit_nproc": _LIBC + _PRLIMIT.format(which=6, value=1),  # RLIMIT_NPROC: the server can fork no more
    "prlimit_nofile": _LIBC + _PRLIMIT.format(which=7, value=4),  # RLIMIT_NOFILE: nor open a pipe
    "nice_server": _LIBC + "assert libc.setpriority(0, 1, 19) == 0\n",
    "sched_server": _LIBC + "assert libc.sched_setscheduler(1, 5, ctypes.byref(ctypes.c_int(0))) == 0\n",
}


ENV = ADD + """
def env():
    # what a job inherits from its server: nice value and scheduling policy (/proc/self/stat), hard limits
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    limits = [line.split()[-3:-1] for line in open("/proc/self/limits") if line.startswith(("Max open", "Max proc"))]
    return [fields[16], fields[38], limits]
"""


@NEEDS_ISOLATION
@pytest.mark.parametrize("name", sorted(BREAKERS))
def test_a_worker_breaking_program_changes_no_other_verdict(name):
    """One breaking program among 16 correct ones on two workers: every correct one passes and finds the sandbox
    it would find on a fresh worker, in this iteration and the next three (a broken worker used to fail every
    later job at once, and a changed server passed its nice value and scheduler on to every later job)."""
    breaker = ADD + BREAKERS[name]
    with SandboxPool(workers=2, limits=FAST) as pool:
        fresh = pool.submit_exec(ENV + "print(repr(env()))").result().stdout.strip()
        tests = [*ADD_TESTS, f"assert env() == {fresh}"]
        for iteration in range(4):
            codes = [ENV] * 8 + ([breaker] if iteration == 0 else [ENV]) + [ENV] * 8
            results = [f.result() for f in [pool.submit_tests(code, tests) for code in codes]]
            if iteration == 0:
                # its own verdict is its own: the seccomp filter refuses the call aimed at PID 1 (the program's
                # assert fails), or the server notices the change and is replaced before the next job
                assert results.pop(8).status in ("pass", "fail", "error"), name
            assert [r.status for r in results] == ["pass"] * (16 if iteration == 0 else 17), (
                name, iteration, [(r.status, r.error) for r in results])
        assert (pool.infra_errors, pool.retries) == (0, 0)  # replaced before the next job, not after failing it


@pytest.fixture
def memory_folder():
    """A folder on a tmpfs, as the sandbox's /tmp is (a disk's rmdir is 100 times slower)."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_wipe_is_iterative_and_resets_permissions(memory_folder):
    tmp_path = memory_folder
    root = tmp_path / "scratch"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(3000):  # 6,000 characters of path: over PATH_MAX, and 3,000 levels: over the recursion limit
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
        f.write("x")
    os.close(fd)
    (root / "locked").mkdir()
    (root / "locked" / "inside").write_text("x")
    (root / "locked").chmod(0)
    (root / "link").symlink_to(tmp_path)
    assert _wipe(str(root)) == []
    assert os.listdir(root) == [] and tmp_path.is_dir()
