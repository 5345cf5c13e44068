"""The judge: decides test verdicts outside the program's process, from plain data the child sent.

An MBPP test is an ``assert`` over calls to the program. `plan_tests` splits each assert into **holes**, the
smallest sub-expressions that need the program (a call of a function it defines, a name it binds, together with
their arguments), and the rest, which the judge evaluates itself with its own builtins and standard modules. The
child evaluates only the holes and sends their values through the data-only codec (`codec.py`); the judge then
evaluates the assert with the decoded values. So ``assert sorted(f(x)) == [1, 2]`` runs ``f(x)`` in the child and
``sorted(...) == [1, 2]`` here: an object whose ``__eq__`` always returns true never reaches the comparison (it is
not plain data), a program that rebinds ``sorted``, ``set``, ``math.isclose`` or ``isinstance`` rebinds them only in
its own process, and the expected values never enter the child at all.

Python's ``==`` semantics are kept (``4 == 4.0`` and ``True == 1`` pass as in MBPP's own harness; ``(1, 2) != [1,
2]``). A test that is not a single ``assert`` (or whose program calls use names bound inside the assert, such as a
comprehension's variable) cannot be split. By default it fails, with an error saying so (none of MBPP's 2,938 asserts
is such a test); ``in_child=True`` runs it beside the program instead, which then reports pass or fail itself: a
verdict the program can forge, counted in ``TestResult.in_child``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from lit_coderl.sandbox import codec

JUDGE_MODULES = ("math", "cmath", "re", "collections", "itertools", "functools", "heapq", "string", "operator",
                 "decimal", "fractions", "statistics", "datetime", "copy", "json", "bisect", "sys", "numpy")
"""Modules a test may name; the judge binds its own (the program cannot patch them). ``np`` is numpy."""
JUDGE_NAMES = frozenset(dir(builtins)) | frozenset(JUDGE_MODULES) | {"np"}

TestStatus = Literal["pass", "fail", "error", "timeout", "memory", "crash", "infra_error"]


@dataclass
class TestResult:
    """Outcome of `SandboxPool.submit_tests`.

    ``status``: ``pass`` (all tests pass), ``fail`` (the code ran, some test failed or raised), ``error`` (the code
    itself did not compile or raised at import time), ``timeout``, ``memory``, ``crash`` or ``infra_error`` (the
    sandbox failed before the program started: no verdict at all, never a failure). ``passed`` has one entry
    per test; a job that timed out or crashed passes none, whatever it reported before.
    """

    __test__ = False  # not a pytest class

    status: TestStatus
    passed: list[bool] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    """Line within the submitted ``code`` where the first failure was raised, when the traceback names it."""
    duration_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    in_child: int = 0
    """Tests that could not be split and were judged inside the program's process (forgeable)."""
    unsplittable: int = 0
    """Tests that could not be split (judged in the child with ``in_child=True``, else failed)."""

    @property
    def fraction(self) -> float:
        """Fraction of tests passed (0.0 when there are none)."""
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


@dataclass
class TestPlan:
    """What the child evaluates (``holes`` per test, or ``None`` and the test's source in ``fallback``) and what
    the judge evaluates (``checks``: compiled expressions over ``__hole<k>`` names)."""

    __test__ = False

    holes: list[list[str] | None]
    fallback: list[str | None]
    checks: list[Any]


class _Unsplittable(Exception):
    pass


class _Splitter(ast.NodeTransformer):
    def __init__(self, local: set[str], judged: frozenset[str]) -> None:
        self.local = local
        self.judged = judged  # names the judge binds itself for this test
        self.holes: list[str] = []

    def _program_name(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id not in self.judged and node.id not in self.local

    def _needs_program(self, node: ast.AST) -> bool:
        return any(self._program_name(n) for n in ast.walk(node))

    def _is_judge_call(self, func: ast.expr) -> bool:
        """A call the judge makes itself: its function expression names nothing of the program's."""
        return not self._needs_program(func)

    def _hole(self, node: ast.expr) -> ast.expr:
        if any(isinstance(n, ast.Name) and n.id in self.local for n in ast.walk(node)):
            raise _Unsplittable("a program call uses a name bound inside the assert")
        self.holes.append(ast.unparse(node))
        return ast.copy_location(ast.Name(id=f"__hole{len(self.holes) - 1}", ctx=ast.Load()), node)

    def visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, ast.expr) or not self._needs_program(node):
            return node
        if isinstance(node, ast.Call) and not self._is_judge_call(node.func):
            return self._hole(node)  # a call of the program's (or of a method of its value), with its arguments
        if isinstance(node, (ast.Attribute, ast.Subscript)) and self._needs_program(node.value):
            return self._hole(node)  # an attribute or item of a program value (``Pair(1, 2).a``, ``f(x)[0]``)
        if isinstance(node, (ast.Name, ast.Starred)):
            return self._hole(node)
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            raise _Unsplittable(f"{type(node).__name__} in an assert")
        return self.generic_visit(node)  # comparisons, boolean and arithmetic operators, judge calls, literals


def _locally_bound(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Lambda):
            names |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        elif isinstance(node, ast.NamedExpr):
            names.add(node.target.id)
    return names


def defined_names(code: str) -> frozenset[str]:
    """Names a program binds at its top level (parsed, never run); empty when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return frozenset()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return frozenset(names)


def split_assert(test: str, defined: frozenset[str] = frozenset()) -> tuple[list[str], Any]:
    """``(holes, compiled check)`` for a single-``assert`` test; `ValueError` when it cannot be split.

    ``defined``: the program's top-level names. A builtin name the program redefines stays the judge's, unless it is
    the only program name the test uses (the task's function is called ``sum``, say): then it is the program's.
    """
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not Python: {exc}") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise ValueError("not a single assert statement")
    expression = tree.body[0].test
    used = {n.id for n in ast.walk(expression) if isinstance(n, ast.Name)}
    shadowed = used & defined & JUDGE_NAMES
    judged = JUDGE_NAMES - shadowed if shadowed and not used - JUDGE_NAMES else JUDGE_NAMES
    splitter = _Splitter(_locally_bound(expression), judged)
    try:
        judged = splitter.visit(expression)
    except (_Unsplittable, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    check = compile(ast.fix_missing_locations(ast.Expression(body=judged)), "<judge>", "eval")
    return splitter.holes, check


def plan_tests(tests: list[str], code: str = "") -> TestPlan:
    """Split every test (see the module docstring) of a program ``code``."""
    plan = TestPlan(holes=[], fallback=[], checks=[])
    defined = defined_names(code)
    for test in tests:
        try:
            holes, check = split_assert(test, defined)
        except ValueError:
            plan.holes.append(None)
            plan.fallback.append(test)
            plan.checks.append(None)
            continue
        plan.holes.append(holes)
        plan.fallback.append(None)
        plan.checks.append(check)
    return plan


_GLOBALS: dict[str, Any] | None = None
NO_IO_BUILTINS = frozenset({"open", "input", "print", "exit", "quit", "breakpoint", "help", "__import__", "compile",
                            "exec", "eval", "globals", "locals", "vars", "memoryview", "license", "copyright",
                            "credits"})
"""Builtins the judge's side of a test does without: I/O, leaving the process, imports and running other code."""
SYS_NAMES = ("getsizeof", "maxsize", "maxunicode", "float_info", "int_info", "hash_info", "byteorder",
             "version_info", "float_repr_style", "getrecursionlimit")
"""What a test may read of ``sys`` (MBPP's asserts use ``sys.getsizeof`` and ``sys.maxsize``): no streams, no
``exit``, no ``modules``."""
_JUDGING = threading.local()


def _judge_globals() -> dict[str, Any]:
    global _GLOBALS
    if _GLOBALS is None:
        import sys
        import types

        names = {k: v for k, v in vars(builtins).items() if k not in NO_IO_BUILTINS}
        judged: dict[str, Any] = {"__builtins__": names}
        for name in JUDGE_MODULES:
            try:
                judged[name] = importlib.import_module(name)
            except ImportError:  # numpy is optional: a test naming it then fails
                pass
        judged["sys"] = types.SimpleNamespace(**{k: getattr(sys, k) for k in SYS_NAMES})
        if "numpy" in judged:
            judged["np"] = judged["numpy"]
        sys.addaudithook(_no_io_while_judging)
        _GLOBALS = judged
    return _GLOBALS


_REFUSED_EVENTS = ("open", "os.", "subprocess.", "socket.", "shutil.", "pty.", "ctypes.", "sys.addaudithook",
                   "import", "exec", "compile", "urllib.", "ftplib.", "http.", "smtplib.", "webbrowser.", "glob.",
                   "tempfile.", "mmap.", "fcntl.", "resource.", "signal.", "syslog.", "winreg.", "sqlite3.")
"""Audit events (PEP 578) refused on a thread while it evaluates a test's judge side: a module function the test
names (``numpy.save``, ``json.dump``, ``os`` reached through an attribute chain) cannot touch the host either."""


def _no_io_while_judging(event: str, args: tuple) -> None:
    check = getattr(_JUDGING, "check", None)
    if check is not None and event.startswith(_REFUSED_EVENTS) and not (event == "exec" and args[0] is check):
        raise PermissionError(f"the judge's side of a test may not do {event}")


def judge_check(check: Any, values: list[Any]) -> bool:
    """Evaluate a compiled check with the decoded hole values, without I/O (`NO_IO_BUILTINS`, `_REFUSED_EVENTS`);
    anything it raises (``SystemExit`` included) is a failed test, never an exception of the caller's thread."""
    scope = {f"__hole{k}": v for k, v in enumerate(values)}
    judged = _judge_globals()
    _JUDGING.check = check  # the one code object this thread may run until the check returns
    try:
        return bool(eval(check, judged, scope))
    except KeyboardInterrupt:  # the user's, not the test's
        raise
    except BaseException:  # noqa: B036 - SystemExit, GeneratorExit: a failed test
        return False
    finally:
        _JUDGING.check = None


def _job_failure(reply) -> tuple[TestStatus, str | None, int | None] | None:
    load = reply.load or {}
    if reply.status != "ok":
        if load and not load.get("ok"):  # it died loading: the load error is the better message
            return "error", load.get("x"), load.get("line")
        return reply.status, reply.error, None
    if not load:
        return "crash", "the program reported nothing", None
    if not load.get("ok"):
        return "error", load.get("x"), load.get("line")
    if load.get("setup_error"):
        return "fail", f"test setup failed: {load['setup_error']}", load.get("line")
    return None


UNSPLITTABLE = ("UnsplittableTest: not a single assert over the program's calls, so it cannot be judged outside the "
                "program (in_child=True runs it beside the program, where the program can forge its verdict)")


def test_result(plan: TestPlan, reply, in_child: bool = False) -> TestResult:
    """The `TestResult` of a ``holes`` job's reply (a `pool.RunReply`)."""
    n = len(plan.holes)
    passed = [False] * n
    unsplittable = sum(h is None for h in plan.holes)
    common = {"duration_s": reply.duration_s, "stdout": reply.stdout, "stderr": reply.stderr,
              "in_child": unsplittable if in_child else 0, "unsplittable": unsplittable}
    failure = _job_failure(reply)
    if failure is not None:
        status, error, line = failure
        return TestResult(status=status, passed=passed, error=error, error_line=_int(line), **common)
    first_error: tuple[str | None, Any] | None = None
    for i in range(n):
        item = reply.items[i] if i < len(reply.items) else None
        if not isinstance(item, dict):
            continue
        if "x" in item and first_error is None:
            first_error = (item.get("x"), item.get("line"))
        if plan.holes[i] is None:
            passed[i] = in_child and item.get("pass") is True
            if not in_child and first_error is None:
                first_error = (UNSPLITTABLE, None)
            continue
        if "v" not in item or not isinstance(item["v"], list) or len(item["v"]) != len(plan.holes[i]):
            continue
        try:
            values = [codec.decode_value(v) for v in item["v"]]
        except codec.CodecError:
            continue
        passed[i] = judge_check(plan.checks[i], values)
        if not passed[i] and first_error is None:
            first_error = ("AssertionError", None)
    error, line = first_error if first_error else (None, None)
    return TestResult(status="pass" if all(passed) else "fail", passed=passed, error=error, error_line=_int(line),
                      **common)


def call_values(reply) -> list[tuple[bool, Any]]:
    """Per input of a ``calls`` job: ``(True, decoded return value)`` (a `codec.Digest` for a value too large to
    send) or ``(False, error text)``; inputs that did not finish are missing from the end."""
    out: list[tuple[bool, Any]] = []
    for item in reply.items:
        if not isinstance(item, dict):
            break
        if "h" in item and isinstance(item["h"], str) and len(item["h"]) == 64:
            out.append((True, codec.Digest(item["h"])))
        elif "v" in item:
            try:
                out.append((True, codec.decode_value(item["v"])))
            except codec.CodecError as exc:
                out.append((False, f"unreadable value: {exc}"))
        else:
            out.append((False, str(item.get("x"))))
    return out


def _int(value: Any) -> int | None:
    return value if type(value) is int else None
