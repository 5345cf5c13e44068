"""Hostile robot programs (issue #11) through the public entry points: the training reward (`SimulatorReward`, where
a robot error counts even when the program catches it) and the RoboSim and RoboEval evaluators. The simulator and
the driver live outside the program's process, so rebinding them, swallowing robot errors in the program's own
proxy, forging its result frame or flooding its server must change nothing but the program's own fate."""

from __future__ import annotations

import time

import pytest

from lit_coderl.evaluate.roboeval import RoboEvalEvaluator
from lit_coderl.evaluate.robosim import RoboSimEvaluator
from tests.hostile_helpers import NEEDS_ISOLATION, Host

pytestmark = NEEDS_ISOLATION

PLACE_FAILS = '    place("cup")\n'
"""A robot error in every world (the robot holds nothing)."""

PATCH_DRIVER = """
    import sys
    verdict = {"accepted": True, "passed": 5, "worlds": 5, "outcome": "Success", "status": "ok"}
    for name, module in list(sys.modules.items()):
        if name.startswith("lit_coderl"):
            for attr in ("run_world", "verify_program", "evaluate_task_program", "result_of_reply", "classify_error",
                         "run_program", "parse_trace", "_error_outcome", "error_class"):
                if hasattr(module, attr):
                    setattr(module, attr, lambda *a, **k: verdict)
"""
"""Rebinds the driver and the verdict functions inside the program (the originals ran them in its process)."""

PATCH_EVERYTHING = PATCH_DRIVER + """
    proxy = type(robot)
    real_call = proxy._call
    def swallow(self, name, args):
        try:
            return real_call(self, name, args)
        except BaseException:
            return None
    proxy._call = swallow
"""
"""Also rebinds the robot API class, swallowing robot errors there: for the training reward, a caught robot error
(the evaluators keep the originals' semantics, where ``try: place(x) except: pass`` passes)."""

FORGE_DONE = """
    import json, os, struct
    def frame(tag, body):
        data = json.dumps(body).encode()
        return struct.pack('<cI', tag, len(data)) + data
    try:
        place("cup")
    except BaseException:
        pass
    os.write(1, frame(b'D', {'status': 'ok', 'error': None, 'error_line': None, 'stdout': ''}))
    os._exit(0)
"""
"""Hits a robot error, catches it, reports success itself and leaves. (Single quotes: the harness lower-cases
double-quoted literals, as the original does.)"""

FLOOD = """
    import json, os, struct
    body = json.dumps({'m': 'say', 'a': ['x' * 1000], 'o': ''}).encode()
    while True:  # robot requests without ever reading the replies: the server must not block on them
        os.write(1, struct.pack('<cI', b'Q', len(body)) + body)
"""

SIMULATOR_SAMPLES = {
    "honest": ('    go_to("kitchen")\n    say("hi")\n', 1.0),
    "caught_robot_error": ("    try:\n" + "    " + PLACE_FAILS + "    except Exception:\n        pass\n", 0.0),
    "patched_driver_and_proxy": (PATCH_EVERYTHING + PLACE_FAILS, 0.0),
    "forged_done_frame": (FORGE_DONE, 0.0),
    "request_flood": (FLOOD, 0.0),
}


@pytest.fixture(scope="module")
def host():
    with Host() as h:
        yield h


def _program(body: str) -> str:
    return "def task_program():\n" + body


def test_simulator_reward_counts_what_the_program_hides(host, tiny_tokenizer):
    from lit_coderl.rewards.simulator import SimulatorReward
    from lit_coderl.rollout import Rollout

    texts = [f"```python\n{_program(body)}```" for body, _ in SIMULATOR_SAMPLES.values()]
    reward = SimulatorReward(worlds=2, workers=2, world_timeout_s=1.0, seed=0)
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, texts)
        start = time.monotonic()
        verdicts = reward.verdicts(rollout)
        seconds = time.monotonic() - start
    finally:
        reward.close()
    fractions = {name: v["passed"] / v["worlds"] for name, v in zip(SIMULATOR_SAMPLES, verdicts, strict=True)}
    assert fractions == {name: expected for name, (_, expected) in SIMULATOR_SAMPLES.items()}
    assert seconds < 12, f"five programs, two worlds each, took {seconds:.0f} s (a flood must not hold a server)"
    assert host.check() == []


def test_robosim_evaluator_is_not_fooled_by_the_program(host, data_dir):
    samples = [
        {"task_id": "SayGoodDay_0", "solution": _program('    say("good day!")\n'), "id": "honest"},
        {"task_id": "SayGoodDay_0", "solution": _program(PATCH_DRIVER + PLACE_FAILS), "id": "patched"},
        {"task_id": "SayGoodDay_0", "solution": _program(FORGE_DONE), "id": "forged_done"},
        {"task_id": "SayGoodDay_0", "solution": _program(FLOOD), "id": "flood"},
    ]
    start = time.monotonic()
    results = RoboSimEvaluator(data_dir=data_dir, workers=2, worlds=3, world_timeout_s=0.5).score(samples)
    seconds = time.monotonic() - start
    # forged_done caught its robot error: accepted under the originals' semantics, which the evaluator keeps
    assert {r["id"]: r["accepted"] for r in results} == {
        "honest": True, "patched": False, "forged_done": True, "flood": False}
    assert seconds < 12, f"three programs took {seconds:.0f} s"
    assert host.check() == []


SAY_GOOD_DAY = """
    list_of_rooms = get_all_rooms()
    for room in list_of_rooms:
        if "lab" not in room:
            continue
        go_to(room)
        if is_in_room("person"):
            {say}
"""


def test_roboeval_evaluator_judges_what_the_robot_did(host, data_dir):
    fake_say = "print('Say /$@!/ good day! /$@!/ None')  # the trace line, without the robot saying anything"
    samples = [
        {"task_id": "SayGoodDay_0", "solution": _program(SAY_GOOD_DAY.format(say='say("Good Day!")')), "id": "honest"},
        {"task_id": "SayGoodDay_0", "solution": _program(SAY_GOOD_DAY.format(say=fake_say)), "id": "printed_trace"},
        {"task_id": "SayGoodDay_0", "solution": _program(PATCH_DRIVER + PLACE_FAILS), "id": "patched"},
    ]
    results = RoboEvalEvaluator(data_dir, workers=2, state_timeout_s=1.0).score(samples)
    outcomes = {r["id"]: r["outcome"] for r in results}
    assert (outcomes["honest"], outcomes["patched"]) == ("Success", "RobotExecutionError")
    assert outcomes["printed_trace"] != "Success", "a trace the program printed was taken for what the robot did"
    assert host.check() == []


TASK_SPEC = {
    "rooms": ["loc_a", "start_loc"],
    "facts": [{"id": "stock", "at": "kitchen", "entity": "cup", "p": 1.0}],
    "constraints": [{"do": "pick", "what": "cup", "at": "kitchen"},
                    {"do": "place", "what": "cup", "at": "start", "after": 0}],
}
TASK_HONEST = """    start = get_current_location()
    go_to("kitchen")
    pick("cup")
    go_to(start)
    place("cup")
"""
TASK_PRINTED = """    print("Go to /$@!/ kitchen /$@!/ None")
    print("Pick /$@!/ cup /$@!/ None")
    print("Place /$@!/ cup /$@!/ None")
    say("done")
"""
"""Prints the trace lines of the task's actions without the robot doing them."""
TASK_FORGED_LOG = """    import json, os, struct
    def frame(tag, body):
        data = json.dumps(body).encode()
        return struct.pack('<cI', tag, len(data)) + data
    log = [{'api': 'pick', 'args': ['cup'], 'result': None, 'error': None, 'line': 2},
           {'api': 'place', 'args': ['cup'], 'result': None, 'error': None, 'line': 3}]
    os.write(1, frame(b'D', {'status': 'ok', 'error': None, 'error_line': None, 'stdout': '', 'call_log': log}))
    os._exit(0)
"""
"""Reports a call log of its own (the actions done) and a finished run, without calling the robot."""
TASK_LOG_FLOOD = """    args = ['x' * 5000] * 40
    for _ in range(3000):
        try:
            say(*args)
        except Exception:
            pass
"""
"""Fills the server's call log with the largest entries it will keep (capped in count and size)."""


def test_task_check_reward_judges_the_simulators_log_not_the_programs(host, tiny_tokenizer):
    from lit_coderl.rewards.task_check import TaskCheckReward
    from lit_coderl.rollout import Rollout

    programs = {"honest": TASK_HONEST, "printed": TASK_PRINTED, "forged_log": TASK_FORGED_LOG,
                "log_flood": TASK_LOG_FLOOD}
    texts = [f"```python\n{_program(body)}```" for body in programs.values()]
    row = {"robot": {"instruction": "Bring me the cup from the kitchen.", "spec": TASK_SPEC}}
    reward = TaskCheckReward(worlds=2, workers=2, world_timeout_s=2.0)
    try:
        rollout = Rollout.from_texts(tiny_tokenizer, texts, tasks=[row] * len(texts))
        reward.submit(rollout)
        reward.score(rollout)
        sequence = reward.sequence_score(rollout, rollout.zeros()).tolist()
    finally:
        reward.close()
    scores = dict(zip(programs, sequence, strict=True))
    assert scores["honest"] == pytest.approx(1.0)
    assert scores["printed"] == 0.0 and scores["forged_log"] == 0.0 and scores["log_flood"] == 0.0
    assert host.check() == []


# --- structured records only (the trace, the facts, the count, the blame) --------------------------------------

FORGED_SAY = """
    lines = ['x /$@!/ None']
    for lab in ['sam', 'amy']:
        lines += ['GoTo /$@!/ ' + lab + "'s lab /$@!/ None", 'CheckEntity /$@!/ person /$@!/ None',
                  'Say /$@!/ good day! /$@!/ None']
    say(chr(10).join(lines))  # one say, whose text holds the trace lines of the visits it never made
"""
"""Forges GoTo/CheckEntity/Say trace lines inside one ``say`` text (newlines and the delimiter)."""
HUGE_LITERAL = """
    say('x /$@!/ None' + chr(10) + 'Ask /$@!/ q /$@!/ [' + '[[]],' * 150000 + ']')
"""
"""A ``say`` whose text forges an ``Ask`` line with a 900 KB literal (seconds of ``literal_eval`` in the trainer)."""


def test_roboeval_trace_comes_from_the_simulator_not_from_said_text(host, data_dir, monkeypatch):
    import ast

    parsed: list[int] = []
    real = ast.literal_eval
    monkeypatch.setattr(ast, "literal_eval", lambda node: (parsed.append(len(node) if isinstance(node, str) else 0),
                                                           real(node))[1])
    samples = [
        {"task_id": "SayGoodDay_0", "solution": _program(SAY_GOOD_DAY.format(say='say("Good Day!")')), "id": "honest"},
        {"task_id": "SayGoodDay_0", "solution": _program(FORGED_SAY), "id": "forged_say"},
        {"task_id": "SayGoodDay_0", "solution": _program(HUGE_LITERAL), "id": "huge_literal"},
    ]
    start = time.monotonic()
    results = {r["id"]: r for r in RoboEvalEvaluator(data_dir, workers=2, state_timeout_s=1.0).score(samples)}
    seconds = time.monotonic() - start
    assert results["honest"]["outcome"] == "Success"
    # state 0 greets both labs: the forged trace would pass it; the robot's own record holds one Say at the start
    forged = results["forged_say"]["states"][0]
    assert forged["passed"] is False and forged["events"] == 0, forged
    assert results["huge_literal"]["states"][0]["events"] == 0
    assert max(parsed, default=0) <= 10_000, "the trainer parsed a program's literal of that many characters"
    assert seconds < 20, f"three programs took {seconds:.0f} s"
    assert host.check() == []


READ_OWN_MEMORY = """
    import gc, sys
    def has(v):  # the marker is built here each time, never held where the scans below would see it
        return ''.join(['secr', 'et_91']) in repr(v)[:100000]
    found = []
    frame = sys._getframe().f_back
    while frame is not None:  # the job the child was forked with, up its own stack
        found += [k for k, v in frame.f_locals.items() if has(v)]
        frame = frame.f_back
    found += [1 for o in gc.get_objects() if type(o) in (dict, list, tuple) and has(o)]
    say('leak ' + str(len(found)))
"""
"""Looks for the world's facts (a task check's) or state (RoboEval's) in its own process, and says how many copies
it found (the marker is in the world, not in the program text)."""
SECRET_SPEC = {"rooms": ["vault_secret_91", "start_loc"],
               "facts": [{"id": "stock", "at": "kitchen", "entity": "cup_secret_91", "p": 0.5}],
               "constraints": [{"do": "pick", "what": "cup_secret_91", "at": "kitchen"}]}


def test_world_facts_never_reach_the_programs_process(host):
    from lit_coderl.robot.harness import rewrite_program
    from lit_coderl.robot.runner import SandboxRunner
    from lit_coderl.robot.task_world import world_of
    from lit_coderl.sandbox import Limits, SandboxPool

    code = _program(READ_OWN_MEMORY)
    state = {"locations": ["start_loc", "vault_secret_91"], "objects": {"vault_secret_91": ["key_secret_91"]}}
    worlds = [world_of(SECRET_SPEC, code, 0, 0), {"kind": "roboeval", "code": rewrite_program(code), "state": state}]
    with SandboxPool(workers=1, limits=Limits(timeout_s=3.0, memory_mb=1024)) as pool:
        runner = SandboxRunner(pool)
        said = [[c["args"] for c in runner(world, 2.0).calls if c["api"] == "say"] for world in worlds]
    assert said == [[["leak 0"]], [["leak 0"]]], said
    assert host.check() == []


HIDDEN_BLAME = """
    go_to('kitchen')
    exec(compile(chr(10) * 9000 + 'go_to(str(1)); raise ValueError(str(2))', {filename!r}, 'exec'))
"""
"""Runs its last call and its error from code it compiled itself at line 9000 (a line with no tokens)."""


@pytest.mark.parametrize("filename", ["<program>", "<x>"])
def test_blame_stays_on_the_programs_own_line(host, filename):
    from lit_coderl.robot.runner import InProcessRunner, SandboxRunner
    from lit_coderl.sandbox import Limits, SandboxPool

    world = {"kind": "robosim", "code": _program(HIDDEN_BLAME.format(filename=filename)), "seed": 0, "world": 0}
    with SandboxPool(workers=1, limits=Limits(timeout_s=3.0, memory_mb=1024)) as pool:
        results = [SandboxRunner(pool)(world, 2.0), InProcessRunner()(world, 2.0)]
    for result in results:
        assert (result.status, result.error, result.error_line) == ("error", "ValueError: 2", 4)
        assert [c["line"] for c in result.calls] == [3, 4]
    assert host.check() == []


def test_a_program_that_never_reads_its_replies_does_not_stall_its_server(host):
    from lit_coderl.sandbox import Limits, SandboxPool

    world = {"kind": "robosim", "code": _program(FLOOD), "seed": 0, "world": 0}
    with SandboxPool(workers=1, limits=Limits(timeout_s=3.0, memory_mb=1024)) as pool:
        start = time.monotonic()
        reply = pool.submit_robot(world, 1.0).result()
        seconds = time.monotonic() - start
        honest = pool.submit_robot({**world, "code": _program('    say("hi")\n')}, 1.0).result()
    assert (reply.status, reply.error) == ("crash", "robot request sent before the previous reply was read")
    assert seconds < 1.5, f"the flood held its server {seconds:.1f} s"
    assert honest.status == "ok" and honest.robot["calls"] == 1
    assert host.check() == []


def test_a_bad_world_is_the_callers_error_and_the_next_job_still_gets_its_own_reply(host):
    from lit_coderl.sandbox import Limits, SandboxPool

    world = {"kind": "robosim", "code": _program('    say("hi")\n'), "seed": 0, "world": 0}
    with SandboxPool(workers=1, limits=Limits(timeout_s=3.0, memory_mb=1024)) as pool:
        bad = pool.submit_robot({**world, "seed": "not a number"}, 1.0).result()
        good = pool.submit_robot(world, 1.0).result()
    # the world is the caller's data: its failure is the machinery's, never the program's verdict
    assert bad.status == "infra_error" and bad.error.startswith("sandbox server error: ValueError"), bad
    assert good.status == "ok" and good.robot["calls"] == 1 and good.robot["call_log"][0]["args"] == ["hi"]
    assert host.check() == []
