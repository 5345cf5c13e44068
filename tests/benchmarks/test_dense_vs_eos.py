"""benchmarks/dense_vs_eos.py: finished runs are reused (from the study's own folder or, for eos, from the other
localised condition's), a short run is not, and the paired difference is the documented one."""

from pathlib import Path

import pytest

from tests.benchmarks import load_benchmark

METRIC = "reward/simulator/success_rate"


@pytest.fixture(scope="module")
def study():
    return load_benchmark("dense_vs_eos")


def finished_run(folder: Path, placement: str, seed: int, curve: list[float]) -> Path:
    metrics = folder / f"{placement}-seed{seed}" / "csv" / "version_0" / "metrics.csv"
    metrics.parent.mkdir(parents=True)
    rows = [f"{i + 1},{value}," for i, value in enumerate(curve)] + [f"{len(curve)},,0.5"]  # a row without the metric
    metrics.write_text(f"iteration,{METRIC},other\n" + "\n".join(rows) + "\n")
    return metrics


def test_a_finished_eos_run_of_the_other_condition_is_reused(study, tmp_path, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("a finished run was started again")

    monkeypatch.setattr(study.subprocess, "run", no_run)
    other = tmp_path / "robot-off"
    metrics = finished_run(other, "eos", 3, [0.1, 0.2, 0.4])
    out = tmp_path / "robot-on"
    got = study.run_arm(Path("demo.yaml"), "eos", 3, 3, out, None, METRIC, reuse_from=other)
    assert got == metrics
    assert study.read_curve(got, METRIC) == [0.1, 0.2, 0.4]


def test_a_run_shorter_than_asked_is_run_again(study, tmp_path, monkeypatch):
    started = []

    def fake_run(cmd, **kwargs):
        started.append(cmd)
        finished_run(tmp_path / "robot-on", "eos", 0, [0.0] * 4)
        return study.subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(study.subprocess, "run", fake_run)
    finished_run(tmp_path / "robot-off", "eos", 0, [0.5, 0.5])  # 2 of the 4 iterations asked for
    other = tmp_path / "robot-off"
    study.run_arm(Path("demo.yaml"), "eos", 0, 4, tmp_path / "robot-on", None, METRIC, reuse_from=other)
    assert len(started) == 1 and "--model.reward_placement" in started[0] and "eos" in started[0]


def test_paired_difference_is_the_second_half_mean(study):
    dense = [[0.0, 0.0, 0.5, 0.7], [0.2, 0.2, 0.2, 0.2]]
    eos = [[0.0, 1.0, 0.25, 0.5], [0.2, 0.0, 0.4, 0.1]]
    assert study.paired_differences(dense, eos) == pytest.approx([0.225, -0.05])
