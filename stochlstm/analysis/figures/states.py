"""Figures of the states: c and h over time (:func:`plot_trajectories`) and
their final distribution over the sample paths (:func:`plot_final_states`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

import matplotlib.cbook
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...core.names import SUMMARY_KEYS, TRAJECTORY_KEYS
from ._style import (
    BAND,
    BASELINE_COLOR,
    DASHED_LINE,
    MAX_UNITS,
    MEAN_LINE,
    STATE_NAMES,
    condition_colors,
    curve,
    figure,
    integer_steps,
    legend,
    point_text,
    select,
    units_note,
)

__all__ = ["plot_final_states", "plot_trajectories"]

POINTS = dict(s=9, alpha=0.55, linewidth=0, zorder=3)  # a sample path's final value


def steps_text(steps: Sequence[int]) -> str:
    """``0, 1, 2, …, 29`` (every step), or the steps themselves if few."""
    if len(steps) <= 6:
        return ", ".join(map(str, steps))
    return f"{', '.join(map(str, steps[:3]))}, …, {steps[-1]} ({len(steps)} steps)"


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
    """c and h per unit over time: the deterministic path (black), each stochastic
    condition's mean with its 95% band, and ``paths`` sample paths per condition
    (thin lines) from ``trajectories``. One row per unit (at most ``max_units``),
    one column per quantity. ``hidden_size``, when given, is named in the title
    if fewer units are shown (e.g. because fewer were recorded)."""
    summary = select(summary, sweep, SUMMARY_KEYS, "plot_trajectories")
    quantities = [q for q in quantities if (summary["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_trajectories: the summary has none of the quantities asked for")
    names = list(pd.unique(summary["condition"]))
    conditions = list(conditions) if conditions is not None else names
    stochastic = [c for c in conditions if c != baseline]
    colors = condition_colors(names, baseline)
    rows = summary[summary["quantity"].isin(quantities) & summary["condition"].isin(conditions)]
    all_units = sorted(int(u) for u in pd.unique(rows["unit"]))
    shown = list(units) if units is not None else all_units[:max_units]
    n_seeds = int(rows["n"].max())

    sample = None
    if trajectories is not None and paths > 0:
        sample = select(trajectories, sweep, TRAJECTORY_KEYS, "plot_trajectories")
        seeds = sorted(pd.unique(sample["seed"]))[:paths]
        sample = sample[sample["seed"].isin(seeds)].sort_values("t", kind="stable")
        if sample.empty:
            sample = None

    thin = dict(linewidth=0.7, alpha=0.45)  # a sample path
    size = (4.6 * len(quantities) + 0.6, 1.9 * len(shown) + 1.6)
    with figure(len(shown), len(quantities), size, sharex=True) as (fig, axes):
        for ax, (unit, quantity) in zip(axes.flat, product(shown, quantities), strict=True):
            cells = rows[(rows["quantity"] == quantity) & (rows["unit"] == unit)].sort_values("t")
            if sample is not None and quantity in sample.columns:
                for condition in stochastic:
                    mine = sample[(sample["condition"] == condition) & (sample["unit"] == unit)]
                    for seed, path in mine.groupby("seed", sort=True):
                        label = f"_path {condition} seed {seed}"
                        curve(ax, path, quantity, color=colors[condition], label=label, **thin)
            for condition in stochastic:
                mine = cells[cells["condition"] == condition]
                if not mine.empty:
                    line = dict(color=colors[condition], label=f"{condition}: mean", **MEAN_LINE)
                    curve(ax, mine, "mean", f"{condition}: 95% CI of the mean", **line)
            if baseline in conditions:
                line = dict(color=BASELINE_COLOR, label=baseline, zorder=4, **DASHED_LINE)
                curve(ax, cells[cells["condition"] == baseline], "mean", **line)
            ax.set_ylabel(f"{quantity}, unit {unit}")
            integer_steps(ax)
        for ax, quantity in zip(axes[0], quantities, strict=True):
            ax.set_title(STATE_NAMES.get(quantity, quantity))
        for ax in axes[-1]:
            ax.set_xlabel("step t")
        handles = []
        if baseline in conditions:
            handles.append(Line2D([], [], color=BASELINE_COLOR, label=baseline, **DASHED_LINE))
        for condition in stochastic:
            band = Patch(color=colors[condition], **BAND)
            line = Line2D([], [], color=colors[condition], **MEAN_LINE)
            handles.append(((band, line), f"{condition}: mean ± 95% CI"))
        if sample is not None:
            label = f"sample paths ({sample['seed'].nunique()} seeds, thin)"
            handles.append(Line2D([], [], color="grey", linewidth=0.7, alpha=0.6, label=label))
        legend(fig, handles)
        fig.suptitle(
            f"{' and '.join(STATE_NAMES.get(q, q) for q in quantities).capitalize()}: "
            f"deterministic vs stochastic gating{point_text(sweep)}\n"
            f"mean ± 95% CI over {n_seeds} seeds{units_note(shown, hidden_size or len(all_units))}"
        )
    return fig


def _boxes(ax, data, quantity, units, conditions, colors, width=0.8) -> None:
    """Quartile boxes (whiskers at 1.5 IQR, no fliers) at seaborn's dodged positions."""
    step = width / len(conditions)
    for j, condition in enumerate(conditions):
        mine = data[data["condition"] == condition]
        groups = [mine.loc[mine["unit"] == unit, quantity].to_numpy(dtype=float) for unit in units]
        present = [k for k, values in enumerate(groups) if len(values)]
        if not present:
            continue
        stats = matplotlib.cbook.boxplot_stats([groups[k] for k in present])
        positions = [k + (j - (len(conditions) - 1) / 2) * step for k in present]
        lines = dict(color=colors[condition], linewidth=1.0)
        ax.bxp(
            stats,
            positions=positions,
            widths=0.8 * step,
            showfliers=False,
            manage_ticks=False,
            boxprops=lines,
            whiskerprops=lines,
            capprops=lines,
            medianprops=dict(lines, linewidth=1.6),
        )


def _points(ax, data, quantity, units, conditions, colors, rng, width=0.8) -> None:
    """Every sample path's value as a point over its box, spread sideways at
    random (uniform over half the box width, drawn from ``rng``)."""
    step = width / len(conditions)
    position = {unit: k for k, unit in enumerate(units)}
    for j, condition in enumerate(conditions):
        mine = data[data["condition"] == condition]
        centre = (
            mine["unit"].map(position).to_numpy(dtype=float)
            + (j - (len(conditions) - 1) / 2) * step
        )
        jitter = rng.uniform(-0.25 * step, 0.25 * step, size=len(mine))
        ax.scatter(centre + jitter, mine[quantity], color=colors[condition], **POINTS)


def plot_final_states(
    trajectories: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("c", "h"),
    baseline: str | None = None,
    conditions: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
    max_units: int = MAX_UNITS,
    t: int | None = None,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
    rng: np.random.Generator | None = None,
) -> Figure:
    """Distribution of the state at step ``t`` (default: the last recorded) over the
    sample paths, per unit and stochastic condition (box and points); the
    deterministic value is the black dashed bar over each unit.

    The points are spread sideways at random by ``rng`` (default: a new
    ``Generator(PCG64(0))``, so the same data give the same figure). A ``t``
    that was not recorded is a ``ValueError`` naming the recorded steps."""
    frame = select(trajectories, sweep, TRAJECTORY_KEYS, "plot_final_states")
    quantities = [q for q in quantities if q in frame.columns]
    if frame.empty or not quantities:
        raise ValueError(
            "plot_final_states: the trajectories hold none of the quantities asked for"
        )
    recorded = sorted(int(step) for step in pd.unique(frame["t"]))
    t = recorded[-1] if t is None else t
    if t not in recorded:
        raise ValueError(
            f"plot_final_states: step t = {t} was not recorded; the recorded steps are "
            f"{steps_text(recorded)}"
        )
    frame = frame[frame["t"] == t]
    names = list(pd.unique(frame["condition"]))
    conditions = list(conditions) if conditions is not None else names
    stochastic = [c for c in conditions if c != baseline]
    colors = condition_colors(names, baseline)
    all_units = sorted(int(u) for u in pd.unique(frame["unit"]))
    shown = list(units) if units is not None else all_units[:max_units]
    frame = frame[frame["unit"].isin(shown)]
    data = frame[frame["condition"].isin(stochastic)]
    reference = frame[frame["condition"] == baseline] if baseline is not None else frame.iloc[:0]
    n_paths = int(frame.groupby("condition")["seed"].nunique().max())
    rng = np.random.Generator(np.random.PCG64(0)) if rng is None else rng
    bars = dict(colors=BASELINE_COLOR, linestyles="--", linewidth=1.6, zorder=5, label=baseline)
    positions = np.arange(len(shown))

    width = max(6.0, 0.5 * len(shown) * max(1, len(stochastic)) + 2.5)
    with figure(len(quantities), 1, (width, 2.9 * len(quantities) + 1.3)) as (fig, axes):
        for ax, quantity in zip(axes[:, 0], quantities, strict=True):
            if not data.empty:
                _boxes(ax, data, quantity, shown, stochastic, colors)
                _points(ax, data, quantity, shown, stochastic, colors, rng)
            if not reference.empty:
                values = reference.groupby("unit")[quantity].mean().reindex(shown).to_numpy()
                ax.hlines(values, positions - 0.45, positions + 0.45, **bars)
            ax.set(xlim=(-0.6, len(shown) - 0.4), xlabel="unit", ylabel=f"{quantity} at t = {t}")
            ax.set_xticks(positions, [str(unit) for unit in shown])
            ax.xaxis.grid(False)
            ax.set_title(STATE_NAMES.get(quantity, quantity))
        handles = [
            Line2D([], [], color=colors[c], marker="o", linestyle="", label=c) for c in stochastic
        ]
        if not reference.empty:
            varies = reference.groupby("unit")[quantities[0]].nunique().max() > 1
            label = f"{baseline}{' (mean over seeds)' if varies else ''}"
            handles.append(Line2D([], [], color=BASELINE_COLOR, linestyle="--", label=label))
        legend(fig, handles, ncol=min(4, len(handles)))
        fig.suptitle(
            f"Final state at t = {t}{point_text(sweep)}: "
            f"distribution over {n_paths} sample paths per condition"
            f"{units_note(shown, hidden_size or len(all_units))}"
        )
    return fig
