"""Loading run directories, analyze(), the report, and the reference summary
that the streaming runner is tested against."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from summary_reference import (  # noqa: E402
    SMALL_CONDITIONS,
    small_run,
    small_simulation,
    summary_frame,
    t_critical,
    trajectories_frame,
)

from stochlstm import Condition, gate_rule  # noqa: E402
from stochlstm.analysis import (  # noqa: E402
    Run,
    RunError,
    analyze,
    analyze_and_draw,
    comparison_text,
    load_run,
)
from stochlstm.metrics import compute_metrics  # noqa: E402
from stochlstm.report import write_report  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small complete run (100 seeds, hidden 3, 30 steps), shared read-only."""
    return small_run(tmp_path_factory.mktemp("runs") / "small", seeds=100, hidden_size=3, steps=30)


def copy_run(source, target):
    target.mkdir()
    for path in source.iterdir():
        if path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
    return target


# ---------------------------------------------------------------- load_run


def test_load_run_reads_config_and_manifest_and_tables_lazily(run_dir):
    run = load_run(run_dir)
    assert isinstance(run, Run)
    assert (run.name, run.status, run.baseline) == ("small", "complete", "deterministic")
    assert run.config["conditions"]["bernoulli"] == {
        "input": "bernoulli",
        "forget": "bernoulli",
        "output": "bernoulli",
    }
    assert "summary" not in run.__dict__ and "trajectories" not in run.__dict__
    summary = run.summary
    assert list(summary.columns) == [
        "condition",
        "quantity",
        "t",
        "unit",
        "n",
        "mean",
        "sd",
        "se",
        "ci_low",
        "ci_high",
        "min",
        "max",
    ]
    assert summary["t"].dtype == np.int64 and summary["n"].dtype == np.int64
    assert list(pd.unique(run.trajectories["seed"])) == [0, 1, 2, 3, 4]
    assert not (run_dir / "metrics.csv").exists()
    metrics = run.metrics  # computed, not written
    assert not (run_dir / "metrics.csv").exists()
    assert metrics.attrs["baseline"] == "deterministic" and len(metrics) > 0


def test_load_run_prefers_parquet_trajectories(tmp_path):
    pytest.importorskip("pyarrow")
    run_dir = small_run(
        tmp_path / "run", seeds=10, hidden_size=2, steps=5, trajectories_format="parquet"
    )
    assert not (run_dir / "trajectories.csv").exists()
    run = load_run(run_dir)
    assert len(run.trajectories) == 3 * 5 * 5 * 2  # conditions x seeds x steps x units


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing", "no such directory"),
        ("empty", r"not a run directory \(no manifest.json\)"),
        ("bad-json", "manifest.json: not valid JSON"),
        ("no-summary", "no summary.csv"),
        ("running", r"the run is not complete \(status: running\); pass allow_incomplete=True"),
    ],
)
def test_load_run_errors_name_the_folder_and_the_problem(tmp_path, run_dir, problem, message):
    target = tmp_path / problem
    if problem == "empty":
        target.mkdir()
    elif problem != "missing":
        copy_run(run_dir, target)
    if problem == "bad-json":
        (target / "manifest.json").write_text("{status: complete", encoding="utf-8")
    if problem == "no-summary":
        (target / "summary.csv").unlink()
    if problem == "running":
        (target / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    with pytest.raises(RunError, match=message) as error:
        load_run(target)
    assert str(target) in str(error.value) and "\n" not in str(error.value)


def test_an_incomplete_run_can_be_analysed_when_asked(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "partial")
    (target / "manifest.json").write_text(json.dumps({"status": "interrupted"}), encoding="utf-8")
    with pytest.raises(RunError):
        analyze(target)
    metrics = analyze(target, allow_incomplete=True)
    assert (target / "metrics.csv").exists() and len(metrics)
    assert load_run(target, allow_incomplete=True).status == "interrupted"


def test_an_empty_trajectories_file_means_no_sample_paths(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "no-paths")
    pd.DataFrame().to_csv(target / "trajectories.csv", index=False)
    assert load_run(target).trajectories is None


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


def test_analyze_with_an_unknown_baseline_is_a_run_error(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    with pytest.raises(RunError, match="baseline condition 'nope' is not in the data"):
        analyze(target, baseline="nope")
    assert not (target / "metrics.csv").exists()


def test_comparison_text_has_a_column_per_condition(run_dir):
    text = comparison_text(load_run(run_dir).metrics)
    header = text.splitlines()[0]
    assert "deterministic (baseline)" in header and "forget-bernoulli" in header
    assert any(line.startswith("div_h_final") for line in text.splitlines())


def test_analyze_and_draw_writes_metrics_figures_and_report(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "run")
    (target / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    written = analyze_and_draw(target, formats=("png",))
    assert list(written)[0] == "metrics.csv" and list(written)[-1] == "report.html"
    assert "figures/divergence.png" in written
    assert all(path.exists() and path.stat().st_size > 0 for path in written.values())


# ---------------------------------------------------------------- report


def test_report_is_self_contained_and_escapes_user_text(tmp_path):
    run_dir = small_run(
        tmp_path / "run",
        seeds=20,
        hidden_size=2,
        steps=6,
        description='Gates <script>alert("x")</script> & friends',
    )
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "Gates &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in page
    assert '<table class="dataframe comparison">' in page
    assert page.count('src="data:image/png;base64,') == 6  # the figures were drawn first
    assert "20 (0 … 19)" in page and ">complete<" in page and "forget-bernoulli" in page
    assert (run_dir / "figures" / "survival.png").exists()


# ---------------------------------------------------------------- the reference summary


def test_t_critical_matches_tables():
    # Student t 0.975 quantiles (e.g. scipy.stats.t.ppf(0.975, df))
    table = {
        1: 12.706204736174707,
        2: 4.302652729749464,
        9: 2.2621571627982053,
        29: 2.045229642132703,
        99: 1.9842169515863990,
        999: 1.9623414611334487,
        100000: 1.959987707534759,
    }
    for df, value in table.items():
        assert t_critical(df) == pytest.approx(value, rel=1e-12)
    assert np.isnan(t_critical(0))


@pytest.fixture(scope="module")
def reference():
    conditions = {
        **SMALL_CONDITIONS,
        "erase": Condition(forget=gate_rule("bernoulli"), forget_semantics="erase"),
        "threshold": Condition.all_gates("threshold"),
    }
    sim = small_simulation(seeds=40, hidden_size=3, steps=7, conditions=conditions)
    return sim, conditions, summary_frame(sim, conditions)


def stats_of(summary, condition, quantity):
    rows = summary[(summary["condition"] == condition) & (summary["quantity"] == quantity)]
    return rows.sort_values(["t", "unit"])


def test_reference_summary_rows_and_columns(reference):
    sim, conditions, summary = reference
    assert list(summary.columns) == [
        "condition",
        "quantity",
        "t",
        "unit",
        "n",
        "mean",
        "sd",
        "se",
        "ci_low",
        "ci_high",
        "min",
        "max",
    ]
    quantities = summary.groupby("condition", sort=False)["quantity"].unique().map(list).to_dict()
    cell = ["p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h"]
    derived = ["retention", "retention_theory", "sat_i", "sat_f", "sat_o"]
    deviations = ["dev_c", "dev_h", "div_c", "div_h"]
    assert quantities["deterministic"] == cell + derived  # the baseline: no deviations, no flips
    assert quantities["bernoulli"] == cell + deviations + derived + ["flip_i", "flip_f", "flip_o"]
    assert quantities["forget-bernoulli"] == cell + deviations + derived + ["flip_f"]
    assert quantities["threshold"] == cell + deviations + derived + ["flip_i", "flip_f", "flip_o"]
    assert (stats_of(summary, "bernoulli", "div_h")["unit"] == -1).all()
    per_unit = {
        "deterministic": 14,
        "bernoulli": 19,
        "forget-bernoulli": 17,
        "erase": 17,
        "threshold": 19,
    }
    steps, units = 7, 3
    assert len(summary) == sum(n * steps * units for n in per_unit.values()) + 4 * 2 * steps


def test_reference_statistics_are_those_of_the_full_arrays(reference):
    sim, _, summary = reference
    values = sim["bernoulli"]["c"]  # (T, B, H)
    rows = stats_of(summary, "bernoulli", "c")
    n = values.shape[1]
    np.testing.assert_allclose(rows["mean"], values.mean(axis=1).ravel(), rtol=1e-15)
    np.testing.assert_allclose(rows["sd"], values.std(axis=1, ddof=1).ravel(), rtol=1e-15)
    np.testing.assert_allclose(rows["se"], rows["sd"] / np.sqrt(n), rtol=1e-15)
    np.testing.assert_allclose(
        rows["ci_high"] - rows["mean"], t_critical(n - 1) * rows["se"], rtol=1e-12
    )
    np.testing.assert_array_equal(rows["min"], values.min(axis=1).ravel())
    assert (rows["n"] == n).all()
    # a quantity that is the same at every seed has exactly that mean and zero spread
    constant = stats_of(summary, "deterministic", "p_f")
    assert (constant["sd"] == 0).all() and (constant["mean"] == constant["min"]).all()


def test_reference_derived_quantities_by_hand(reference):
    sim, _, summary = reference
    base, coin, erase = sim["deterministic"], sim["bernoulli"], sim["erase"]
    t, seed = 4, 7
    deviation = coin["h"][t, seed] - base["h"][t, seed]
    assert stats_of(summary, "bernoulli", "dev_h").query("t == 4")[
        "mean"
    ].to_numpy() == pytest.approx((coin["h"][t] - base["h"][t]).mean(axis=0), rel=1e-12)
    rms = np.sqrt(np.mean((coin["h"] - base["h"]) ** 2, axis=2))  # (T, B)
    assert rms[t, seed] == pytest.approx(np.sqrt(np.mean(deviation**2)))
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "div_h")["mean"], rms.mean(axis=1), rtol=1e-12
    )
    kept = np.prod(coin["f"][: t + 1], axis=0)  # product over steps 0..t
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "retention").query("t == 4")["mean"],
        kept.mean(axis=0),
        rtol=1e-12,
    )
    erased = np.prod(1 - erase["f"][: t + 1], axis=0)  # erase: the keep factor is 1 - f
    np.testing.assert_allclose(
        stats_of(summary, "erase", "retention").query("t == 4")["mean"],
        erased.mean(axis=0),
        rtol=1e-12,
    )
    theory = np.prod(1 - erase["p_f"][: t + 1], axis=0)
    np.testing.assert_allclose(
        stats_of(summary, "erase", "retention_theory").query("t == 4")["mean"],
        theory.mean(axis=0),
        rtol=1e-12,
    )
    flips = coin["o"] != (coin["p_o"] > 0.5)
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "flip_o")["mean"], flips.mean(axis=1).ravel(), rtol=1e-15
    )
    saturated = (coin["p_i"] < 0.1) | (coin["p_i"] > 0.9)
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "sat_i")["mean"], saturated.mean(axis=1).ravel(), rtol=1e-15
    )
    assert (
        stats_of(summary, "threshold", "flip_f")["mean"] == 0
    ).all()  # rounding agrees with itself


def test_reference_trajectories_keep_a_few_seeds_every_kth_step(reference):
    sim, _, _ = reference
    frame = trajectories_frame(sim, seeds=[3, 5], every=3, sweep={"temperature": 0.5})
    assert list(frame.columns[:5]) == ["temperature", "condition", "seed", "t", "unit"]
    assert sorted(pd.unique(frame["seed"])) == [3, 5] and sorted(pd.unique(frame["t"])) == [0, 3, 6]
    row = frame[
        (frame["condition"] == "bernoulli")
        & (frame["seed"] == 5)
        & (frame["t"] == 3)
        & (frame["unit"] == 2)
    ]
    assert row["c"].item() == sim["bernoulli"]["c"][3, 5, 2]
