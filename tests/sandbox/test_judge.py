"""The judge: which parts of an assert run beside the program (holes) and which here, with Python's semantics."""

from __future__ import annotations

import pytest

from lit_coderl.sandbox.judge import defined_names, judge_check, plan_tests, split_assert


def test_holes_are_the_program_calls_and_the_rest_is_judged_here():
    assert split_assert("assert f(2) == 4")[0] == ["f(2)"]
    assert split_assert("assert set(f([1, 2])) == set([2, 1])")[0] == ["f([1, 2])"]
    assert split_assert("assert math.isclose(area(3), 28.27, rel_tol=0.001)")[0] == ["area(3)"]
    assert split_assert("assert f(g(1)) == [x for x in range(3)]")[0] == ["f(g(1))"]
    assert split_assert("assert f(1)[0] == 2 and not g()")[0] == ["f(1)[0]", "g()"]
    assert split_assert("assert f(1).count(3) + 1 == 2")[0] == ["f(1).count(3)"]
    assert split_assert("assert CONSTANT == 5")[0] == ["CONSTANT"]
    assert split_assert("assert Pair(1, 2).a == 1")[0] == ["Pair(1, 2).a"]


def test_unsplittable_tests_are_named():
    for test in ("x = f(1)\nassert x == 2", "print(f(1))", "assert all(f(i) == i for i in range(3))",
                 "assert (lambda x: f(x))(1) == 1", "assert f(1) ==", "f(1) == 1"):
        with pytest.raises(ValueError):
            split_assert(test)
    plan = plan_tests(["assert f(1) == 1", "for i in range(2):\n    assert f(i) == i"])
    assert plan.holes[1] is None and plan.fallback == [None, "for i in range(2):\n    assert f(i) == i"]


def test_judged_with_python_equality_and_the_judges_own_builtins():
    def verdict(test, *values, code=""):
        holes, check = split_assert(test, defined_names(code))
        assert len(holes) == len(values)
        return judge_check(check, list(values))

    assert verdict("assert f(2) == 4", 4.0)  # 4 == 4.0, as in MBPP's own harness
    assert verdict("assert f() == 1", True)
    assert not verdict("assert f() == (1, 2)", [1, 2])  # (1, 2) != [1, 2]
    assert verdict("assert sorted(f()) == [1, 2]", [2, 1])
    assert verdict("assert math.isclose(f(), 3.14159, rel_tol=1e-3)", 3.1416)
    assert not verdict("assert len(f()) == 2", 5)  # len of an int raises: a failed test, never an exception here
    # a program that redefines `sorted` does not change the judge's; a task whose function is called `sum` does
    assert split_assert("assert sorted(f(1)) == [1]", defined_names("def sorted(x):\n    return [1]\n"))[0] == ["f(1)"]
    assert verdict("assert sum(10, 15) == 6", 6, code="def sum(a, b):\n    return 6\n")


def test_the_judges_side_does_no_io_and_never_raises(tmp_path):
    import threading

    target = tmp_path / "written"
    sides = ["exit()", "quit()", "sys.exit(3)", f"open({str(target)!r}, 'w').write('x')", "print('x')",
             "__import__('os').system('true')", f"numpy.save({str(target)!r}, 1)",
             f"json.dump(1, [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'FileIO'][0]"
             f"({str(target)!r}, 'w'))", "sys.stdout.write('x')"]
    plan = plan_tests([f"assert f(1) == {side}" for side in sides], "def f(x):\n    return None\n")
    verdicts: list = []
    worker = threading.Thread(target=lambda: verdicts.extend(judge_check(c, [None]) for c in plan.checks))
    worker.start()
    worker.join(30)
    assert verdicts == [False] * len(sides)  # each side failed inside the judge, none left the worker thread
    assert not list(tmp_path.iterdir())
    ok = plan_tests(["assert f(1) == sys.getsizeof(()) - sys.getsizeof(()) + sys.maxsize // sys.maxsize"],
                    "def f(x):\n    return 1\n")
    assert judge_check(ok.checks[0], [1])  # what MBPP's asserts read of sys is still there
