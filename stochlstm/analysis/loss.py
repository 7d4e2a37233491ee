"""Loss metrics of a run with targets: how well each condition's readout
predicts, against the baseline's, from ``summary.csv`` and ``targets.csv``.

Tidy rows like every metric (:mod:`stochlstm.analysis.metrics`), quantity
``y`` (the readout the loss scores); ``t`` is the step of a per-step value,
or the window's last step (``loss_to``) for a value over the loss window:

=========================  ==================================================
metric                     value (95% CI)
=========================  ==================================================
loss                       mean over seeds of the per-seed loss at step t
loss_window                mean over seeds of the per-seed mean loss over the
                           window (Student t CI over seeds)
loss_difference            loss_window minus the baseline's: the mean of the
                           per-seed differences at the same seed (common
                           random numbers), with their paired t CI
loss_ratio                 loss_window over the baseline's (ratio of means),
                           CI by the delta method on the per-seed pairs (below)
loss_of_mean_prediction    the loss of the seed-averaged prediction: the loss,
                           averaged over the window, of the across-seed mean
                           of y at each step
=========================  ==================================================

The ratio ``R = mean(c) / mean(b)`` of a condition's (``c``) and the
baseline's (``b``) per-seed window losses has the delta-method standard error
``sqrt(var(c - R b) / n) / |mean(b)|``, with
``var(c - R b) = var(c) - 2 R cov(c, b) + R² var(b)`` and the covariance of
the pairs from the summary's sds, ``cov(c, b) = (var(c) + var(b) - var(c - b)) / 2``
(``var(c - b)`` is ``dev_loss_window``'s); the interval is ``R ± t(0.975, n-1)
se``. Pairing matters when the baseline varies between seeds (a stochastic
baseline, inputs drawn per seed); against a deterministic baseline on shared
inputs ``var(b) = 0`` and the interval is the condition's scaled by ``1/mean(b)``.

The seed-averaged prediction needs the targets to be the same at every seed
(``targets.csv``; none is written for targets drawn per seed) and ``y``
recorded at every step of the window (``record.every`` 1, or a window of
recorded steps); without, it has no row. Its interval bounds, per step, the loss over every mean prediction
inside the 95% CIs of the mean of ``y`` (each output on its own), averaged over
the window's steps, as other metrics average cell CIs; accuracy has none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.names import TARGETS_COLUMNS
from ..engine.loss import seed_loss
from ..engine.statistics import student_t_975

__all__ = ["LOSS_METRICS", "LOSS_TABLE_COLUMNS", "loss_metrics", "loss_table_columns"]

LOSS_METRICS = (
    "loss",
    "loss_window",
    "loss_difference",
    "loss_ratio",
    "loss_of_mean_prediction",
)

# The comparison table's loss columns (stochlstm.analysis.table): metrics over the window.
LOSS_TABLE_COLUMNS = {
    "loss_window": "mean over seeds of the per-seed loss over the loss window",
    "loss_ratio": "loss_window over the baseline's",
    "loss_difference": "loss_window minus the baseline's (paired by seed)",
    "loss_of_mean_prediction": "loss of the seed-averaged prediction over the window",
}


def _tidy(frame: pd.DataFrame, keys: list[str], metric: str, *, t: bool = True) -> pd.DataFrame:
    """Metrics rows from ``frame``'s keys, ``t`` and ``mean``/``ci_low``/``ci_high``."""
    frame = frame.reset_index(drop=True)
    tidy = frame[keys].assign(
        condition=frame["condition"].astype("str"),
        metric=pd.Series(metric, index=frame.index, dtype="str"),
        quantity=pd.Series("y", index=frame.index, dtype="str"),
        t=(frame["t"] if t else pd.Series(pd.NA, index=frame.index)).astype("Int64"),
        unit=pd.Series(pd.NA, index=frame.index).astype("Int64"),
    )
    for target, source in (("value", "mean"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        tidy[target] = frame[source].to_numpy(dtype=float, na_value=np.nan)
    return tidy


def _ratio(cells: pd.DataFrame) -> pd.DataFrame:
    """``mean_c / mean_b`` with its delta-method CI, from the columns
    ``n, mean_c, sd_c, mean_b, sd_b, sd_d`` (d = c - b per seed)."""
    ratio = cells["mean_c"] / cells["mean_b"]
    var_c, var_b, var_d = cells["sd_c"] ** 2, cells["sd_b"] ** 2, cells["sd_d"] ** 2
    covariance = (var_c + var_b - var_d) / 2
    spread = (var_c - 2 * ratio * covariance + ratio**2 * var_b).clip(lower=0)
    se = np.sqrt(spread / cells["n"]) / cells["mean_b"].abs()
    half = cells["n"].map(lambda n: student_t_975(int(n) - 1)) * se
    return cells.assign(mean=ratio, ci_low=ratio - half, ci_high=ratio + half)


def _relative(summary: pd.DataFrame, keys: list[str], baseline: str | None) -> list[pd.DataFrame]:
    """loss_difference and loss_ratio of each condition against ``baseline``."""
    deviation = summary[summary["quantity"] == "dev_loss_window"]
    if baseline is None or deviation.empty:
        return []
    window = summary[summary["quantity"] == "loss_window"]
    sweep = keys[:-1]
    base = window[window["condition"] == baseline][[*sweep, "t", "mean", "sd"]]
    cells = (
        window[[*keys, "t", "n", "mean", "sd"]]
        .merge(deviation[[*keys, "t", "sd"]], on=[*keys, "t"], suffixes=("_c", "_d"))
        .merge(base.rename(columns={"mean": "mean_b", "sd": "sd_b"}), on=[*sweep, "t"])
        .rename(columns={"mean": "mean_c"})
    )
    return [_tidy(deviation, keys, "loss_difference"), _tidy(_ratio(cells), keys, "loss_ratio")]


def _mean_prediction_loss(
    y: pd.DataFrame, targets: pd.DataFrame, kind: str
) -> tuple[float, float, float] | None:
    """The loss of the across-seed mean of ``y`` (rows ``t, unit, mean, ci_low,
    ci_high`` of one condition) against ``targets`` (in-window rows of one
    point), averaged over the window's steps, with its CI bounds; None when
    ``y`` was not recorded at every step of the window."""
    classes = bool((targets["unit"] == -1).all())
    encoding = "classes" if classes else ("values" if kind == "mse" else "binary")
    wide = {c: y.pivot(index="t", columns="unit", values=c) for c in ("mean", "ci_low", "ci_high")}
    goal = targets.pivot(index="t", columns="unit", values="target")
    steps = goal.index
    if not steps.isin(wide["mean"].index).all():  # a step of the window not recorded
        return None
    mean, low, high = (wide[c].loc[steps].to_numpy().T for c in ("mean", "ci_low", "ci_high"))
    goal = goal.loc[steps].to_numpy().T  # (W, steps)
    value = float(np.mean(seed_loss(mean, goal, kind, encoding)))
    if kind == "accuracy":
        return value, np.nan, np.nan
    if encoding != "values":  # probabilities
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    if classes:  # -log y_c decreases in y_c: one term per step
        ends = [seed_loss(end, goal, kind, encoding) for end in (high, low)]
        low_loss, high_loss = np.minimum(*ends), np.maximum(*ends)
    else:  # a term per output, monotone in it on either side of its target
        terms = [
            np.stack([seed_loss(end[[k]], goal[[k]], kind, encoding) for k in range(len(goal))])
            for end in (low, high)
        ]
        low_terms, high_terms = np.minimum(*terms), np.maximum(*terms)
        if kind == "mse":  # (m - z)^2 is 0 where the interval holds z
            low_terms = np.where((low <= goal) & (goal <= high), 0.0, low_terms)
        low_loss, high_loss = low_terms.mean(axis=0), high_terms.mean(axis=0)
    return value, float(np.mean(low_loss)), float(np.mean(high_loss))


def _of_mean_prediction(
    summary: pd.DataFrame, targets: pd.DataFrame | None, keys: list[str]
) -> list[pd.DataFrame]:
    y = summary[summary["quantity"] == "y"]
    if targets is None or targets.empty or y.empty:
        return []
    sweep = keys[:-1]
    targets = targets[targets["in_window"] == 1]
    rows = []
    for point, goal in targets.groupby(sweep, sort=False) if sweep else [((), targets)]:
        point = point if isinstance(point, tuple) else (point,)
        mine = y
        for name, value in zip(sweep, point, strict=True):
            mine = mine[mine[name] == value]
        for condition, predicted in mine.groupby("condition", sort=False):
            found = _mean_prediction_loss(predicted, goal, goal["loss"].iloc[0])
            if found is None:
                continue
            value, low, high = found
            rows.append(
                {
                    **dict(zip(sweep, point, strict=True)),
                    "condition": condition,
                    "t": int(goal["t"].max()),
                    "mean": value,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return [_tidy(pd.DataFrame(rows), keys, "loss_of_mean_prediction")] if rows else []


def loss_metrics(
    summary: pd.DataFrame,
    sweep: Sequence[str] = (),
    *,
    targets: pd.DataFrame | None = None,
    baseline: str | None = None,
) -> pd.DataFrame | None:
    """The loss metrics (see the module's docstring) of a summary, tidy; None
    when it has no loss. ``targets`` is the run's targets.csv (None: no
    loss of the mean prediction), ``baseline`` the run's baseline condition
    (None: no relative metrics)."""
    if targets is not None:
        missing = [c for c in (*sweep, *TARGETS_COLUMNS) if c not in targets.columns]
        if missing:
            raise ValueError(f"targets: missing the columns {', '.join(missing)}")
    keys = [*sweep, "condition"]
    per_step = summary[summary["quantity"] == "loss"]
    window = summary[summary["quantity"] == "loss_window"]
    parts = [
        _tidy(per_step, keys, "loss"),
        _tidy(window, keys, "loss_window"),
        *_relative(summary, keys, baseline),
        *_of_mean_prediction(summary, targets, keys),
    ]
    parts = [part for part in parts if len(part)]
    return pd.concat(parts, ignore_index=True) if parts else None


def loss_table_columns(metrics: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The :data:`LOSS_TABLE_COLUMNS` of each ``keys`` (sweep columns and
    condition) of a metrics frame, one row each; a condition without a value
    has none (no row, or NaN)."""
    keys = list(keys)
    rows = metrics[metrics["metric"].isin(list(LOSS_TABLE_COLUMNS))]
    wide = rows.pivot_table(index=keys, columns="metric", values="value", sort=False, dropna=False)
    wide = wide.reindex(columns=[c for c in LOSS_TABLE_COLUMNS if c in wide.columns])
    return wide.reset_index().rename_axis(columns=None)
