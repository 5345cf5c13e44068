"""MBPP (original asserts, tasks 11–510) and MBPP+ (EvalPlus 0.3.1 rules) evaluators.

MBPP+ follows EvalPlus 0.3.1 (see ``docs/evalplus-mbpp.md`` §3.2): expected outputs come from running ``prompt +
canonical_solution`` on the deserialised ``base_input`` and ``plus_input`` (timed per input); a sample passes *base*
when every base input passes and *plus* when base and plus both pass. Per input the limit is ``max(1 s, 4 × reference
time)``, per run ``min(60, Σ limits) + 1 s``; outputs are compared with ``==``, floats with ``np.allclose(rtol=1e-7,
atol)`` (atol 1e-6 when the task's atol is 0 and the output is a float), plus the special oracles; 4 GiB memory; the
first failing input stops a run. Every run is a sandbox job that only returns each input's output as plain data; the
comparison happens here, outside the program's process, so expected outputs never enter a sandbox and the server's
clock (not the program's ``SIGALRM``) limits each input. Reference outputs are cached as data-only JSON keyed by the
data file's checksum; a cache that does not match is rebuilt.

The data here is the **pre-release development file** ``MbppPlus-dev-767efcc.jsonl``, restricted to the 378 task ids
of v0.2.0 by default: results are labelled as such and are not MBPP+ v0.2.0 numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter, defaultdict
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from lit_coderl.evaluate.base import DEFAULT_DATA_DIR, INFRA_ERROR, Evaluator, has_infra_error
from lit_coderl.sandbox import Limits, RunReply, SandboxPool, TestResult
from lit_coderl.sandbox.codec import CodecError, Digest, decode_value, digest_value, encode_value
from lit_coderl.sandbox.judge import call_values

# `lit_coderl.data` and `lit_coderl.rewards` pull in torch/lightning: imported only where needed.

FEW_SHOT_TASKS = (2, 3, 4)
"""The paper's 3-shot MBPP prompt uses tasks 2, 3 and 4."""

RELEASE_FILE = "mbppplus/MbppPlus-v0.2.0.jsonl"  # the v0.2.0 release (python -m lit_coderl data fetch mbppplus)
DEV_FILE = "mbppplus/MbppPlus-dev-767efcc.jsonl"
V020_IDS_FILE = "mbppplus/v0.2.0_task_ids.txt"
DEV_LABEL = "MBPP+ pre-release dev file MbppPlus-dev-767efcc (not the v0.2.0 release; development use only)"

MIN_TIME_LIMIT_S = 1.0
GT_TIME_LIMIT_FACTOR = 4.0
TIMEOUT_PER_TASK_S = 60.0
MEMORY_MB = 4096
_GT_CACHE_VERSION = 3  # 3: digests of large outputs (codec.digest_value)
_SANDBOX_SLACK_S = 1.0  # fork, loading the program and replying, beyond EvalPlus's own process timeout

# --- EvalPlus 0.3.1 facts: special oracles and input deserialisation -------------------------------------------

MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
    "intersection_array", "find_dissimilar", "Diff",
)
_TUPLE_EACH_ARG = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740,
                   744, 809}
_TUPLE_NESTED_ARGS = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_TUPLE_FIRST_ARG_ITEMS = {75, 413, 444, 753}
_TUPLE_SECOND_ARG = {106, 750}
_TUPLE_FIRST_ARG = {250, 405, 446, 617, 720, 763, 808}
_TUPLE_NESTED_THEN_ARGS = {259, 401, 445}
_ALL_TUPLES = {580, 615, 791}


def task_number(task_id: Any) -> int:
    """``"Mbpp/11"``, ``"mbpp/11"``, ``"11"`` or ``11`` → 11; `ValueError` otherwise."""
    text = str(task_id).strip().rsplit("/", 1)[-1]
    if not text.isdigit():
        raise ValueError(f"not an MBPP task id: {task_id!r}")
    return int(text)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def deserialize_inputs(number: int, inputs: Any) -> list:
    """Restore the Python types JSON lost in MBPP+ inputs (EvalPlus's ``mbpp_deserialize_inputs``)."""
    inputs = list(inputs) if isinstance(inputs, list) else []
    if number in _TUPLE_EACH_ARG:
        return [[tuple(arg) for arg in inp] for inp in inputs]
    if number in _TUPLE_NESTED_ARGS:
        return [[[tuple(x) for x in arg] for arg in inp] for inp in inputs]
    if number in _TUPLE_FIRST_ARG_ITEMS:
        return [[[tuple(x) for x in inp[0]], inp[1]] for inp in inputs]
    if number in _TUPLE_SECOND_ARG:
        return [[inp[0], tuple(inp[1])] for inp in inputs]
    if number == 115:
        return [[[set(x) if isinstance(x, list) and len(x) else {} for x in inp[0]]] for inp in inputs]
    if number == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if number in _TUPLE_FIRST_ARG:
        return [[tuple(inp[0]), inp[1]] for inp in inputs]
    if number in _TUPLE_NESTED_THEN_ARGS:
        return [[tuple(tuple(x) for x in arg) for arg in inp] for inp in inputs]
    if number == 278:
        return [[tuple(tuple(x) if isinstance(x, list) else x for x in inp[0])] for inp in inputs]
    if number == 307:
        return [[tuple(inp[0]), inp[1], inp[2]] for inp in inputs]
    if number == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]] for inp in inputs]
    if number == 252:
        return [[complex(inp[0])] for inp in inputs]
    if number in _ALL_TUPLES:
        return [_tuples(inp) for inp in inputs]
    return inputs


def _surface_area_oracle(base_edge, height):  # Mbpp/581: height is the perpendicular height
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance_oracle(num1, num2):  # Mbpp/558: numbers padded to the same length with zeros
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def _is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if isinstance(x, np.ndarray):
        return x.dtype == np.float64 or x.dtype == np.float32
    return False


def output_matches(entry_point: str, inp: Any, out: Any, exp: Any, atol: float) -> tuple[bool, float]:
    """EvalPlus's comparison of one output; returns (match, atol for the next inputs — EvalPlus keeps the 1e-6).

    An output too large to send travels as its `Digest`: then equality is the digests' (``==``-respecting)."""
    if isinstance(out, Digest) or isinstance(exp, Digest):
        try:
            return (out if isinstance(out, Digest) else digest_value(out)) == (
                exp if isinstance(exp, Digest) else digest_value(exp)), atol
        except CodecError:
            return False, atol
    exact = out == exp
    if entry_point == "are_equivalent":  # Mbpp/164
        exact = True
    elif entry_point == "sum_div":  # Mbpp/295
        exact = exact or out == 0
    elif entry_point == "surface_Area":  # Mbpp/581
        exact = exact or abs(out - _surface_area_oracle(*inp)) <= atol
    elif entry_point == "digit_distance_nums":  # Mbpp/558
        exact = exact or out == _digit_distance_oracle(*inp)
    elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
        exact = set(out) == set(exp)
    elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
        exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) is not type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False, atol
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol)), atol
    return bool(exact), atol


def _data():
    """`lit_coderl.data.mbpp`, imported on first use (see the note on imports above)."""
    from lit_coderl.data import mbpp as data_mbpp

    return data_mbpp


# --- completions → code ----------------------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"^(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+[^\n]+$", re.M)
_CONSTANT_LINE = re.compile(r"^[A-Z_][A-Z0-9_]*[ \t]*=[^=\n][^\n]*$", re.M)
_TOP_LEVEL_BLOCK = re.compile(
    r"^(?:@[^\n]*\n)*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[^\n]*(?:\n(?:[ \t]+[^\n]*|[ \t]*(?=\n)))*", re.M
)


def extract_functions(completion: str) -> str:
    """The regex function extractor: the first code block (or the whole text), reduced to its imports, upper-case
    constants and top-level ``def``/``class`` blocks in their order; test calls and prints around them are dropped.
    Returns the code block unchanged when it has no ``def``/``class``."""
    from lit_coderl.rewards.spans import extract_code_span

    text = _data().normalize_newlines(completion)
    start, end = extract_code_span(text)
    code = text[start:end]
    pieces = [(m.start(), m.group(0).rstrip()) for m in _TOP_LEVEL_BLOCK.finditer(code)]
    if not pieces:
        return code
    pieces += [(m.start(), m.group(0)) for pattern in (_IMPORT_LINE, _CONSTANT_LINE) for m in pattern.finditer(code)]
    return "\n".join(piece for _, piece in sorted(pieces)) + "\n"


def sample_code(evaluator: Evaluator, task: dict, sample: dict) -> str:
    """The code of a sample: ``solution`` as is (EvalPlus's convention), or extracted when it is still a chat
    answer with a code fence, or extracted from ``completion``."""
    solution = sample.get("solution")
    if isinstance(solution, str) and "```" not in solution:
        return solution
    text = solution if isinstance(solution, str) else sample.get("completion")
    return evaluator.extract(task, text if isinstance(text, str) else "")


def _dump_outputs(values: list) -> list:
    return [{"h": str(v)} if isinstance(v, Digest) else {"v": encode_value(v)} for v in values]


def _load_outputs(items: list) -> list:
    return [Digest(item["h"]) if "h" in item else decode_value(item["v"]) for item in items]


def _echo(sample: dict, **fields: Any) -> dict:
    result = {"task_id": sample.get("task_id")}
    if "id" in sample:
        result["id"] = sample["id"]
    result.update(fields)
    return result


def _pass_at_1(passed_by_task: dict[Any, list[bool]]) -> float:
    """Unbiased pass@1 (c/n per task) averaged over tasks."""
    if not passed_by_task:
        return 0.0
    return sum(sum(v) / len(v) for v in passed_by_task.values()) / len(passed_by_task)


# --- MBPP ------------------------------------------------------------------------------------------------------


class MBPPEvaluator(Evaluator):
    """MBPP with its original asserts (test split, tasks 11–510), greedy pass@1.

    Args:
        data_dir: Folder holding ``mbpp/mbpp.jsonl``.
        workers: Parallel sandbox processes (default: CPU count).
        timeout_s: Wall clock of one sample's test run.
        memory_mb: Memory limit of one sample's test run.
        few_shot: Prompt with the paper's 3-shot examples (tasks 2, 3, 4) before the task.
    """

    kind = "mbpp"

    def __init__(
        self,
        data_dir: Path | str = DEFAULT_DATA_DIR,
        workers: int | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = MEMORY_MB,
        few_shot: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(data_dir=data_dir, workers=workers, **options)
        self.limits = Limits(timeout_s=float(timeout_s), memory_mb=int(memory_mb))
        self.few_shot = few_shot
        self._records: dict[int, dict] | None = None

    def _all_records(self) -> dict[int, dict]:
        if self._records is None:
            path = _data().find_data_file(self.data_dir, "mbpp/mbpp.jsonl", "mbpp.jsonl")
            self._records = {int(r["task_id"]): r for r in _data().read_jsonl(path)}
        return self._records

    def tasks(self) -> dict[str, dict[str, Any]]:
        low, high = _data().MBPP_SPLITS["test"]
        records = self._all_records()
        return {f"Mbpp/{n}": records[n] for n in range(low, high + 1) if n in records}

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = []
        if self.few_shot:
            records = self._all_records()
            for n in FEW_SHOT_TASKS:
                if n in records:
                    shot = records[n]
                    prompt = _data().mbpp_prompt(shot["text"], shot["test_list"][0])
                    messages.append({"role": "user", "content": prompt})
                    code = _data().normalize_newlines(shot["code"]).strip()
                    messages.append({"role": "assistant", "content": f"```python\n{code}\n```"})
        tests = task.get("test_list") or [None]
        messages.append({"role": "user", "content": _data().mbpp_prompt(task["text"], tests[0])})
        return messages

    def extract(self, task: dict[str, Any], completion: str) -> str:
        return extract_functions(completion)

    def score(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tasks = self.tasks()
        by_number = {task_number(k): v for k, v in tasks.items()}
        futures: list[Future[TestResult] | dict] = []
        with SandboxPool(workers=self.workers, limits=self.limits) as pool:
            for sample in samples:
                try:
                    task = by_number[task_number(sample.get("task_id"))]
                except (KeyError, ValueError):
                    invalid = _echo(sample, status="invalid", passed=[], error="unknown task_id", **{"pass": False})
                    futures.append(invalid)
                    continue
                code = sample_code(self, task, sample)
                setup = _data().normalize_newlines(task["test_setup_code"])
                futures.append(pool.submit_tests(code, task["test_list"], setup))
            results = []
            for sample, future in zip(samples, futures, strict=True):
                if isinstance(future, dict):
                    results.append(future)
                    continue
                r = future.result()
                results.append(_echo(sample, status=r.status, passed=r.passed, error=r.error,
                                     **{"pass": r.status == "pass"}))
        return results

    def summary(self, results: list[dict[str, Any]]) -> str:
        by_task: dict[Any, list[bool]] = defaultdict(list)
        statuses = Counter(r.get("status") for r in results)
        for r in results:
            if r.get("status") not in ("invalid", INFRA_ERROR):
                by_task[task_number(r["task_id"])].append(bool(r.get("pass")))
        lines = [
            "MBPP (original asserts, test split tasks 11-510)",
            f"{'samples':>8} {'tasks':>6} {'pass@1':>8}",
            f"{len(results):>8} {len(by_task):>6} {_pass_at_1(by_task):>8.4f}",
            "status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        ]
        return "\n".join(lines)


# --- MBPP+ -----------------------------------------------------------------------------------------------------


class MBPPPlusEvaluator(Evaluator):
    """MBPP+ under EvalPlus 0.3.1 rules on the pre-release dev file (base and plus pass@1).

    Args:
        data_dir: Folder holding ``mbppplus/MbppPlus-v0.2.0.jsonl`` (the release) or the dev snapshot
            ``mbppplus/MbppPlus-dev-767efcc.jsonl`` + ``mbppplus/v0.2.0_task_ids.txt``; default: resolved.
        workers: Parallel sandbox processes (default: CPU count).
        all_tasks: Use all 399 tasks of the dev file instead of the 378 ids of v0.2.0.
        cache_dir: Where expected outputs are cached (keyed by the data file's hash); ``None`` disables the cache.
        min_time_limit: Lower bound of the per-input time limit (EvalPlus: 1 s).
        gt_time_limit_factor: Per-input limit as a multiple of the reference run time (EvalPlus: 4).
        base_only: Skip the plus inputs.
    """

    kind = "mbppplus"

    def __init__(
        self,
        data_dir: Path | str = DEFAULT_DATA_DIR,
        workers: int | None = None,
        all_tasks: bool = False,
        cache_dir: Path | str | None = "~/.cache/lit_coderl",
        min_time_limit: float = MIN_TIME_LIMIT_S,
        gt_time_limit_factor: float = GT_TIME_LIMIT_FACTOR,
        base_only: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(data_dir=data_dir, workers=workers, **options)
        self.all_tasks = all_tasks
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.min_time_limit = float(min_time_limit)
        self.gt_time_limit_factor = float(gt_time_limit_factor)
        self.base_only = base_only
        self._tasks: dict[str, dict] | None = None
        self._data_hash = ""
        self._ground_truth: dict[str, dict] = {}

    def tasks(self) -> dict[str, dict[str, Any]]:
        if self._tasks is None:
            path = _data().find_data_file(self.data_dir, RELEASE_FILE, DEV_FILE)
            self._data_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            rows = _data().read_jsonl(path)
            if not self.all_tasks and path.name != Path(RELEASE_FILE).name:  # the release holds v0.2.0 only
                ids = set(_data().find_data_file(self.data_dir, V020_IDS_FILE).read_text().split())
                rows = [r for r in rows if r["task_id"] in ids]
            tasks = {}
            for row in rows:
                number = task_number(row["task_id"])
                tasks[row["task_id"]] = {
                    **row,
                    "base_input": deserialize_inputs(number, row["base_input"]),
                    "plus_input": deserialize_inputs(number, row["plus_input"]),
                }
            self._tasks = tasks
        return self._tasks

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        text = task["prompt"].strip().strip("'\"").strip()
        example = task.get("assertion", "").strip().splitlines()
        return [{"role": "user", "content": _data().mbpp_prompt(text, example[0] if example else None)}]

    def extract(self, task: dict[str, Any], completion: str) -> str:
        return extract_functions(completion)

    # ground truth -----------------------------------------------------------------------------------------------

    def _cache_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        scope = "all" if self.all_tasks else "v020"
        return self.cache_dir / f"mbppplus-gt-{self._data_hash[:16]}-{scope}-v{_GT_CACHE_VERSION}.json"

    def _load_cache(self) -> None:
        """Read cached reference outputs (data-only JSON); a file for another source or version is ignored and
        rebuilt."""
        path = self._cache_path()
        if path is None or not path.is_file() or self._ground_truth:
            return
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("source_sha256") != self._data_hash or cached.get("version") != _GT_CACHE_VERSION:
                return
            truth = {task_id: {"base": _load_outputs(entry["base"]), "plus": _load_outputs(entry["plus"]),
                               "base_time": [float(t) for t in entry["base_time"]],
                               "plus_time": [float(t) for t in entry["plus_time"]]}
                     for task_id, entry in cached["tasks"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CodecError, RecursionError):
            return
        self._ground_truth.update(truth)

    def _save_cache(self) -> None:
        path = self._cache_path()
        if path is None:
            return
        tasks = {task_id: {"base": _dump_outputs(t["base"]), "plus": _dump_outputs(t["plus"]),
                           "base_time": t["base_time"], "plus_time": t["plus_time"]}
                 for task_id, t in self._ground_truth.items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"version": _GT_CACHE_VERSION, "source_sha256": self._data_hash,
                                       "tasks": tasks}), encoding="utf-8")
            tmp.replace(path)
        except (OSError, CodecError):
            pass

    def _submit_ground_truth(self, pool: SandboxPool, task_id: str) -> tuple[Future, Future | None]:
        task = self.tasks()[task_id]
        code = task["prompt"] + task["canonical_solution"]
        project = "not_none" if task["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS else None
        limits = Limits(timeout_s=600.0, memory_mb=MEMORY_MB)
        base = pool.submit_calls(code, task["entry_point"], task["base_input"], limits=limits, project=project)
        plus = None if self.base_only else pool.submit_calls(code, task["entry_point"], task["plus_input"],
                                                             limits=limits, project=project)
        return base, plus

    def _collect_ground_truth(self, task_id: str, futures: tuple[Future, Future | None]) -> dict:
        truth: dict[str, Any] = {}
        for which, future in zip(("base", "plus"), futures, strict=True):
            if future is None:
                truth[which], truth[f"{which}_time"] = [], []
                continue
            reply: RunReply = future.result()
            if reply.infra_error:
                raise OSError(f"sandbox infrastructure error while running the reference solution of {task_id}: "
                              f"{reply.error}")
            values = call_values(reply)
            n = len(self.tasks()[task_id][f"{which}_input"])
            if reply.status != "ok" or len(values) != n or not all(ok for ok, _ in values):
                bad = next((v for ok, v in values if not ok), reply.error or reply.load_error)
                raise RuntimeError(f"canonical solution of {task_id} failed on {which} inputs: {reply.status} {bad}")
            truth[which] = [v for _, v in values]
            truth[f"{which}_time"] = reply.times[:n]
        return truth

    # checking ---------------------------------------------------------------------------------------------------

    def _time_limits(self, times: list[float]) -> list[float]:
        return [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in times]

    def _submit_check(self, pool: SandboxPool, task: dict, code: str, which: str) -> Future:
        truth = self._ground_truth[task["task_id"]]
        limits_per_input = self._time_limits(truth[f"{which}_time"])
        # EvalPlus's process limit, plus what the reference itself took (its times include sending its outputs,
        # which EvalPlus's in-process comparison does not pay: a 1.6M-tuple output takes seconds to digest)
        timeout = min(TIMEOUT_PER_TASK_S, sum(limits_per_input)) + 1 + _SANDBOX_SLACK_S + sum(truth[f"{which}_time"])
        project = "not_none_unless_bool" if task["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS else None
        return pool.submit_calls(code, task["entry_point"], task[f"{which}_input"], limits_per_input,
                                 Limits(timeout_s=timeout, memory_mb=MEMORY_MB), project=project)

    def judge(self, task: dict, which: str, reply: RunReply) -> tuple[str, str | None]:
        """EvalPlus's verdict of one run from its returned outputs, compared here: ``pass``, ``fail`` or
        ``timeout`` (like EvalPlus, a run that ended without reporting every input is a timeout)."""
        if reply.infra_error:  # the program never ran: no verdict
            return INFRA_ERROR, reply.error
        if reply.load_error is not None:
            return "fail", reply.load_error
        expected = self._ground_truth[task["task_id"]][which]
        inputs = task[f"{which}_input"]
        atol = float(task.get("atol") or 0)
        for index, (ok, out) in enumerate(call_values(reply)):
            if index >= len(expected):
                break
            if not ok:
                return "fail", out
            try:
                match, atol = output_matches(task["entry_point"], inputs[index], out, expected[index], atol)
            except Exception as exc:  # a comparison of builtins that raised (e.g. len of an int)
                match = False
                out = f"{type(exc).__name__}: {exc}"
            if not match:
                return "fail", f"wrong output for input #{index}"
        if reply.status == "timeout" and (reply.error or "").startswith("input #"):
            return "fail", reply.error  # one input over its own limit fails that input, as in EvalPlus
        if reply.status != "ok" or len(call_values(reply)) < len(expected):
            return "timeout", reply.error or "ended before every input was run"
        return "pass", None

    def score(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tasks = self.tasks()
        by_number = {task_number(k): k for k in tasks}
        wanted: list[str | None] = []
        for sample in samples:
            try:
                wanted.append(by_number[task_number(sample.get("task_id"))])
            except (KeyError, ValueError):
                wanted.append(None)
        self._load_cache()
        results: list[dict | None] = [None] * len(samples)
        with SandboxPool(workers=self.workers) as pool:
            checks: list[tuple[int, str, Future, Future | None]] = []
            pending_truth = {t: self._submit_ground_truth(pool, t) for t in dict.fromkeys(w for w in wanted if w)
                             if t not in self._ground_truth}
            new_truth = bool(pending_truth)
            for index, (sample, task_id) in enumerate(zip(samples, wanted, strict=True)):
                if task_id is None:
                    results[index] = _echo(sample, base_status="invalid", plus_status="invalid", base=False,
                                           plus=False, error="unknown task_id")
                    continue
                if task_id in pending_truth:
                    self._ground_truth[task_id] = self._collect_ground_truth(task_id, pending_truth.pop(task_id))
                code = sample_code(self, tasks[task_id], sample)
                base = self._submit_check(pool, tasks[task_id], code, "base")
                plus = None if self.base_only else self._submit_check(pool, tasks[task_id], code, "plus")
                checks.append((index, task_id, base, plus))
            for index, task_id, base_future, plus_future in checks:
                base_status, base_error = self.judge(tasks[task_id], "base", base_future.result())
                plus_status, plus_error = ("skipped", None) if plus_future is None else self.judge(
                    tasks[task_id], "plus", plus_future.result())
                results[index] = _echo(
                    samples[index], base_status=base_status, plus_status=plus_status, base=base_status == "pass",
                    plus=base_status == "pass" and plus_status == "pass", error=base_error or plus_error,
                )
        if new_truth:
            self._save_cache()
        return [r for r in results if r is not None]

    def summary(self, results: list[dict[str, Any]]) -> str:
        base: dict[Any, list[bool]] = defaultdict(list)
        plus: dict[Any, list[bool]] = defaultdict(list)
        for r in results:
            if r.get("base_status") == "invalid" or has_infra_error(r):
                continue
            base[task_number(r["task_id"])].append(bool(r.get("base")))
            plus[task_number(r["task_id"])].append(bool(r.get("plus")))
        statuses = Counter((r.get("base_status"), r.get("plus_status")) for r in results)
        scope = "all 399 dev-file tasks" if self.all_tasks else "the 378 v0.2.0 task ids"
        release = (Path(self.data_dir) / RELEASE_FILE).is_file()
        lines = [
            "MBPP+ v0.2.0 release (evalplus)" if release else f"{DEV_LABEL}, {scope}",
            f"{'samples':>8} {'tasks':>6} {'base pass@1':>12} {'plus pass@1':>12}",
            f"{len(results):>8} {len(base):>6} {_pass_at_1(base):>12.4f} {_pass_at_1(plus):>12.4f}",
            "status (base/plus): " + ", ".join(f"{b}/{p} {n}" for (b, p), n in sorted(statuses.items(), key=str)),
        ]
        return "\n".join(lines)


__all__ = [
    "DEV_LABEL", "MBPPEvaluator", "MBPPPlusEvaluator", "deserialize_inputs", "extract_functions", "output_matches",
    "task_number",
]
