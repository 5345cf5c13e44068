"""Hostile programs that exhaust or outlive (issue #11): daemons, threads and fork bombs, forged frames on every
fd, memory, CPU, time, output and disk bombs, and state left in the sandbox for the next job. Each must get its
exact verdict, leave no process behind, and leave the next job on the same worker the sandbox it found
(`tests/hostile_helpers.py`).
"""

from __future__ import annotations

import pytest

from lit_coderl.sandbox import Limits
from tests.hostile_helpers import (
    HONEST,
    NEEDS_ISOLATION,
    SHORT,
    Prog,
    absent,
    at_most,
    check_outcome,
    module_fixtures,
    startswith,
)

pytestmark = NEEDS_ISOLATION

P = Prog

# --- processes that outlive the job: fork + setsid daemons, threads, fork bombs -------------------------------------
DAEMON = """
import posix, time
def daemon():
    pid = posix.fork()
    if pid == 0:
        posix.setsid()
        if posix.fork() == 0:
            for fd in range(3):
                attempt(posix.close, fd)
            # a shell daemon carries TOKEN in its argv: the host check finds it wherever it ends up
            attempt(posix.execv, "/bin/sh", ["sh", "-c", "while :; do sleep 0.05; done # " + TOKEN])
            for _ in range(100000):
                attempt(posix.kill, SENTINEL_PID, 9)
                attempt(lambda: open("/dev/shm/daemon-" + TOKEN, "a").write("alive"))
                time.sleep(0.01)
        posix._exit(0)
    posix.waitpid(pid, 0)
    print("FORKED")
"""
PROCESSES = [
    # max_processes=1 (the default) forbids fork and threads
    P("daemon_posix_fork_setsid", "processes", DAEMON + "attempt(daemon)\n" + HONEST, "pass",
      check=lambda r: absent(r.stdout, "FORKED")),
    P("daemon_subprocess_reloaded", "processes", """
import importlib, sys
sys.modules.pop("_posixsubprocess", None)
import subprocess
importlib.reload(subprocess)
attempt(subprocess.Popen, ["/bin/sh", "-c", "sleep 60 # " + TOKEN], start_new_session=True)
import posix
attempt(posix.posix_spawn, "/bin/sh", ["sh", "-c", "sleep 60 # " + TOKEN], {})
""" + HONEST, "pass"),
    P("thread_outlives_job", "processes", """
import _thread, threading, time
def loop():
    while True:
        attempt(lambda: open("/dev/shm/thread-" + TOKEN, "a").write("x"))
        time.sleep(0.01)
if not isinstance(attempt(lambda: threading.Thread(target=loop, daemon=True).start()), BaseException):
    print("STARTED a thread")
if not isinstance(attempt(_thread.start_new_thread, loop, ()), BaseException):
    print("STARTED a thread")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "STARTED")),
    # a bounded bomb (2**6 processes at most where the process limit fails: an unbounded one starves the machine)
    P("fork_bomb_posix", "processes", """
import posix, time
original = posix.getpid()
for _ in range(6):
    posix.fork()
if posix.getpid() != original:
    for fd in range(3):
        posix.close(fd)
    time.sleep(5)
    posix._exit(0)
""" + HONEST, "error", limits=SHORT, check=lambda r: startswith(r.error, "BlockingIOError"), alone=True),
    # with processes allowed, the daemon gets out of the child: the server must still kill it when the job ends
    P("daemon_when_fork_allowed", "processes", DAEMON + "daemon()\n" + HONEST, "pass",
      limits=Limits(timeout_s=2.0, memory_mb=512, file_size_mb=4, max_processes=8)),
    P("threads_when_allowed", "processes", """
import threading, time
def loop():
    while True:
        attempt(lambda: open("/dev/shm/thread-" + TOKEN, "a").write("x"))
        time.sleep(0.01)
for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
""" + HONEST, "pass", limits=Limits(timeout_s=2.0, memory_mb=512, file_size_mb=4, max_processes=8)),
    P("fork_bomb_when_allowed", "processes", """
import posix, time
forked = 0
for _ in range(64):
    pid = attempt(posix.fork)
    if pid == 0:
        for fd in range(3):
            posix.close(fd)
        time.sleep(60)
    forked += isinstance(pid, int)
print("forked", forked)
""" + HONEST, "pass", limits=Limits(timeout_s=2.0, memory_mb=512, file_size_mb=4, max_processes=8),
      check=lambda r: startswith(r.stdout, "forked 7\n"), alone=True),
]

# --- forged frames on every fd --------------------------------------------------------------------------------------
FORGE = """
import json, os, struct
def frame(tag, body):
    data = json.dumps(body).encode()
    return struct.pack("<cI", tag, len(data)) + data
VERDICT = frame(b"R", {"status": "ok", "load": {"ok": True}, "done": {"stdout": ""}, "items": [{"i": 0, "pass": True}]})
"""
FDS = [
    P("fds_3_to_255_forged_reply", "fds", FORGE + """
import posix
for fd in range(3, 256):
    attempt(posix.write, fd, VERDICT)
server_fds = attempt(os.listdir, "/proc/1/fd")
server_fds = [] if isinstance(server_fds, BaseException) else server_fds
for path in os.listdir("/proc/self/fd") + ["/proc/1/fd/" + n for n in server_fds + ["0", "1", "3", "4", "5"]]:
    full = path if path.startswith("/") else "/proc/self/fd/" + path
    fd = attempt(posix.open, full, posix.O_WRONLY)
    if isinstance(fd, int) and fd > 2:
        attempt(posix.write, fd, VERDICT)
""" + HONEST, "pass"),
    P("huge_frame_header", "fds", """
import os, struct
os.write(1, struct.pack("<cI", b"V", 0xFFFFFFFF))
""" + HONEST, "crash"),
    P("garbage_on_frame_fd", "fds", """
import os
os.write(1, b"\\xff" * 4096)
""" + HONEST, "crash"),
    P("frames_over_total_cap", "fds", FORGE + """
junk = frame(b"Q", {"x": "y" * (32 << 20)})
for _ in range(9):
    os.write(1, junk)
""" + HONEST, "crash", limits=Limits(timeout_s=8.0, memory_mb=512, file_size_mb=4)),
]

# --- resources: memory, CPU, time, output, disk ---------------------------------------------------------------------
RESOURCES = [
    P("memory_bomb", "resources", "x = []\nwhile True:\n    x.append(bytearray(10 ** 7))\n" + HONEST,
      ("memory", "error"),
      check=lambda r: startswith(r.error, "MemoryError")),
    P("memory_bomb_in_tmpfs", "resources", """
import posix
for where in ("/dev/shm", "/tmp", "/dev", "/"):
    for i in range(8):
        fd = attempt(posix.open, f"{where}/fill-{i}-{TOKEN}", posix.O_WRONLY | posix.O_CREAT, 0o644)
        if isinstance(fd, int):
            attempt(posix.write, fd, b"0" * (4 << 20))
            posix.close(fd)
""" + HONEST, "pass"),
    P("cpu_loop", "resources", "while True:\n    pass\n" + HONEST, "timeout", limits=SHORT),
    P("cpu_loop_sigxcpu_ignored", "resources", """
import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    pass
""" + HONEST, "timeout", limits=SHORT),
    P("sleep_forever", "resources", "import time\ntime.sleep(10 ** 6)\n" + HONEST, "timeout", limits=SHORT),
    P("stdout_flood", "resources", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n" + HONEST, "timeout",
      limits=SHORT, check=lambda r: at_most(r.stdout, SHORT.max_output_bytes)),
    P("stderr_flood", "resources", "import posix\nwhile True:\n    posix.write(2, b'y' * 65536)\n" + HONEST,
      "timeout", limits=SHORT, check=lambda r: at_most(r.stderr, SHORT.max_output_bytes)),
    P("disk_fill_tmp", "resources", """
import posix
for i in range(200):
    fd = attempt(posix.open, f"/tmp/fill-{i}-{TOKEN}", posix.O_WRONLY | posix.O_CREAT, 0o644)
    if not isinstance(fd, int) or isinstance(attempt(posix.write, fd, b"0" * (4 << 20)), BaseException):
        break
    posix.close(fd)
""" + HONEST, "pass", limits=Limits(timeout_s=6.0, memory_mb=512, file_size_mb=4)),
    P("file_over_size_limit", "resources", "open('big.bin', 'wb').write(b'0' * (8 << 20))\n" + HONEST,
      ("error", "crash"),
      check=lambda r: "File too large" in str(r.error) or "SIGXFSZ" in str(r.error)),
    P("deep_recursion", "resources", """
import sys
sys.setrecursionlimit(10 ** 8)
def r(n):
    return r(n + 1)
r(0)
""" + HONEST, ("timeout", "memory", "error", "crash"), limits=SHORT),
]

# --- state left in the sandbox for the next job ---------------------------------------------------------------------
STATE = [
    P("state_files_outside_tmp", "state", """
import posix
for where in ("/", "/root", "/etc", "/work", "/dev", "/dev/shm"):
    fd = attempt(posix.open, f"{where}/left-{TOKEN}", posix.O_WRONLY | posix.O_CREAT, 0o644)
    if isinstance(fd, int):
        posix.write(fd, TOKEN.encode())
""" + HONEST, "pass"),
    P("state_xattrs_left_for_next_job", "state", """
import os
for path in ("/tmp", "/tmp/job", "/", "/dev/shm", "/dev/null"):
    attempt(os.setxattr, path, "user.left", TOKEN.encode())
""" + HONEST, "pass"),
    P("state_chmod_scratch", "state", "import posix\nattempt(posix.chmod, '/tmp', 0)\n" + HONEST, "pass"),
    P("state_chmod_root", "state", "import posix\nattempt(posix.chmod, '/', 0)\n" + HONEST, "pass"),
    P("state_remove_system_links", "state", """
import posix
for link in ("/lib64", "/lib", "/bin", "/sbin"):
    attempt(posix.unlink, link)
attempt(posix.symlink, "/tmp/job", "/lib64")
""" + HONEST, "pass"),
    P("state_job_dir_swapped", "state", """
import posix
attempt(posix.chdir, "/")
attempt(posix.rename, "/tmp/job", "/tmp/old")
attempt(posix.symlink, "/dev/shm", "/tmp/job")
attempt(posix.chmod, "/tmp/old", 0)
""" + HONEST, "pass"),
    P("state_unremovable_tree", "state", """
import os, posix
path = "t"
for i in range(30):
    path += "/d"
    os.makedirs(path)
open(path + "/f", "w").write(TOKEN)
for i in range(30):
    attempt(posix.chmod, path, 0)
    path = path.rsplit("/", 1)[0]
attempt(posix.chmod, "t", 0)
""" + HONEST, "pass"),
]

PROGRAMS = PROCESSES + FDS + RESOURCES + STATE


host, outcomes = module_fixtures(PROGRAMS)


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS])
def test_hostile_program(name, host, outcomes):
    check_outcome(host, outcomes[name])


def test_host_intact_after_all(host, outcomes):
    assert host.check() == []
