"""The comparison table: one row per condition (and sweep point), the
headline numbers of its metrics (:mod:`stochlstm.analysis.metrics`) against
the baseline. A column is named after the metric it reads, and the state it
is about: ``divergence_final_c`` is metric ``divergence_final`` of ``c``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..core.names import METRICS_COLUMNS, STATES
from .loss import LOSS_TABLE_COLUMNS, loss_table_columns
from .metrics import check_columns

__all__ = ["TABLE_COLUMNS", "comparison_table", "comparison_text"]

# What each headline column means (the report's glossary).
TABLE_COLUMNS = {
    "divergence_final_c": "final-step divergence of c (RMS over units of c − c_det, mean over seeds)",
    "divergence_mean_c": "divergence of c averaged over steps",
    "divergence_final_h": "final-step divergence of h",
    "divergence_mean_h": "divergence of h averaged over steps",
    "mean_field_gap_max_c": "largest |mean-field gap| of c over (t, unit): |E[c] − c_det|",
    "mean_field_gap_share_c": "share of (t, unit) cells whose 95% CI of the c gap excludes 0",
    "mean_field_gap_max_h": "largest |mean-field gap| of h",
    "mean_field_gap_share_h": "share of cells whose 95% CI of the h gap excludes 0",
    "calibration_max": "largest |firing rate − mean probability| over the gates",
    "calibration_share": "share of (t, unit, gate) cells whose 95% CI of firing rate − probability "
    "excludes 0",
    "half_life": "first step at which the mean retention of c falls below 0.5",
    "half_life_theory": "the same for the theoretical retention (product of keep probabilities)",
    "saturation": "share of gate probabilities below 0.1 or above 0.9 (mean over gates)",
    "flip_rate": "share of binary gate samples that disagree with rounding p "
    "(mean over binary gates)",
    **LOSS_TABLE_COLUMNS,
}


def comparison_table(
    metrics: pd.DataFrame, baseline: str | None = None, *, sweep: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per (sweep point, condition): how different is it from the baseline?

    Columns (those with no value for any row are left out): the ``sweep``
    columns, ``condition``, ``baseline`` (bool) and the headline numbers
    described in :data:`TABLE_COLUMNS`.
    """
    check_columns(metrics, METRICS_COLUMNS, sweep)
    keys = [*sweep, "condition"]
    table = metrics[keys].drop_duplicates().reset_index(drop=True)
    table["baseline"] = table["condition"] == baseline
    overall = metrics[metrics["t"].isna() & metrics["unit"].isna()]

    def pick(metric: str, quantity: str | None = None, how: str = "mean"):
        rows = metrics if metric == "mean_field_gap_max" else overall
        rows = rows[rows["metric"] == metric]
        if quantity is not None:
            rows = rows[rows["quantity"] == quantity]
        if how == "max":  # of the absolute values
            rows = rows.assign(value=rows["value"].abs())
        values = rows.groupby(keys, sort=False, dropna=False)["value"].agg(how)
        return table.merge(values.reset_index(), on=keys, how="left")["value"].to_numpy()

    for state in STATES:
        for metric in ("divergence_final", "divergence_mean"):
            table[f"{metric}_{state}"] = pick(metric, state)
    for state in STATES:
        for metric in ("mean_field_gap_max", "mean_field_gap_share"):
            table[f"{metric}_{state}"] = pick(metric, state)
    table["calibration_max"] = pick("calibration", how="max")
    for metric in ("calibration_share", "saturation", "flip_rate"):
        table[metric] = pick(metric)
    for metric in ("half_life", "half_life_theory"):
        table[metric] = pick(metric, "c")
    table = table.merge(loss_table_columns(metrics, keys), on=keys, how="left")  # with targets
    numbers = [c for c in TABLE_COLUMNS if c in table and table[c].notna().any()]
    return table[[*keys, "baseline", *numbers]]


def comparison_text(
    metrics: pd.DataFrame, baseline: str | None = None, *, sweep: Sequence[str] = ()
) -> str:
    """The comparison table as plain text for a terminal: one column per
    condition (and sweep point) when there are at most six, else one row each."""
    table = comparison_table(metrics, baseline, sweep=sweep)
    labels = [
        f"{row['condition']}{' (baseline)' if row['baseline'] else ''}"
        + "".join(f" {k}={row[k]}" for k in sweep)
        for _, row in table.iterrows()
    ]
    numbers = table.drop(columns=[*sweep, "condition", "baseline"]).set_axis(labels)
    formatted = numbers.map(lambda v: "–" if pd.isna(v) else f"{v:.4g}")
    return (formatted.T if len(table) <= 6 else formatted).to_string()
