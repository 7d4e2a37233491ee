"""What the figures share: style, layout, colours, lines, legends, saving, and
choosing the rows of one sweep point."""

from __future__ import annotations

import io
import re
import textwrap
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

MAX_UNITS = 4  # units shown, by default, in a figure with a row per unit
MAX_COLUMN_UNITS = 8  # units shown, by default, in a figure with a column per unit
MAX_HEATMAP_UNITS = 32  # rows of a gate heatmap
MAX_ARMS = 10  # lines (condition x sweep point) in one panel
MAX_SWEEP_POINTS = 12  # sweep points given their own figures by draw_figures

STATE_NAMES = {"c": "cell state c", "h": "hidden state h"}
GATE_NAMES = {short: f"{gate} gate" for short, gate in GATES.items()}
BASELINE_COLOR = "black"
MEAN_LINE = dict(linewidth=1.8)  # a mean (or metric) over seeds
DASHED_LINE = dict(linewidth=1.4, linestyle="--")  # theory
BAND = dict(alpha=0.22, linewidth=0)  # a 95% CI
# The baseline is drawn last and thin over the (wider) means of the other
# conditions, so that it stays visible where they coincide and they show on
# either side of it and between its dashes.
UNDER_BASELINE = dict(linewidth=2.6, zorder=4)  # a mean the baseline is drawn over
BASELINE_LINE = dict(color=BASELINE_COLOR, linewidth=1.2, linestyle=(0, (4, 2)), zorder=10)
PATH_LINE = dict(linewidth=0.6, alpha=0.35, zorder=1)  # one sample path, faint
TITLE_CHARACTERS_PER_INCH = 10.5  # a title line at most this long per inch of figure width
LEGEND_INCHES_PER_CHARACTER = 0.075  # the width of a legend label, roughly

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


def nested_widths(count: int) -> list[float]:
    """Line widths for ``count`` lines that may coincide, widest first: drawn in
    this order, each stays visible on either side of the ones drawn over it."""
    if count <= 1:
        return [UNDER_BASELINE["linewidth"]] * count
    return [float(w) for w in np.linspace(3.6, 1.8, count)]


def integer_steps(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def curve(ax, rows: pd.DataFrame, y: str, band: str | None = None, **line) -> None:
    """``rows[y]`` over t; with ``band`` (its label), over the rows' 95% CI band."""
    t = rows["t"].to_numpy(dtype=float)
    if band is not None:
        low, high = rows["ci_low"], rows["ci_high"]
        ax.fill_between(t, low, high, color=line["color"], label=band, **BAND)
    ax.plot(t, rows[y], **line)


def units_note(
    shown: Sequence[int],
    total: int,
    picked: bool = False,
    baseline: str | None = None,
    recorded: int | None = None,
) -> str:
    """``; units 1, 4, 6 of 32 shown`` (nothing if all are); ``picked``: chosen by
    :func:`~stochlstm.analysis.selection.contrast_units` (as farthest from
    ``baseline``) among the ``recorded`` units, and said so."""
    if len(shown) >= total:
        return ""
    of = f"{total} ({recorded} recorded)" if recorded is not None and recorded < total else total
    if len(shown) > 2 and list(shown) == list(range(shown[0], shown[-1] + 1)):
        units = f"units {shown[0]}–{shown[-1]}"
    else:
        units = f"unit{'s' if len(shown) > 1 else ''} {', '.join(map(str, shown))}"
    if picked:
        farthest = f"those farthest from {baseline or 'the mean'}"
        return f"; {units} of {of}: {farthest} (choose with --units)"
    return f"; {units} of {of} shown"


def _legend_width(pairs: list, ncol: int) -> float:
    """The width in inches of a legend of ``ncol`` columns, roughly."""
    widths = [LEGEND_INCHES_PER_CHARACTER * len(label) + 0.7 for _, label in pairs]
    return sum(max(widths[k::ncol]) for k in range(ncol))


def legend(fig: Figure, handles, ncol: int | None = None, handler_map=None) -> None:
    """One legend below the panels, read row by row; ``handles`` are artists, or
    (artist(s), label) pairs; ``handler_map`` as matplotlib's."""
    if not handles:
        return
    pairs = [h if isinstance(h, tuple) else (h, h.get_label()) for h in handles]
    ncol = min(ncol or 3, len(pairs))
    # matplotlib fills a legend column by column: column k takes every ncol-th entry
    # from k, to be read row by row; as many columns as fit the figure's width
    while ncol > 1 and _legend_width(pairs, ncol) > 0.95 * fig.get_figwidth():
        ncol -= 1
    pairs = [pair for k in range(ncol) for pair in pairs[k::ncol]]
    artists, labels = zip(*pairs, strict=True)
    fig.legend(
        list(artists),
        list(labels),
        loc="outside lower center",
        ncol=ncol,
        frameon=False,
        handler_map=handler_map,
    )


def title(fig: Figure, text: str) -> None:
    """The figure's title, each line wrapped to the figure's width (a constrained
    layout does not shrink a title that is wider than the figure: it is cut)."""
    width = int(fig.get_figwidth() * TITLE_CHARACTERS_PER_INCH)
    lines = [wrapped for line in text.split("\n") for wrapped in textwrap.wrap(line, width)]
    fig.suptitle("\n".join(lines))


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
                if fmt == "png":
                    _save_png(fig, tmp)
                else:
                    fig.savefig(tmp, format=fmt, metadata=METADATA.get(fmt))
            written.append(path)
    advance()  # one more figure for a run's progress display
    return written


def _save_png(fig: Figure, path) -> None:
    """``fig`` as a PNG of at most 256 colours (no dithering): a third of the
    bytes of the full-colour image for the flat colours, lines and bands these
    figures are made of, and the same bytes for the same figure."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(
            256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        palette.save(path, format="PNG", optimize=True)
