"""analyze() and the analysis phase of a run directory: metrics.csv, figures, report."""

import csv
import json
import re

import pandas as pd
import pytest

from stochlstm.analysis.metrics import compute_metrics
from stochlstm.analysis.pipeline import analyze, analyze_and_draw, run_experiment
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


def test_metrics_csv_writes_t_and_unit_as_integers_or_empty(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    metrics = analyze(target)
    with open(target / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert all(re.fullmatch(r"\d*", row[c]) for row in rows for c in ("t", "unit"))
    per_unit = [row for row in rows if row["unit"]]
    assert {row["metric"] for row in per_unit} == {
        "mean_field_gap",
        "mean_field_gap_max",
        "half_life",
        "half_life_theory",
    }
    read = pd.read_csv(target / "metrics.csv", dtype={"t": "Int64", "unit": "Int64"})
    assert str(read["unit"].dtype) == "Int64"
    assert read["unit"].isna().sum() == len(rows) - len(per_unit)
    pd.testing.assert_series_equal(read["unit"], metrics["unit"])


def test_comparison_text_has_a_column_per_condition(run_dir):
    run = load_run(run_dir)
    text = comparison_text(run.metrics, run.baseline)
    header = text.splitlines()[0]
    assert "deterministic (baseline)" in header and "forget-bernoulli" in header
    rows = [line.split() for line in text.splitlines()]
    assert rows[1][:2] == ["metric", "quantity"]  # metrics.csv's names
    final = next(row for row in rows if row[:2] == ["divergence_final", "c"])
    value, low, high = (
        run.metrics.query("metric == 'divergence_final' and quantity == 'c'")
        .query("condition == 'forget-bernoulli'")[["value", "ci_low", "ci_high"]]
        .iloc[0]
    )
    assert f"{value:.3g} [{low:.3g}, {high:.3g}]" in " ".join(final)


def test_analyze_and_draw_writes_metrics_figures_and_report(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    (target / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    written = analyze_and_draw(target, formats=("png",))
    assert list(written)[0] == "metrics.csv" and list(written)[-1] == "report.html"
    assert "figures/divergence.png" in written
    assert all(path.exists() and path.stat().st_size > 0 for path in written.values())


# ---------------------------------------------------------------- what a run records

RECORDING = """\
name: recording
seeds: 30
model: {input_size: 2, hidden_size: 3, weights: {init: uniform, seed: 1}}
inputs: {kind: sine, period: 8, steps: 6}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
record: {seeds: 2, quantities: QUANTITIES}
output: {figure_formats: [png]}
"""


@pytest.mark.parametrize(
    "quantities,summary,metrics,figures",
    [
        (
            "[c, h]",
            {"c", "h", "dev_c", "dev_h", "div_c", "div_h"},
            {"divergence", "mean_field_gap"},
            {"trajectories", "final_states", "divergence"},
        ),
        (
            "[p_f, f]",
            {"p_f", "f", "retention", "retention_theory", "sat_f", "flip_f"},
            {"firing_rate", "calibration", "retention", "half_life", "saturation", "flip_rate"},
            {"gates_stochastic", "survival"},
        ),
        ("[g]", {"g"}, set(), set()),
    ],
)
def test_a_run_analyses_what_it_recorded_and_skips_the_rest(
    tmp_path, quantities, summary, metrics, figures
):
    experiment = tmp_path / "recording.yaml"
    experiment.write_text(RECORDING.replace("QUANTITIES", quantities))
    outcome = run_experiment(experiment, out=tmp_path)
    assert outcome.status == "complete" and set(outcome.manifest["phases"].values()) == {"done"}
    run = load_run(outcome.path)
    assert set(run.summary["quantity"]) == summary  # record.derived: auto
    assert set(run.metrics["metric"]) >= metrics
    assert set(run.metrics["metric"]).isdisjoint({"divergence", "retention"} - metrics)
    assert {p.stem for p in run.figures_dir.glob("*.png")} == figures
    page = (outcome.path / "report.html").read_text(encoding="utf-8")
    assert ("No figures were drawn" in page) == (not figures)
    assert ("No comparison metrics" in page) == (not metrics)
