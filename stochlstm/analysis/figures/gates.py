"""Gate probability against realised gate, per step and unit
(:func:`plot_gate_heatmaps`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...core.names import GATES, STATISTICS, SUMMARY_KEYS
from ._style import (
    GATE_NAMES,
    MAX_HEATMAP_UNITS,
    figure,
    integer_steps,
    point_text,
    select,
    title,
    units_note,
)

__all__ = ["gate_pairs", "plot_gate_heatmaps", "sampled_gates"]

NEGLIGIBLE = 1e-12  # a difference smaller than this is rounding


def gate_pairs(summary: pd.DataFrame, condition: str, gates: Sequence[str]) -> list[str]:
    """The ``gates`` of ``condition`` with both the probability and the realised
    gate in ``summary``."""
    present = set(summary.loc[summary["condition"] == condition, "quantity"])
    return [g for g in gates if g in present and f"p_{g}" in present]


def sampled_gates(summary: pd.DataFrame, condition: str, gates: Sequence[str]) -> list[str]:
    """The :func:`gate_pairs` of ``condition`` whose mean realised gate differs from
    its mean probability somewhere (by more than rounding): the gates it samples.
    A gate that is its probability (deterministic, or zoneout's) has nothing to show."""
    rows = summary[summary["condition"] == condition]
    found = []
    for gate in gate_pairs(summary, condition, gates):
        keys = [c for c in rows.columns if c not in STATISTICS and c != "quantity"]
        realised = rows[rows["quantity"] == gate].set_index(keys)["mean"]
        prob = rows[rows["quantity"] == f"p_{gate}"].set_index(keys)["mean"]
        gap = (realised - prob.reindex(realised.index)).abs()
        if (gap > NEGLIGIBLE).any():
            found.append(gate)
    return found


def share_outside_ci(rows: pd.DataFrame, gate: str) -> float:
    """The share of (t, unit) cells where the realised gate's mean differs from
    the probability's by more than the 95% CI of the difference (half-widths
    combined as ``sqrt(a² + b²)``, as in the ``calibration`` metric): about 5%
    or less for a gate that fires at its probability.

    Where every seed realised the same gate (a probability of 1 - 3e-10 fires
    at all 2,000 seeds) the Student interval has no width; the 95% bound of a
    rate seen in none or all of n seeds is 3/n (the rule of three), so the
    realised half-width is at least that there."""
    keys = ["t", "unit"]
    realised = rows[rows["quantity"] == gate].set_index(keys)
    prob = rows[rows["quantity"] == f"p_{gate}"].set_index(keys).reindex(realised.index)
    spread = realised["ci_high"] - realised["mean"]
    spread = spread.where(realised["sd"].fillna(0) > 0, 3 / realised["n"])
    half = np.hypot(spread, prob["ci_high"] - prob["mean"])
    gap = (realised["mean"] - prob["mean"]).abs()
    return float((gap - half > NEGLIGIBLE).mean())


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """The edges of cells centred on ``centres`` (sorted): halfway between
    neighbours, and half a spacing beyond the ends (cells of width 1 if only one)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middles = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [
            [centres[0] - (middles[0] - centres[0])],
            middles,
            [centres[-1] + (centres[-1] - middles[-1])],
        ]
    )


def plot_gate_heatmaps(
    summary: pd.DataFrame,
    condition: str | None = None,
    *,
    gates: Sequence[str] = tuple(GATES),
    baseline: str | None = None,
    units: Sequence[int] | None = None,
    max_units: int = MAX_HEATMAP_UNITS,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
) -> Figure:
    """Mean gate probability, mean realised gate and their difference per
    (t, unit), one row per gate, for one condition (default: the first
    condition other than ``baseline`` with gates recorded). The difference
    panel's title gives the share of cells whose 95% CI excludes 0. ``units``
    chooses the rows (default: the first ``max_units`` units)."""
    summary = select(summary, sweep, SUMMARY_KEYS, "plot_gate_heatmaps")
    if condition is None:
        names = pd.unique(summary["condition"])
        others = [c for c in names if c != baseline]
        candidates = [c for c in others if sampled_gates(summary, c, gates)] or [
            c for c in others if gate_pairs(summary, c, gates)
        ]
        if not candidates:
            raise ValueError(
                "plot_gate_heatmaps: no condition has gate probabilities and gates recorded"
            )
        condition = candidates[0]
    pairs = gate_pairs(summary, condition, gates)
    if not pairs:
        raise ValueError(
            f"plot_gate_heatmaps: condition {condition!r} has no gate with p and gate recorded"
        )
    gates = sampled_gates(summary, condition, pairs) or pairs
    left_out = [GATES[g] for g in pairs if g not in gates]
    left_out_note = (
        f"; {' and '.join(left_out)} gate{'s' if len(left_out) > 1 else ''} not shown "
        "(realised = probability)"
        if left_out
        else ""
    )
    rows = summary[summary["condition"] == condition]
    all_units = sorted(int(u) for u in pd.unique(rows.loc[rows["quantity"] == gates[0], "unit"]))
    shown = all_units[:max_units] if units is None else [u for u in units if u in all_units]
    if not shown:
        raise ValueError(f"plot_gate_heatmaps: none of the units {list(units)} are in the data")
    rows = rows[rows["unit"].isin(shown)]

    def grid(quantity):
        cells = rows[rows["quantity"] == quantity]
        return cells.pivot(index="unit", columns="t", values="mean").sort_index().sort_index(axis=1)

    probs = {g: grid(f"p_{g}") for g in gates}
    realised = {g: grid(g) for g in gates}
    differences = {g: realised[g] - probs[g] for g in gates}
    limit = max(0.01, max(float(np.nanmax(np.abs(d.to_numpy()))) for d in differences.values()))
    n_seeds = int(rows["n"].max())

    steps = probs[gates[0]].columns.to_numpy(dtype=float)
    x_edges = cell_edges(steps)
    y_edges = np.arange(len(shown) + 1) - 0.5  # rows are units in order, labelled below
    height = max(1.6, 0.16 * len(shown) + 1.1)
    size = (13.5, max(3.6, height * len(gates) + 1.4))
    with figure(len(gates), 3, size, sharex=True, sharey=True) as (fig, axes):
        rates = dict(cmap="viridis", vmin=0, vmax=1)
        gaps = dict(cmap="vlag", vmin=-limit, vmax=limit)
        for row, gate in enumerate(gates):
            outside = f"{share_outside_ci(rows, gate):.0%} of cells outside the 95% CI"
            panels = (
                (probs[gate], f"mean probability p_{gate}", rates),
                (realised[gate], f"mean realised gate {gate}", rates),
                (differences[gate], f"{gate} − p_{gate} ({outside})", gaps),
            )
            for col, (values, heading, colormap) in enumerate(panels):
                ax = axes[row, col]
                ax.pcolormesh(x_edges, y_edges, values.to_numpy(dtype=float), **colormap)
                ax.set_title(f"{GATE_NAMES[gate]}: {heading}")
                ax.set_xlabel("step t" if row == len(gates) - 1 else "")
                ax.set_ylabel("unit" if col == 0 else "")
                ax.grid(False)
        axes[0, 0].invert_yaxis()  # the first unit on top, like a table; the axes share y
        integer_steps(axes[0, 0])
        labelled = range(0, len(shown), -(-len(shown) // 16))  # at most 16 unit labels
        axes[0, 0].set_yticks(list(labelled), [str(shown[k]) for k in labelled])
        fig.colorbar(
            axes[0, 0].collections[0],
            ax=list(axes[:, :2].ravel()),
            shrink=0.9,
            label="mean over seeds: probability, firing rate",
        )
        fig.colorbar(
            axes[0, 2].collections[0],
            ax=list(axes[:, 2]),
            shrink=0.9,
            label="firing rate − probability",
        )
        title(
            fig,
            f"Gate probability vs realised gate, condition '{condition}'{point_text(sweep)}: "
            f"means over {n_seeds} seeds{units_note(shown, hidden_size or len(all_units))}"
            f"{left_out_note}",
        )
    return fig
