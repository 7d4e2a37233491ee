"""What the figures share: style, layout, colours, lines, legends, saving, and
choosing the rows of one sweep point."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ...core.names import GATES
from ...experiment.progress import advance
from ...experiment.rundir import atomic_path

MAX_UNITS = 8  # units shown in figures faceted by unit
MAX_HEATMAP_UNITS = 32  # rows of a gate heatmap
MAX_ARMS = 10  # lines (condition x sweep point) in one panel
MAX_SWEEP_POINTS = 12  # sweep points given their own figures by draw_figures

STATE_NAMES = {"c": "cell state c", "h": "hidden state h"}
GATE_NAMES = {short: f"{gate} gate" for short, gate in GATES.items()}
BASELINE_COLOR = "black"
MEAN_LINE = dict(linewidth=1.8)  # a mean (or metric) over seeds
DASHED_LINE = dict(linewidth=1.4, linestyle="--")  # the baseline, or theory
BAND = dict(alpha=0.22, linewidth=0)  # a 95% CI

PNG_DPI = 150  # PNGs are written, and figures laid out, at this resolution
# Metadata that would make two drawings of the same figure differ (a creation
# date) is left out, so a figure file is a function of its data alone. PNGs
# carry no date; SVG ids are hashed with svg.hashsalt, random unless set.
METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}
SAVE_STYLE = {"svg.hashsalt": "stochlstm"}


@contextmanager
def figure(nrows: int, ncols: int, figsize, **subplots) -> Iterator[tuple[Figure, np.ndarray]]:
    """A figure made without pyplot and its axes, for drawing in the figures' style."""
    style = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=figsize, layout="constrained")
        yield fig, fig.subplots(nrows, ncols, squeeze=False, **subplots)


def select(
    frame: pd.DataFrame, point: Mapping | None, keys: Sequence[str], what: str
) -> pd.DataFrame:
    """The rows of one sweep point (``point``, or the only one there is):
    rows that repeat ``keys`` belong to several points."""
    if point:
        unknown = [k for k in point if k not in frame.columns]
        if unknown:
            raise ValueError(f"{what}: no sweep column {', '.join(unknown)}")
        for key, value in point.items():
            frame = frame[frame[key] == value]
    elif frame.duplicated(list(keys)).any():
        raise ValueError(
            f"{what}: the data hold several sweep points; choose one with sweep={{...}}"
        )
    return frame


def point_text(point: Mapping | None) -> str:
    """`` (key = value, ...)``: a sweep point named after a title or label."""
    if not point:
        return ""
    return " (" + ", ".join(f"{k} = {v}" for k, v in point.items()) + ")"


def condition_colors(names: Sequence[str], baseline: str | None) -> dict[str, tuple]:
    others = [n for n in names if n != baseline]
    palette = sns.color_palette("colorblind", max(1, len(others)))
    colors = {name: palette[k] for k, name in enumerate(others)}
    if baseline is not None:
        colors[baseline] = BASELINE_COLOR
    return colors


def arms(frame: pd.DataFrame, sweep: Sequence[str], most: int) -> tuple[list, str]:
    """The first ``most`` (sweep point, condition, label) of the lines of a metrics
    frame, in order, and a note for the title when some are left out."""
    found = []
    rows = frame[[*sweep, "condition"]].drop_duplicates()
    for *values, condition in rows.itertuples(index=False):
        point = dict(zip(sweep, values, strict=True))
        found.append((point, condition, f"{condition}{point_text(point)}"))
    shown = found[:most]
    return shown, f" ({len(shown)} of {len(found)} shown)" if len(shown) < len(found) else ""


def arm_rows(frame: pd.DataFrame, point: dict, condition: str) -> pd.DataFrame:
    frame = frame[frame["condition"] == condition]
    for key, value in point.items():
        frame = frame[frame[key].isna() if pd.isna(value) else frame[key] == value]
    return frame


def integer_steps(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def curve(ax, rows: pd.DataFrame, y: str, band: str | None = None, **line) -> None:
    """``rows[y]`` over t; with ``band`` (its label), over the rows' 95% CI band."""
    t = rows["t"].to_numpy(dtype=float)
    if band is not None:
        low, high = rows["ci_low"], rows["ci_high"]
        ax.fill_between(t, low, high, color=line["color"], label=band, **BAND)
    ax.plot(t, rows[y], **line)


def units_note(shown: Sequence[int], total: int) -> str:
    if len(shown) >= total:
        return ""
    if list(shown) == list(range(shown[0], shown[-1] + 1)):
        return f"; units {shown[0]}–{shown[-1]} of {total} shown"
    return f"; {len(shown)} of {total} units shown"


def legend(fig: Figure, handles, ncol: int | None = None) -> None:
    """One legend below the panels, read row by row; ``handles`` are artists, or
    (artist(s), label) pairs."""
    if not handles:
        return
    pairs = [h if isinstance(h, tuple) else (h, h.get_label()) for h in handles]
    ncol = ncol or min(3, len(pairs))
    # matplotlib fills a legend column by column: column k takes every ncol-th entry from k
    pairs = [pair for k in range(ncol) for pair in pairs[k::ncol]]
    artists, labels = zip(*pairs, strict=True)
    fig.legend(list(artists), list(labels), loc="outside lower center", ncol=ncol, frameon=False)


def save(fig: Figure, folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, each atomically; the
    same figure gives the same bytes.

    The layout is computed once, at the PNG resolution, and then frozen (``fig``
    keeps it: its dpi is :data:`PNG_DPI` and its layout engine "none"
    afterwards), so each format costs one drawing: a constrained layout
    measures every text of the figure twice, on every save.
    """
    written = []
    stem = re.sub(r"[^A-Za-z0-9._=-]+", "_", stem).strip("_") or "figure"
    with matplotlib.rc_context(SAVE_STYLE):
        engine = fig.get_layout_engine()
        if engine is not None and formats:
            fig.set_dpi(PNG_DPI)
            engine.execute(fig)
            fig.set_layout_engine("none")
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            with atomic_path(path) as tmp:
                dpi = PNG_DPI if fmt == "png" else None
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=METADATA.get(fmt))
            written.append(path)
    advance()  # one more figure for a run's progress display
    return written
