"""What a run keeps and the tables it writes: running statistics and sample
paths folded in task order (:class:`Accumulator`), and ``summary.csv`` and
``trajectories.csv`` made from them (the data contracts in the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.recorder import BatchRecord, derived_quantities
from ..engine.simulate import readout_columns
from ..engine.statistics import RunningStats
from .csv_writer import write_csv
from .plan import RunPlan, Task
from .rundir import atomic_write

__all__ = ["Accumulator", "summary_frame", "trajectories_frame", "write_tables"]


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
                self.stats[key] = (
                    self.stats[key].merge(block) if key in self.stats else block.copy()
                )
        for (condition, quantity), values in record.paths.items():
            self.paths.setdefault((task.point, condition, quantity), []).append(values)
        if record.path_seeds:
            self.path_seeds.setdefault(task.point, []).extend(record.path_seeds)
        self.next_task += 1


def summary_frame(plan: RunPlan, accumulator: Accumulator) -> pd.DataFrame:
    """summary.csv: one row per (point, condition, quantity, t, unit)."""
    frames = []
    for point in plan.points:
        steps = np.asarray(point.record.steps)
        for condition in point.output_order:
            quantities = list(point.record.quantities)
            if point.record.derived:
                quantities += list(
                    derived_quantities(
                        point.conditions[condition], is_baseline=condition == point.baseline
                    )
                )
            for quantity in quantities:
                stats = accumulator.stats.get((point.index, condition, quantity))
                if stats is None:
                    continue
                table = stats.table()
                n_units = table["mean"].shape[1]
                if quantity in ("div_c", "div_h"):
                    units = np.array([-1])
                elif quantity == "y":
                    units = np.arange(n_units)
                else:
                    units = np.asarray(point.record.units)
                columns = {
                    name: np.full(steps.size * n_units, value)
                    for name, value in point.columns.items()
                }
                columns.update(
                    condition=np.full(steps.size * n_units, condition),
                    quantity=np.full(steps.size * n_units, quantity),
                    t=np.repeat(steps, n_units),
                    unit=np.tile(units, steps.size),
                )
                columns.update({name: values.ravel() for name, values in table.items()})
                frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)


def trajectories_frame(plan: RunPlan, accumulator: Accumulator) -> pd.DataFrame:
    """trajectories.csv: the sample paths, one row per (point, condition, seed, t, unit).

    With ``record.initial_state`` the rows ``t = -1`` hold the initial ``c``
    and ``h`` (the other quantities are empty there).
    """
    frames = []
    for point in plan.points:
        seeds = np.asarray(accumulator.path_seeds.get(point.index, []))
        if seeds.size == 0:
            continue
        record = point.record
        steps, units = np.asarray(record.steps), np.asarray(record.units)
        if record.initial_state:
            steps = np.concatenate([[-1], steps])
        seed_grid, t_grid, unit_grid = np.meshgrid(seeds, steps, units, indexing="ij")
        for condition in point.output_order:
            columns = {
                name: np.full(seed_grid.size, value) for name, value in point.columns.items()
            }
            columns.update(
                condition=np.full(seed_grid.size, condition),
                seed=seed_grid.ravel(),
                t=t_grid.ravel(),
                unit=unit_grid.ravel(),
            )
            for quantity in record.quantities:
                values = np.concatenate(
                    accumulator.paths[(point.index, condition, quantity)], axis=2
                )
                values = values.transpose(2, 0, 1)  # (seed, t, width)
                if record.initial_state:
                    initial = np.full((seeds.size, 1, values.shape[2]), np.nan)
                    if quantity in ("c", "h"):
                        initial[:] = point.initial_state[quantity][units]
                    values = np.concatenate([initial, values], axis=1)
                if quantity != "y":
                    columns[quantity] = values.ravel()
                else:
                    columns.update(readout_columns(values, units.size))
            frames.append(pd.DataFrame(columns))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def write_tables(
    work_dir: Path, plan: RunPlan, accumulator: Accumulator
) -> dict[str, tuple[Path, int]]:
    """Write summary.csv and the trajectories (CSV, or Parquet with
    ``output.format: parquet``); ``{file name: (path, rows)}``."""
    outputs: dict[str, tuple[Path, int]] = {}
    summary = summary_frame(plan, accumulator)
    path = atomic_write(work_dir / "summary.csv", lambda tmp: write_csv(summary, tmp))
    outputs["summary.csv"] = (path, len(summary))
    trajectories = trajectories_frame(plan, accumulator)
    if plan.config.output.format == "parquet":
        name = "trajectories.parquet"
        write = lambda tmp: trajectories.to_parquet(tmp, index=False)  # noqa: E731
    else:
        name = "trajectories.csv"
        write = lambda tmp: write_csv(trajectories, tmp)  # noqa: E731
    path = atomic_write(work_dir / name, write)
    outputs[name] = (path, len(trajectories))
    return outputs
