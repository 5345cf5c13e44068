"""Hostile programs that attack the HOST (issue #11): each must leave the machine, the test process, the trainer
stand-in (a sentinel process) and the next job on the same worker exactly as they were.

A program here does something harmful and then defines ``solve()`` honestly returning 42: the attack must be
contained, so its verdict is what its honest part earns (``pass``, with every attempt's error swallowed), or the
exact failure its unswallowed attack causes. This file: writes and deletes outside the job dir, the real HOME, the
project's source and caches, other processes' secrets. The other classes are in ``tests/sandbox/test_hostile_*.py``
(escapes: ctypes, kill, sysctl, network; resources: processes, fds, bombs, state; cheats; the caller's side; the
evaluators); the machinery (probes, host checks) in ``tests/hostile_helpers.py``.
"""

from __future__ import annotations

import pytest

from lit_coderl.sandbox import SandboxPool
from tests.hostile_helpers import (
    HONEST,
    LIMITS,
    NEEDS_ISOLATION,
    Prog,
    absent,
    check_outcome,
    module_fixtures,
    startswith,
)

pytestmark = NEEDS_ISOLATION

P = Prog

# --- writes and deletes outside the job dir (the guard only replaces os.* functions) -------------------------------
FILES = [
    P("fs_posix_open_truncate", "fs", """
import posix
for root in (MINE, MINE_HIDDEN):
    fd = attempt(posix.open, root + "/keep.txt", posix.O_WRONLY | posix.O_TRUNC)
    if isinstance(fd, int):
        posix.write(fd, TOKEN.encode())
""" + HONEST, "pass"),
    P("fs_posix_unlink_rmdir", "fs", """
import posix
for root in (MINE, MINE_HIDDEN):
    attempt(posix.unlink, root + "/keep.txt")
    attempt(posix.unlink, root + "/sub/deep.txt")
    attempt(posix.rmdir, root + "/empty")
""" + HONEST, "pass"),
    P("fs_posix_rename_replace", "fs", """
import posix
for root in (MINE, MINE_HIDDEN):
    attempt(posix.rename, root + "/keep.txt", root + "/moved-" + TOKEN)
    attempt(posix.replace, root + "/sub", root + "/empty")
""" + HONEST, "pass"),
    P("fs_io_fileio", "fs", """
import io
for root in (MINE, MINE_HIDDEN):
    handle = attempt(io.FileIO, root + "/keep.txt", "w")
    if not isinstance(handle, BaseException):
        handle.write(TOKEN.encode())
    attempt(io.FileIO, root + "/new-" + TOKEN, "x")
""" + HONEST, "pass"),
    P("fs_c_level_io_open", "fs", """
import _io
for root in (MINE, MINE_HIDDEN):
    handle = attempt(_io.open, root + "/keep.txt", "a")
    if not isinstance(handle, BaseException):
        handle.write(TOKEN)
        handle.close()
""" + HONEST, "pass"),
    P("fs_os_mkdir_makedirs", "fs", """
import os
for root in (MINE, MINE_HIDDEN):
    attempt(os.mkdir, root + "/dir-" + TOKEN)
    attempt(os.makedirs, root + "/sub/a/b/c-" + TOKEN)
""" + HONEST, "pass"),
    P("fs_os_symlink_link", "fs", """
import os
for root in (MINE, MINE_HIDDEN):
    attempt(os.symlink, "/etc/passwd", root + "/sym-" + TOKEN)
    attempt(os.link, root + "/keep.txt", root + "/hard-" + TOKEN)
""" + HONEST, "pass"),
    P("fs_symlink_out_of_job_dir", "fs", """
import os, posix
attempt(os.symlink, MINE + "/keep.txt", "inside")
attempt(os.symlink, MINE, "inside_dir")
fd = attempt(posix.open, "inside", posix.O_WRONLY | posix.O_TRUNC)
if isinstance(fd, int):
    posix.write(fd, TOKEN.encode())
attempt(posix.unlink, "inside_dir/sub/deep.txt")
""" + HONEST, "pass"),
    P("fs_truncate_utime_chmod", "fs", """
import os, posix
for root in (MINE, MINE_HIDDEN):
    attempt(posix.truncate, root + "/keep.txt", 0)
    attempt(os.utime, root + "/keep.txt", (0, 0))
    attempt(posix.chmod, root + "/sub", 0)
    attempt(posix.chmod, root, 0)
    attempt(posix.chown, root + "/keep.txt", 1, 1)
""" + HONEST, "pass"),
    P("fs_walk_and_unlink_everything", "fs", """
import os, posix
for top in (CANARY, HIDDEN):
    for root, dirs, files in os.walk(top, topdown=False):
        for f in files:
            attempt(posix.unlink, os.path.join(root, f))
        for d in dirs:
            attempt(posix.rmdir, os.path.join(root, d))
""" + HONEST, "pass"),
    P("fs_through_proc_root_and_cwd", "fs", """
import posix
for base in ("/proc/self/root", "/proc/1/root", f"/proc/{TEST_PID}/root", "/proc/1/cwd/.."):
    fd = attempt(posix.open, base + MINE + "/keep.txt", posix.O_WRONLY | posix.O_APPEND)
    if isinstance(fd, int):
        posix.write(fd, TOKEN.encode())
    attempt(posix.unlink, base + MINE_HIDDEN + "/keep.txt")
""" + HONEST, "pass"),
    P("fs_host_tmp", "fs", """
import posix
fd = attempt(posix.open, "/tmp/hostile-" + TOKEN, posix.O_WRONLY | posix.O_CREAT, 0o644)
if isinstance(fd, int):
    posix.write(fd, TOKEN.encode())
attempt(posix.unlink, TMP_SECRET)
attempt(posix.mkdir, "/tmp/../tmp/hostile-dir-" + TOKEN)
""" + HONEST, "pass"),
    P("fs_plain_open_unswallowed", "fs", """
open(MINE + "/keep.txt", "w").write(TOKEN)
""" + HONEST, "error", check=lambda r: startswith(r.error, "PermissionError")),
    P("fs_pathlib_unswallowed", "fs", """
import pathlib
pathlib.Path(MINE, "keep.txt").unlink()
""" + HONEST, "error", check=lambda r: startswith(r.error, "PermissionError")),
]

# --- the real HOME, the project's source, its caches --------------------------------------------------------------
PROJECT_FILES = [
    P("home_expanduser", "home", """
import os, pathlib
for home in (os.path.expanduser("~"), str(pathlib.Path.home()), os.environ.get("HOME", "")):
    attempt(lambda: open(os.path.join(home, ".hostile-" + TOKEN), "w").write(TOKEN))
    attempt(lambda: open(os.path.join(home, ".bashrc"), "a").write("# " + TOKEN))
""" + HONEST, "pass"),
    P("home_real_path_posix", "home", """
import posix
for name in (".bashrc", ".profile", ".hostile-" + TOKEN):
    fd = attempt(posix.open, REAL_HOME + "/" + name, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT, 0o644)
    if isinstance(fd, int):
        posix.write(fd, ("# " + TOKEN + "\\n").encode())
attempt(posix.unlink, HOME_SECRET)
""" + HONEST, "pass"),
    P("home_ssh_authorized_keys", "home", """
import posix
attempt(posix.mkdir, REAL_HOME + "/.ssh", 0o700)
fd = attempt(posix.open, REAL_HOME + "/.ssh/authorized_keys", posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT, 0o600)
if isinstance(fd, int):
    posix.write(fd, ("ssh-ed25519 AAAA " + TOKEN + "\\n").encode())
""" + HONEST, "pass"),
    P("cache_overwrite_ground_truth", "caches", """
import glob, io, posix
cache = REAL_HOME + "/.cache/lit_coderl"
payload = ('{"payload": "' + TOKEN + '"}').encode()
for path in glob.glob(cache + "/*") + [cache + "/mbppplus-gt-" + TOKEN + ".json"]:
    handle = attempt(io.FileIO, path, "w")
    if not isinstance(handle, BaseException):
        handle.write(payload)
attempt(posix.mkdir, cache + "/syncode-" + TOKEN)
""" + HONEST, "pass"),
    # the project's own files: every write appends a TOKEN line, every rename or delete is tried as a hard link or
    # a rename that is undone at once, so that a sandbox that fails here still leaves the checkout recoverable
    P("project_source_rewrite", "project", """
import io, posix
pkg = PROJECT + "/lit_coderl"
for path in (pkg + "/sandbox/server.py", pkg + "/sandbox/child.py", pkg + "/__init__.py", PROJECT + "/pyproject.toml"):
    fd = attempt(posix.open, path, posix.O_WRONLY | posix.O_APPEND)
    if isinstance(fd, int):
        posix.write(fd, ("\\nimport os; os.system('touch /tmp/" + TOKEN + "')  # " + TOKEN + "\\n").encode())
        print("SUCCEEDED append", path)
    if not isinstance(attempt(io.FileIO, path + "." + TOKEN, "x"), BaseException):
        print("SUCCEEDED create", path)
    if attempt(posix.link, path, path + ".link-" + TOKEN) is None:  # the right to delete it
        print("SUCCEEDED link", path)
        posix.unlink(path + ".link-" + TOKEN)
    if attempt(posix.rename, path, path + ".moved-" + TOKEN) is None:
        posix.rename(path + ".moved-" + TOKEN, path)
        print("SUCCEEDED rename", path)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("project_pth_and_pyc_poison", "project", """
import glob, posix
fd = attempt(posix.open, SITE + "/hostile-" + TOKEN + ".pth", posix.O_WRONLY | posix.O_CREAT, 0o644)
if isinstance(fd, int):
    posix.write(fd, b"import os")
for pyc in glob.glob(PROJECT + "/lit_coderl/**/__pycache__/*.pyc", recursive=True):
    fd = attempt(posix.open, pyc, posix.O_WRONLY | posix.O_APPEND)
    if isinstance(fd, int):
        posix.write(fd, TOKEN.encode())
attempt(posix.mkdir, PROJECT + "/lit_coderl/sandbox/__pycache__")
fd = attempt(posix.open, PROJECT + "/lit_coderl/sandbox/__pycache__/server." + TOKEN + ".pyc",
             posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o644)
if isinstance(fd, int):
    posix.write(fd, TOKEN.encode())
""" + HONEST, "pass"),
    P("project_rewrite_then_kill_server", "project", """
import posix, signal
fd = attempt(posix.open, PROJECT + "/lit_coderl/sandbox/server.py", posix.O_WRONLY | posix.O_APPEND)
if isinstance(fd, int):
    posix.write(fd, ("\\nraise SystemExit('" + TOKEN + "')  # " + TOKEN + "\\n").encode())
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
    attempt(posix.kill, 1, sig)
    attempt(posix.kill, posix.getppid(), sig)
""" + HONEST, "pass"),
    P("server_scratch_deleted", "project", """
import os, posix
for root, dirs, files in os.walk("/tmp", topdown=False):
    for f in files:
        attempt(posix.unlink, os.path.join(root, f))
    for d in dirs:
        attempt(posix.rmdir, os.path.join(root, d))
attempt(posix.rmdir, "/tmp/job")
attempt(posix.rename, "/tmp/job", "/tmp/gone")
""" + HONEST, "pass"),
]

# --- another process's secrets ------------------------------------------------------------------------------------
SECRETS = [
    P("secret_proc_environ_scan", "secrets", """
import os
seen = []
for pid in ["self", "1", str(TEST_PID), str(SENTINEL_PID)] + os.listdir("/proc"):
    data = attempt(lambda: open(f"/proc/{pid}/environ", "rb").read())
    if isinstance(data, bytes):
        seen.append(data.decode("latin-1"))
print(seen, dict(os.environ))
""" + HONEST, "pass"),
    P("secret_files_on_host", "secrets", """
import glob
for path in [HOME_SECRET, TMP_SECRET, REAL_HOME + "/.bash_history"] + glob.glob("/tmp/hostile-secret*"):
    print(attempt(lambda: open(path).read()))
""" + HONEST, "pass"),
    P("secret_proc1_everything", "secrets", """
import os
for part in ("environ", "cmdline", "mem", "maps", "auxv", "stack", "syscall", "root/proc/1/environ",
             "cwd/environ", "fd/0", "fd/1", "fd/2", "fd/4", "fd/5", "fd/7"):
    print(part, repr(attempt(lambda: open("/proc/1/" + part, "rb").read(4096)))[:300])
for part in ("environ", "cmdline", "root" + HOME_SECRET):
    print(part, repr(attempt(lambda: open(f"/proc/{TEST_PID}/" + part, "rb").read(4096)))[:300])
""" + HONEST, "pass"),
]

PROGRAMS = FILES + PROJECT_FILES + SECRETS


host, outcomes = module_fixtures(PROGRAMS)


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS])
def test_hostile_program(name, host, outcomes):
    check_outcome(host, outcomes[name])


def test_host_intact_after_all(host, outcomes):
    assert host.check() == []


def test_canary_is_visible_to_programs(host):
    """The attacks on CANARY mean something only if programs can see it (read-only)."""
    with SandboxPool(workers=1, limits=LIMITS, isolation="bwrap") as pool:
        reply = pool.submit_exec(f"print(open({str(host.canary / 'keep.txt')!r}).read())").result()
    assert reply.stdout == "precious\n\n", (reply.status, reply.error, reply.load)


def test_at_least_seventy_hostile_programs():
    from tests.sandbox import test_hostile_cheats, test_hostile_escape, test_hostile_evaluators, test_hostile_resources

    programs = (PROGRAMS + test_hostile_escape.PROGRAMS + test_hostile_resources.PROGRAMS
                + test_hostile_cheats.PROGRAMS)
    samples = len(test_hostile_evaluators.MBPP_SAMPLES) + len(test_hostile_evaluators.PLUS_SAMPLES)
    assert len({p.name for p in programs}) == len(programs)
    assert len(programs) + samples >= 70
