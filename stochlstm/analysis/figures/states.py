"""Figures of the states: c and h over time (:func:`plot_trajectories`) and
their final distribution over the sample paths (:func:`plot_final_states`).

Every band is the summary's 95% CI (``ci_low``/``ci_high``), never a seaborn
bootstrap over raw rows; each function returns a
:class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.cbook
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...core.names import SUMMARY_KEYS, TRAJECTORY_KEYS
from ._style import (
    BASELINE_COLOR,
    MAX_UNITS,
    STATE_NAMES,
    ci_band,
    condition_colors,
    figure,
    integer_steps,
    legend,
    point_text,
    select,
    style,
    units_note,
)

__all__ = ["plot_final_states", "plot_trajectories"]


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

    with style():
        fig, axes = figure(
            len(shown),
            len(quantities),
            (4.6 * len(quantities) + 0.6, 1.9 * len(shown) + 1.6),
            sharex=True,
        )
        for row, unit in enumerate(shown):
            for col, quantity in enumerate(quantities):
                ax = axes[row, col]
                cells = rows[(rows["quantity"] == quantity) & (rows["unit"] == unit)].sort_values(
                    "t"
                )
                stochastic = [c for c in conditions if c != baseline]
                if sample is not None and quantity in sample.columns:
                    for condition in stochastic:
                        mine = sample[(sample["condition"] == condition) & (sample["unit"] == unit)]
                        for seed, path in mine.groupby("seed", sort=True):
                            ax.plot(
                                path["t"],
                                path[quantity],
                                color=colors[condition],
                                linewidth=0.7,
                                alpha=0.45,
                                label=f"_path {condition} seed {seed}",
                            )
                for condition in stochastic:
                    mine = cells[cells["condition"] == condition]
                    if mine.empty:
                        continue
                    ci_band(
                        ax,
                        mine["t"],
                        mine["ci_low"],
                        mine["ci_high"],
                        colors[condition],
                        f"{condition}: 95% CI of the mean",
                    )
                    ax.plot(
                        mine["t"],
                        mine["mean"],
                        color=colors[condition],
                        linewidth=1.8,
                        label=f"{condition}: mean",
                    )
                if baseline in conditions:
                    mine = cells[cells["condition"] == baseline]
                    ax.plot(
                        mine["t"],
                        mine["mean"],
                        color=BASELINE_COLOR,
                        linewidth=1.4,
                        linestyle="--",
                        label=baseline,
                        zorder=4,
                    )
                ax.set_ylabel(f"{quantity}, unit {unit}")
                if row == 0:
                    ax.set_title(STATE_NAMES.get(quantity, quantity))
                if row == len(shown) - 1:
                    ax.set_xlabel("step t")
                integer_steps(ax)
        handles = []
        if baseline in conditions:
            handles.append(
                Line2D([], [], color=BASELINE_COLOR, linewidth=1.4, linestyle="--", label=baseline)
            )
        for condition in conditions:
            if condition != baseline:
                band = Patch(color=colors[condition], alpha=0.22, linewidth=0)
                line = Line2D([], [], color=colors[condition], linewidth=1.8)
                handles.append(((band, line), f"{condition}: mean ± 95% CI"))
        if sample is not None:
            handles.append(
                Line2D(
                    [],
                    [],
                    color="grey",
                    linewidth=0.7,
                    alpha=0.6,
                    label=f"sample paths ({sample['seed'].nunique()} seeds, thin)",
                )
            )
        legend(fig, handles)
        point = point_text(sweep)
        fig.suptitle(
            f"{' and '.join(STATE_NAMES.get(q, q) for q in quantities).capitalize()}: "
            f"deterministic vs stochastic gating{f' ({point})' if point else ''}\n"
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
        color = colors[condition]
        ax.bxp(
            stats,
            positions=positions,
            widths=0.8 * step,
            showfliers=False,
            manage_ticks=False,
            boxprops=dict(color=color, linewidth=1.0),
            whiskerprops=dict(color=color, linewidth=1.0),
            capprops=dict(color=color, linewidth=1.0),
            medianprops=dict(color=color, linewidth=1.6),
            orientation="vertical",
        )


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
) -> Figure:
    """Distribution of the state at step ``t`` (default: the last recorded) over the
    sample paths, per unit and stochastic condition (box and points); the
    deterministic value is the black dashed bar over each unit."""
    frame = select(trajectories, sweep, TRAJECTORY_KEYS, "plot_final_states")
    quantities = [q for q in quantities if q in frame.columns]
    if frame.empty or not quantities:
        raise ValueError(
            "plot_final_states: the trajectories hold none of the quantities asked for"
        )
    t = int(frame["t"].max()) if t is None else int(t)
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

    with style():
        width = max(6.0, 0.5 * len(shown) * max(1, len(stochastic)) + 2.5)
        fig, axes = figure(len(quantities), 1, (width, 2.9 * len(quantities) + 1.3))
        for row, quantity in enumerate(quantities):
            ax = axes[row, 0]
            if not data.empty:
                _boxes(ax, data, quantity, shown, stochastic, colors)
                sns.stripplot(
                    data=data,
                    x="unit",
                    y=quantity,
                    hue="condition",
                    order=shown,
                    hue_order=stochastic,
                    palette=colors,
                    ax=ax,
                    legend=False,
                    dodge=True,
                    size=3,
                    alpha=0.55,
                    jitter=0.25,
                    zorder=3,
                )
            if not reference.empty:
                values = reference.groupby("unit")[quantity].mean().reindex(shown)
                positions = np.arange(len(shown))
                ax.hlines(
                    values.to_numpy(),
                    positions - 0.45,
                    positions + 0.45,
                    colors=BASELINE_COLOR,
                    linestyles="--",
                    linewidth=1.6,
                    zorder=5,
                    label=baseline,
                )
            ax.set_xlim(-0.6, len(shown) - 0.4)
            ax.set_xlabel("unit")
            ax.set_ylabel(f"{quantity} at t = {t}")
            ax.set_title(STATE_NAMES.get(quantity, quantity))
        handles = [
            Line2D([], [], color=colors[c], marker="o", linestyle="", label=c) for c in stochastic
        ]
        if not reference.empty:
            varies = reference.groupby("unit")[quantities[0]].nunique().max() > 1
            label = f"{baseline}{' (mean over seeds)' if varies else ''}"
            handles.append(Line2D([], [], color=BASELINE_COLOR, linestyle="--", label=label))
        legend(fig, handles, ncol=min(4, len(handles)))
        point = point_text(sweep)
        fig.suptitle(
            f"Final state at t = {t}{f' ({point})' if point else ''}: "
            f"distribution over {n_paths} sample paths per condition"
            f"{units_note(shown, hidden_size or len(all_units))}"
        )
    return fig
