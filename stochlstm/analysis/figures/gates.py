"""Gate probability against realised gate, per step and unit
(:func:`plot_gate_heatmaps`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...core.names import GATES, SUMMARY_KEYS
from ._style import (
    GATE_NAMES,
    MAX_HEATMAP_UNITS,
    figure,
    integer_steps,
    point_text,
    select,
    units_note,
)

__all__ = ["gate_pairs", "plot_gate_heatmaps"]


def gate_pairs(summary: pd.DataFrame, condition: str, gates: Sequence[str]) -> list[str]:
    present = set(summary.loc[summary["condition"] == condition, "quantity"])
    return [g for g in gates if g in present and f"p_{g}" in present]


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
    max_units: int = MAX_HEATMAP_UNITS,
    sweep: Mapping | None = None,
    hidden_size: int | None = None,
) -> Figure:
    """Mean gate probability, mean realised gate and their difference per
    (t, unit), one row per gate, for one condition (default: the first
    condition other than ``baseline`` with gates recorded)."""
    summary = select(summary, sweep, SUMMARY_KEYS, "plot_gate_heatmaps")
    if condition is None:
        names = pd.unique(summary["condition"])
        candidates = [c for c in names if c != baseline and gate_pairs(summary, c, gates)]
        if not candidates:
            raise ValueError(
                "plot_gate_heatmaps: no condition has gate probabilities and gates recorded"
            )
        condition = candidates[0]
    gates = gate_pairs(summary, condition, gates)
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

    steps = probs[gates[0]].columns.to_numpy(dtype=float)
    x_edges = cell_edges(steps)
    y_edges = np.arange(len(shown) + 1) - 0.5  # rows are units in order, labelled below
    height = max(1.6, 0.16 * len(shown) + 1.1)
    size = (13.5, height * len(gates) + 1.2)
    with figure(len(gates), 3, size, sharex=True, sharey=True) as (fig, axes):
        rates = dict(cmap="viridis", vmin=0, vmax=1)
        gaps = dict(cmap="vlag", vmin=-limit, vmax=limit)
        for row, gate in enumerate(gates):
            panels = (
                (probs[gate], f"mean probability p_{gate}", rates),
                (realised[gate], f"mean realised gate {gate}", rates),
                (differences[gate], f"{gate} − p_{gate}", gaps),
            )
            for col, (values, title, colormap) in enumerate(panels):
                ax = axes[row, col]
                ax.pcolormesh(x_edges, y_edges, values.to_numpy(dtype=float), **colormap)
                ax.set_title(f"{GATE_NAMES[gate]}: {title}")
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
            label="mean over seeds (probability / firing rate)",
        )
        fig.colorbar(
            axes[0, 2].collections[0],
            ax=list(axes[:, 2]),
            shrink=0.9,
            label="firing rate − probability",
        )
        fig.suptitle(
            f"Gate probability vs realised gate, condition '{condition}'{point_text(sweep)}: "
            f"means over {n_seeds} seeds{units_note(shown, hidden_size or len(all_units))}"
        )
    return fig
