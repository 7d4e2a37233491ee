"""What the figures share: style, layout, colours, legends, and choosing the
rows of one sweep point. Figures are made without pyplot (no global figure
state, no display backend needed)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ...core.names import GATES
from ...experiment.rundir import atomic_path

MAX_UNITS = 8  # units shown in figures faceted by unit
MAX_HEATMAP_UNITS = 32  # rows of a gate heatmap
MAX_ARMS = 10  # lines (condition x sweep point) in one panel
MAX_SWEEP_POINTS = 12  # sweep points given their own figures by draw_figures

STATE_NAMES = {"c": "cell state c", "h": "hidden state h"}
GATE_NAMES = {short: f"{gate} gate" for short, gate in GATES.items()}
BASELINE_COLOR = "black"


def style():
    return matplotlib.rc_context(
        {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
    )


def figure(nrows: int, ncols: int, figsize, **subplots) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    return fig, axes


def select(
    frame: pd.DataFrame, point: Mapping | None, keys: Sequence[str], what: str
) -> pd.DataFrame:
    """The rows of one sweep point (``point``, or the only one there is):
    rows that repeat ``keys`` belong to several points."""
    if point:
        unknown = [k for k in point if k not in frame.columns]
        if unknown:
            raise ValueError(f"{what}: no sweep column {', '.join(unknown)}")
        mask = np.ones(len(frame), dtype=bool)
        for key, value in point.items():
            mask &= (frame[key] == value).to_numpy()
        frame = frame[mask]
    elif frame.duplicated(list(keys)).any():
        raise ValueError(
            f"{what}: the data hold several sweep points; choose one with sweep={{...}}"
        )
    return frame


def point_text(point: Mapping | None) -> str:
    return ", ".join(f"{k} = {v}" for k, v in (point or {}).items())


def condition_colors(names: Sequence[str], baseline: str | None) -> dict[str, tuple]:
    others = [n for n in names if n != baseline]
    palette = sns.color_palette("colorblind", max(1, len(others)))
    colors = {name: palette[k] for k, name in enumerate(others)}
    if baseline is not None:
        colors[baseline] = BASELINE_COLOR
    return colors


def arms(frame: pd.DataFrame, sweep: Sequence[str]) -> list[tuple[dict, str, str]]:
    """The (sweep point, condition) pairs of a metrics frame, in order, with labels."""
    keys = list(sweep)
    found = []
    for row in frame[[*keys, "condition"]].drop_duplicates().itertuples(index=False):
        values = dict(zip([*keys, "condition"], row, strict=True))
        condition = values.pop("condition")
        label = condition if not keys else f"{condition} ({point_text(values)})"
        found.append((values, condition, label))
    return found


def arm_rows(frame: pd.DataFrame, point: dict, condition: str) -> pd.DataFrame:
    mask = (frame["condition"] == condition).to_numpy(copy=True)
    for key, value in point.items():
        mask &= (
            (frame[key] == value).to_numpy() if pd.notna(value) else frame[key].isna().to_numpy()
        )
    return frame[mask]


def integer_steps(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def ci_band(ax, t, low, high, color, label):
    return ax.fill_between(t, low, high, color=color, alpha=0.22, linewidth=0, label=label)


def units_note(shown: Sequence[int], total: int) -> str:
    if len(shown) >= total:
        return ""
    return (
        f"; units {shown[0]}–{shown[-1]} of {total} shown"
        if list(shown) == list(range(shown[0], shown[-1] + 1))
        else f"; {len(shown)} of {total} units shown"
    )


def legend(fig: Figure, handles, ncol: int | None = None) -> None:
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


def save(fig: Figure, folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, each atomically."""
    written = []
    stem = re.sub(r"[^A-Za-z0-9._=-]+", "_", stem).strip("_") or "figure"
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150 if fmt == "png" else None)
        written.append(path)
    return written
