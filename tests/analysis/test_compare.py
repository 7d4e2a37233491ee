"""`compare_runs`, its figure and `stochlstm compare`: two runs' metrics matched
row by row, checked against the runs' own tables; nothing written into a run."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stochlstm import compare_runs, load_run, plot_comparison, write_comparison
from stochlstm.analysis.compare import COMPARISON_COLUMNS, default_out_dir, run_labels
from stochlstm.analysis.run import RunError
from stochlstm.cli import EXIT_BAD_INPUT, app
from tests.analysis.tiny_runs import TINY, tiny_run, tree_checksums

runner = CliRunner()
KEYS = ["condition", "metric", "quantity", "t", "unit"]
SWEPT = TINY.replace(
    "  forget-only: {forget: bernoulli}\n",
    "  forget-only: {forget: bernoulli}\n  concrete: {gates: concrete, temperature: 0.5}\n",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run a (hidden 3) and b (hidden 4) of one experiment, a run of another
    experiment, and a sweep over the concrete temperature with its unswept twin."""
    root = tmp_path_factory.mktemp("compare")
    other = TINY.replace(
        "  bernoulli: {gates: bernoulli}\n  forget-only: {forget: bernoulli}\n", ""
    )
    other = other.replace(
        "  deterministic: {}\n", "  deterministic: {}\n  zoneout: {zoneout: {c: 0.2}}\n"
    )
    return {
        "root": root,
        "a": tiny_run(root / "a"),
        "b": tiny_run(root / "b", "model.hidden_size=4"),
        "other": tiny_run(root / "other", text=other),
        "sweep": tiny_run(
            root / "sweep", "sweep={conditions.concrete.temperature: [0.5, 1.0]}", text=SWEPT
        ),
        "unswept": tiny_run(root / "unswept", text=SWEPT),
    }


def _summary_mean(run_dir, condition, quantity):
    """The mean over steps of a quantity's across-seed mean and CI bounds, from summary.csv."""
    summary = pd.read_csv(run_dir / "summary.csv")
    rows = summary[(summary["condition"] == condition) & (summary["quantity"] == quantity)]
    return rows[["mean", "ci_low", "ci_high"]].mean().to_numpy()


def test_divergence_mean_of_both_runs_matches_their_summaries(runs):
    table = compare_runs(runs["a"], runs["b"])
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    row = table.query(
        "condition == 'bernoulli' and metric == 'divergence_mean' and quantity == 'h'"
    )
    assert len(row) == 1
    row = row.iloc[0]
    for side in ("a", "b"):
        expected = _summary_mean(runs[side], "bernoulli", "div_h")
        got = row[[f"value_{side}", f"ci_low_{side}", f"ci_high_{side}"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert row["difference"] == row["value_b"] - row["value_a"]
    assert row["value_a"] != row["value_b"]  # hidden 3 and hidden 4 differ


def test_rows_are_the_metrics_both_runs_have_with_each_runs_values(runs):
    a, b = load_run(runs["a"]), load_run(runs["b"])
    table = compare_runs(a, b)

    def keyed(metrics):
        located = metrics["metric"] == "mean_field_gap_max"  # t, unit: where the max lies
        metrics = metrics.assign(
            t=metrics["t"].astype(object).where(~located & metrics["t"].notna(), None),
            unit=metrics["unit"].astype(object).where(~located & metrics["unit"].notna(), None),
        )
        return {tuple(r[:5]): r[5] for r in metrics[[*KEYS, "value"]].itertuples(index=False)}

    in_a, in_b = keyed(a.metrics), keyed(b.metrics)
    rows = keyed(table.rename(columns={"value_a": "value"}))
    assert set(rows) == set(in_a) & set(in_b)
    assert len(rows) == len(table)  # each matched value once
    assert all(rows[k] == in_a[k] or (np.isnan(rows[k]) and np.isnan(in_a[k])) for k in rows)
    largest = table.query("metric == 'mean_field_gap_max'")
    assert len(largest) == 4 and largest["t"].isna().all()  # (bernoulli, forget-only) x (c, h)


def test_runs_with_no_condition_in_common_but_the_baseline_are_refused(runs):
    with pytest.raises(RunError, match="no condition in common besides the baseline"):
        compare_runs(runs["a"], runs["other"])


def test_a_sweep_column_of_one_run_only_is_kept_and_matched_with_each_point(runs):
    table = compare_runs(runs["sweep"], runs["unswept"])
    assert "temperature_a" in table.columns
    rows = table.query(
        "condition == 'concrete' and metric == 'divergence_mean' and quantity == 'c'"
    )
    assert sorted(rows["temperature_a"]) == [0.5, 1.0]
    at_half = rows[rows["temperature_a"] == 0.5].iloc[0]
    assert at_half["value_a"] == at_half["value_b"]  # the same experiment at temperature 0.5
    at_one = rows[rows["temperature_a"] == 1.0].iloc[0]
    assert at_one["value_b"] == at_half["value_b"] and at_one["value_a"] != at_half["value_a"]


def test_figure_draws_each_runs_divergence_per_condition(runs):
    fig = plot_comparison(runs["a"], runs["b"], labels=("hidden 3", "hidden 4"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["bernoulli: c", "bernoulli: h", "forget-only: c", "forget-only: h"]
    panel = fig.axes[titles.index("forget-only: h")]
    lines = {line.get_label(): line for line in panel.get_lines()}
    assert set(lines) == {"a: hidden 3", "b: hidden 4"}
    for side, label in (("a", "a: hidden 3"), ("b", "b: hidden 4")):
        summary = pd.read_csv(runs[side] / "summary.csv")
        rows = summary.query("condition == 'forget-only' and quantity == 'div_h'").sort_values("t")
        np.testing.assert_array_equal(lines[label].get_ydata(), rows["mean"].to_numpy())
    assert lines["b: hidden 4"].get_linestyle() == "--"


def test_figure_draws_a_condition_the_sweep_does_not_touch_once(runs):
    fig = plot_comparison(runs["sweep"], runs["sweep"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().endswith(": h")]
    assert titles == [
        "bernoulli (the same at every temperature): h",
        "forget-only (the same at every temperature): h",
        "concrete (temperature = 0.5): h",
        "concrete (temperature = 1.0): h",
    ]


def test_write_comparison_gives_the_same_bytes_twice_and_never_writes_into_a_run(runs, tmp_path):
    before = {side: tree_checksums(runs[side]) for side in ("a", "b")}
    first, problem = write_comparison(runs["a"], runs["b"], tmp_path / "one")
    second, _ = write_comparison(runs["a"], runs["b"], tmp_path / "two")
    assert problem is None
    assert [p.name for p in first] == ["comparison.csv", "divergence.png"]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()
    assert first[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for out in (runs["a"], runs["a"] / "figures", runs["b"] / "x" / "y"):
        with pytest.raises(RunError, match="never written into a run"):
            write_comparison(runs["a"], runs["b"], out)
    assert {side: tree_checksums(runs[side]) for side in ("a", "b")} == before


def test_labels_tell_the_runs_apart_with_as_few_path_parts_as_needed():
    assert run_labels("results/q", "results/other") == ("q", "other")
    assert run_labels("results/q", "results/h32/q") == ("results/q", "h32/q")
    assert run_labels("/x/results/q", "/x/results/q/") == ("q (a)", "q (b)")
    assert default_out_dir("results/q", "results/h32/q").name == "compare-results_q-vs-h32_q"


# --------------------------------------------------------------------------- command line


def _invoke(*args):
    return runner.invoke(app, ["compare", *map(str, args)])


@pytest.fixture(scope="module")
def cli_run(runs, tmp_path_factory):
    """``stochlstm compare a b --all --out cmp``, with the checksums of every
    file of the runs before and after."""
    out = tmp_path_factory.mktemp("cli") / "cmp"
    before = tree_checksums(runs["root"])
    result = _invoke(runs["a"], runs["b"], "--all", "--out", out)
    return result, out, before, tree_checksums(runs["root"])


def test_cli_prints_who_is_a_and_b_and_the_settings_that_differ(cli_run):
    result = cli_run[0]
    assert result.exit_code == 0, result.output
    assert result.output.startswith("a: a/tiny\nb: b/tiny\nsettings that differ (a | b):\n")
    assert "\n  model.hidden_size: 3 | 4\n" in result.output


def test_cli_prints_each_value_with_its_ci_and_the_difference(runs, cli_run):
    output = cli_run[0].output
    table = compare_runs(runs["a"], runs["b"])
    query = "condition == 'bernoulli' and metric == 'divergence_mean' and quantity == 'h'"
    row = table.query(query).iloc[0]
    line = next(
        x for x in output.splitlines() if "bernoulli" in x and "divergence_mean" in x and " h " in x
    )
    assert f"{row['value_a']:.4g} [{row['ci_low_a']:.4g}, {row['ci_high_a']:.4g}]" in line
    assert f"{row['value_b']:.4g} [{row['ci_low_b']:.4g}, {row['ci_high_b']:.4g}]" in line
    assert line.rstrip().endswith(f"{row['difference']:+.4g}")
    count = len(table)  # --all: every row
    assert f"{count:,} of {count:,} matched rows shown (every matched row)" in output


def test_cli_writes_the_table_and_the_figure_and_leaves_the_runs_alone(runs, cli_run):
    result, out, before, after = cli_run
    table = compare_runs(runs["a"], runs["b"])
    written = pd.read_csv(out / "comparison.csv")
    assert list(written.columns) == list(table.columns) and len(written) == len(table)
    np.testing.assert_array_equal(written["difference"], table["difference"])
    assert (out / "divergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out / 'comparison.csv'}" in result.output
    assert after == before


def test_cli_default_out_dir_is_in_the_current_folder(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke(runs["a"], runs["b"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / default_out_dir(runs["a"], runs["b"])
    assert sorted(p.name for p in folder.iterdir()) == ["comparison.csv", "divergence.png"]
    assert f"wrote {default_out_dir(runs['a'], runs['b']) / 'divergence.png'}" in result.output


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such directory"),
        ("not a run", "not a run directory (no manifest.json)"),
        ("other experiment", "no condition in common besides the baseline"),
        ("out inside a run", "a comparison is never written into a run"),
        ("incomplete", "the run is not complete (status: interrupted)"),
        ("changed", "changed since the run wrote it"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(runs, tmp_path, case, message):
    a, b, out = runs["a"], runs["b"], tmp_path / "cmp"
    if case == "missing":
        b = tmp_path / "nope"
    elif case == "not a run":
        b = runs["root"]
    elif case == "other experiment":
        b = runs["other"]
    elif case == "out inside a run":
        out = runs["b"] / "comparison"
    elif case in ("incomplete", "changed"):
        b = tmp_path / "copy"
        b.mkdir()
        for path in runs["b"].iterdir():
            (b / path.name).write_bytes(path.read_bytes())
        if case == "incomplete":
            manifest = json.loads((b / "manifest.json").read_text())
            (b / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
        else:
            (b / "summary.csv").write_text((b / "summary.csv").read_text() + "\n")
    result = _invoke(a, b, "--out", out)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: ") and message in result.output
    assert not out.exists()
    if case == "changed":
        assert _invoke(a, b, "--out", out, "--no-verify").exit_code == 0
