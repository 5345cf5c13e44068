"""The EvalPlus-style reliability guard: destructive calls disabled in a job child.

This is **not** the security boundary (the kernel isolation in `isolation.py` is): a determined program gets past
any Python-level patch. It keeps the semantics of EvalPlus's harness, where a program that deletes files, kills
processes or spawns shells fails instead of succeeding, and it is the only guard left when isolation is switched
off explicitly.
"""

from __future__ import annotations

import io
import os
import sys

from lit_coderl.sandbox.limits import Limits


def _disabled(name: str):
    def refuse(*args, **kwargs):
        raise PermissionError(f"{name} is disabled in the sandbox")

    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


def _make_guarded_open(original, root: str):
    """``open`` that refuses to create, write or truncate files outside ``root``."""
    real_root = os.path.realpath(root)

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            return original(file, mode, *args, **kwargs)
        if any(flag in str(mode) for flag in "wax+"):
            path = os.path.realpath(os.fspath(file))
            if path != real_root and not path.startswith(real_root + os.sep):
                raise PermissionError(f"writing outside the sandbox directory is disabled: {file!r}")
        return original(file, mode, *args, **kwargs)

    return guarded_open


def _make_guarded_os_open(original, root: str):
    real_root = os.path.realpath(root)
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & writing and not isinstance(path, int):
            resolved = os.path.realpath(os.fspath(path))
            if resolved != real_root and not resolved.startswith(real_root + os.sep):
                raise PermissionError(f"writing outside the sandbox directory is disabled: {path!r}")
        return original(path, flags, *args, **kwargs)

    return guarded_os_open


_OS_DISABLED = (
    "kill", "killpg", "system", "remove", "removedirs", "rmdir", "unlink", "rename", "renames",
    "replace", "truncate", "ftruncate", "fchdir", "chdir", "chroot", "setuid", "seteuid", "setreuid", "setresuid",
    "setgid", "setegid", "setregid", "setresgid", "setgroups", "fchmod", "fchown", "chmod", "chown", "lchmod",
    "lchown", "lchflags", "chflags", "setsid", "setpgid", "setpgrp", "popen", "sched_setaffinity", "setpriority",
    "unshare", "setns", "pidfd_open", "mknod", "mkfifo",
)
_OS_PROCESS_CREATION = (
    "fork", "forkpty", "vfork", "posix_spawn", "posix_spawnp", "register_at_fork", "execl", "execle", "execlp",
    "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
    "spawnve", "spawnvp", "spawnvpe",
)


def reliability_guard(limits: Limits, workdir: str, network_isolated: bool) -> None:
    """Disable destructive and escaping calls in this (child) process (EvalPlus's list, extended)."""
    import builtins
    import faulthandler
    import shutil

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    builtins.exit = _disabled("exit")
    builtins.quit = _disabled("quit")
    builtins.help = _disabled("help")
    builtins.open = _make_guarded_open(builtins.open, workdir)
    io.open = builtins.open
    os.open = _make_guarded_os_open(os.open, workdir)
    names = _OS_DISABLED + (_OS_PROCESS_CREATION if limits.max_processes <= 1 else ())
    for name in names:
        if hasattr(os, name):
            setattr(os, name, _disabled(f"os.{name}"))
    for name in ("rmtree", "move", "chown", "copytree"):
        setattr(shutil, name, _disabled(f"shutil.{name}"))
    if limits.max_processes <= 1:
        import subprocess as child_subprocess

        for name in ("Popen", "call", "run", "check_call", "check_output", "getoutput", "getstatusoutput"):
            setattr(child_subprocess, name, _disabled(f"subprocess.{name}"))
        for module in ("_posixsubprocess", "multiprocessing", "concurrent.futures.process", "pty"):
            sys.modules[module] = None  # type: ignore[assignment]
    if not network_isolated:
        import socket

        for name in ("socket", "create_connection", "create_server", "socketpair", "fromfd"):
            setattr(socket, name, _disabled(f"socket.{name}"))
    for module in ("ctypes", "_ctypes", "resource", "psutil", "ipdb", "joblib", "tkinter"):
        sys.modules[module] = None  # type: ignore[assignment]
