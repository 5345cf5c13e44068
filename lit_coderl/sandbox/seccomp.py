"""A seccomp filter for the sandbox: no Unix-domain sockets.

Namespaces cut a job off the host's network, processes and writable files, but a *pathname* Unix socket that the
host left in a folder the sandbox can see (a read-only bind mount does not stop ``connect``) would still lead out.
Generated code never needs one, so ``socket`` and ``socketpair`` with ``AF_UNIX`` fail with ``EACCES``. bubblewrap
installs the filter (``--seccomp FD``) for the server and every job child.

The filter is classic BPF over ``struct seccomp_data`` (``nr`` at offset 0, ``arch`` at 4, ``args[0]`` at 16), for
x86-64 (where the x32 ABI's syscalls are refused outright) and aarch64; on any other architecture it allows
everything (the namespaces still apply).
"""

from __future__ import annotations

import errno
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000
AF_UNIX = 1
SOCKET_SYSCALLS = {AUDIT_ARCH_X86_64: (41, 53), AUDIT_ARCH_AARCH64: (198, 199)}
"""``socket`` and ``socketpair`` per architecture."""

_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF0000
RET_DENY = 0x00050000 | errno.EACCES  # SECCOMP_RET_ERRNO


def _program() -> list[tuple]:
    """Instructions with symbolic jump targets: ``(code, target_if_true, target_if_false, k)`` or labels."""
    ins: list[tuple] = [(_LD_ABS, None, None, 4)]  # arch
    arches = list(SOCKET_SYSCALLS)
    for arch in arches:
        ins.append((_JEQ, f"arch:{arch}", None, arch))
    ins.append((_RET, None, None, RET_ALLOW))
    for arch, numbers in SOCKET_SYSCALLS.items():
        ins.append(f"arch:{arch}")
        ins.append((_LD_ABS, None, None, 0))  # nr
        if arch == AUDIT_ARCH_X86_64:
            ins.append((_JGE, "deny", None, X32_SYSCALL_BIT))
        for number in numbers:
            ins.append((_JEQ, "family", None, number))
        ins.append((_RET, None, None, RET_ALLOW))
    ins += ["family", (_LD_ABS, None, None, 16), (_JEQ, "deny", None, AF_UNIX), (_RET, None, None, RET_ALLOW),
            "deny", (_RET, None, None, RET_DENY)]
    return ins


def filter_bytes() -> bytes:
    """The filter as the array of ``struct sock_filter`` bwrap reads (``--seccomp FD``)."""
    program = _program()
    labels, index = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = index
        else:
            index += 1
    out, index = [], 0
    for item in program:
        if isinstance(item, str):
            continue
        code, on_true, on_false, k = item
        # jumps are relative to the next instruction; None means "fall through"
        jt = labels[on_true] - index - 1 if on_true is not None else 0
        jf = labels[on_false] - index - 1 if on_false is not None else 0
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp jump out of range")
        out.append(struct.pack("<HBBI", code, jt, jf, k))
        index += 1
    return b"".join(out)
