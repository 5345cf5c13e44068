"""Hostile programs: each is scored as a failure, the test process survives, and nothing outside the sandbox changes."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from lit_coderl.sandbox import Limits, SandboxPool

LIMITS = Limits(timeout_s=3.0, memory_mb=1024, file_size_mb=4)
TESTS = ["assert solve() == 42"]

# each program defines solve() (honestly returning 42) after doing something hostile, so only the sandbox makes it fail
HOSTILE = {
    "fork_bomb": "import os\nwhile True:\n    os.fork()\n",
    "fork_via_multiprocessing": "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
    "subprocess_shell": "import subprocess\nsubprocess.run(['rm', '-rf', CANARY])\n",
    "os_system": "import os\nos.system('rm -rf ' + CANARY)\n",
    "exec_shell": "import os\nos.execv('/bin/rm', ['rm', '-rf', CANARY])\n",
    "posix_spawn": "import os\nos.posix_spawn('/bin/rm', ['rm', '-rf', CANARY], {})\n",
    "memory_bomb": "x = []\nwhile True:\n    x.append(bytearray(10 ** 8))\n",
    "infinite_loop": "while True:\n    pass\n",
    "sleep_forever": "import time\ntime.sleep(10 ** 6)\n",
    "delete_file": "import os\nos.remove(CANARY + '/keep.txt')\n",
    "unlink_via_pathlib": "import pathlib\npathlib.Path(CANARY, 'keep.txt').unlink()\n",
    "rmtree": "import shutil\nshutil.rmtree(CANARY)\n",
    "overwrite_file": "open(CANARY + '/keep.txt', 'w').write('owned')\n",
    "overwrite_via_os_open": "import os\nos.open(CANARY + '/keep.txt', os.O_WRONLY | os.O_TRUNC)\n",
    "rename_file": "import os\nos.rename(CANARY + '/keep.txt', CANARY + '/moved.txt')\n",
    "kill_parent": "import os\nos.kill(os.getppid(), 9)\n",
    "killpg_parent": "import os\nos.killpg(os.getpgid(os.getppid()), 9)\n",
    "kill_test_process": "import os\nos.kill(TEST_PID, 9)\n",
    "ctypes_kill": "import ctypes\nctypes.CDLL(None).kill(TEST_PID, 9)\n",
    "sys_exit": "import sys\nsys.exit(0)\n",
    "os_exit": "import os\nos._exit(0)\n",
    "builtin_exit": "exit(0)\n",
    "stdout_flood": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
    "stderr_flood_fd": "import os\nwhile True:\n    os.write(2, b'y' * 65536)\n",
    "deep_recursion": "import sys\nsys.setrecursionlimit(10 ** 8)\ndef r(n):\n    return r(n + 1)\nr(0)\n",
    "segfault": "import faulthandler\nfaulthandler._sigsegv()\n",
    "socket_connect": "import socket\nsocket.create_connection(('127.0.0.1', PORT), timeout=1).sendall(b'owned')\n",
    "huge_file": "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * 2 ** 20)\n",
    "setsid_escape": "import os\nos.setsid()\n",
    "raise_resource_limit": "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n",
    "chmod_canary": "import os\nos.chmod(CANARY, 0)\n",
    "read_stdin": "import sys\nassert sys.stdin.read() != ''\n",
}


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary")
    (root / "keep.txt").write_text("precious")
    return root


@pytest.fixture(scope="module")
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            received.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def _snapshot(root) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"") for p in sorted(root.rglob("*"))}


def test_at_least_twenty_hostile_programs():
    assert len(HOSTILE) >= 20


def test_hostile_programs_fail_safely(canary, listener):
    port, received = listener
    before = _snapshot(canary)
    prelude = f"CANARY = {str(canary)!r}\nTEST_PID = {os.getpid()}\nPORT = {port}\n"
    with SandboxPool(workers=2, limits=LIMITS) as pool:
        futures = {
            name: pool.submit_tests(prelude + body + "def solve():\n    return 42\n", TESTS)
            for name, body in HOSTILE.items()
        }
        results = {name: future.result() for name, future in futures.items()}
        # the pool still works after all of that
        assert pool.submit_tests("def solve():\n    return 42\n", TESTS).result().status == "pass"
    failures = {name: r for name, r in results.items() if r.status == "pass" or any(r.passed)}
    assert not failures, failures
    assert _snapshot(canary) == before
    assert received == []
    assert results["infinite_loop"].status == "timeout"
    assert results["memory_bomb"].status == "memory"
    assert results["os_exit"].status == "crash"
    assert results["sys_exit"].status == "error"
    assert results["stdout_flood"].status == "timeout"
    assert len(results["stdout_flood"].stdout) == LIMITS.max_output_bytes
    assert results["fork_bomb"].error == "PermissionError: os.fork is disabled in the sandbox"


def test_huge_file_is_capped(tmp_path):
    with SandboxPool(workers=1, limits=LIMITS) as pool:
        result = pool.submit_tests(
            "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (8 * 2 ** 20))\n", ["assert True"]
        ).result()
    assert result.status == "error"
    assert result.error.startswith("OSError") and "File too large" in result.error
