"""The comparison table: the headline rows of a run's metrics
(:mod:`stochlstm.analysis.metrics`), one column per condition (and sweep
point), each cell a value and its 95% CI, ``0.123 [0.101, 0.145]``. Its rows
are named by the ``metric`` and ``quantity`` of metrics.csv, so a number in the
table is found in the file under the same names.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..core.names import METRICS_COLUMNS
from .loss import LOSS_TABLE_COLUMNS
from .metrics import METRIC_ORDER, check_columns

__all__ = ["HEADLINE_METRICS", "comparison_grid", "comparison_table", "comparison_text"]

# The metrics the table shows, each over all steps and units (mean_field_gap_max
# is one cell: wherever the gap is largest).
HEADLINE_METRICS: tuple[str, ...] = (
    "divergence_final",
    "divergence_mean",
    "mean_field_gap_max",
    "mean_field_gap_share",
    "calibration",
    "calibration_share",
    "half_life",
    "half_life_theory",
    "saturation",
    "flip_rate",
    *LOSS_TABLE_COLUMNS,  # with targets: over the loss window (t is its last step)
)


def comparison_table(
    metrics: pd.DataFrame, baseline: str | None = None, *, sweep: Sequence[str] = ()
) -> pd.DataFrame:
    """The headline rows of ``metrics`` (:data:`HEADLINE_METRICS`, over all steps
    and units), in the order of metrics.csv, with a ``baseline`` column (bool)
    after ``condition``: ``[sweep...], condition, baseline, metric, quantity, t,
    unit, value, ci_low, ci_high``. A metric the run has no rows of is absent."""
    check_columns(metrics, METRICS_COLUMNS, sweep)
    overall = metrics["t"].isna() & metrics["unit"].isna()
    chosen = metrics["metric"].isin(HEADLINE_METRICS) & (
        overall | metrics["metric"].isin(["mean_field_gap_max", *LOSS_TABLE_COLUMNS])
    )
    table = metrics[chosen].reset_index(drop=True)
    table.insert(len(sweep) + 1, "baseline", table["condition"] == baseline)
    return table


def format_value(value: float, low: float, high: float) -> str:
    """``0.123 [0.101, 0.145]``; the value alone when its CI has no width (every
    seed gave the same value) or is unknown, ``–`` for a missing number."""

    def number(v) -> str:
        return "–" if pd.isna(v) else f"{v:.3g}"

    if (pd.isna(low) and pd.isna(high)) or (low == value and high == value):
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"


def _arm_labels(table: pd.DataFrame, sweep: Sequence[str]) -> pd.Series:
    """Each row's column label: the condition, ``(baseline)``, the sweep point
    (``concrete temperature=0.1``); a condition whose numbers are the same at every
    sweep point gets one label (``bernoulli, any temperature``), and only its
    first point's rows keep it (the others get None)."""
    labels = table["condition"] + table["baseline"].map({True: " (baseline)", False: ""})
    if not sweep:
        return labels
    point = table[list(sweep)].astype(str)
    labels = labels + point.apply(lambda row: "".join(f" {k}={v}" for k, v in row.items()), axis=1)
    n_points = len(point.drop_duplicates())
    numbers = ["metric", "quantity", "t", "unit", "value", "ci_low", "ci_high"]
    for condition, rows in table.groupby("condition", sort=False):
        groups = [
            g[numbers].reset_index(drop=True) for _, g in rows.groupby(list(sweep), sort=False)
        ]
        if n_points > 1 and len(groups) == n_points and all(g.equals(groups[0]) for g in groups):
            first = rows.index[point.loc[rows.index].eq(point.loc[rows.index[0]]).all(axis=1)]
            label = condition + (" (baseline)" if rows["baseline"].iloc[0] else "")
            labels[rows.index] = None
            labels[first] = f"{label}, any {', '.join(sweep)}"
    return labels


def comparison_grid(
    metrics: pd.DataFrame, baseline: str | None = None, *, sweep: Sequence[str] = ()
) -> pd.DataFrame:
    """:func:`comparison_table` as text cells: one row per (``metric``,
    ``quantity``), one column per condition and sweep point (one for a condition
    whose numbers do not change with the swept parameters), each cell
    :func:`format_value`, ``–`` where the condition has no such value."""
    table = comparison_table(metrics, baseline, sweep=sweep)
    cells = table.assign(
        arm=_arm_labels(table, sweep),
        cell=[
            format_value(*row)
            for row in table[["value", "ci_low", "ci_high"]].itertuples(index=False)
        ],
    ).dropna(subset=["arm"])
    grid = cells.pivot(index=["metric", "quantity"], columns="arm", values="cell")
    rank = {m: k for k, m in enumerate(METRIC_ORDER)}
    quantity_rank = {q: k for k, q in enumerate(("c", "h", "i", "f", "o"))}
    rows = sorted(grid.index, key=lambda mq: (rank[mq[0]], quantity_rank.get(mq[1], 9), mq[1]))
    grid = grid.reindex(index=rows, columns=list(pd.unique(cells["arm"]))).fillna("–")
    grid.columns.name = None
    return grid


def comparison_text(
    metrics: pd.DataFrame,
    baseline: str | None = None,
    *,
    sweep: Sequence[str] = (),
    width: int = 120,
) -> str:
    """The comparison table as plain text for a terminal, wrapped into blocks of
    columns at ``width`` characters."""
    grid = comparison_grid(metrics, baseline, sweep=sweep)
    if grid.empty:
        return "(no comparison metrics: the run recorded none of their quantities)"
    return grid.to_string(line_width=width)
