"""Benchmark data without a side folder: resolution order, fetching (faked upstream), sha256 checks, RoboEval's
conversion from upstream task modules, offline messages, and the training path refusing RoboEval (#13)."""

from __future__ import annotations

import hashlib
import json

import pytest

from lit_coderl.data import benchmarks, roboeval_upstream
from lit_coderl.data.benchmarks import refuse_evaluation_only, resolve_data_dir
from tests.benchmark_fixtures import write_mbpp, write_roboeval

#: a task module in the upstream format, written here (not RoboEval content)
TASK_MODULE = '''
from benchmark.rtl import *
name = "FixtureTask"
prompts = ["Say hi in the lobby.", "Greet the lobby."]
state0 = State().addLocation("lobby").addLocation("start_loc") \\
        .addObject("apple", "lobby").addAgent(".*", "lobby", [contain_words(["hi", "there"])]) \\
        .addRobotLocation("start_loc")
state1 = State().addLocation("lobby").addLocation("start_loc").addRobotLocation("lobby")
def test0(trace):
    return True
tests = [
    {"state": state0, "test": test0, "timeout": False},
    {"state": state1, "test": test0, "timeout": True},
]
'''


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No env data dir, an empty user cache, and upstream fetchers that must not be reached unless a test says so."""
    monkeypatch.delenv(benchmarks.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(benchmarks.ENV_CACHE, str(tmp_path / "cache"))

    def offline(root=None):
        raise OSError("network unreachable")

    monkeypatch.setattr(benchmarks, "FETCHERS", dict.fromkeys(benchmarks.FETCHERS, offline))
    return tmp_path


def test_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(benchmarks.ENV_CACHE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert benchmarks.user_cache_dir() == tmp_path / "lit_coderl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert str(benchmarks.user_cache_dir()).endswith(".cache/lit_coderl")


def test_resolution_order(isolated, monkeypatch):
    explicit, env, cache = isolated / "explicit", isolated / "env", isolated / "cache" / "data"
    for folder in (explicit, env, cache):
        write_mbpp(folder)
    assert resolve_data_dir("mbpp", explicit) == explicit
    monkeypatch.setenv(benchmarks.ENV_DATA_DIR, str(env))
    assert resolve_data_dir("mbpp") == env
    monkeypatch.delenv(benchmarks.ENV_DATA_DIR)
    assert resolve_data_dir("mbpp") == cache
    assert resolve_data_dir("robosim", write_roboeval(explicit)) == explicit  # robosim reads RoboEval's files


def test_offline_message_names_the_command_and_the_override(isolated):
    with pytest.raises(FileNotFoundError) as err:
        resolve_data_dir("roboeval")
    message = str(err.value)
    assert "python -m lit_coderl data fetch roboeval" in message and "--data-dir" in message
    assert "LIT_CODERL_DATA_DIR" in message and "network unreachable" in message
    with pytest.raises(FileNotFoundError, match="data fetch mbpp"):
        resolve_data_dir("mbpp", isolated / "nowhere")  # an explicit folder is never silently replaced


def test_first_use_fetches_into_the_cache(isolated, monkeypatch):
    calls = []

    def fake_fetch(root=None):
        calls.append(root)
        return write_mbpp(benchmarks.cache_data_dir())

    monkeypatch.setitem(benchmarks.FETCHERS, "mbpp", fake_fetch)
    assert resolve_data_dir("mbpp") == isolated / "cache" / "data"
    assert resolve_data_dir("mbpp") == isolated / "cache" / "data"
    assert len(calls) == 1  # the second use reads the cache


def test_roboeval_fetch_checks_sha256_and_converts(isolated, monkeypatch):
    upstream_files = {
        "robo_instruct/generate_data/roboeval_data.csv": b"taskname,prompt_program\n",
        "roboeval/code_generation/prompt_prefix.py": b"# Instruction: ",
        "roboeval/code_generation/prompt_suffix.py": b"\ndef task_program():",
        "roboeval/benchmark/tasks/FixtureTask.py": TASK_MODULE.encode(),
    }

    def sha(path):
        return hashlib.sha256(upstream_files[path]).hexdigest()

    monkeypatch.setattr(
        roboeval_upstream, "FILES", {p: (name, sha(p)) for p, (name, _) in roboeval_upstream.FILES.items()}
    )
    task_sha = sha("roboeval/benchmark/tasks/FixtureTask.py")
    monkeypatch.setattr(roboeval_upstream, "TASK_FILES", {"FixtureTask": task_sha})
    prefix = roboeval_upstream.RAW_URL.format(path="")
    urls = []

    def download(url):
        urls.append(url)
        return upstream_files[url.removeprefix(prefix)]

    root = benchmarks.fetch_roboeval(isolated / "out", download=download)
    assert all(roboeval_upstream.COMMIT in url for url in urls) and len(urls) == 4
    folder = root / "roboeval"
    assert (folder / "prompt_suffix.txt").read_bytes() == b"\ndef task_program():"
    (task,) = json.loads((folder / "tasks.json").read_text())["tasks"]
    assert task["name"] == "FixtureTask" and task["prompts"] == ["Say hi in the lobby.", "Greet the lobby."]
    assert task["states"][0] == {
        "locations": ["lobby", "start_loc"],
        "objects": {"lobby": ["apple"]},
        "agents": {"lobby": [{"name_regex": ".*", "answers": ["^(?=.*hi)(?=.*there).*$"]}]},
        "robot_location": "start_loc",
    }
    assert task["tests"] == [{"state_index": 0, "expect_timeout": False}, {"state_index": 1, "expect_timeout": True}]
    assert "Machine Learning Restriction" in (folder / "LICENCE-NOTICE.md").read_text()
    # a changed upstream file is refused
    upstream_files["roboeval/code_generation/prompt_suffix.py"] = b"tampered"
    with pytest.raises(ValueError, match="sha256"):
        benchmarks.fetch_roboeval(isolated / "out2", download=download)
    assert not (isolated / "out2" / "roboeval").exists()


def test_pinned_upstream_covers_every_coded_task():
    from lit_coderl.evaluate.roboeval_tasks import TASK_CHECKS

    assert set(roboeval_upstream.TASK_FILES) == set(TASK_CHECKS)
    assert all(len(h) == 64 for h in roboeval_upstream.TASK_FILES.values())


def test_converter_rejects_what_it_cannot_read():
    with pytest.raises(roboeval_upstream.UpstreamFormatError):
        roboeval_upstream.convert_task_module("name = 'x'\nprompts = []\n")
    bad = TASK_MODULE.replace('.addRobotLocation("start_loc")', '.addRobotLocation("attic")')
    with pytest.raises(roboeval_upstream.UpstreamFormatError, match="a test's state"):
        roboeval_upstream.convert_task_module(bad)


def test_training_path_refuses_roboeval(tmp_path):
    from lit_coderl.data.mbpp import JsonlTasks

    folder = write_roboeval(tmp_path / "data") / "roboeval"
    (folder / "as_training.jsonl").write_text('{"task_id": "a", "prompt": "x"}\n')
    for path in (folder / "as_training.jsonl", folder / "roboeval_data.csv", tmp_path / "roboeval_prompts.jsonl"):
        with pytest.raises(ValueError, match="evaluation only"):
            JsonlTasks(path)
    refuse_evaluation_only(tmp_path / "my_tasks.jsonl")  # anything else is fine


def test_data_cli(isolated, monkeypatch, capsys):
    monkeypatch.setitem(benchmarks.FETCHERS, "mbpp", lambda root=None: write_mbpp(root or benchmarks.cache_data_dir()))
    assert benchmarks.main(["fetch", "mbpp"]) == 0
    assert str(isolated / "cache" / "data" / "mbpp") in capsys.readouterr().out
    assert benchmarks.main(["fetch", "roboeval"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fetching roboeval failed: network unreachable") and "--data-dir" in err
    assert benchmarks.main(["where"]) == 0
    out = capsys.readouterr().out
    assert "mbpp      " + str(isolated / "cache" / "data") in out and "data fetch roboeval" in out


def test_mbpp_training_source_resolves_too(isolated, monkeypatch):
    from lit_coderl.data.mbpp import MBPP

    monkeypatch.setenv(benchmarks.ENV_DATA_DIR, str(write_mbpp(isolated / "env")))
    rows = MBPP(split="test").load()
    assert [r["task_id"] for r in rows] == ["mbpp/11", "mbpp/12", "mbpp/13"]
