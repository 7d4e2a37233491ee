"""Comparison figures, drawn from the toolkit's own summaries.

Every band is the summary's 95% CI (``ci_low``/``ci_high``, via
``fill_between``), never a seaborn bootstrap over raw rows. Each function
takes DataFrames and returns a :class:`matplotlib.figure.Figure` made without
pyplot (no global figure state, no display backend needed; in a notebook the
returned figure displays itself). :func:`draw_figures` writes every figure that
applies to a run into its ``figures/`` folder.

==========================  ==========================================================
function                    figure
==========================  ==========================================================
:func:`plot_trajectories`   c and h per unit over time: deterministic line, stochastic
                            mean with its 95% band, a few sample paths
:func:`plot_divergence`     divergence from the deterministic path over time
:func:`plot_final_states`   distributions of the final state over the sample paths,
                            deterministic value marked
:func:`plot_gate_heatmaps`  mean gate probability vs mean realised gate per (t, unit)
:func:`plot_survival`       memory survival, empirical (solid) vs theory (dashed)
==========================  ==========================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.cbook
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .analysis import Run, atomic_path, load_run
from .metrics import GATES, find_baseline, sweep_columns

__all__ = [
    "draw_figures",
    "plot_divergence",
    "plot_final_states",
    "plot_gate_heatmaps",
    "plot_survival",
    "plot_trajectories",
]

MAX_UNITS = 8  # units shown in figures faceted by unit
MAX_HEATMAP_UNITS = 32  # rows of a gate heatmap
MAX_ARMS = 10  # lines (condition x sweep point) in one panel
MAX_SWEEP_POINTS = 12  # sweep points given their own figures by draw_figures

STATE_NAMES = {"c": "cell state c", "h": "hidden state h"}
GATE_NAMES = {"i": "input gate", "f": "forget gate", "o": "output gate"}
BASELINE_COLOR = "black"
_TRAJECTORY_FIXED = {
    "condition",
    "seed",
    "t",
    "unit",
    "p_i",
    "i",
    "p_f",
    "f",
    "g",
    "p_o",
    "o",
    "c",
    "h",
}
_EXTRA_QUANTITY = re.compile(r"^[xy](_\d+)?$")


# --------------------------------------------------------------------------- helpers


def _style():
    return matplotlib.rc_context(
        {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
    )


def _figure(nrows: int, ncols: int, figsize, **subplots) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    return fig, axes


def _trajectory_sweep_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _TRAJECTORY_FIXED and not _EXTRA_QUANTITY.match(c)]


def _select(
    frame: pd.DataFrame, columns: list[str], sweep: Mapping | None, what: str
) -> pd.DataFrame:
    """The rows of one sweep point (``sweep``, or the only one there is)."""
    if sweep:
        unknown = [k for k in sweep if k not in frame.columns]
        if unknown:
            raise ValueError(f"{what}: no sweep column {', '.join(unknown)}")
        mask = np.ones(len(frame), dtype=bool)
        for key, value in sweep.items():
            mask &= (frame[key] == value).to_numpy()
        frame = frame[mask]
    elif columns and len(frame[columns].drop_duplicates()) > 1:
        raise ValueError(
            f"{what}: the data hold several sweep points ({', '.join(columns)}); "
            "choose one with sweep={...}"
        )
    return frame


def _point_text(sweep: Mapping | None) -> str:
    return ", ".join(f"{k} = {v}" for k, v in (sweep or {}).items())


def _maybe_baseline(frame: pd.DataFrame, baseline: str | None) -> str | None:
    try:
        return find_baseline(frame, baseline)
    except ValueError:
        if baseline is not None:
            raise
        return None


def _colors(names: Sequence[str], baseline: str | None) -> dict[str, tuple]:
    others = [n for n in names if n != baseline]
    palette = sns.color_palette("colorblind", max(1, len(others)))
    colors = {name: palette[k] for k, name in enumerate(others)}
    if baseline is not None:
        colors[baseline] = BASELINE_COLOR
    return colors


def _arms(frame: pd.DataFrame) -> list[tuple[dict, str, str]]:
    """The (sweep point, condition) pairs of a metrics frame, in order, with labels."""
    keys = sweep_columns(frame)
    arms = []
    for row in frame[[*keys, "condition"]].drop_duplicates().itertuples(index=False):
        values = dict(zip([*keys, "condition"], row, strict=True))
        condition = values.pop("condition")
        label = condition if not keys else f"{condition} ({_point_text(values)})"
        arms.append((values, condition, label))
    return arms


def _arm_rows(frame: pd.DataFrame, point: dict, condition: str) -> pd.DataFrame:
    mask = (frame["condition"] == condition).to_numpy(copy=True)
    for key, value in point.items():
        mask &= (
            (frame[key] == value).to_numpy() if pd.notna(value) else frame[key].isna().to_numpy()
        )
    return frame[mask]


def _integer_steps(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _band(ax, t, low, high, color, label):
    return ax.fill_between(t, low, high, color=color, alpha=0.22, linewidth=0, label=label)


def _units_note(shown: Sequence[int], total: int) -> str:
    if len(shown) >= total:
        return ""
    return (
        f"; units {shown[0]}–{shown[-1]} of {total} shown"
        if list(shown) == list(range(shown[0], shown[-1] + 1))
        else f"; {len(shown)} of {total} units shown"
    )


def _legend(fig: Figure, handles, ncol: int | None = None) -> None:
    """One legend below the panels; ``handles`` are artists, or (artist(s), label) pairs."""
    if not handles:
        return
    pairs = [
        h if isinstance(h, tuple) and isinstance(h[-1], str) else (h, h.get_label())
        for h in handles
    ]
    ncol = ncol or min(3, len(pairs))
    # matplotlib fills a legend column by column; reorder so it reads row by row
    nrows, filled = -(-len(pairs) // ncol), len(pairs) % ncol or ncol
    order = [r * ncol + c for c in range(ncol) for r in range(nrows if c < filled else nrows - 1)]
    pairs = [pairs[k] for k in order]
    fig.legend(
        [a for a, _ in pairs],
        [label for _, label in pairs],
        loc="outside lower center",
        ncol=ncol,
        frameon=False,
    )


# --------------------------------------------------------------------------- (a) trajectories


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
    summary = _select(summary, sweep_columns(summary), sweep, "plot_trajectories")
    quantities = [q for q in quantities if (summary["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_trajectories: the summary has none of the quantities asked for")
    baseline = _maybe_baseline(summary, baseline)
    names = list(pd.unique(summary["condition"]))
    conditions = list(conditions) if conditions is not None else names
    colors = _colors(names, baseline)
    rows = summary[summary["quantity"].isin(quantities) & summary["condition"].isin(conditions)]
    all_units = sorted(int(u) for u in pd.unique(rows["unit"]))
    shown = list(units) if units is not None else all_units[:max_units]
    n_seeds = int(rows["n"].max())

    sample = None
    if trajectories is not None and paths > 0:
        sample = _select(
            trajectories, _trajectory_sweep_columns(trajectories), sweep, "plot_trajectories"
        )
        seeds = sorted(pd.unique(sample["seed"]))[:paths]
        sample = sample[sample["seed"].isin(seeds)].sort_values("t", kind="stable")
        if sample.empty:
            sample = None

    with _style():
        fig, axes = _figure(
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
                    _band(
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
                _integer_steps(ax)
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
        _legend(fig, handles)
        point = _point_text(sweep)
        fig.suptitle(
            f"{' and '.join(STATE_NAMES.get(q, q) for q in quantities).capitalize()}: "
            f"deterministic vs stochastic gating{f' ({point})' if point else ''}\n"
            f"mean ± 95% CI over {n_seeds} seeds{_units_note(shown, hidden_size or len(all_units))}"
        )
    return fig


# --------------------------------------------------------------------------- (b) divergence


def plot_divergence(
    metrics: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("c", "h"),
    conditions: Sequence[str] | None = None,
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Divergence from the deterministic path over time (metric ``divergence``),
    one line and 95% band per condition (and sweep point), one panel per quantity."""
    rows = metrics[metrics["metric"] == "divergence"]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    quantities = [q for q in quantities if (rows["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_divergence: the metrics have no divergence rows")
    arms = _arms(rows)
    shown = arms[:max_arms]
    palette = sns.color_palette("colorblind", max(1, len(shown)))
    with _style():
        fig, axes = _figure(1, len(quantities), (4.8 * len(quantities) + 0.4, 3.9), sharex=True)
        for col, quantity in enumerate(quantities):
            ax = axes[0, col]
            for (point, condition, label), color in zip(shown, palette, strict=False):
                mine = _arm_rows(rows[rows["quantity"] == quantity], point, condition).sort_values(
                    "t"
                )
                t = mine["t"].to_numpy(dtype=float)
                _band(ax, t, mine["ci_low"], mine["ci_high"], color, f"_band {label}")
                ax.plot(t, mine["value"], color=color, linewidth=1.8, label=label)
            ax.set_title(STATE_NAMES.get(quantity, quantity))
            ax.set_xlabel("step t")
            _integer_steps(ax)
            ax.set_ylabel(f"RMS over units of {quantity} − {quantity}_det")
            ax.set_ylim(bottom=0)
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles.append(Patch(color="grey", alpha=0.3, label="95% CI of the mean"))
        _legend(fig, handles, ncol=min(4, len(handles)))
        note = f" ({len(shown)} of {len(arms)} shown)" if len(shown) < len(arms) else ""
        fig.suptitle(f"Divergence from the deterministic path, mean over seeds ± 95% CI{note}")
    return fig


# --------------------------------------------------------------------------- (c) final states


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
    frame = _select(
        trajectories, _trajectory_sweep_columns(trajectories), sweep, "plot_final_states"
    )
    quantities = [q for q in quantities if q in frame.columns]
    if frame.empty or not quantities:
        raise ValueError(
            "plot_final_states: the trajectories hold none of the quantities asked for"
        )
    t = int(frame["t"].max()) if t is None else int(t)
    frame = frame[frame["t"] == t]
    names = list(pd.unique(frame["condition"]))
    if baseline is None and "deterministic" in names:
        baseline = "deterministic"
    conditions = list(conditions) if conditions is not None else names
    stochastic = [c for c in conditions if c != baseline]
    colors = _colors(names, baseline)
    all_units = sorted(int(u) for u in pd.unique(frame["unit"]))
    shown = list(units) if units is not None else all_units[:max_units]
    frame = frame[frame["unit"].isin(shown)]
    data = frame[frame["condition"].isin(stochastic)]
    reference = frame[frame["condition"] == baseline] if baseline is not None else frame.iloc[:0]
    n_paths = int(frame.groupby("condition")["seed"].nunique().max())

    with _style():
        width = max(6.0, 0.5 * len(shown) * max(1, len(stochastic)) + 2.5)
        fig, axes = _figure(len(quantities), 1, (width, 2.9 * len(quantities) + 1.3))
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
        _legend(fig, handles, ncol=min(4, len(handles)))
        point = _point_text(sweep)
        fig.suptitle(
            f"Final state at t = {t}{f' ({point})' if point else ''}: "
            f"distribution over {n_paths} sample paths per condition"
            f"{_units_note(shown, hidden_size or len(all_units))}"
        )
    return fig


# --------------------------------------------------------------------------- (d) gate heatmaps


def _gate_pairs(summary: pd.DataFrame, condition: str, gates: Sequence[str]) -> list[str]:
    present = set(summary.loc[summary["condition"] == condition, "quantity"])
    return [g for g in gates if g in present and f"p_{g}" in present]


def plot_gate_heatmaps(
    summary: pd.DataFrame,
    condition: str | None = None,
    *,
    gates: Sequence[str] = GATES,
    max_units: int = MAX_HEATMAP_UNITS,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
) -> Figure:
    """Mean gate probability, mean realised gate and their difference per
    (t, unit), one row per gate, for one condition (default: the first
    non-baseline condition with gates recorded)."""
    summary = _select(summary, sweep_columns(summary), sweep, "plot_gate_heatmaps")
    baseline = _maybe_baseline(summary, None)
    names = list(pd.unique(summary["condition"]))
    if condition is None:
        candidates = [c for c in names if c != baseline and _gate_pairs(summary, c, gates)]
        if not candidates:
            raise ValueError(
                "plot_gate_heatmaps: no condition has gate probabilities and gates recorded"
            )
        condition = candidates[0]
    gates = _gate_pairs(summary, condition, gates)
    if not gates:
        raise ValueError(
            f"plot_gate_heatmaps: condition {condition!r} has no gate with p and gate recorded"
        )
    rows = summary[summary["condition"] == condition]
    all_units = sorted(int(u) for u in pd.unique(rows.loc[rows["quantity"] == gates[0], "unit"]))
    shown = all_units[:max_units]
    rows = rows[rows["unit"].isin(shown)]

    def grid(quantity):
        cells = rows[rows["quantity"] == quantity]
        return cells.pivot(index="unit", columns="t", values="mean").sort_index().sort_index(axis=1)

    probs = {g: grid(f"p_{g}") for g in gates}
    realised = {g: grid(g) for g in gates}
    differences = {g: realised[g] - probs[g] for g in gates}
    limit = max(0.01, max(float(np.nanmax(np.abs(d.to_numpy()))) for d in differences.values()))
    n_seeds = int(rows["n"].max())

    with _style():
        height = max(1.6, 0.16 * len(shown) + 1.1)
        fig, axes = _figure(
            len(gates), 3, (13.5, height * len(gates) + 1.2), sharex=True, sharey=True
        )
        tick_units = True if len(shown) <= 16 else "auto"
        for row, gate in enumerate(gates):
            panels = (
                (probs[gate], f"mean probability p_{gate}", dict(cmap="viridis", vmin=0, vmax=1)),
                (
                    realised[gate],
                    f"mean realised gate {gate}",
                    dict(cmap="viridis", vmin=0, vmax=1),
                ),
                (
                    differences[gate],
                    f"{gate} − p_{gate}",
                    dict(cmap="vlag", vmin=-limit, vmax=limit),
                ),
            )
            for col, (values, title, colormap) in enumerate(panels):
                ax = axes[row, col]
                sns.heatmap(
                    values,
                    ax=ax,
                    cbar=False,
                    xticklabels="auto",
                    yticklabels=tick_units,
                    **colormap,
                )
                ax.set_title(f"{GATE_NAMES[gate]}: {title}")
                ax.set_xlabel("step t" if row == len(gates) - 1 else "")
                ax.set_ylabel("unit" if col == 0 else "")
                ax.tick_params(axis="y", rotation=0)
                ax.tick_params(axis="x", rotation=0)
        fig.colorbar(
            axes[0, 0].collections[0],
            ax=list(axes[:, :2].ravel()),
            shrink=0.9,
            label="mean over seeds (probability / firing rate)",
        )
        fig.colorbar(
            axes[0, 2].collections[0],
            ax=list(axes[:, 2]),
            shrink=0.9,
            label="firing rate − probability",
        )
        point = _point_text(sweep)
        fig.suptitle(
            f"Gate probability vs realised gate, condition '{condition}'"
            f"{f' ({point})' if point else ''}: means over {n_seeds} seeds"
            f"{_units_note(shown, hidden_size or len(all_units))}"
        )
    return fig


# --------------------------------------------------------------------------- (e) survival


def plot_survival(
    metrics: pd.DataFrame,
    *,
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Memory survival over time, mean over units: the realised retention
    (solid, 95% band) and the theoretical product of keep probabilities (dashed)
    per condition (and sweep point)."""
    rows = metrics[metrics["metric"].isin(["retention", "retention_theory"]) & metrics["t"].notna()]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    if rows.empty:
        raise ValueError("plot_survival: the metrics have no retention rows")
    baseline = _maybe_baseline(metrics, baseline)
    arms = _arms(rows)
    shown = arms[:max_arms]
    stochastic_arms = [a for a in shown if a[1] != baseline]
    palette = dict(
        zip(
            [a[2] for a in stochastic_arms],
            sns.color_palette("colorblind", max(1, len(stochastic_arms))),
            strict=False,
        )
    )
    with _style():
        fig, axes = _figure(1, 2, (11.0, 4.4), sharex=True)
        positive = rows.loc[rows["value"] > 0, "value"]
        floor = max(1e-6, 0.5 * float(positive.min())) if len(positive) else 1e-6
        for ax, log in zip(axes[0], (False, True), strict=True):
            ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="_half")
            for point, condition, label in shown:
                color = BASELINE_COLOR if condition == baseline else palette[label]
                mine = _arm_rows(rows, point, condition).sort_values("t")
                empirical = mine[mine["metric"] == "retention"]
                theory = mine[mine["metric"] == "retention_theory"]
                if not empirical.empty:
                    t, value = empirical["t"].to_numpy(dtype=float), empirical["value"].to_numpy()
                    if log:  # lines only; zero retention (every seed forgot) is off the scale
                        value = np.where(value > 0, value, np.nan)
                    else:
                        _band(
                            ax,
                            t,
                            empirical["ci_low"],
                            empirical["ci_high"],
                            color,
                            f"_band {label}",
                        )
                    ax.plot(t, value, color=color, linewidth=1.8, label=label)
                if not theory.empty:
                    value = theory["value"].to_numpy()
                    if log:
                        value = np.where(value > 0, value, np.nan)
                    ax.plot(
                        theory["t"].to_numpy(dtype=float),
                        value,
                        color=color,
                        linewidth=1.4,
                        linestyle="--",
                        label=f"_theory {label}",
                    )
            ax.set_xlabel("step t")
            _integer_steps(ax)
            if log:
                ax.set_yscale("log")
                ax.set_ylim(floor, 1.5)
                ax.set_title("log scale (no bands)")
            else:
                ax.set_ylim(-0.02, 1.02)
                ax.set_title("linear scale, 95% CI bands")
                ax.set_ylabel("retention of c since t = 0 (mean over units)")
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles += [
            Line2D([], [], color="grey", linewidth=1.8, label="realised: product of keep factors"),
            Line2D(
                [],
                [],
                color="grey",
                linewidth=1.4,
                linestyle="--",
                label="theory: product of keep probabilities",
            ),
        ]
        _legend(fig, handles, ncol=min(4, max(2, len(shown))))
        note = f" ({len(shown)} of {len(arms)} shown)" if len(shown) < len(arms) else ""
        fig.suptitle(f"Memory survival: realised vs theoretical retention of the cell state{note}")
    return fig


# --------------------------------------------------------------------------- draw_figures


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "figure"


def _save(fig: Figure, folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in formats:
        path = folder / f"{_file_stem(stem)}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150 if fmt == "png" else None)
        written.append(path)
    return written


def draw_figures(
    run: Run | str | os.PathLike,
    formats: Sequence[str] = ("png", "pdf"),
    *,
    out_dir: str | os.PathLike | None = None,
    allow_incomplete: bool = False,
    max_sweep_points: int = MAX_SWEEP_POINTS,
) -> list[Path]:
    """Write every figure that applies to a run into ``figures/`` (or ``out_dir``),
    in each of ``formats``; return the files written.

    Figures whose quantities were not recorded are skipped. Files are written to
    a temporary name and renamed into place. With sweep columns, the per-point
    figures (trajectories, final states, gates) are drawn for the first
    ``max_sweep_points`` sweep points, named ``<figure>__<param>=<value>``; the
    divergence and survival figures show every point.
    """
    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    folder = Path(out_dir) if out_dir is not None else run.figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    summary, trajectories, metrics, baseline = (
        run.summary,
        run.trajectories,
        run.metrics,
        run.baseline,
    )
    keys = sweep_columns(summary)
    points = [
        dict(zip(keys, row, strict=True))
        for row in summary[keys].drop_duplicates().itertuples(index=False)
    ]
    points = points[:max_sweep_points] if keys else [None]
    written: list[Path] = []

    model = run.config.get("model") if isinstance(run.config.get("model"), Mapping) else {}
    for point in points:
        suffix = "" if point is None else "__" + "_".join(f"{k}={v}" for k, v in point.items())
        hidden = (point or {}).get("hidden_size", model.get("hidden_size"))
        hidden = int(hidden) if isinstance(hidden, int | np.integer) else None
        part = _select(summary, keys, point, "draw_figures")
        recorded = set(part["quantity"])
        if recorded & {"c", "h"}:
            fig = plot_trajectories(
                part, trajectories, baseline=baseline, sweep=point, hidden_size=hidden
            )
            written += _save(fig, folder, f"trajectories{suffix}", formats)
        if trajectories is not None and {"c", "h"} & set(trajectories.columns):
            sample = _select(
                trajectories, _trajectory_sweep_columns(trajectories), point, "draw_figures"
            )
            if not sample.empty:
                fig = plot_final_states(sample, baseline=baseline, sweep=point, hidden_size=hidden)
                written += _save(fig, folder, f"final_states{suffix}", formats)
        for condition in pd.unique(part["condition"]):
            if condition != baseline and _gate_pairs(part, condition, GATES):
                fig = plot_gate_heatmaps(part, condition, sweep=point, hidden_size=hidden)
                written += _save(fig, folder, f"gates_{condition}{suffix}", formats)

    if (metrics["metric"] == "divergence").any():
        written += _save(plot_divergence(metrics), folder, "divergence", formats)
    if metrics["metric"].isin(["retention", "retention_theory"]).any():
        written += _save(plot_survival(metrics, baseline=baseline), folder, "survival", formats)
    return written
