"""What a run keeps and the tables it writes: running statistics and sample
paths folded in task order (:class:`Accumulator`), and ``summary.csv`` and
``trajectories.csv`` made from them (the data contracts in the README); with
targets the same at every seed, ``targets.csv`` too, which the analysis reads
the loss of the seed-averaged prediction from.

The tables come in parts (one per point, condition and, for the summary,
quantity) that :mod:`~stochlstm.experiment.csv_writer` formats and writes one
after the other: no DataFrame of the whole table is built on the way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.loss import loss_quantities
from ..engine.recorder import BatchRecord, derived_quantities
from ..engine.simulate import tidy_columns
from ..engine.statistics import RunningStats
from .csv_writer import write_csv
from .plan import RunPlan, Task
from .rundir import atomic_path, atomic_write

__all__ = [
    "Accumulator",
    "summary_parts",
    "targets_parts",
    "trajectories_frame",
    "trajectories_parts",
    "write_tables",
]


@dataclass
class Accumulator:
    """Running statistics and sample paths of a run, folded in task order."""

    next_task: int = 0
    stats: dict[tuple[int, str, str], RunningStats] = field(default_factory=dict)
    paths: dict[tuple[int, str, str], list[np.ndarray]] = field(default_factory=dict)
    path_seeds: dict[int, list[int]] = field(default_factory=dict)

    def fold(self, task: Task, record: BatchRecord) -> None:
        for (condition, quantity), (mean, m2, low, high) in record.moments.items():
            key = (task.point, condition, quantity)
            for k, n in enumerate(record.block_sizes):
                block = RunningStats(n, mean[k], m2[k], low[k], high[k])
                previous = self.stats.get(key)
                self.stats[key] = block.copy() if previous is None else previous.merge(block)
        for (condition, quantity), values in record.paths.items():
            self.paths.setdefault((task.point, condition, quantity), []).append(values)
        if record.path_seeds:
            self.path_seeds.setdefault(task.point, []).extend(record.path_seeds)
        self.next_task += 1


def summary_parts(plan: RunPlan, accumulator: Accumulator) -> Iterator[dict[str, object]]:
    """summary.csv in parts, one per (point, condition, quantity), each a
    :func:`~stochlstm.engine.simulate.tidy_columns` table with one row per (t, unit);
    the columns are the same in every part."""
    for point in plan.points:
        for condition in point.output_order:
            is_baseline = condition == point.baseline
            derived = derived_quantities(point.conditions[condition], is_baseline)
            for quantity in (*point.record.quantities, *derived):
                stats = accumulator.stats.get((point.index, condition, quantity))
                if stats is None:  # a derived quantity not recorded
                    continue
                table = stats.table()
                if quantity in ("div_c", "div_h"):
                    units = [-1]
                elif quantity == "y":
                    units = np.arange(table["mean"].shape[1])
                else:
                    units = point.record.units
                t, unit = np.meshgrid(point.record.steps, units, indexing="ij")
                labels = {**point.columns, "condition": condition, "quantity": quantity}
                yield tidy_columns(labels, {"t": t, "unit": unit}, table)
            loss = point.record.loss
            for quantity in loss_quantities(loss, is_baseline):
                stats = accumulator.stats.get((point.index, condition, quantity))
                if stats is None:
                    continue
                steps = loss.summary_steps(quantity, point.record.steps)
                t, unit = np.meshgrid(steps, [-1], indexing="ij")
                labels = {**point.columns, "condition": condition, "quantity": quantity}
                yield tidy_columns(labels, {"t": t, "unit": unit}, stats.table())


def targets_parts(plan: RunPlan) -> Iterator[dict[str, object]]:
    """targets.csv in parts, one per point whose targets are the same at every
    seed: one row per (t, unit) with a target (``unit`` the output; -1 for a
    class index), the loss, and ``in_window`` (1 where ``t`` is in the loss window)."""
    for point in plan.points:
        loss, targets = point.record.loss, point.shared_targets
        if loss is None or targets is None:
            continue
        n_steps, width = targets.shape
        units = [-1] if loss.encoding == "classes" else range(width)
        t, unit = np.meshgrid(np.arange(n_steps), units, indexing="ij")
        first, last = loss.window
        in_window = ((t >= first) & (t <= last)).astype(np.int64)
        labels = {**point.columns, "loss": loss.kind}
        values = {"target": targets, "in_window": in_window}
        yield tidy_columns(labels, {"t": t, "unit": unit}, values)


def trajectories_parts(plan: RunPlan, accumulator: Accumulator) -> Iterator[dict[str, object]]:
    """trajectories.csv in parts, one per (point, condition) with sample paths, each a
    :func:`~stochlstm.engine.simulate.tidy_columns` table with one row per (seed, t, unit).

    With ``record.initial_state`` the rows ``t = -1`` hold the initial ``c``
    and ``h`` (the other quantities are NaN there). Points may record different
    quantities, so parts may have different columns.
    """
    for point in plan.points:
        seeds = accumulator.path_seeds.get(point.index, [])
        if not seeds:
            continue
        record, units = point.record, np.asarray(point.record.units)
        steps = [-1, *record.steps] if record.initial_state else record.steps
        seed, t, unit = np.meshgrid(seeds, steps, units, indexing="ij")
        for condition in point.output_order:
            paths = {}
            for quantity in record.quantities:
                key = (point.index, condition, quantity)
                values = np.concatenate(accumulator.paths[key], axis=2).transpose(2, 0, 1)
                if record.initial_state:  # values (seed, t, width) get the row t = -1
                    initial = np.full((len(seeds), 1, values.shape[2]), np.nan)
                    if quantity in ("c", "h"):
                        initial[:] = point.initial_state[quantity][units]
                    values = np.concatenate([initial, values], axis=1)
                paths[quantity] = values
            labels = {**point.columns, "condition": condition}
            yield tidy_columns(labels, {"seed": seed, "t": t, "unit": unit}, paths)


def trajectories_frame(plan: RunPlan, accumulator: Accumulator) -> pd.DataFrame:
    """The sample paths as a DataFrame: one row per (point, condition, seed, t, unit);
    a column that only some points have is NaN in the others' rows."""
    frames = list(map(pd.DataFrame, trajectories_parts(plan, accumulator)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_tables(
    work_dir: Path, plan: RunPlan, accumulator: Accumulator
) -> dict[str, tuple[Path, int]]:
    """Write summary.csv, the trajectories (CSV, or Parquet with
    ``output.format: parquet``) and, when there are targets the same at every
    seed, targets.csv; ``{file name: (path, rows)}``.

    The summary is formatted and written part by part
    (:mod:`~stochlstm.experiment.csv_writer`), so that besides the running
    statistics only one part's values are held at a time.
    """
    outputs = {
        "summary.csv": _write_csv(work_dir / "summary.csv", summary_parts(plan, accumulator))
    }
    if plan.config.output.format == "parquet":
        trajectories = trajectories_frame(plan, accumulator)
        path = atomic_write(
            work_dir / "trajectories.parquet", partial(trajectories.to_parquet, index=False)
        )
        outputs["trajectories.parquet"] = (path, len(trajectories))
    else:
        parts = list(trajectories_parts(plan, accumulator))
        names = list(dict.fromkeys(name for part in parts for name in part))
        outputs["trajectories.csv"] = _write_csv(work_dir / "trajectories.csv", parts, names)
    targets = list(targets_parts(plan))
    if targets:
        outputs["targets.csv"] = _write_csv(work_dir / "targets.csv", targets)
    return outputs


def _write_csv(path: Path, parts: Iterable[dict[str, object]], names=None) -> tuple[Path, int]:
    with atomic_path(path) as tmp:
        rows = write_csv(tmp, parts, names)
    return path, rows
