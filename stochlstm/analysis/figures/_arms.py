"""The lines of a figure over conditions and sweep points ("arms").

A condition whose values do not change with a swept parameter (bernoulli
gates in a sweep of the concrete temperature) is drawn once, without the
parameter in its label; a condition that does change gets a line per point,
coloured on an ordered scale of its own colour, light (the smallest value) to
dark (the largest), so that the order of a numeric sweep reads at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb

from ._style import condition_colors, point_text

__all__ = ["Arm", "arm_rows", "arms", "ramp", "varying_columns"]

SAME = dict(rtol=1e-9, atol=1e-12, equal_nan=True)  # values that "do not change": to rounding


@dataclass(frozen=True)
class Arm:
    """One line: a condition at a sweep ``point`` (every sweep column; the label
    names only those the condition changes with)."""

    condition: str
    point: dict = field(hash=False)
    label: str
    color: tuple
    baseline: bool = False


def _changes_with(
    rows: pd.DataFrame, column: str, others: list[str], keys: list[str], values: list[str]
) -> bool:
    """Whether the ``values`` of ``rows`` (one condition) differ between the values
    of the sweep ``column``, the other sweep columns held fixed."""
    groups = rows.groupby(others, sort=False, dropna=False) if others else [((), rows)]
    for _, group in groups:
        first = None
        for _, part in group.groupby(column, sort=False, dropna=False):
            part = part.sort_values(keys, kind="stable").reset_index(drop=True)
            table = (part[keys], part[values].to_numpy(dtype=float))
            if first is None:
                first = table
                continue
            if not first[0].equals(table[0]) or not np.allclose(first[1], table[1], **SAME):
                return True
    return False


def varying_columns(
    frame: pd.DataFrame, sweep: Sequence[str], keys: Sequence[str], values: Sequence[str]
) -> dict[str, list[str]]:
    """Per condition of ``frame``, the sweep columns its ``values`` change with
    (rows matched on ``keys``); a condition in none is the same at every point."""
    sweep, keys, values = list(sweep), list(keys), list(values)
    return {
        condition: [
            column
            for column in sweep
            if _changes_with(rows, column, [c for c in sweep if c != column], keys, values)
        ]
        for condition, rows in frame.groupby("condition", sort=False)
    }


def ramp(color, n: int) -> list[tuple]:
    """``n`` shades of ``color``, light to dark: an ordered colour scale."""
    if n == 1:
        return [tuple(to_rgb(color))]
    base = np.array(to_rgb(color))
    light = base + (1 - base) * 0.6
    stops = [light, base] if base.max() < 0.2 else [light, base, base * 0.5]
    positions = np.linspace(0, len(stops) - 1, n)
    shades = []
    for position in positions:
        k = min(int(position), len(stops) - 2)
        mix = position - k
        shades.append(tuple(float(v) for v in stops[k] * (1 - mix) + stops[k + 1] * mix))
    return shades


def arms(
    frame: pd.DataFrame,
    sweep: Sequence[str],
    *,
    baseline: str | None,
    keys: Sequence[str] = ("metric", "quantity", "t", "unit"),
    values: Sequence[str] = ("value", "ci_low", "ci_high"),
    conditions: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    most: int,
) -> tuple[list[Arm], str]:
    """The lines of ``frame``: one per condition (of ``conditions``, default all)
    and point of the sweep columns it changes with, points in order (by value
    if numeric); at most ``most``, and a note for the title when some are left
    out. Colours are the conditions' (``names``: every condition of the run, in
    order, for colours that match the other figures'), on a light-to-dark
    scale per condition when it has several lines."""
    sweep = [c for c in sweep if c in frame.columns]
    names = list(names) if names is not None else list(pd.unique(frame["condition"]))
    colors = condition_colors(names, baseline)
    changes = varying_columns(frame, sweep, keys, values) if sweep else {}
    found: list[Arm] = []
    for condition in pd.unique(frame["condition"]):
        if conditions is not None and condition not in conditions:
            continue
        columns = changes.get(condition, [])
        rows = frame.loc[frame["condition"] == condition, sweep]
        if columns:  # a line per point it changes at, in order
            rows = rows.drop_duplicates(subset=columns).sort_values(columns, kind="stable")
        points = [dict(zip(sweep, row, strict=True)) for row in rows.itertuples(index=False)]
        points = points if columns else points[:1] or [{}]
        color = colors.get(condition, colors.get(baseline, "black"))
        for point, shade in zip(points, ramp(color, len(points)), strict=True):
            label = f"{condition}{point_text({k: point[k] for k in columns})}"
            found.append(Arm(condition, point, label, shade, condition == baseline))
    shown = found[:most]
    note = f" ({len(shown)} of {len(found)} lines shown)" if len(shown) < len(found) else ""
    return shown, note


def arm_rows(frame: pd.DataFrame, arm: Arm) -> pd.DataFrame:
    """The rows of ``frame`` an arm draws: its condition at its point."""
    frame = frame[frame["condition"] == arm.condition]
    for key, value in arm.point.items():
        frame = frame[frame[key].isna() if pd.isna(value) else frame[key] == value]
    return frame
