"""What every test that trains or validates with sandboxed rewards asserts of its logged rows: the rewards were
computed by programs that ran, not filled in for programs that never started.

A dead sandbox must not look like a batch of failing programs: no infrastructure errors (``*/infra_errors``, the unit
tests' ``crashes``), and the unit-test component saw at least one verdict only a running program gives (an error it
raised while loading, or a pass). The session fixture ``sandbox_runs_honest_programs`` (``tests/conftest.py``) has
already shown that an honest program passes."""

from __future__ import annotations


def _number(row: dict[str, str], key: str) -> float | None:
    value = row.get(key, "")
    return None if value in ("", None) else float(value)


def assert_rewards_computed(rows: list[dict[str, str]], prefix: str = "reward/") -> None:
    """``rows``: metrics.csv rows of iterations (``prefix`` ``valid/reward/`` for validate's)."""
    assert rows, "no logged iterations"
    for row in rows:
        for key in row:
            if key.endswith("infra_errors"):
                assert _number(row, key) in (None, 0.0), f"{key} = {row[key]}: the sandbox failed"
        assert _number(row, f"{prefix}unit_tests/crashes") in (None, 0.0), "unit-test jobs crashed"
    unit = [r for r in rows if _number(r, f"{prefix}unit_tests/scored") is not None]
    if unit:
        assert all(_number(r, f"{prefix}unit_tests/scored") > 0 for r in unit), "no sample's tests were run"
        ran = [(_number(r, f"{prefix}unit_tests/errors") or 0.0) + (_number(r, f"{prefix}unit_tests/all_pass") or 0.0)
               for r in unit]
        assert max(ran) > 0, "no program's own verdict (a load error or a pass): did any program run?"
