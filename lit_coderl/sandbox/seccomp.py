"""The sandbox's seccomp filter, built by libseccomp (the C library every seccomp user on Linux relies on).

Namespaces, an unprivileged user and read-only mounts already stop most of what a program could do; the filter
takes away the kernel interfaces that go *around* them or that keep state beyond a job, none of which generated
code needs:

- **a foreign system-call ABI kills the process**: the i386 entry (``int 0x80``) and the x32 ABI on x86-64 (arm32
  on aarch64) would reach every system call under other numbers, past every rule below;
- **socket families other than IP and netlink**: ``AF_UNIX`` (a socket file the host left in a folder the sandbox
  sees read-only still accepts ``connect``), ``AF_VSOCK`` (a virtual machine's channel to its host, which no network
  namespace cuts) and the rest of the kernel's families;
- **io_uring**: its ring performs socket, open and connect operations without the system calls this filter sees;
- **state that outlives a job**: POSIX message queues (the sandbox's IPC namespace lives as long as its server) and
  the kernel keyrings (shared by every sandbox on the host, which all run as one user: 39 keys exhaust its quota);
- **reaching other processes or the kernel**: ptrace, ``process_vm_*``, ``pidfd_getfd``, ``kcmp``, perf events,
  bpf, userfaultfd, fanotify, ``modify_ldt``, mount and namespace calls (``clone`` with a namespace flag too:
  ``clone3`` answers ``ENOSYS``, so the C library falls back to ``clone``, whose flags a filter can read), modules,
  kexec, reboot, swap, accounting, quotas, the clock, host names, file handles, ``personality`` changes;
- **changing the server**: limits, priority, scheduling and affinity of any process but the caller itself
  (``prlimit64``, ``setpriority``, ``sched_set*``, ``ioprio_set`` with a pid other than 0): the server and the
  jobs share a user, and the server is the job's process group.

Refused calls fail with ``EPERM`` (``ENOSYS`` for ``clone3``); everything else is allowed. The list follows the
calls Docker's default profile denies, plus the state and process rules above. bubblewrap installs the filter
(``--seccomp FD``, the BPF program `filter_bytes` exports) on the sandbox server just before it starts, so every
job child inherits it before any untrusted code exists.

libseccomp is reached through ``ctypes`` (its public C API: ``seccomp_init``, ``seccomp_attr_set``,
``seccomp_syscall_resolve_name``, ``seccomp_rule_add_array``, ``seccomp_export_bpf``, ``seccomp_release``). It is
the OS's ``libseccomp2`` package (2.5 or newer; on Debian and Ubuntu ``apt`` itself depends on it); where it is
missing or older the sandbox refuses to start (`SeccompUnavailable`) and never runs without the filter.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from functools import cache

from lit_coderl.sandbox.isolation import OPT_OUT_ENV, IsolationUnavailable

# libseccomp's public constants (seccomp.h)
ACT_KILL_PROCESS = 0x80000000
ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
ATTR_ACT_BADARCH = 2
"""``SCMP_FLTATR_ACT_BADARCH``: the action for a system call made through an ABI the filter does not list."""
ATTR_CTL_OPTIMIZE = 8
"""``SCMP_FLTATR_CTL_OPTIMIZE``: 2 sorts the rules into a binary tree (fewer instructions per call)."""
CMP_NE, CMP_MASKED_EQ = 1, 7
NR_SCMP_ERROR = -1
"""What ``seccomp_syscall_resolve_name`` returns for a name libseccomp does not know."""
MIN_VERSION = (2, 5)
"""libseccomp 2.5 (2020) knows every call refused here (io_uring, ``clone3``, the new mount API)."""


def act_errno(code: int) -> int:
    """``SCMP_ACT_ERRNO(code)``: the call fails with ``code`` and does nothing."""
    return _ACT_ERRNO | (code & 0xFFFF)


SOCKET_FAMILIES_KEPT = {"AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}
"""The socket families a job may create (in an empty network namespace): every other one is refused, ``AF_UNIX``
(socket files in bound folders) and ``AF_VSOCK`` (a virtual machine's channel to its host, which no network
namespace cuts) first of all."""
FAMILY_BLOCKS = ((1, 0xFFFFFFFF), (3, 0xFFFFFFFF), (4, 0xFFFFFFFC), (8, 0xFFFFFFFE), (11, 0xFFFFFFFF),
                 (12, 0xFFFFFFFC), (17, 0xFFFFFFFF), (18, 0xFFFFFFFE), (20, 0xFFFFFFFC), (24, 0xFFFFFFF8),
                 (32, 0xFFFFFFE0), (64, 0xFFFFFFC0))
"""``(value, mask)``: a family ``f`` is refused when ``f & mask == value``; together every family from 1 to 127 but
`SOCKET_FAMILIES_KEPT` (the kernel knows fewer than 64). Only the low 32 bits are compared: the kernel reads an
``int``, so high bits a program sets must not make ``AF_UNIX`` look like another number."""
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
"""Each one makes a ``clone`` fail (``CLONE_NEWTIME`` shares its bit with the exit signal: ``unshare`` only)."""

REFUSED = (
    # io_uring: operations (socket, connect, openat) the filter would never see
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # kernel keyrings: one quota for every sandbox on the host
    "add_key", "request_key", "keyctl",
    # POSIX message queues: outlive the job in the server's IPC namespace
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # other processes and kernel internals
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "perf_event_open", "bpf", "userfaultfd", "fanotify_init", "lookup_dcookie", "syslog",
    "move_pages", "migrate_pages",
    # mounts and namespaces
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig",
    "fspick", "mount_setattr", "unshare", "setns",
    # the machine
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
    "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "settimeofday", "clock_settime", "clock_adjtime", "stime", "ioperm", "iopl", "vhangup", "nfsservctl",
    "uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "modify_ldt", "sethostname", "setdomainname",
    # file handles: open by inode number, around the mount's view
    "name_to_handle_at", "open_by_handle_at",
)
"""Refused outright (``EPERM``)."""

ARG_RULES: tuple[tuple[str, int, int, int, int], ...] = (
    # (system call, argument, comparison, a, b): refused when argument <comparison> (a, b) holds (for MASKED_EQ,
    # a is the mask and b the value); NE on a 32-bit argument errs on the side of refusing
    *(("socket", 0, CMP_MASKED_EQ, mask, value) for value, mask in FAMILY_BLOCKS),
    *(("socketpair", 0, CMP_MASKED_EQ, mask, value) for value, mask in FAMILY_BLOCKS),
    *(("clone", 0, CMP_MASKED_EQ, flag, flag) for flag in CLONE_NAMESPACE_FLAGS.values()),
    ("personality", 0, CMP_NE, 0, 0),  # PER_LINUX only: no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...
    ("prlimit64", 0, CMP_NE, 0, 0),  # pid: the caller only
    ("setpriority", 0, CMP_NE, 0, 0),  # which: PRIO_PROCESS only (PRIO_PGRP and PRIO_USER reach the server)
    ("setpriority", 1, CMP_NE, 0, 0),  # who: the caller only
    ("sched_setscheduler", 0, CMP_NE, 0, 0),
    ("sched_setparam", 0, CMP_NE, 0, 0),
    ("sched_setattr", 0, CMP_NE, 0, 0),
    ("sched_setaffinity", 0, CMP_NE, 0, 0),
    ("ioprio_set", 0, CMP_NE, 1, 0),  # which: IOPRIO_WHO_PROCESS only
    ("ioprio_set", 1, CMP_NE, 0, 0),
)
"""Refused (``EPERM``) when one comparison holds; rules on one call are alternatives."""

ENOSYS_CALLS = ("clone3",)
"""Answered ``ENOSYS``: the C library then falls back to a call the filter can inspect (``clone``)."""

OPT_OUT_HINT = f"To run generated code WITHOUT isolation (unsafe), set {OPT_OUT_ENV}=unisolated."


class SeccompUnavailable(IsolationUnavailable):
    """libseccomp cannot be loaded or cannot build the filter (the message names the library and the opt-out)."""


class _Version(ctypes.Structure):
    """``struct scmp_version``."""

    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


class _ArgCmp(ctypes.Structure):
    """``struct scmp_arg_cmp``."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


@cache
def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(
            f"libseccomp is not installed ({exc}): the sandbox's system-call filter needs it (Debian/Ubuntu: "
            f"`apt install libseccomp2`; Fedora: `dnf install libseccomp`). {OPT_OUT_HINT}") from None
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    version = lib.seccomp_version().contents
    if (version.major, version.minor) < MIN_VERSION:
        raise SeccompUnavailable(
            f"libseccomp {version.major}.{version.minor}.{version.micro} is too old: the sandbox's system-call filter "
            f"needs {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer. {OPT_OUT_HINT}")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _check(result: int, what: str) -> None:
    if result < 0:
        raise SeccompUnavailable(f"libseccomp could not {what}: {os.strerror(-result)}. {OPT_OUT_HINT}")


def _syscall(lib: ctypes.CDLL, name: str) -> int | None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    return None if number == NR_SCMP_ERROR else number  # a name this libseccomp does not know: the kernel neither


def _add(lib: ctypes.CDLL, ctx: int, action: int, name: str, *comparisons: tuple[int, int, int, int]) -> None:
    number = _syscall(lib, name)
    if number is None:
        return
    array = (_ArgCmp * max(1, len(comparisons)))(*(_ArgCmp(*c) for c in comparisons))
    _check(lib.seccomp_rule_add_array(ctx, action, number, len(comparisons), array), f"add a rule for {name}")


@cache
def filter_bytes() -> bytes:
    """The filter as the array of ``struct sock_filter`` that bwrap reads (``--seccomp FD``), for this machine's
    architecture; `SeccompUnavailable` when libseccomp is missing or fails."""
    lib = _library()
    ctx = lib.seccomp_init(ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable(f"libseccomp could not create a filter. {OPT_OUT_HINT}")
    try:
        _check(lib.seccomp_attr_set(ctx, ATTR_ACT_BADARCH, ACT_KILL_PROCESS), "set the foreign-ABI action")
        lib.seccomp_attr_set(ctx, ATTR_CTL_OPTIMIZE, 2)  # libseccomp >= 2.5; older ones keep a linear filter
        for name in REFUSED:
            _add(lib, ctx, act_errno(errno.EPERM), name)
        for name in ENOSYS_CALLS:
            _add(lib, ctx, act_errno(errno.ENOSYS), name)
        for name, arg, op, a, b in ARG_RULES:
            _add(lib, ctx, act_errno(errno.EPERM), name, (arg, op, a, b))
        fd = os.memfd_create("seccomp-bpf")
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "export the filter")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
    program = b"".join(chunks)
    if not program or len(program) % 8:
        raise SeccompUnavailable(f"libseccomp exported no filter. {OPT_OUT_HINT}")
    return program
