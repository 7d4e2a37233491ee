"""Figures of the metrics, every condition and sweep point in one panel:
divergence from the deterministic path (:func:`plot_divergence`) and memory
survival against theory (:func:`plot_survival`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._style import (
    BASELINE_COLOR,
    DASHED_LINE,
    MAX_ARMS,
    MEAN_LINE,
    STATE_NAMES,
    arm_rows,
    arms,
    curve,
    figure,
    integer_steps,
    legend,
)

__all__ = ["plot_divergence", "plot_survival"]


def plot_divergence(
    metrics: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("c", "h"),
    conditions: Sequence[str] | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Divergence from the deterministic path over time (metric ``divergence``),
    one line and 95% band per condition (and point of the ``sweep`` columns),
    one panel per quantity."""
    rows = metrics[metrics["metric"] == "divergence"]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    quantities = [q for q in quantities if (rows["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_divergence: the metrics have no divergence rows")
    shown, note = arms(rows, sweep, max_arms)
    palette = sns.color_palette("colorblind", max(1, len(shown)))
    size = (4.8 * len(quantities) + 0.4, 3.9)
    with figure(1, len(quantities), size, sharex=True) as (fig, axes):
        for ax, quantity in zip(axes[0], quantities, strict=True):
            mine = rows[rows["quantity"] == quantity]
            for (point, condition, label), color in zip(shown, palette, strict=False):
                arm = arm_rows(mine, point, condition).sort_values("t")
                curve(ax, arm, "value", f"_band {label}", color=color, label=label, **MEAN_LINE)
            ax.set(title=STATE_NAMES.get(quantity, quantity), xlabel="step t", ylim=(0, None))
            ax.set_ylabel(f"RMS over units of {quantity} − {quantity}_det")
            integer_steps(ax)
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles.append(Patch(color="grey", alpha=0.3, label="95% CI of the mean"))
        legend(fig, handles, ncol=min(4, len(handles)))
        fig.suptitle(f"Divergence from the deterministic path, mean over seeds ± 95% CI{note}")
    return fig


def plot_survival(
    metrics: pd.DataFrame,
    *,
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Memory survival over time, mean over units: the realised retention
    (solid, 95% band) and the theoretical product of keep probabilities (dashed)
    per condition (and sweep point), on a linear and a log scale."""
    rows = metrics[metrics["metric"].isin(["retention", "retention_theory"]) & metrics["t"].notna()]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    if rows.empty:
        raise ValueError("plot_survival: the metrics have no retention rows")
    shown, note = arms(rows, sweep, max_arms)
    stochastic = [label for _, condition, label in shown if condition != baseline]
    palette = sns.color_palette("colorblind", max(1, len(stochastic)))
    colors = dict(zip(stochastic, palette, strict=False))
    positive = rows.loc[rows["value"] > 0, "value"]
    floor = max(1e-6, 0.5 * float(positive.min())) if len(positive) else 1e-6
    with figure(1, 2, (11.0, 4.4), sharex=True) as (fig, axes):
        for ax, log in zip(axes[0], (False, True), strict=True):
            ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="_half")
            for point, condition, label in shown:
                color = BASELINE_COLOR if condition == baseline else colors[label]
                mine = arm_rows(rows, point, condition).sort_values("t")
                if log:  # zero retention (every seed forgot) is off the scale
                    mine = mine.assign(value=mine["value"].where(mine["value"] > 0))
                empirical = mine[mine["metric"] == "retention"]
                theory = mine[mine["metric"] == "retention_theory"]
                if not empirical.empty:
                    band = None if log else f"_band {label}"
                    curve(ax, empirical, "value", band, color=color, label=label, **MEAN_LINE)
                if not theory.empty:
                    line = dict(color=color, label=f"_theory {label}", **DASHED_LINE)
                    curve(ax, theory, "value", **line)
            ax.set_xlabel("step t")
            integer_steps(ax)
        linear, logarithmic = axes[0]
        linear.set(title="linear scale, 95% CI bands", ylim=(-0.02, 1.02))
        linear.set_ylabel("retention of c since t = 0 (mean over units)")
        logarithmic.set(title="log scale (no bands)", yscale="log", ylim=(floor, 1.5))
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles += [
            Line2D([], [], color="grey", label="realised: product of keep factors", **MEAN_LINE),
            Line2D(
                [], [], color="grey", label="theory: product of keep probabilities", **DASHED_LINE
            ),
        ]
        legend(fig, handles, ncol=min(4, max(2, len(shown))))
        fig.suptitle(f"Memory survival: realised vs theoretical retention of the cell state{note}")
    return fig
