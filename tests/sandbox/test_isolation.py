"""Kernel isolation: what a job sees and can do, the start-up check, and the explicit opt-out."""

from __future__ import annotations

import json

import pytest

from lit_coderl.sandbox import IsolationUnavailable, Limits, SandboxPool, isolation

PROBE = """
import json, os
report = {"uid": os.getuid(), "pids": sorted(p for p in os.listdir('/proc') if p.isdigit()),
          "caps": [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0],
          "root": sorted(os.listdir('/')), "hostname": os.uname().nodename}
for path in ("/usr/x", "/root/x", "/etc/x", "/work/x", "/tmp/job/x"):
    try:
        open(path, "w").close()
        report[path] = "written"
    except OSError as exc:
        report[path] = type(exc).__name__
print(json.dumps(report))
"""


def test_a_job_runs_unprivileged_alone_on_a_read_only_filesystem():
    with SandboxPool(workers=1, limits=Limits(timeout_s=5, memory_mb=512)) as pool:
        assert pool.isolated
        reply = pool.submit_exec(PROBE).result()
    report = json.loads(reply.stdout)
    assert report["uid"] == isolation.SANDBOX_UID and report["caps"] == "0000000000000000"
    assert report["pids"] == ["1", "2"] or len(report["pids"]) == 2  # the server (PID 1) and this job only
    assert report["hostname"] == "sandbox"
    assert report["/tmp/job/x"] == "written"
    assert all(report[p] != "written" for p in ("/usr/x", "/root/x", "/etc/x", "/work/x"))


def test_bwrap_command_names_every_namespace_and_no_writable_host_path():
    cmd = isolation.bwrap_command(["python", "-c", "pass"], {"PATH": "/usr/bin"})
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1", "--die-with-parent",
                 "--clearenv", "--new-session"):
        assert flag in cmd
    assert "--bind" not in cmd and "--share-net" not in cmd  # every host path is --ro-bind
    assert cmd[cmd.index("--uid") + 1] == str(isolation.SANDBOX_UID)


def test_missing_isolation_is_a_clear_error_and_the_opt_out_is_explicit(monkeypatch):
    monkeypatch.setattr(isolation, "bwrap_binary", lambda: "/nonexistent/bwrap")
    isolation.check_isolation.cache_clear()
    try:
        with pytest.raises(IsolationUnavailable, match="LIT_CODERL_SANDBOX=unisolated"):
            SandboxPool(workers=1)
    finally:
        isolation.check_isolation.cache_clear()
    monkeypatch.setenv(isolation.OPT_OUT_ENV, "unisolated")
    with pytest.warns(UserWarning, match="WITHOUT kernel isolation"):
        with SandboxPool(workers=1, limits=Limits(timeout_s=5, memory_mb=512)) as pool:
            assert not pool.isolated
            assert pool.submit_tests("def f():\n    return 1\n", ["assert f() == 1"]).result().status == "pass"
    monkeypatch.setenv(isolation.OPT_OUT_ENV, "maybe")
    with pytest.raises(ValueError, match="LIT_CODERL_SANDBOX"):
        SandboxPool(workers=1)


def test_the_seccomp_filter_is_libseccomps_and_refuses_unix_sockets():
    import struct

    from lit_coderl.sandbox import seccomp

    program = seccomp.filter_bytes()
    assert len(program) % 8 == 0
    returns = {struct.unpack("<HBBI", program[i : i + 8])[3] for i in range(0, len(program), 8)
               if struct.unpack("<HBBI", program[i : i + 8])[0] == 0x06}
    # allow, refuse (EPERM; ENOSYS for clone3) and kill the process on a foreign ABI: nothing else
    assert returns == {seccomp.ACT_ALLOW, seccomp.act_errno(1), seccomp.act_errno(38), seccomp.ACT_KILL_PROCESS}
    refused = {f for f in range(128) if any(f & mask == value for value, mask in seccomp.FAMILY_BLOCKS)}
    assert set(range(1, 128)) - refused == set(seccomp.SOCKET_FAMILIES_KEPT.values())
    code = ("import socket\nfor family in (socket.AF_UNIX, socket.AF_INET):\n    try:\n"
            "        socket.socket(family).close()\n        print(family.name, 'ok')\n    except OSError as exc:\n"
            "        print(family.name, exc.errno)\n")
    with SandboxPool(workers=1, limits=Limits(timeout_s=5, memory_mb=512)) as pool:
        assert pool.submit_exec(code).result().stdout == "AF_UNIX 1\nAF_INET ok\n"  # EPERM; no network anyway


@pytest.mark.parametrize("why", ["missing", "too old"])
def test_without_libseccomp_the_sandbox_refuses_to_start(monkeypatch, why):
    """No filter, no sandbox: one line naming the library and the opt-out, never a silent unfiltered run."""
    from lit_coderl.sandbox import seccomp

    def missing(*args, **kwargs):
        raise OSError("libseccomp.so.2: cannot open shared object file: No such file or directory")

    if why == "missing":
        monkeypatch.setattr(seccomp.ctypes, "CDLL", missing)
    else:
        monkeypatch.setattr(seccomp, "MIN_VERSION", (99, 0))
    for cached in (seccomp._library, seccomp.filter_bytes, isolation.check_isolation):
        cached.cache_clear()
    try:
        with pytest.raises(isolation.IsolationUnavailable) as raised:
            SandboxPool(workers=1, isolation="bwrap")
    finally:
        monkeypatch.undo()
        for cached in (seccomp._library, seccomp.filter_bytes, isolation.check_isolation):
            cached.cache_clear()
    message = str(raised.value)
    assert "\n" not in message and "libseccomp" in message and "LIT_CODERL_SANDBOX=unisolated" in message, message
    assert ("too old" in message) == (why == "too old"), message


def test_an_isolated_server_without_the_filter_refuses_to_serve(tmp_path):
    import subprocess
    import sys

    # no job on stdin: an isolated server's cleanup kills every process it may signal, which outside a sandbox
    # would be this machine's
    done = subprocess.run([sys.executable, "-c", "from lit_coderl.sandbox.server import serve\n"
                           f"serve([], {str(tmp_path)!r}, True)"], input=b"", capture_output=True, timeout=60)
    assert b"seccomp filter is not installed" in done.stderr and done.stdout == b"", done
