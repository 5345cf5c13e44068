"""Shared machinery of the hostile-program suites (`tests/test_sandbox_hostile.py`, `tests/sandbox/test_hostile_*.py`).

Hostile programs run in one-worker pools, each program between two probes (honest jobs that also report the
sandbox's state: its processes, the writable places, SysV IPC, the server's identity)::

    probe ─▶ hostile program A ─▶ probe ─▶ hostile program B ─▶ probe ...

so each program is checked for its verdict, for the next job's verdict on the same server, for what it left in the
sandbox for that next job, and (through `Host`) for what it did to the machine: a canary folder the sandbox can *see*
(read-only), a hidden one, a sentinel process standing in for the trainer, the test process itself, a secret in the
test process's environment, the real HOME and its caches, the host's ``/tmp``, the project's source, sockets of the
host, and processes left anywhere. Programs that change the sandbox on purpose get a server of their own. Every
file or process a hostile program tries to create carries `TOKEN` in its name, argv or content, so the host checks
stay exact while other sessions use the same machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_coderl.sandbox import Limits, SandboxPool
from lit_coderl.sandbox.isolation import SANDBOX_UID

REPO = Path(__file__).resolve().parents[1]
TOKEN = f"hostile{os.getpid()}t{secrets.token_hex(4)}"
"""In the name, argv or content of everything a hostile program tries to create outside its job."""
SECRET_FILE_ID = f"{os.getpid()}s{secrets.token_hex(4)}"
SECRET_KEY = "LIT_CODERL_HOSTILE_SECRET"
SECRET = "s3cr3t" + secrets.token_hex(16)
"""Put in the test process's environment (and in files only the host sees): no program may print it."""
HOME = Path(os.path.expanduser("~"))
CACHE = HOME / ".cache" / "lit_coderl"
LIMITS = Limits(timeout_s=2.0, memory_mb=512, file_size_mb=4)
SHORT = Limits(timeout_s=0.6, memory_mb=512, file_size_mb=4)
"""For programs meant to run out of time."""
PROBE_LIMITS = Limits(timeout_s=10.0, memory_mb=512, file_size_mb=4)
TESTS = ["assert solve() == 42"]
HONEST = "\ndef solve():\n    return 42\n"
WRONG = "\ndef solve():\n    return 41\n"
PARALLEL = 4
"""Chains of hostile programs in flight at once (each chain in a one-worker pool of its own)."""
CHAIN = 4
"""Programs per chain (per sandbox server)."""

PROBE = r"""
import json as _json, os as _os
def _ls(path):
    try:
        return sorted(_os.listdir(path))
    except OSError as exc:
        return f"unlistable: {exc.__class__.__name__}"
def _rows(kind):
    try:
        with open(f"/proc/sysvipc/{kind}") as handle:
            return handle.read().splitlines()[1:]
    except OSError as exc:
        return f"unreadable: {exc.__class__.__name__}"
def _xattrs(path):
    try:
        return {n: _os.getxattr(path, n).hex() for n in sorted(_os.listxattr(path))}
    except OSError as exc:
        return f"unreadable: {exc.__class__.__name__}"
_free = _os.statvfs("/tmp")
_state = {
    "server": [open("/proc/1/stat").read().split()[21], _os.readlink("/proc/self/ns/pid")],
    "procs": sorted(p for p in _os.listdir("/proc") if p.isdigit() and int(p) != _os.getpid()),
    "fs": {d: _ls(d) for d in ("/", "/dev", "/dev/shm", "/tmp", "/tmp/job", "/root", "/work", "/etc")},
    "ipc": {k: _rows(k) for k in ("shm", "sem", "msg")},
    "tmp_free_mb": _free.f_bavail * _free.f_frsize // (1 << 20),
    "modes": {d: oct(_os.stat(d).st_mode) for d in ("/", "/tmp", "/dev", "/dev/shm")},
    "xattrs": {d: _xattrs(d) for d in ("/", "/tmp", "/tmp/job", "/dev/shm")},
}
print("PROBE" + _json.dumps(_state, sort_keys=True))
def solve():
    return 42
"""


def probe_state(result: Any) -> dict | None:
    """The state a probe printed (None when it printed none)."""
    for line in (getattr(result, "stdout", "") or "").splitlines():
        if line.startswith("PROBE"):
            return json.loads(line[5:])
    return None


@dataclass
class Prog:
    """One hostile program and exactly what the sandbox must make of it."""

    name: str
    kind: str
    """Attack class (issue #11)."""
    code: str
    expect: str | tuple[str, ...]
    """The job's status: a `TestResult` status (``mode="tests"``) or a `RunReply` status (``exec``/``calls``); a
    tuple where the choice between failures is semantics, not security."""
    tests: list[str] = field(default_factory=lambda: list(TESTS))
    setup: str = ""
    """The tests' setup code (MBPP's ``test_setup_code``), run after the program."""
    passed: list[bool] | None = None
    """Expected ``TestResult.passed`` (default: all True when ``expect == "pass"``, else all False)."""
    mode: str = "tests"
    limits: Limits | None = None
    calls: tuple[str, list, list[float]] | None = None
    """``(entry_point, inputs, time_limits)`` for ``mode="calls"``."""
    check: Callable[[Any], None] | None = None
    """Further assertions on the result (e.g. the secret is not in its output)."""
    state_ok: Callable[[dict, dict], None] | None = None
    """Replaces the default "next job sees the same sandbox state as before" check (for expected differences)."""
    alone: bool = False
    """Run after the others, one at a time (fork bombs: where the process limit fails, they starve the machine)."""


@dataclass
class Outcome:
    prog: Prog
    result: Any = None
    before: Any = None
    after: Any = None
    error: str | None = None
    seconds: float = 0.0
    previous: str | None = None
    """The program that ran just before on the same server (its probe is this one's baseline)."""


class Host:
    """The machine's side: canaries, sentinel, secrets; `check` asserts they are intact."""

    def __init__(self) -> None:
        self.canary = _visible_canary_folder() / f"hostile-canary-{TOKEN}"
        self.hidden = Path(f"/tmp/hostile-hidden-{SECRET_FILE_ID}")
        self.home_secret = HOME / f".hostile-secret-{SECRET_FILE_ID}"
        self.tmp_secret = Path(f"/tmp/hostile-secret-{SECRET_FILE_ID}")
        self.sentinel: subprocess.Popen | None = None
        self.listener: socket.socket | None = None
        self.received: list[bytes] = []
        self.unix_listener: socket.socket | None = None
        self.file_listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._old_secret = os.environ.get(SECRET_KEY)
        self.mine_before: dict[str, dict] = {}

    # set-up ---------------------------------------------------------------------------------------------------

    def __enter__(self) -> Host:
        os.environ[SECRET_KEY] = SECRET
        for root in (self.canary, self.hidden):
            root.mkdir(parents=True, exist_ok=True)
            (root / "keep.txt").write_text("precious\n")
            (root / "empty").mkdir(exist_ok=True)
            (root / "sub").mkdir(exist_ok=True)
            (root / "sub" / "deep.txt").write_text("deep\n")
        self.home_secret.write_text(SECRET)
        self.tmp_secret.write_text(SECRET)
        os.chmod(self.home_secret, 0o600)
        os.chmod(self.tmp_secret, 0o600)
        self.sentinel = subprocess.Popen(["sleep", "600"], start_new_session=True)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.unix_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix_listener.bind("\0" + TOKEN)  # abstract: reachable from any process of the host's network namespace
        self.unix_listener.listen(16)
        self.unix_listener.settimeout(0.2)
        # a service's socket file in a folder the sandbox sees read-only (here: inside the repository)
        self.socket_file = self.canary / "service.sock"
        self.file_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.file_listener.bind(str(self.socket_file))
        os.chmod(self.socket_file, 0o777)  # like many services' sockets: anyone who can reach it may connect
        self.file_listener.listen(16)
        self.file_listener.settimeout(0.2)
        for server in (self.listener, self.unix_listener, self.file_listener):
            thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
            thread.start()
            self._threads.append(thread)
        self.tmp_before = set(os.listdir("/tmp"))
        self.home_before = set(os.listdir(HOME))
        self.canary_before = snapshot(self.canary)
        self.hidden_before = snapshot(self.hidden)
        self.project_before = {p: p.exists() for p in project_targets()}
        return self

    def _accept(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            try:
                conn.settimeout(0.5)
                self.received.append(conn.recv(100) or b"<connected>")
            except OSError:
                self.received.append(b"<connected>")
            finally:
                conn.close()

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for server in (self.listener, self.unix_listener, self.file_listener):
            if server is not None:
                server.close()
        if self.sentinel is not None and self.sentinel.poll() is None:
            self.sentinel.kill()
            self.sentinel.wait()
        for root in (self.canary, self.hidden):
            _force_rmtree(root)
        for path in (self.home_secret, self.tmp_secret):
            path.unlink(missing_ok=True)
        undo_breaches()
        if self._old_secret is None:
            os.environ.pop(SECRET_KEY, None)
        else:
            os.environ[SECRET_KEY] = self._old_secret

    # what programs know ---------------------------------------------------------------------------------------

    def prelude(self, name: str) -> str:
        """Constants a hostile program starts with (it knows everything about the host it attacks)."""
        values = {
            "CANARY": str(self.canary), "HIDDEN": str(self.hidden), "TOKEN": TOKEN, "NAME": name,
            "MINE": str(self.canary / name), "MINE_HIDDEN": str(self.hidden / name),
            "TEST_PID": os.getpid(), "TEST_PPID": os.getppid(), "SENTINEL_PID": self.sentinel.pid,
            "PORT": self.listener.getsockname()[1], "PROJECT": str(REPO), "REAL_HOME": str(HOME),
            "SECRET_KEY": SECRET_KEY, "HOME_SECRET": str(self.home_secret), "TMP_SECRET": str(self.tmp_secret),
            "PYTHON": sys.executable, "SITE": _site_packages(), "SOCKET_FILE": str(self.socket_file),
        }
        lines = [f"{key} = {value!r}" for key, value in values.items()]
        lines.append(
            "def attempt(fn, *args, **kwargs):\n"
            "    try:\n"
            "        return fn(*args, **kwargs)\n"
            "    except BaseException as exc:\n"
            "        return exc\n"
        )
        return "\n".join(lines) + "\n"

    # checks ---------------------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Everything that is wrong with the host now (empty when intact)."""
        problems = []
        if snapshot(self.canary) != self.canary_before:
            problems.append(f"canary changed: {diff(self.canary_before, snapshot(self.canary))}")
        if snapshot(self.hidden) != self.hidden_before:
            problems.append(f"hidden canary changed: {diff(self.hidden_before, snapshot(self.hidden))}")
        if self.sentinel.poll() is not None:
            problems.append(f"sentinel process (pid {self.sentinel.pid}) died: {self.sentinel.returncode}")
        if self.received:
            problems.append(f"a program reached a host socket: {self.received[:5]}")
        for folder, before in ((Path("/tmp"), self.tmp_before), (HOME, self.home_before)):
            new = [n for n in set(os.listdir(folder)) - before if TOKEN in n or n.startswith(("hostile", ".hostile"))]
            new = [n for n in new if n not in (self.hidden.name, self.tmp_secret.name, self.home_secret.name)]
            if new:
                problems.append(f"new in {folder}: {sorted(new)}")
        for path, existed in self.project_before.items():
            if path.exists() != existed:
                problems.append(f"project file {path} {'removed' if existed else 'created'}")
        problems += [f"{TOKEN} found in {p}" for p in token_files()]
        problems += [f"process left behind: {p}" for p in token_processes()]
        problems += [f"process left behind: {p}" for p in stray_descendants(keep={self.sentinel.pid})]
        if self.home_secret.read_text() != SECRET:
            problems.append("home secret changed")
        return problems

    def prepare(self, names: list[str]) -> None:
        """A canary folder of each program's own (``MINE`` in its prelude, and ``MINE_HIDDEN`` the host only sees)."""
        for name in names:
            for root in (self.canary / name, self.hidden / name):
                root.mkdir(parents=True, exist_ok=True)
                (root / "keep.txt").write_text(f"precious {name}\n")
                (root / "empty").mkdir(exist_ok=True)
                (root / "sub").mkdir(exist_ok=True)
                (root / "sub" / "deep.txt").write_text("deep\n")
                self.mine_before[str(root)] = snapshot(root)
        self.canary_before = snapshot(self.canary)
        self.hidden_before = snapshot(self.hidden)

    def canary_of(self, name: str) -> list[str]:
        """What changed in a program's own canary folders."""
        problems = []
        for root in (self.canary / name, self.hidden / name):
            before = self.mine_before.get(str(root))
            if before is not None and snapshot(root) != before:
                problems.append(f"{root}: {diff(before, snapshot(root))}")
        return problems


def _visible_canary_folder() -> Path:
    """A host folder the sandbox shows its programs read-only, for a canary they can SEE (and must not change): the
    first of the environment's prefix, its site-packages, the repository that a probe job finds. A probe that
    does not run, or finds none of them, is an error: the attacks on the canary would mean nothing."""
    global _VISIBLE
    if _VISIBLE is None:
        candidates = [Path(sys.prefix), Path(_site_packages()), REPO]
        marks = [c / f".hostile-visible-{TOKEN}" for c in candidates]
        for mark in marks:
            mark.write_text("seen")
        try:
            with SandboxPool(workers=1, limits=LIMITS, isolation="bwrap") as pool:
                reply = pool.submit_exec(
                    f"import os, json\nprint(json.dumps([os.path.exists(m) for m in {[str(m) for m in marks]!r}]))"
                ).result()
        finally:
            for mark in marks:
                mark.unlink(missing_ok=True)
        if reply.status != "ok" or not reply.stdout.strip():
            raise RuntimeError(f"the canary probe did not run: {reply.status} {reply.error} {reply.load}")
        seen = json.loads(reply.stdout)
        visible = [c for c, s in zip(candidates, seen, strict=True) if s]
        if not visible:
            raise RuntimeError(f"the sandbox shows none of {[str(c) for c in candidates]}: no visible canary")
        _VISIBLE = visible[0]
    return _VISIBLE


_VISIBLE: Path | None = None


def undo_breaches() -> list[str]:
    """Safety net, after the checks have reported: take back what a program that got out left (lines and bytes with
    `TOKEN` in the project's files and HOME's dotfiles, TOKEN-named files, caches it overwrote)."""
    undone = []
    texts = [*(REPO / "lit_coderl").rglob("*.py"), REPO / "pyproject.toml",
             *(HOME / name for name in (".bashrc", ".profile", ".ssh/authorized_keys"))]
    for path in texts:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if TOKEN.encode() in data:
            kept = [line for line in data.splitlines(keepends=True) if TOKEN.encode() not in line]
            path.write_bytes(b"".join(kept).rstrip(b"\n") + b"\n")
            undone.append(str(path))
    for path in (REPO / "lit_coderl").rglob("*.pyc"):
        data = path.read_bytes()
        if data.endswith(TOKEN.encode()):
            path.write_bytes(data[: -len(TOKEN)])
            undone.append(str(path))
    for root in (REPO / "lit_coderl", REPO, Path(_site_packages()), HOME, CACHE, Path("/tmp")):
        if not root.exists():
            continue
        found = root.rglob(f"*{TOKEN}*") if root in (REPO / "lit_coderl", CACHE) else root.glob(f"*{TOKEN}*")
        for path in list(found):
            _force_rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
            undone.append(str(path))
    if CACHE.exists():
        for path in CACHE.glob("*"):
            if path.is_file() and TOKEN.encode() in path.read_bytes():
                path.unlink()  # a cache: rebuilt on its next use
                undone.append(str(path))
    return undone


def isolated_by_default() -> bool:
    """Whether the sandbox isolates (hostile programs never run unisolated: they would harm this machine)."""
    from lit_coderl.sandbox import isolation

    try:
        return isolation.default_isolation() == "bwrap"
    except ValueError:
        return False


NEEDS_ISOLATION = __import__("pytest").mark.skipif(
    not isolated_by_default(), reason="hostile programs never run unisolated (LIT_CODERL_SANDBOX opts out)")
"""``pytestmark`` of every hostile suite module."""


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def project_targets() -> list[Path]:
    """Project files hostile programs try to delete or replace."""
    pkg = REPO / "lit_coderl"
    return [pkg / "__init__.py", pkg / "sandbox" / "__init__.py", pkg / "sandbox" / "server.py",
            pkg / "sandbox" / "child.py", pkg / "sandbox" / "codec.py", REPO / "pyproject.toml"]


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        body = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, hashlib.sha256(body).hexdigest())
    st = root.lstat()
    out["."] = (st.st_mode, st.st_mtime_ns)
    return out


def diff(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {k: (before.get(k), after.get(k)) for k in sorted(keys) if before.get(k) != after.get(k)}


def _force_rmtree(root: Path) -> None:
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        try:
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o700)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


def token_files() -> list[str]:
    """Files outside any sandbox whose name or content carries TOKEN: the project's package, its caches, HOME's
    top level, the venv's site-packages top level and the host's /tmp top level."""
    found = []
    roots = [REPO / "lit_coderl", CACHE]
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if TOKEN in path.name:
                found.append(str(path))
            elif path.is_file() and not path.is_symlink() and path.stat().st_size < 8 << 20:
                try:
                    if TOKEN.encode() in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    pass
    for folder in (HOME, Path(_site_packages()), Path("/tmp"), REPO):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found += [str(folder / n) for n in names if TOKEN in n]
    for path in (HOME / ".bashrc", HOME / ".profile", HOME / ".gitconfig"):
        if path.is_file() and TOKEN.encode() in path.read_bytes():
            found.append(str(path))
    return found


def _proc_table() -> dict[int, tuple[int, bytes]]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        table[int(entry)] = (ppid, cmdline)
    return table


def token_processes() -> list[str]:
    """Processes anywhere on the host whose command line carries TOKEN."""
    return [f"{pid}: {cmd[:120]!r}" for pid, (_, cmd) in _proc_table().items() if TOKEN.encode() in cmd]


def descendants(pid: int, table: dict | None = None) -> dict[int, bytes]:
    table = table if table is not None else _proc_table()
    children: dict[int, list[int]] = {}
    for child, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(child)
    out, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out[p] = table[p][1]
        todo += children.get(p, [])
    return out


def stray_descendants(keep: set[int] = frozenset()) -> list[str]:
    """Processes below this test process outside the live sandbox servers' trees (whatever their layout: bwrap,
    a privilege dropper, the server). What a job leaves INSIDE a live sandbox the probes list (``procs``)."""
    from lit_coderl.sandbox import pool as pool_module

    table = _proc_table()
    allowed = set(keep)
    for server in list(pool_module._LIVE_SERVERS):
        allowed |= {server.process.pid, *descendants(server.process.pid, table)}
    # helpers other tests of this pytest process started and that outlive them (wandb's service) are not the
    # sandbox's: only processes of the sandbox's user, or bubblewrap, count as left behind
    return [f"{p}: {cmd[:100]!r}" for p, cmd in descendants(os.getpid(), table).items()
            if p not in allowed and (_uid(p) == SANDBOX_UID or b"bwrap" in cmd)]


def _uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --- running -----------------------------------------------------------------------------------------------------


def _submit(pool: SandboxPool, prog: Prog, code: str):
    limits = prog.limits or LIMITS
    if prog.mode == "tests":
        return pool.submit_tests(code, prog.tests, setup=prog.setup, limits=limits)
    if prog.mode == "exec":
        return pool.submit_exec(code, limits=limits)
    if prog.mode == "calls":
        entry, inputs, time_limits = prog.calls
        return pool.submit_calls(code, entry, inputs, time_limits, limits=limits)
    raise ValueError(prog.mode)


def run_chain(host: Host, progs: list[Prog]) -> list[Outcome]:
    """probe → program → probe → program → probe ..., in a one-worker pool of their own: each program's verdict,
    and the next job after it (the probe), on the same server."""
    outcomes = [Outcome(p) for p in progs]
    try:
        with SandboxPool(workers=1, limits=LIMITS, isolation="bwrap") as pool:
            probe = pool.submit_tests(PROBE, TESTS, limits=PROBE_LIMITS).result()
            for previous, outcome in zip([None, *progs], outcomes, strict=False):
                start = time.monotonic()
                outcome.before, outcome.previous = probe, previous and previous.name
                code = host.prelude(outcome.prog.name) + outcome.prog.code
                outcome.result = _submit(pool, outcome.prog, code).result()
                probe = outcome.after = pool.submit_tests(PROBE, TESTS, limits=PROBE_LIMITS).result()
                outcome.seconds = time.monotonic() - start
    except BaseException as exc:  # noqa: B036 - reported by the test
        for outcome in outcomes:
            if outcome.after is None:
                outcome.error = f"{type(exc).__name__}: {exc}"
    return outcomes


def run_all(host: Host, progs: list[Prog]) -> dict[str, Outcome]:
    """Every program, `PARALLEL` chains at a time. Programs that change the sandbox on purpose (``state``), and
    ``alone`` ones (afterwards, one at a time), get a server of their own; the others share one per chain of
    `CHAIN`, each still judged by the probes just before and after it."""
    names = [p.name for p in progs]
    assert len(names) == len(set(names)), "duplicate program names"
    host.prepare(names)
    own = [[p] for p in progs if p.kind == "state" and not p.alone]
    shared = sorted((p for p in progs if p.kind != "state" and not p.alone), key=lambda p: (p.limits is None, p.name))
    chains = own + [shared[k::-(-len(shared) // CHAIN)] for k in range(-(-len(shared) // CHAIN))]
    with ThreadPoolExecutor(PARALLEL) as executor:
        outcomes = [o for chain in executor.map(lambda c: run_chain(host, c), chains) for o in chain]
    outcomes += [o for p in progs if p.alone for o in run_chain(host, [p])]
    return {o.prog.name: o for o in outcomes}


def expected_passed(prog: Prog) -> list[bool]:
    if prog.passed is not None:
        return prog.passed
    return [prog.expect == "pass"] * len(prog.tests)


def _brief(result: Any) -> str:
    if result is None:
        return "no result"
    fields = ("status", "passed", "error", "load", "stdout", "stderr")
    return ", ".join(f"{f}={str(getattr(result, f, None))[:300]!r}" for f in fields if hasattr(result, f))


def check_outcome(host: Host, outcome: Outcome) -> None:
    """The verdict, the next job, and this program's own canaries."""
    prog, result = outcome.prog, outcome.result
    assert outcome.error is None, outcome.error
    assert outcome.before.status == "pass", f"baseline probe (after {outcome.previous}): {_brief(outcome.before)}"
    allowed = prog.expect if isinstance(prog.expect, tuple) else (prog.expect,)
    assert result.status in allowed, f"{prog.name}: expected {prog.expect}, got {_brief(result)}"
    if prog.mode == "tests":
        assert result.passed == expected_passed(prog), f"{prog.name}: {_brief(result)}"
    if prog.check is not None:
        prog.check(result)
    assert SECRET not in _brief(result) and SECRET not in str(getattr(result, "stdout", "")), "the secret leaked"
    # the next job on the same worker: scored correctly, by the same server, in the same sandbox state
    after = outcome.after
    assert after.status == "pass" and after.passed == [True], f"next job after {prog.name}: {_brief(after)}"
    before_state, after_state = probe_state(outcome.before), probe_state(after)
    assert before_state is not None and after_state is not None
    if prog.state_ok is not None:
        prog.state_ok(before_state, after_state)
    else:
        assert after_state == before_state, f"{prog.name} left the next job a different sandbox: " + str(
            diff(_flat(before_state), _flat(after_state)))
    assert not host.canary_of(prog.name), f"{prog.name} changed its canary: {host.canary_of(prog.name)}"
    reached = [m for m in host.received if prog.name.encode() in m]
    assert not reached, f"{prog.name} reached a socket of the host: {reached}"
    assert host.sentinel.poll() is None, "the sentinel (the trainer's stand-in) died"


def _flat(state: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# --- checks a program's entry names, and the fixtures of a suite module -------------------------------------------


def startswith(text: Any, prefix: str) -> None:
    assert str(text).startswith(prefix), text


def at_most(value: Any, limit: int) -> None:
    assert len(value) <= limit, len(value)


def absent(text: str, needle: str) -> None:
    assert needle not in text, text[-500:]


def module_fixtures(programs: list[Prog]):
    """``host`` and ``outcomes``, module-scoped: every program of the module runs once, in parallel."""
    import pytest

    @pytest.fixture(scope="module")
    def host():
        with Host() as h:
            yield h

    @pytest.fixture(scope="module")
    def outcomes(host):
        return run_all(host, programs)

    return host, outcomes
