"""Comparisons of each condition with the deterministic baseline, from a run's summary.

Every function takes the long summary (``summary.csv``: ``[sweep columns...],
condition, quantity, t, unit, n, mean, sd, se, ci_low, ci_high, min, max``)
and returns a *tidy* metrics frame, one row per value::

    [sweep columns...], condition, metric, quantity, t, unit, value, ci_low, ci_high

``quantity`` is the state (``c``, ``h``) or the gate (``i``, ``f``, ``o``) the
metric is about. ``t`` and ``unit`` are nullable integers: a missing ``t``
means "over all steps", a missing ``unit`` "over all units". The sweep
columns, named by the caller (a run's ``sweep_columns``), are carried
through, so every metric is computed per sweep point and condition.

:data:`METRICS` says what each metric's value is (the README and the report
quote it); the quantities it is about:

========================================================  ========
metric                                                    quantity
========================================================  ========
divergence, divergence_final, divergence_mean             c, h
mean_field_gap, mean_field_gap_max, mean_field_gap_share  c, h
firing_rate, gate_prob, calibration, calibration_share    i, f, o
retention, retention_theory, half_life, half_life_theory  c
saturation, flip_rate                                     i, f, o
loss, loss_window, loss_difference, loss_ratio,           y
loss_of_mean_prediction (with targets: stochlstm.analysis.loss)
========================================================  ========

A metric whose summary quantities the run did not record (``record.quantities``,
``record.derived``) has no rows.

Confidence intervals are 95%. Averages over cells (steps and/or units) carry
the average of the cells' CI bounds: the cells share their seeds, so their
errors are correlated in unknown ways, and the average half-width bounds the
half-width of the average from above (the sd of a sum is at most the sum of
the sds). The CI of a difference of two cell means (``calibration``) combines
the half-widths as ``sqrt(a² + b²)``, which is conservative because a
realised gate and its probability are never negatively correlated. Half-life
CIs are the first steps at which the lower and the upper CI bound of the
retention curve fall below 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.names import GATES, STATES, SUMMARY_COLUMNS
from .loss import LOSS_TABLE_COLUMNS, loss_metrics

__all__ = [
    "METRICS",
    "METRIC_ORDER",
    "check_columns",
    "compute_metrics",
    "divergence",
    "gate_calibration",
    "gate_saturation",
    "mean_field_gap",
    "memory_survival",
]

# Every metric, in the table's order: what its value is.
METRICS: dict[str, str] = {
    "divergence": "mean over seeds of the RMS over all units of the state minus the "
    "baseline's at the same seed (div_c, div_h), per t",
    "divergence_final": "divergence at the last recorded step",
    "divergence_mean": "divergence averaged over the recorded steps",
    "mean_field_gap": "mean over seeds of the state minus the baseline's at the same seed "
    "(dev_c, dev_h), per t and unit: E[c] − c_det against a deterministic baseline",
    "mean_field_gap_max": "the largest |mean_field_gap| over (t, unit); t and unit say where",
    "mean_field_gap_share": "share of (t, unit) cells whose 95% CI of mean_field_gap excludes 0",
    "firing_rate": "mean realised gate (i, f, o) over seeds, per t (mean over units) and overall",
    "gate_prob": "mean gate probability (p_i, p_f, p_o), per t and overall",
    "calibration": "firing_rate − gate_prob, per t and overall (0 for a calibrated gate, "
    "e.g. bernoulli)",
    "calibration_share": "share of (t, unit) cells whose 95% CI of firing rate − probability "
    "excludes 0 (about 5% or less for a calibrated gate)",
    "retention": "mean over seeds and units of the share of the cell content kept since "
    "step 0 (product of realised keep factors), per t",
    "retention_theory": "the same for the product of keep probabilities",
    "half_life": "first step at which retention falls below 0.5, per unit and for the mean "
    "over units (empty: not within the run)",
    "half_life_theory": "the same for retention_theory",
    "saturation": "share of gate probabilities below 0.1 or above 0.9 (sat_*), per t and overall",
    "flip_rate": "share of binary gate samples that disagree with rounding the probability "
    "(flip_*), per t and overall; binary gates only",
    "loss": "with targets: mean over seeds of the per-seed loss of the readout, per t",
    **LOSS_TABLE_COLUMNS,
}
METRIC_ORDER = tuple(METRICS)

# Differences smaller than this are rounding, not effects: where every seed has
# the same value a CI has no width, and a gap of 1e-18 (say 0.5**60 against a
# memory that has died at every seed) would otherwise count as significant.
NEGLIGIBLE = 1e-12


# --------------------------------------------------------------------------- helpers


def check_columns(frame: pd.DataFrame, contract: Sequence[str], sweep: Sequence[str]) -> None:
    """The frame has the contract's columns, and no others than the sweep's."""
    missing = [c for c in contract if c not in frame.columns]
    if missing:
        raise ValueError(f"missing the columns {', '.join(missing)}")
    other = [c for c in frame.columns if c not in contract and c not in sweep]
    if other:
        raise ValueError(
            f"columns {', '.join(map(str, other))} are not the table's; "
            "name the swept ones with sweep=[...]"
        )


def _rows(summary: pd.DataFrame, *quantities: str) -> pd.DataFrame:
    return summary[summary["quantity"].isin(quantities)]


def _prefixed(summary: pd.DataFrame, prefix: str, names) -> pd.DataFrame:
    """The rows of the ``<prefix>_<name>`` quantities, ``quantity`` cut to the name
    (``div_c`` -> ``c``)."""
    rows = _rows(summary, *(f"{prefix}_{name}" for name in names))
    return rows.assign(quantity=rows["quantity"].str.split("_", n=1).str[1])


def _tidy(
    frame: pd.DataFrame, keys: list[str], metric: str, at: Sequence[str] = ()
) -> pd.DataFrame:
    """A metrics frame from the keys, ``quantity``, ``mean`` (the value) and CI
    bounds (NaN if missing) of ``frame``, at the ``t`` and ``unit`` named in
    ``at`` (NA for the others: over all of them)."""
    frame = frame.reset_index(drop=True).rename(columns={"mean": "value"})
    tidy = frame[keys].assign(
        condition=frame["condition"].astype("str"),
        metric=pd.Series(metric, index=frame.index, dtype="str"),
        quantity=frame["quantity"].astype("str"),
    )
    for name in ("t", "unit"):
        column = frame[name] if name in at else pd.Series(pd.NA, index=frame.index)
        tidy[name] = column.astype("Int64")
    for name in ("value", "ci_low", "ci_high"):
        column = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        tidy[name] = column.to_numpy(dtype=float, na_value=np.nan)
    return tidy


def _empty(keys: list[str]) -> pd.DataFrame:
    return _tidy(pd.DataFrame(columns=[*keys, "quantity"]), keys, "")


def _concat(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else _empty(keys)


def _average(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Average of cell means and of CI bounds over the rows of each group."""
    columns = ["mean", "ci_low", "ci_high"]
    return frame.groupby(by, sort=False, dropna=False)[columns].mean().reset_index()


def _per_step_and_overall(rows: pd.DataFrame, keys: list[str], metric: str) -> list[pd.DataFrame]:
    """``metric`` per t (averaged over units) and overall (over steps and units)."""
    by = [*keys, "quantity"]
    per_t = _tidy(_average(rows, [*by, "t"]), keys, metric, at=["t"])
    return [per_t, _tidy(_average(rows, by), keys, metric)]


def _share_clear_of_zero(frame: pd.DataFrame, by: list[str], low: str, high: str) -> pd.DataFrame:
    """Per group, the share of rows whose CI (columns ``low``, ``high``) lies clear
    of 0 by more than :data:`NEGLIGIBLE`."""
    clear = (frame[low] > NEGLIGIBLE) | (frame[high] < -NEGLIGIBLE)
    shares = frame.assign(mean=clear.astype(float)).groupby(by, sort=False, dropna=False)["mean"]
    return shares.mean().reset_index()


def _first_below(frame: pd.DataFrame, by: list[str], column: str, level: float = 0.5) -> pd.Series:
    """Per group, the first ``t`` at which ``column`` is below ``level`` (NaN: never)."""
    groups = frame.groupby(by, sort=False, dropna=False)["t"].min()  # every group, in order
    below = frame[frame[column] < level].groupby(by, sort=False, dropna=False)["t"].min()
    return below.reindex(groups.index).astype("Float64")


# --------------------------------------------------------------------------- metrics


def divergence(summary: pd.DataFrame, sweep: Sequence[str] = ()) -> pd.DataFrame:
    """Divergence from the deterministic path (``div_c``, ``div_h``): per t, at the
    final step and averaged over steps."""
    keys = [*sweep, "condition"]
    rows = _prefixed(summary, "div", STATES).sort_values("t", kind="stable")
    if rows.empty:
        return _empty(keys)
    by = [*keys, "quantity"]
    per_t = _tidy(rows, keys, "divergence", at=["t"])
    last = rows.loc[rows.groupby(by, sort=False, dropna=False)["t"].idxmax()]
    final = _tidy(last, keys, "divergence_final")
    mean = _tidy(_average(rows, by), keys, "divergence_mean")
    return _concat([per_t, final, mean], keys)


def mean_field_gap(summary: pd.DataFrame, sweep: Sequence[str] = ()) -> pd.DataFrame:
    """The mean-field gap: across-seed mean of ``c`` (``h``) minus the deterministic
    value at the same seed (``dev_c``, ``dev_h``), per (t, unit), with its largest
    absolute value and the share of cells whose CI excludes 0."""
    keys = [*sweep, "condition"]
    rows = _prefixed(summary, "dev", STATES)
    if rows.empty:
        return _empty(keys)
    by = [*keys, "quantity"]
    worst = rows.loc[
        rows["mean"].abs().groupby([rows[k] for k in by], sort=False, dropna=False).idxmax()
    ]
    positive = worst["mean"] >= 0
    low = np.where(positive, worst["ci_low"], -worst["ci_high"])
    high = np.where(positive, worst["ci_high"], -worst["ci_low"])
    straddles = (worst["ci_low"] <= 0) & (worst["ci_high"] >= 0)
    absolute = worst.assign(  # |gap|, with the CI of |gap|
        mean=worst["mean"].abs(),
        ci_low=np.where(straddles, 0.0, low),
        ci_high=np.where(straddles, np.maximum(worst["ci_high"], -worst["ci_low"]), high),
    )
    per_cell = _tidy(rows, keys, "mean_field_gap", at=["t", "unit"])
    largest = _tidy(absolute, keys, "mean_field_gap_max", at=["t", "unit"])
    share = _tidy(_share_clear_of_zero(rows, by, "ci_low", "ci_high"), keys, "mean_field_gap_share")
    return _concat([per_cell, largest, share], keys)


def gate_calibration(summary: pd.DataFrame, sweep: Sequence[str] = ()) -> pd.DataFrame:
    """Realised firing rate vs mean probability per gate (``i`` vs ``p_i``, ...),
    and their difference, per t (over units) and overall."""
    keys = [*sweep, "condition"]
    parts = []
    for gate in GATES:
        realised, prob = _rows(summary, gate), _rows(summary, f"p_{gate}")
        if realised.empty or prob.empty:
            continue
        cells = realised.merge(
            prob, on=[*keys, "t", "unit"], suffixes=("_gate", "_prob"), validate="one_to_one"
        ).assign(quantity=gate)
        half_gate = cells["ci_high_gate"] - cells["mean_gate"]
        half_prob = cells["ci_high_prob"] - cells["mean_prob"]
        difference = cells["mean_gate"] - cells["mean_prob"]
        half = np.sqrt(half_gate**2 + half_prob**2)
        cells = cells.assign(
            mean_diff=difference, ci_low_diff=difference - half, ci_high_diff=difference + half
        )
        for metric, suffix in (
            ("firing_rate", "_gate"),
            ("gate_prob", "_prob"),
            ("calibration", "_diff"),
        ):
            columns = {f"{c}{suffix}": c for c in ("mean", "ci_low", "ci_high")}
            parts += _per_step_and_overall(cells.rename(columns=columns), keys, metric)
        share = _share_clear_of_zero(cells, [*keys, "quantity"], "ci_low_diff", "ci_high_diff")
        parts.append(_tidy(share, keys, "calibration_share"))
    return _concat(parts, keys)


def memory_survival(summary: pd.DataFrame, sweep: Sequence[str] = ()) -> pd.DataFrame:
    """Empirical retention vs theory per t (mean over units), and half-lives
    per unit and of the mean curve."""
    keys = [*sweep, "condition"]
    parts = []
    for metric, half_life in (("retention", "half_life"), ("retention_theory", "half_life_theory")):
        rows = _rows(summary, metric).assign(quantity="c").sort_values("t", kind="stable")
        if rows.empty:
            continue
        curve = _average(rows, [*keys, "quantity", "t"])
        parts.append(_tidy(curve, keys, metric, at=["t"]))
        for frame, at in ((rows, ["unit"]), (curve, [])):
            by = [*keys, "quantity", *at]
            half = {c: _first_below(frame, by, c) for c in ("mean", "ci_low", "ci_high")}
            parts.append(_tidy(pd.DataFrame(half).reset_index(), keys, half_life, at=at))
    return _concat(parts, keys)


def gate_saturation(summary: pd.DataFrame, sweep: Sequence[str] = ()) -> pd.DataFrame:
    """Gate saturation (``sat_*``) and, for binary gates, flip rate (``flip_*``),
    per t (over units) and overall."""
    keys = [*sweep, "condition"]
    parts = []
    for prefix, metric in (("sat", "saturation"), ("flip", "flip_rate")):
        rows = _prefixed(summary, prefix, GATES)
        if not rows.empty:
            parts += _per_step_and_overall(rows, keys, metric)
    return _concat(parts, keys)


def compute_metrics(
    summary: pd.DataFrame,
    *,
    sweep: Sequence[str] = (),
    targets: pd.DataFrame | None = None,
    baseline: str | None = None,
) -> pd.DataFrame:
    """Every metric of every condition (and sweep point) of a summary, tidy, sorted
    by sweep point and condition (first appearance), metric (table order),
    quantity, t and unit (overall rows after per-t rows).

    ``sweep`` names the summary's sweep columns (a run's ``sweep_columns``);
    any other column than the contract's is an error. ``targets`` (a run's
    targets.csv) and ``baseline`` serve the loss metrics.
    """
    check_columns(summary, SUMMARY_COLUMNS, sweep)
    functions = (divergence, mean_field_gap, gate_calibration, memory_survival, gate_saturation)
    parts = [f(summary, sweep) for f in functions]
    parts.append(loss_metrics(summary, sweep, targets=targets, baseline=baseline))
    metrics = _concat([p for p in parts if p is not None], [*sweep, "condition"])
    ranks = {
        "condition": {c: k for k, c in enumerate(pd.unique(summary["condition"]))},
        "metric": {m: k for k, m in enumerate(METRIC_ORDER)},
        "quantity": {q: k for k, q in enumerate([*STATES, *GATES])},
    }

    def sort_key(column: pd.Series) -> pd.Series:
        if column.name in ranks:
            return column.map(ranks[column.name]).fillna(len(ranks[column.name]))
        return column

    return metrics.sort_values(
        [*sweep, "condition", "metric", "quantity", "t", "unit"],
        key=sort_key,
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
