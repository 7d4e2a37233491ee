"""analyze() and the analysis phase of a run directory: metrics.csv, figures, report."""

import json

import pandas as pd

from stochlstm.analysis.metrics import compute_metrics
from stochlstm.analysis.pipeline import analyze, analyze_and_draw
from stochlstm.analysis.run import load_run
from stochlstm.analysis.table import comparison_text
from tests.summary_reference import copy_run

# ---------------------------------------------------------------- analyze


def test_analyze_writes_metrics_csv_atomically_and_returns_them(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    metrics = analyze(target)
    expected = compute_metrics(load_run(target).summary)
    pd.testing.assert_frame_equal(metrics, expected)
    assert [p.name for p in target.iterdir() if p.name.endswith(".tmp")] == []
    again = load_run(target).metrics  # read back from metrics.csv
    assert list(again.columns) == [
        "condition",
        "metric",
        "quantity",
        "t",
        "unit",
        "value",
        "ci_low",
        "ci_high",
    ]
    assert str(again["t"].dtype) == "Int64"
    pd.testing.assert_frame_equal(again, expected, check_dtype=False, check_exact=False, rtol=1e-15)


def test_comparison_text_has_a_column_per_condition(run_dir):
    run = load_run(run_dir)
    text = comparison_text(run.metrics, run.baseline)
    header = text.splitlines()[0]
    assert "deterministic (baseline)" in header and "forget-bernoulli" in header
    assert any(line.startswith("divergence_final_h") for line in text.splitlines())


def test_analyze_and_draw_writes_metrics_figures_and_report(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    (target / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    written = analyze_and_draw(target, formats=("png",))
    assert list(written)[0] == "metrics.csv" and list(written)[-1] == "report.html"
    assert "figures/divergence.png" in written
    assert all(path.exists() and path.stat().st_size > 0 for path in written.values())
