"""``python -m lit_coderl plot RUN_DIR``: the main curves of a run from its metrics.csv, without W&B."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_coderl.cli import main
from lit_coderl.plot import find_metrics, panels, read_curves

#: as Lightning's CSVLogger writes it: training rows, a validation row, a row without an iteration
CSV = """epoch,iteration,objective/kl,reward/lint/mean,reward/simulator/success_rate,reward/total,step,\
valid/reward/total
0,1.0,0.0,-0.5,0.25,-1.0,1,
0,2.0,0.2,-0.25,0.5,-0.5,3,
0,2.0,,,,,3,0.75
0,,,,,,4,
0,3.0,0.4,0.0,0.75,0.25,5,
"""


def _run(tmp_path: Path) -> Path:
    version = tmp_path / "runs" / "demo" / "csv" / "version_0"
    version.mkdir(parents=True)
    (version / "metrics.csv").write_text(CSV)
    return tmp_path / "runs" / "demo"


def test_curves_are_the_csv_columns_by_iteration(tmp_path):
    curves = read_curves(find_metrics(_run(tmp_path)))
    assert curves["reward/total"] == ([1.0, 2.0, 3.0], [-1.0, -0.5, 0.25])
    assert curves["valid/reward/total"] == ([2.0], [0.75])
    assert curves["reward/simulator/success_rate"] == ([1.0, 2.0, 3.0], [0.25, 0.5, 0.75])
    assert "step" not in curves and "epoch" not in curves
    assert panels(curves) == [
        ("reward", ["reward/total", "valid/reward/total"]),
        ("reward components (mean per sample)", ["reward/lint/mean"]),
        ("rates", ["reward/simulator/success_rate"]),
        ("KL to the reference", ["objective/kl"]),
    ]


def test_plot_writes_a_png_next_to_the_csv(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = _run(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(run)])
    assert exit_info.value.code == 0
    png = run / "csv" / "version_0" / "curves.png"
    assert capsys.readouterr().out == f"wrote {png}\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_plot_errors_are_one_line(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: no metrics.csv under {tmp_path} (give a run folder such as " \
        "runs/demo, or the CSV file)\n"  # fmt: skip
    run = _run(tmp_path / "x")
    with pytest.raises(SystemExit):
        main(["plot", str(run), "--metrics", "reward/nope"])
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run / 'csv' / 'version_0' / 'metrics.csv'}: no column reward/nope (it has: ")
    assert len(err.splitlines()) == 1
