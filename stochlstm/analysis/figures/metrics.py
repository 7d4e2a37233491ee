"""Figures of the metrics over time, every condition and sweep point:
divergence from the deterministic path (:func:`plot_divergence`) and memory
survival against theory (:func:`plot_survival`).

A condition whose values do not change with a swept parameter is one line;
the points of a sweep are an ordered (light to dark) scale of the condition's
colour (:mod:`._arms`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from ._arms import SAME, Arm, arm_rows, arms
from ._style import (
    BAND,
    BASELINE_LINE,
    MAX_ARMS,
    MEAN_LINE,
    STATE_NAMES,
    UNDER_BASELINE,
    curve,
    figure,
    integer_steps,
    legend,
    nested_widths,
    title,
)

__all__ = ["plot_divergence", "plot_survival"]

HALF = 0.5  # the level that defines a half-life
DECAYS = 0.1  # retention that falls below this is drawn on a log axis
LOG_FLOOR = 1e-6  # the bottom of a log axis, at the lowest
THEORY_LINE = dict(linewidth=1.3, linestyle=":", zorder=6)


def plot_divergence(
    metrics: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("c", "h"),
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Divergence from the deterministic path over time (metric ``divergence``),
    one line and 95% band per condition (and point of the ``sweep`` columns
    that changes it), one panel per quantity; colours are the conditions' of
    the other figures (``baseline`` has none of its own here)."""
    names = list(pd.unique(metrics["condition"]))
    rows = metrics[metrics["metric"] == "divergence"]
    quantities = [q for q in quantities if (rows["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_divergence: the metrics have no divergence rows")
    shown, note = arms(
        rows, sweep, baseline=baseline, conditions=conditions, names=names, most=max_arms
    )
    if not shown:
        raise ValueError("plot_divergence: none of the conditions asked for has divergence rows")
    # conditions whose lines coincide (c under bernoulli and forget-only bernoulli
    # gates) stay visible: the first drawn is the widest
    drawn = list(dict.fromkeys(arm.condition for arm in shown))
    widths = dict(zip(drawn, nested_widths(len(drawn)), strict=True))
    size = (4.8 * len(quantities) + 0.4, 3.9)
    with figure(1, len(quantities), size, sharex=True) as (fig, axes):
        for ax, quantity in zip(axes[0], quantities, strict=True):
            mine = rows[rows["quantity"] == quantity]
            for arm in shown:
                line = dict(color=arm.color, label=arm.label, linewidth=widths[arm.condition])
                curve(
                    ax, arm_rows(mine, arm).sort_values("t"), "value", f"_band {arm.label}", **line
                )
            ax.set(title=STATE_NAMES.get(quantity, quantity), xlabel="step t", ylim=(0, None))
            ax.set_ylabel(f"RMS over units of {quantity} − {quantity}_det")
            integer_steps(ax)
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles.append(Patch(color="grey", alpha=0.3, label="95% CI of the mean"))
        legend(fig, handles, ncol=min(4, len(handles)))
        title(fig, f"Divergence from the deterministic path, mean over seeds ± 95% CI{note}")
    return fig


def _survival_scale(rows: pd.DataFrame, drawn: list[Arm]) -> tuple[bool, float, float | None]:
    """Whether the drawn curves decay enough for a log axis, its bottom, and the
    last step before every curve is below that bottom (None: some never are,
    or the axis is linear)."""
    values = pd.concat([arm_rows(rows, arm) for arm in drawn])
    positive = values.loc[values["value"] > 0, "value"]
    log = bool(len(positive)) and float(positive.min()) < DECAYS
    if not log:
        return False, 0.0, None
    floor = max(LOG_FLOOR, 0.5 * float(positive.min()))
    alive = values.loc[values["value"] >= floor, "t"]
    last = float(alive.max()) if len(alive) else float(values["t"].min())
    steps = values["t"].astype(float)
    span = float(steps.max() - steps.min())
    return True, floor, last if last - float(steps.min()) < 0.7 * span else None


def _theory_differs(empirical: pd.DataFrame, theory: pd.DataFrame) -> bool:
    """Whether the theoretical curve is not the realised one (it is, exactly, for
    deterministic gates)."""
    a, b = empirical["value"].to_numpy(dtype=float), theory["value"].to_numpy(dtype=float)
    return a.shape != b.shape or not np.allclose(a, b, **SAME)


def plot_survival(
    metrics: pd.DataFrame,
    *,
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Memory survival over time, mean over units: the realised retention (solid,
    95% band) and the theoretical product of keep probabilities (dotted, where it
    is not the same curve) of each condition (and sweep point that changes it),
    one panel per condition, the ``baseline`` drawn on top of each, thin and
    dashed. A log axis where the retention decays below 0.1, cut where every
    curve has fallen below its bottom; the half-life level 0.5 is marked."""
    names = list(pd.unique(metrics["condition"]))
    rows = metrics[metrics["metric"].isin(["retention", "retention_theory"]) & metrics["t"].notna()]
    if rows.empty:
        raise ValueError("plot_survival: the metrics have no retention rows")
    rows = rows.assign(t=rows["t"].astype(float))
    shown, note = arms(
        rows, sweep, baseline=baseline, conditions=conditions, names=names, most=max_arms
    )
    if not shown:
        raise ValueError("plot_survival: none of the conditions asked for has retention rows")
    references = [arm for arm in shown if arm.baseline]
    panels = list(dict.fromkeys(arm.condition for arm in shown if not arm.baseline)) or [baseline]
    log, floor, last = _survival_scale(rows, shown)
    crowded = any(sum(arm.condition == p for arm in shown) > 1 for p in panels)
    where_bands = " (panels of one line)" if crowded else ""
    ncols = 2 if len(panels) == 4 else min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    size = (max(8.0, 4.3 * ncols + 0.8), 3.3 * nrows + 1.7)
    with figure(nrows, ncols, size, sharex=True, sharey=True) as (fig, axes):
        for ax, panel in zip(axes.flat, panels, strict=False):
            mine = [arm for arm in shown if arm.condition == panel and not arm.baseline]
            for arm in [*mine, *references]:
                arm_curve = arm_rows(rows, arm).sort_values("t")
                empirical = arm_curve[arm_curve["metric"] == "retention"]
                theory = arm_curve[arm_curve["metric"] == "retention_theory"]
                if log:  # zero (every seed forgot) is off a log axis; a band reaches its bottom
                    empirical = empirical.assign(
                        value=empirical["value"].where(empirical["value"] > 0),
                        ci_low=empirical["ci_low"].where(empirical["ci_low"] > 0, 0.1 * floor),
                    )
                    theory = theory.assign(value=theory["value"].where(theory["value"] > 0))
                line = dict(BASELINE_LINE) if arm.baseline else dict(UNDER_BASELINE)
                line.update(color=arm.color, label=arm.label)
                if not empirical.empty:  # a band where it is the panel's only line
                    band = None if arm.baseline or len(mine) > 1 else f"_band {arm.label}"
                    curve(ax, empirical, "value", band, **line)
                if not theory.empty and _theory_differs(empirical, theory):
                    curve(
                        ax,
                        theory,
                        "value",
                        color=arm.color,
                        label=f"_theory {arm.label}",
                        **THEORY_LINE,
                    )
            ax.axhline(HALF, color="0.35", linewidth=0.9, linestyle=(0, (1, 2)), label="_half")
            ax.annotate(
                "half-life level",
                (0.99, HALF),
                xycoords=blended_transform_factory(ax.transAxes, ax.transData),
                ha="right",
                va="bottom",
                fontsize="small",
                color="0.35",
            )
            ax.set_title(f"{panel} vs {baseline}" if references and panel != baseline else panel)
            integer_steps(ax)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("step t")
        for ax in axes[:, 0]:
            ax.set_ylabel("retention of c since t = 0\n(mean over units)")
        first = axes.flat[0]
        if log:
            first.set(yscale="log", ylim=(floor, 1.5))
        else:
            first.set(ylim=(-0.02, 1.02))
        scale = "log scale" if log else "linear scale"
        if last is not None:
            start = float(rows["t"].min())
            first.set_xlim(start - 0.5, last + max(2.0, 0.08 * (last - start)))
            scale += f"; steps after t = {last:g} not shown: every curve is below {floor:.0e}"
        handles = []
        for ax in axes.flat[: len(panels)]:
            for artist in ax.get_legend_handles_labels()[0]:
                if artist.get_label() not in [h.get_label() for h in handles]:
                    handles.append(artist)
        handles += [
            Line2D([], [], color="grey", label="realised: product of keep factors", **MEAN_LINE),
            Patch(color="grey", label=f"95% CI{where_bands}", **BAND),
            Line2D(
                [], [], color="grey", label="theory: product of keep probabilities", **THEORY_LINE
            ),
        ]
        legend(fig, handles, ncol=4)
        title(
            fig,
            f"Memory survival: realised vs theoretical retention of the cell state{note}\n"
            f"({scale}; dotted: theory, where it differs from the realised curve)",
        )
    return fig
