"""Hostile programs that reach the kernel AROUND the seccomp filter or leave kernel state for later jobs: a Unix
socket through the i386 entry (``int 0x80``), the x32 ABI, io_uring's socket operation and a family number with high
bits set (a host service's socket file in a folder the sandbox sees), a vsock socket (a virtual machine's channel to
its host), POSIX message queues and keyring keys left for the next job (39 keys fill the quota every sandbox on the
host shares), perf events, bpf, userfaultfd, ptrace of a sibling, and renicing or limiting the server. Each then
defines ``solve()`` honestly; the machine code is written to executable memory the way an adversarial program would.
Each program runs between two probes on a one-worker pool (`tests/hostile_helpers.py`); programs that leave state
are followed on the same server by a job that looks for it.
"""

from __future__ import annotations

import platform
from concurrent.futures import ThreadPoolExecutor

import pytest

from lit_coderl.sandbox import Limits, SandboxPool
from tests.hostile_helpers import (
    HONEST,
    LIMITS,
    NEEDS_ISOLATION,
    Host,
    Prog,
    absent,
    check_outcome,
    run_chain,
)

pytestmark = NEEDS_ISOLATION

P = Prog
X86_64 = platform.machine() == "x86_64"
FORKS = Limits(timeout_s=4.0, memory_mb=512, file_size_mb=4, max_processes=4)

NATIVE = """
import sys
for name in ("ctypes", "_ctypes", "ctypes.util"):
    sys.modules.pop(name, None)
import ctypes, mmap, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"x86_64": {"add_key": 248, "perf_event_open": 298, "bpf": 321, "userfaultfd": 323},
      "aarch64": {"add_key": 217, "perf_event_open": 241, "bpf": 280, "userfaultfd": 282}}[platform.machine()]
def run_machine_code(code):
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
def use_socket(fd):
    import socket
    s = socket.socket(fileno=fd)
    if not isinstance(attempt(s.connect, SOCKET_FILE), BaseException):
        attempt(s.send, (TOKEN + NAME).encode())
        print("REACHED the host's socket")
"""

SIGSYS = "killed by SIGSYS"


def killed(result) -> None:
    assert result.error == SIGSYS, result.error


FOREIGN_ABI = [
    # socket(AF_UNIX, SOCK_STREAM, 0) as i386 system call 359: push rbx; mov eax, 359; mov ebx, 1; mov ecx, 1;
    # xor edx, edx; int 0x80; pop rbx; movsxd rax, eax; ret
    P("i386_int80_unix_socket", "abi", NATIVE + """
fd = run_machine_code(bytes.fromhex("53b867010000bb01000000b90100000031d2cd805b4863c0c3"))
print("i386 socket ->", fd)
if fd >= 0:
    use_socket(fd)
""" + HONEST, "crash", check=killed),
    # the same through the x32 ABI (x86-64 entry, number | 0x40000000): mov eax, 0x40000029; mov edi, 1;
    # mov esi, 1; xor edx, edx; syscall; ret
    P("x32_abi_unix_socket", "abi", NATIVE + """
fd = run_machine_code(bytes.fromhex("b829000040bf01000000be0100000031d20f05c3"))
print("x32 socket ->", fd)
if fd >= 0:
    use_socket(fd)
""" + HONEST, "crash", check=killed),
] if X86_64 else []

SOCKETS = [
    P("socket_vsock_to_the_vm_host", "network", NATIVE + """
import _socket
if not isinstance(attempt(_socket.socket, 40, _socket.SOCK_STREAM), BaseException):  # AF_VSOCK: never connected
    print("SUCCEEDED creating a vsock socket")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    # the kernel reads the family as an int: bits above 32 must not turn AF_UNIX into a number the filter allows
    P("socket_unix_family_high_bits", "network", NATIVE + """
number = {"x86_64": 41, "aarch64": 198}[platform.machine()]
libc.syscall.argtypes = [ctypes.c_long] * 4
fd = libc.syscall(number, (1 << 32) | 1, 1, 0)
print("socket ->", fd)
if fd >= 0:
    use_socket(fd)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "REACHED")),
]

KERNEL = [
    P("io_uring_socket_op", "io_uring", NATIVE + """
class Params(ctypes.Structure):
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32), ("rest", ctypes.c_uint32 * 8),
                ("sq_off", ctypes.c_uint32 * 10), ("cq_off", ctypes.c_uint32 * 10)]
params = Params()
ring = libc.syscall(425, 8, ctypes.byref(params))  # io_uring_setup
print("io_uring_setup ->", ring, ctypes.get_errno())
if ring >= 0:
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    sq = libc.mmap(None, params.sq_off[6] + 4 * params.sq_entries, 3, 0x8001, ring, 0)
    cq = libc.mmap(None, params.cq_off[5] + 16 * params.cq_entries, 3, 0x8001, ring, 0x8000000)
    sqes = libc.mmap(None, 64 * params.sq_entries, 3, 0x8001, ring, 0x10000000)
    u32 = lambda base, offset: ctypes.c_uint32.from_address(base + offset)
    ctypes.memset(sqes, 0, 64)
    ctypes.c_uint8.from_address(sqes).value = 45  # IORING_OP_SOCKET
    ctypes.c_int32.from_address(sqes + 4).value = 1  # domain: AF_UNIX
    ctypes.c_uint64.from_address(sqes + 8).value = 1  # type: SOCK_STREAM
    tail = u32(sq, params.sq_off[1]).value
    u32(sq, params.sq_off[6] + 4 * (tail & u32(sq, params.sq_off[2]).value)).value = 0
    u32(sq, params.sq_off[1]).value = tail + 1
    libc.syscall(426, ring, 1, 1, 1, None, 0)  # io_uring_enter: submit, wait for one completion
    head = u32(cq, params.cq_off[0]).value
    res = ctypes.c_int32.from_address(cq + params.cq_off[5] + 16 * (head & u32(cq, params.cq_off[2]).value) + 8)
    print("IORING_OP_SOCKET ->", res.value)
    if res.value >= 0:
        use_socket(res.value)
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "REACHED")),
    P("perf_event_open_own_task", "kernel", NATIVE + """
attr = (ctypes.c_uint8 * 128)()
ctypes.c_uint32.from_buffer(attr, 0).value = 1  # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK
ctypes.c_uint32.from_buffer(attr, 4).value = 128
ctypes.c_uint64.from_buffer(attr, 40).value = (1 << 5) | (1 << 6)  # exclude_kernel, exclude_hv
if libc.syscall(NR["perf_event_open"], attr, 0, -1, -1, 0) >= 0:
    print("SUCCEEDED perf_event_open")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("bpf_map_and_unknown_command", "kernel", NATIVE + """
attr = (ctypes.c_uint8 * 128)()
for offset, value in ((0, 2), (4, 4), (8, 4), (12, 1)):  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
    ctypes.c_uint32.from_buffer(attr, offset).value = value
if libc.syscall(NR["bpf"], 0, attr, 128) >= 0:
    print("SUCCEEDED bpf map")
libc.syscall(NR["bpf"], 0x7FFF, attr, 128)  # no such command: only the kernel's bpf() itself says EINVAL
if ctypes.get_errno() != 1:
    print("REACHED the kernel's bpf():", ctypes.get_errno())
""" + HONEST, "pass", check=lambda r: (absent(r.stdout, "SUCCEEDED"), absent(r.stdout, "REACHED"))),
    P("userfaultfd_user_mode", "kernel", NATIVE + """
if libc.syscall(NR["userfaultfd"], 1 | 0o2000000, 0) >= 0:  # UFFD_USER_MODE_ONLY | O_CLOEXEC
    print("SUCCEEDED userfaultfd")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("ptrace_sibling", "process", NATIVE + """
import posix, time
libc.prctl(4, 1, 0, 0, 0)  # dumpable again (the server made itself not), so siblings could trace each other
target = posix.fork()
if target == 0:
    time.sleep(3)
    posix._exit(0)
tracer = posix.fork()
if tracer == 0:
    posix._exit(0 if libc.ptrace(16, target, 0, 0) == 0 else 1)  # PTRACE_ATTACH
if posix.waitpid(tracer, 0)[1] == 0:
    print("SUCCEEDED ptrace of a sibling")
posix.kill(target, 9)
posix.waitpid(target, 0)
""" + HONEST, "pass", limits=FORKS, check=lambda r: absent(r.stdout, "SUCCEEDED")),
    P("renice_and_limit_the_server", "process", NATIVE + """
def server():
    stat = open("/proc/1/stat").read()
    limits = [line for line in open("/proc/1/limits") if line.startswith(("Max open files", "Max processes"))]
    return stat[stat.rindex(")") + 2:].split()[16], limits
before = server()
for which in (1, 2):  # PRIO_PGRP, PRIO_USER: the server leads the job's process group and shares its user
    libc.setpriority(which, 0, 19)
class Rlimit(ctypes.Structure):
    _fields_ = [("soft", ctypes.c_uint64), ("hard", ctypes.c_uint64)]
for resource in (7, 6):  # RLIMIT_NOFILE, RLIMIT_NPROC
    libc.prlimit(1, resource, ctypes.byref(Rlimit(4, 4)), None)
policy = libc.sched_getscheduler(1)
libc.sched_setscheduler(1, 5, ctypes.byref(ctypes.c_int(0)))  # SCHED_IDLE
if server() != before or libc.sched_getscheduler(1) != policy:
    print("SUCCEEDED changing the server", before, server(), policy, libc.sched_getscheduler(1))
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED")),
]

# programs that leave state in the kernel, each followed on the same server by a job that looks for it
MQUEUE = P("mqueue_left_for_next_job", "state", NATIVE + """
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
queue = libc.mq_open(("/" + TOKEN).encode(), 0o100 | 2, 0o666, None)  # O_CREAT | O_RDWR
if queue >= 0 and libc.mq_send(queue, TOKEN.encode(), len(TOKEN), 0) == 0:
    print("SUCCEEDED mq_send")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED"))
MQUEUE_NEXT = P("mqueue_next_job", "state", NATIVE + """
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
if libc.mq_open(("/" + TOKEN).encode(), 0, 0, None) >= 0:  # O_RDONLY
    print("LEFT a message queue")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "LEFT"))
KEYS = P("keyring_quota_exhausted", "state", NATIVE + """
added = sum(libc.syscall(NR["add_key"], b"user", f"{TOKEN}-{i}".encode(), b"x" * 500, 500, -4) >= 0
            for i in range(39))  # KEY_SPEC_USER_KEYRING: the sandbox user's, on the whole host
if added:
    print("SUCCEEDED adding", added, "keys")
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "SUCCEEDED"))
KEYS_NEXT = P("keyring_next_job", "state", NATIVE + """
if TOKEN in open("/proc/keys").read():
    print("LEFT keys")
if libc.syscall(NR["add_key"], b"user", (TOKEN + "-next").encode(), b"x", 1, -4) < 0 and ctypes.get_errno() == 122:
    print("LEFT the quota exhausted")  # EDQUOT
""" + HONEST, "pass", check=lambda r: absent(r.stdout, "LEFT"))

PROGRAMS = FOREIGN_ABI + SOCKETS + KERNEL + [MQUEUE, MQUEUE_NEXT, KEYS, KEYS_NEXT]
CHAINS = [FOREIGN_ABI + KERNEL[:3], SOCKETS + KERNEL[3:], [MQUEUE, MQUEUE_NEXT], [KEYS, KEYS_NEXT]]


@pytest.fixture(scope="module")
def host():
    with Host() as h:
        yield h


@pytest.fixture(scope="module")
def outcomes(host):
    host.prepare([p.name for p in PROGRAMS])
    with ThreadPoolExecutor(len(CHAINS)) as executor:
        return {o.prog.name: o for chain in executor.map(lambda c: run_chain(host, c), CHAINS) for o in chain}


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS])
def test_hostile_program(name, host, outcomes):
    check_outcome(host, outcomes[name])


def test_host_intact_after_all(host, outcomes):
    assert host.check() == []


def test_honest_programs_keep_what_they_need():
    """Threads, fork, subprocess, multiprocessing, numpy, own nice value and rlimits: all still work under the filter
    (``clone3`` answers ENOSYS, and the C library falls back to ``clone``)."""
    code = """
import os, subprocess, threading, multiprocessing, numpy
box = []
thread = threading.Thread(target=box.append, args=(1,))
thread.start(); thread.join()
child = os.fork()
if child == 0:
    os._exit(3)
receive, send = multiprocessing.Pipe(duplex=False)
process = multiprocessing.get_context("fork").Process(target=send.send, args=([1, 2, 3],))
process.start(); process.join()
niceness = os.nice(0)
print(box, os.waitpid(child, 0)[1] >> 8, subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout,
      receive.recv(), process.exitcode, int(numpy.arange(4).sum()), os.nice(1) == min(niceness + 1, 19))
"""
    limits = Limits(timeout_s=20.0, memory_mb=1024, max_processes=8)
    with SandboxPool(workers=1, limits=LIMITS, isolation="bwrap") as pool:
        reply = pool.submit_exec(code, limits=limits).result()
    expected = "[1] 3 b'hi\\n' [1, 2, 3] 0 6 True\n"
    assert (reply.status, reply.load, reply.stdout) == ("ok", {"ok": True}, expected), reply
