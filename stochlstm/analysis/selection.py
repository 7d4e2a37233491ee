"""What the figures draw: the units, conditions and steps a user chose
(``stochlstm plot --units 0,3,5 --conditions deterministic,bernoulli --steps 0:50``,
or the same keywords of :func:`~stochlstm.analysis.figures.draw_figures`), and,
by default, the units that show the contrast.

A choice is checked against the run before anything is drawn: a unit the run
did not record, a condition it does not have or a step range with no recorded
step is a ``ValueError`` of one line naming what the run has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Selection", "contrast_units", "parse_conditions", "parse_steps", "parse_units"]

Steps = tuple[int | None, int | None]


def _numbers(values: Sequence[int]) -> str:
    """``0–7`` for a run of consecutive numbers, else ``0, 3, 5``."""
    values = sorted(values)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}–{values[-1]}"
    return ", ".join(map(str, values))


def parse_units(text: str) -> tuple[int, ...]:
    """``"0,3,5"`` -> ``(0, 3, 5)``; anything else is a ``ValueError``."""
    units = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise ValueError(
                f"units {text!r}: expected unit numbers separated by commas, e.g. 0,3,5"
            )
        if int(part) not in units:
            units.append(int(part))
    return tuple(units)


def parse_conditions(text: str) -> tuple[str, ...]:
    """``"deterministic,bernoulli"`` -> ``("deterministic", "bernoulli")``."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise ValueError(
            f"conditions {text!r}: expected condition names separated by commas, "
            "e.g. deterministic,bernoulli"
        )
    return tuple(dict.fromkeys(names))


def parse_steps(text: str) -> Steps:
    """``"START:STOP"`` (both inclusive, either may be left out: ``"100:"``,
    ``":50"``) -> ``(START, STOP)`` with None for a bound left out."""
    parts = text.split(":")
    problem = f"steps {text!r}: expected START:STOP, e.g. 0:50, 100: or :50"
    if len(parts) != 2:
        raise ValueError(problem)
    bounds = []
    for part in parts:
        part = part.strip()
        if part and not part.lstrip("-").isdigit():
            raise ValueError(problem)
        bounds.append(int(part) if part else None)
    start, stop = bounds
    if start is not None and stop is not None and stop < start:
        raise ValueError(f"steps {text!r}: STOP ({stop}) is before START ({start})")
    return start, stop


def steps_text(steps: Steps) -> str:
    start, stop = steps
    return f"{'' if start is None else start}:{'' if stop is None else stop}"


@dataclass(frozen=True)
class Selection:
    """The units, conditions and steps (inclusive bounds) to draw; None: the default
    (conditions and steps: all; units: :func:`contrast_units`)."""

    units: tuple[int, ...] | None = None
    conditions: tuple[str, ...] | None = None
    steps: Steps | None = None

    @classmethod
    def of(
        cls,
        units: Sequence[int] | None = None,
        conditions: Sequence[str] | None = None,
        steps: Steps | None = None,
    ) -> Selection:
        return cls(
            units=None if units is None else tuple(int(u) for u in units),
            conditions=None if conditions is None else tuple(conditions),
            steps=None if steps is None else (steps[0], steps[1]),
        )

    def check(self, summary: pd.DataFrame, hidden_sizes: Sequence[int]) -> None:
        """A ``ValueError`` naming the first unit, condition or step range that
        ``summary`` (a run's) does not have; ``hidden_sizes``: of its sweep points."""
        if self.conditions is not None:
            known = list(pd.unique(summary["condition"]))
            unknown = [c for c in self.conditions if c not in known]
            if unknown:
                raise ValueError(
                    f"conditions: no condition {unknown[0]!r} in the run; it has {', '.join(known)}"
                )
        if self.units is not None:
            largest = max(hidden_sizes)
            recorded = sorted(int(u) for u in pd.unique(summary["unit"]) if u >= 0)
            for unit in self.units:
                if unit >= largest:
                    raise ValueError(
                        f"units: unit {unit} is out of range; the model has {largest} "
                        f"hidden units (0–{largest - 1})"
                    )
                if unit not in recorded:
                    raise ValueError(
                        f"units: unit {unit} was not recorded; the run recorded units "
                        f"{_numbers(recorded)} (record.units)"
                    )
        if self.steps is not None:
            steps = pd.unique(summary["t"])
            if not self.keeps_steps(pd.Series(steps)).any():
                raise ValueError(
                    f"steps {steps_text(self.steps)}: no recorded step in the range; the run "
                    f"recorded steps {int(steps.min())} to {int(steps.max())}"
                )

    def keeps_steps(self, t: pd.Series) -> pd.Series:
        """Which of the steps ``t`` are in the chosen range (a missing ``t``, a
        value over all steps, always is)."""
        keep = pd.Series(True, index=t.index)
        if self.steps is not None:
            start, stop = self.steps
            if start is not None:
                keep &= t.isna() | (t >= start)
            if stop is not None:
                keep &= t.isna() | (t <= stop)
        return keep.fillna(True).astype(bool)

    def rows(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        """The rows of ``frame`` in the chosen steps (conditions are chosen by
        each figure, which colours every condition of the run alike)."""
        if frame is None or self.steps is None or "t" not in frame.columns:
            return frame
        return frame[self.keeps_steps(frame["t"])]


def contrast_units(
    summary: pd.DataFrame,
    baseline: str | None,
    most: int,
    quantities: Sequence[str] = ("c", "h"),
) -> list[int]:
    """The ``most`` units (in order) where the stochastic conditions stray
    farthest from the baseline: by the mean over steps, ``quantities`` and
    conditions of ``sqrt((mean - baseline mean)² + sd²)``, the root mean square
    distance of a seed's value from a baseline that is the same at every seed.
    Every unit if there are at most ``most``."""
    rows = summary[summary["quantity"].isin(quantities)]
    units = sorted(int(u) for u in pd.unique(rows["unit"]))
    if len(units) <= most:
        return units
    keys = ["quantity", "t", "unit"]
    stochastic = rows[rows["condition"] != baseline]
    if stochastic.empty:
        return units[:most]
    indexed = stochastic.set_index(keys)
    reference = rows[rows["condition"] == baseline].set_index(keys)["mean"]
    base = reference.reindex(indexed.index).to_numpy(dtype=float)
    offset = np.where(np.isnan(base), 0.0, indexed["mean"].to_numpy(dtype=float) - base)
    spread = indexed["sd"].fillna(0).to_numpy(dtype=float)
    distance = pd.Series(np.sqrt(offset**2 + spread**2), index=stochastic["unit"].to_numpy())
    score = distance.groupby(level=0).mean()
    # the largest scores; ties go to the lower unit (a stable sort of the negated score)
    order = np.argsort(-score.to_numpy(), kind="stable")
    return sorted(int(u) for u in score.index.to_numpy()[order[:most]])
