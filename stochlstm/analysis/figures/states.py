"""Figures of the states: c and h over time (:func:`plot_trajectories`) and
their distribution over all seeds at one step (:func:`plot_final_states`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...core.names import SUMMARY_KEYS, TRAJECTORY_KEYS
from ..selection import contrast_units
from ._style import (
    BAND,
    BASELINE_COLOR,
    BASELINE_LINE,
    MAX_COLUMN_UNITS,
    MAX_UNITS,
    PATH_LINE,
    STATE_NAMES,
    UNDER_BASELINE,
    condition_colors,
    curve,
    figure,
    integer_steps,
    legend,
    nested_widths,
    point_text,
    select,
    title,
    units_note,
)

__all__ = ["plot_final_states", "plot_trajectories"]

OFF_SCALE = 0.25  # an initial state farther than this share of the later range is off scale
POINTS = dict(s=7, alpha=0.35, linewidth=0, zorder=2)  # a recorded path's value, faint
MEAN_MARK = dict(s=26, zorder=6, edgecolors="white", linewidths=0.6)  # a mean over all seeds


def steps_text(steps: Sequence[int]) -> str:
    """``0, 1, 2, …, 29`` (every step), or the steps themselves if few."""
    if len(steps) <= 6:
        return ", ".join(map(str, steps))
    return f"{', '.join(map(str, steps[:3]))}, …, {steps[-1]} ({len(steps)} steps)"


def _shown_units(rows, units, baseline, most, quantities) -> tuple[list[int], list[int], bool]:
    """All units of ``rows``, those shown (``units`` that are there, or those
    :func:`contrast_units` picks) and whether they were picked."""
    every = sorted(int(u) for u in pd.unique(rows["unit"]))
    if units is not None:
        shown = [u for u in units if u in every]
        if not shown:
            raise ValueError(f"none of the units {list(units)} are in the data ({every})")
        return every, shown, False
    shown = contrast_units(rows, baseline, most, quantities)
    return every, shown, len(shown) < len(every)


def _initial_off_scale(cells: pd.DataFrame, paths: pd.DataFrame, quantity: str) -> float | None:
    """The initial state (t = -1, from the summary or the sample paths) of a panel
    when it lies so far outside the range of the later steps (means, bands and
    paths) that drawing it would squash them; None if it is on scale or was not
    recorded."""
    first = pd.concat([cells.loc[cells["t"] == -1, "mean"], paths.loc[paths["t"] == -1, quantity]])
    later = [cells.loc[cells["t"] >= 0, column] for column in ("mean", "ci_low", "ci_high")]
    later = pd.concat([*later, paths.loc[paths["t"] >= 0, quantity]]).dropna()
    if first.dropna().empty or later.empty:
        return None
    low, high = float(later.min()), float(later.max())
    margin = OFF_SCALE * max(high - low, 1e-12)
    value = float(first.dropna().iloc[0])
    return value if value < low - margin or value > high + margin else None


def plot_trajectories(
    summary: pd.DataFrame,
    trajectories: pd.DataFrame | None = None,
    *,
    quantities: Sequence[str] = ("c", "h"),
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    units: Sequence[int] | None = None,
    max_units: int = MAX_UNITS,
    paths: int = 3,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
) -> Figure:
    """c and h per unit over time: each stochastic condition's mean with its 95%
    band (wide lines), ``paths`` of its sample paths from ``trajectories``
    (faint, in its colour), and the deterministic path (``baseline``) drawn on
    top, thin, black and dashed. One row per unit, one column per quantity.

    ``units`` chooses the units; by default the ``max_units`` of them where the
    stochastic paths stray farthest from the baseline
    (:func:`~stochlstm.analysis.selection.contrast_units`), as the
    title says. An initial state (t = -1) far outside the range of the later
    steps is left off the axis and written in the panel. ``hidden_size``, when
    given, is the number of units the title says the model has."""
    summary = select(summary, sweep, SUMMARY_KEYS, "plot_trajectories")
    quantities = [q for q in quantities if (summary["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_trajectories: the summary has none of the quantities asked for")
    names = list(pd.unique(summary["condition"]))
    conditions = list(conditions) if conditions is not None else names
    stochastic = [c for c in conditions if c != baseline and c in names]
    colors = condition_colors(names, baseline)
    rows = summary[summary["quantity"].isin(quantities) & summary["condition"].isin(conditions)]
    if rows.empty:
        raise ValueError("plot_trajectories: none of the conditions asked for are in the summary")
    every, shown, picked = _shown_units(rows, units, baseline, max_units, quantities)
    n_seeds = int(rows["n"].max())

    sample = None
    if trajectories is not None and paths > 0:
        sample = select(trajectories, sweep, TRAJECTORY_KEYS, "plot_trajectories")
        seeds = sorted(pd.unique(sample["seed"]))[:paths]
        sample = sample[sample["seed"].isin(seeds) & sample["condition"].isin(stochastic)]
        sample = sample.sort_values("t", kind="stable")
        if sample.empty:
            sample = None

    widths = nested_widths(len(stochastic))
    size = (4.6 * len(quantities) + 0.6, 1.75 * len(shown) + 1.7)
    with figure(len(shown), len(quantities), size, sharex=True) as (fig, axes):
        for ax, (unit, quantity) in zip(axes.flat, product(shown, quantities), strict=True):
            cells = rows[(rows["quantity"] == quantity) & (rows["unit"] == unit)].sort_values("t")
            mine = pd.DataFrame(columns=["condition", "seed", "t", quantity])
            if sample is not None and quantity in sample.columns:
                mine = sample[sample["unit"] == unit]
            initial = _initial_off_scale(cells, mine, quantity)
            if initial is not None:
                cells, mine = cells[cells["t"] >= 0], mine[mine["t"] >= 0]
                ax.text(
                    0.01,
                    0.97,
                    f"t = −1: {quantity} = {initial:.3g} (off scale)",
                    transform=ax.transAxes,
                    va="top",
                    fontsize="small",
                    color="0.3",
                    bbox=dict(facecolor="white", alpha=0.8, linewidth=0, pad=1.5),
                    zorder=12,
                )
            for condition in stochastic:
                for seed, path in mine[mine["condition"] == condition].groupby("seed", sort=True):
                    label = f"_path {condition} seed {seed}"
                    curve(ax, path, quantity, color=colors[condition], label=label, **PATH_LINE)
            for condition, width in zip(stochastic, widths, strict=True):
                means = cells[cells["condition"] == condition]
                if not means.empty:
                    line = dict(color=colors[condition], label=f"{condition}: mean")
                    band = f"{condition}: 95% CI of the mean"
                    curve(ax, means, "mean", band, **line, **dict(UNDER_BASELINE, linewidth=width))
            if baseline in conditions:
                line = dict(label=baseline, **BASELINE_LINE)
                curve(ax, cells[cells["condition"] == baseline], "mean", **line)
            ax.set_ylabel(f"{quantity}, unit {unit}")
            integer_steps(ax)
        for ax, quantity in zip(axes[0], quantities, strict=True):
            ax.set_title(STATE_NAMES.get(quantity, quantity))
        for ax in axes[-1]:
            ax.set_xlabel("step t")
        handles, handler_map = [], {}
        if baseline in conditions:
            handles.append(Line2D([], [], label=f"{baseline} (on top)", **BASELINE_LINE))
        for condition, width in zip(stochastic, widths, strict=True):
            band = Patch(color=colors[condition], **BAND)
            line = Line2D([], [], color=colors[condition], linewidth=width)
            handles.append(((band, line), f"{condition}: mean ± 95% CI"))
        if sample is not None:
            thin = dict(linewidth=1.0, alpha=0.6)
            drawn = [c for c in stochastic if (sample["condition"] == c).any()]
            marks = tuple(Line2D([], [], color=colors[c], **thin) for c in drawn)
            per = sample.groupby("condition")["seed"].nunique().max()
            handles.append((marks, f"sample paths ({per} seeds per condition, faint)"))
            handler_map[marks] = HandlerTuple(ndivide=None, pad=0.2)
        legend(fig, handles, handler_map=handler_map)
        states = " and ".join(STATE_NAMES.get(q, q) for q in quantities).capitalize()
        title(
            fig,
            f"{states}: deterministic vs stochastic gating{point_text(sweep)}\n"
            f"mean ± 95% CI over {n_seeds} seeds"
            f"{units_note(shown, hidden_size or len(every), picked, baseline, len(every))}",
        )
    return fig


def _dodge(j: int, count: int, width: float = 0.8) -> float:
    """The offset of the ``j``-th of ``count`` conditions drawn side by side at a unit."""
    return (j - (count - 1) / 2) * width / count


def plot_final_states(
    summary: pd.DataFrame,
    trajectories: pd.DataFrame | None = None,
    *,
    quantities: Sequence[str] = ("c", "h"),
    baseline: str | None = None,
    conditions: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
    max_units: int = MAX_COLUMN_UNITS,
    t: int | None = None,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
    rng: np.random.Generator | None = None,
) -> Figure:
    """The state at step ``t`` (default: the last recorded) over *all* seeds, per
    unit and stochastic condition, from the summary: the mean (dot), ± 1 sd
    (thin bar, cut at the smallest and largest value of any seed) and the 95%
    CI of the mean (thick bar); the recorded sample
    paths of ``trajectories`` as faint points beside them, their number named;
    the baseline's value as a black dashed bar over each unit.

    The points are spread sideways at random by ``rng`` (default: a new
    ``Generator(PCG64(0))``, so the same data give the same figure). A ``t``
    that was not recorded is a ``ValueError`` naming the recorded steps."""
    frame = select(summary, sweep, SUMMARY_KEYS, "plot_final_states")
    quantities = [q for q in quantities if (frame["quantity"] == q).any()]
    if frame.empty or not quantities:
        raise ValueError("plot_final_states: the summary holds none of the quantities asked for")
    frame = frame[frame["quantity"].isin(quantities)]
    recorded = sorted(int(step) for step in pd.unique(frame["t"]))
    t = recorded[-1] if t is None else t
    if t not in recorded:
        raise ValueError(
            f"plot_final_states: step t = {t} was not recorded; the recorded steps are "
            f"{steps_text(recorded)}"
        )
    names = list(pd.unique(frame["condition"]))
    conditions = list(conditions) if conditions is not None else names
    frame = frame[(frame["t"] == t) & frame["condition"].isin(conditions)]
    stochastic = [c for c in conditions if c != baseline and c in names]
    colors = condition_colors(names, baseline)
    every, shown, picked = _shown_units(frame, units, baseline, max_units, quantities)
    frame = frame[frame["unit"].isin(shown)]
    n_seeds = int(frame["n"].max())
    sample = None
    if trajectories is not None:
        sample = select(trajectories, sweep, TRAJECTORY_KEYS, "plot_final_states")
        sample = sample[(sample["t"] == t) & sample["condition"].isin(stochastic)]
        sample = sample[sample["unit"].isin(shown)] if not sample.empty else None
    rng = np.random.Generator(np.random.PCG64(0)) if rng is None else rng
    positions = {unit: k for k, unit in enumerate(shown)}
    slot = 0.8 / max(1, len(stochastic))

    width = min(16.0, max(9.0, 0.5 * len(shown) * max(1, len(stochastic)) + 2.5))
    with figure(len(quantities), 1, (width, 2.9 * len(quantities) + 1.5)) as (fig, axes):
        for ax, quantity in zip(axes[:, 0], quantities, strict=True):
            cells = frame[frame["quantity"] == quantity]
            for j, condition in enumerate(stochastic):
                mine = cells[cells["condition"] == condition]
                x = mine["unit"].map(positions).to_numpy(dtype=float) + _dodge(j, len(stochastic))
                mean, sd = mine["mean"].to_numpy(), mine["sd"].fillna(0).to_numpy()
                low = np.maximum(mean - sd, mine["min"].to_numpy())  # no seed went beyond
                high = np.minimum(mean + sd, mine["max"].to_numpy())
                color = colors[condition]
                ax.vlines(x, low, high, color=color, linewidth=1.1, label=f"_sd {condition}")
                ax.vlines(
                    x,
                    mine["ci_low"],
                    mine["ci_high"],
                    color=color,
                    linewidth=4.5,
                    label=f"_ci {condition}",
                )
                ax.scatter(x, mean, color=color, label=condition, **MEAN_MARK)
                if sample is not None and quantity in sample.columns:
                    dots = sample[sample["condition"] == condition]
                    centre = dots["unit"].map(positions).to_numpy(dtype=float)
                    jitter = rng.uniform(0.12 * slot, 0.4 * slot, size=len(dots))
                    ax.scatter(
                        centre + _dodge(j, len(stochastic)) + jitter,
                        dots[quantity],
                        color=color,
                        label=f"_paths {condition}",
                        **POINTS,
                    )
            reference = cells[cells["condition"] == baseline].set_index("unit").reindex(shown)
            if baseline is not None and reference["mean"].notna().any():
                at = np.arange(len(shown))
                bars = dict(BASELINE_LINE, colors=BASELINE_COLOR, label=baseline)
                del bars["color"]
                ax.hlines(reference["mean"].to_numpy(), at - 0.45, at + 0.45, **bars)
            ax.set(xlim=(-0.6, len(shown) - 0.4), xlabel="unit", ylabel=f"{quantity} at t = {t}")
            ax.set_xticks(np.arange(len(shown)), [str(unit) for unit in shown])
            ax.xaxis.grid(False)
            ax.set_title(STATE_NAMES.get(quantity, quantity))
        handles = [
            Line2D([], [], color=colors[c], marker="o", linestyle="", label=c) for c in stochastic
        ]
        reference = frame[frame["condition"] == baseline]
        if not reference.empty:
            varies = bool((reference["sd"].fillna(0) > 0).any())
            label = f"{baseline}{' (mean over seeds)' if varies else ''}"
            line = {k: v for k, v in BASELINE_LINE.items() if k != "zorder"}
            handles.append(Line2D([], [], label=label, **line))
        grey = dict(color="0.45")
        handles += [
            Line2D([], [], marker="o", linestyle="", label=f"mean over {n_seeds} seeds", **grey),
            Line2D([], [], linewidth=1.1, label="± 1 sd over seeds (within min–max)", **grey),
            Line2D([], [], linewidth=4.5, label="95% CI of the mean", **grey),
        ]
        if sample is not None and not sample.empty:
            per = int(sample.groupby("condition")["seed"].nunique().max())
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    alpha=0.4,
                    markersize=3,
                    label=f"recorded sample paths ({per} per condition)",
                    **grey,
                )
            )
        legend(fig, handles, ncol=4)
        title(
            fig,
            f"Final state at t = {t}{point_text(sweep)}: distribution over all {n_seeds} seeds"
            f"{units_note(shown, hidden_size or len(every), picked, baseline, len(every))}",
        )
    return fig
