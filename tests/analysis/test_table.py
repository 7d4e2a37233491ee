"""The comparison table: metrics.csv's headline rows under metrics.csv's names,
each cell a value with its CI."""

import numpy as np
import pandas as pd
import pytest

from stochlstm.analysis.metrics import METRICS, compute_metrics
from stochlstm.analysis.table import (
    HEADLINE_METRICS,
    comparison_grid,
    comparison_table,
    comparison_text,
    format_value,
)
from tests.analysis.test_metrics import cells, summary


def gates_and_states():
    return summary(
        cells("deterministic", "i", [[0.5]], half=0.0),
        cells("deterministic", "p_i", [[0.5]], half=0.0),
        cells("b", "i", [[0.7]], half=0.1),
        cells("b", "p_i", [[0.5]], half=0.0),
        cells("b", "dev_c", [[0.3], [-0.5]], half=0.1),
        cells("b", "div_c", [[0.3], [0.5]], units=(-1,)),
    )


def test_table_rows_are_the_metrics_rows_under_the_same_names():
    metrics = compute_metrics(gates_and_states())
    table = comparison_table(metrics, "deterministic")
    assert list(table.columns) == [
        "condition",
        "baseline",
        "metric",
        "quantity",
        "t",
        "unit",
        "value",
        "ci_low",
        "ci_high",
    ]
    assert set(table["metric"]) <= set(HEADLINE_METRICS) <= set(METRICS)
    merged = table.merge(metrics, on=["condition", "metric", "quantity", "t", "unit"])
    assert len(merged) == len(table)  # every row is a row of metrics.csv, unchanged
    for column in ("value", "ci_low", "ci_high"):
        np.testing.assert_array_equal(merged[f"{column}_x"], merged[f"{column}_y"])
    gap = table[(table["metric"] == "mean_field_gap_max") & (table["condition"] == "b")]
    assert (gap["t"].iloc[0], gap["unit"].iloc[0], gap["value"].iloc[0]) == (1, 0, 0.5)
    assert set(table.loc[table["baseline"], "condition"]) == {"deterministic"}


@pytest.mark.parametrize(
    "numbers,text",
    [
        ((0.1234, 0.1012, 0.1456), "0.123 [0.101, 0.146]"),
        ((0.5, 0.5, 0.5), "0.5"),  # every seed gave the same value
        ((2.0, np.nan, np.nan), "2"),
        ((np.nan, 12.0, np.nan), "– [12, –]"),  # e.g. a half-life not reached in the run
        ((np.nan, np.nan, np.nan), "–"),
    ],
)
def test_a_cell_is_the_value_and_its_ci(numbers, text):
    assert format_value(*numbers) == text


def test_grid_shows_the_ci_of_each_value():
    metrics = compute_metrics(gates_and_states())
    grid = comparison_grid(metrics, "deterministic")
    assert list(grid.columns) == ["deterministic (baseline)", "b"]
    assert grid.index.names == ["metric", "quantity"]
    final = metrics[(metrics["metric"] == "divergence_final") & (metrics["condition"] == "b")]
    value, low, high = final[["value", "ci_low", "ci_high"]].iloc[0]
    assert grid.loc[("divergence_final", "c"), "b"] == f"{value:.3g} [{low:.3g}, {high:.3g}]"
    assert grid.loc[("divergence_final", "c"), "deterministic (baseline)"] == "–"
    assert grid.loc[("calibration", "i"), "b"] == "0.2 [0.1, 0.3]"
    text = comparison_text(metrics, "deterministic")
    assert "divergence_final" in text and "0.2 [0.1, 0.3]" in text


def test_a_condition_the_sweep_does_not_change_gets_one_column():
    data = summary(
        *(cells("deterministic", "retention", [[0.9]], half=0.0, temperature=t) for t in (0.5, 1)),
        *(cells("b", "div_c", [[0.1], [0.2]], units=(-1,), temperature=t) for t in (0.5, 1)),
        cells("concrete", "div_c", [[0.1], [0.2]], units=(-1,), temperature=0.5),
        cells("concrete", "div_c", [[0.1], [0.3]], units=(-1,), temperature=1),
    )
    metrics = compute_metrics(data, sweep=["temperature"])
    grid = comparison_grid(metrics, "deterministic", sweep=["temperature"])
    assert list(grid.columns) == [
        "deterministic (baseline), any temperature",
        "b, any temperature",
        "concrete temperature=0.5",
        "concrete temperature=1.0",
    ]
    assert list(grid.loc[("divergence_final", "c")].str.split().str[0]) == [
        "–",
        "0.2",
        "0.2",
        "0.3",
    ]


def test_a_run_without_the_metrics_quantities_gives_an_empty_table():
    metrics = compute_metrics(cells("deterministic", "g", [[0.1]]))
    assert metrics.empty
    assert comparison_grid(metrics, "deterministic").empty
    assert "no comparison metrics" in comparison_text(metrics, "deterministic")


def test_missing_metrics_columns_are_an_error():
    with pytest.raises(
        ValueError, match="missing the columns quantity, t, unit, value, ci_low, ci_high"
    ):
        comparison_table(pd.DataFrame(columns=["condition", "metric"]), "deterministic")
