"""The plan of a run: what it simulates, in which tasks, on what.

:func:`plan_run` builds once what every task reads (each sweep point's
weights, inputs, initial state, conditions with the baseline first, and what
to record) and reports what cannot be built (a weights file of the wrong
shape, a CSV column that is not numbers) as a
:class:`~stochlstm.experiment.load.ConfigError`, with the line of the key it
came from. Identical weights or inputs of several sweep points are built once.

Tasks are (sweep point, batch of seeds). Batches are whole blocks of
:data:`~stochlstm.engine.statistics.SEED_BLOCK` seeds and their size comes
from the experiment file only, so the plan, and every number the run writes,
is the same whatever ``--jobs``, threads or executor runs the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.conditions import Condition
from ..core.weights import LSTMWeights
from ..engine.kernel import NOISE_BLOCK_MIN_STEPS
from ..engine.recorder import RecordPlan
from ..engine.statistics import SEED_BLOCK
from ..engine.threads import usable_cores
from .inputs import InputError, make_inputs
from .load import sweep_columns, sweep_points
from .problems import ConfigError, Problem
from .schema import ExperimentConfig
from .weight_files import WeightsError, build_weights

__all__ = ["PointSpec", "RunPlan", "Task", "execution", "plan_run"]


@dataclass(frozen=True)
class PointSpec:
    """Everything a task needs to simulate one sweep point (picklable)."""

    index: int
    columns: dict[str, Any]
    weights: LSTMWeights
    conditions: dict[str, Condition]  # baseline first
    output_order: tuple[str, ...]  # conditions as the file lists them
    baseline: str
    shared_inputs: np.ndarray | None  # (T, X), or None when drawn per seed
    inputs_spec: Any  # for inputs drawn per seed
    initial_state: dict[str, np.ndarray]
    record: RecordPlan
    root_seed: int
    dtype: str
    n_steps: int

    def inputs(self, seeds: Sequence[int]) -> np.ndarray:
        """The inputs of ``seeds``: the shared ``(T, X)``, or ``(T, B, X)``."""
        if self.shared_inputs is not None:
            return self.shared_inputs
        spec, input_size = self.inputs_spec, self.weights.input_size
        return make_inputs(spec, input_size=input_size, seeds=seeds)


@dataclass(frozen=True)
class Task:
    point: int
    batch: int
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class RunPlan:
    """The run: its resolved config, sweep points, tasks, and what the
    analysis of its tables reads (the baseline, the sweep columns)."""

    config: ExperimentConfig
    points: tuple[PointSpec, ...]
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    batch_size: int

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def baseline(self) -> str:
        return self.config.baseline

    @property
    def sweep_columns(self) -> dict[str, str]:
        """``{sweep path: column of the tables}``."""
        return sweep_columns(self.config)

    def describe(self) -> str:
        """A human summary of the planned work."""
        lines = [
            f"experiment {self.name}: {len(self.points)} sweep point(s) x {len(self.seeds)} seeds "
            f"= {len(self.tasks)} task(s) of up to {self.batch_size} seeds"
        ]
        for point in self.points:
            label = ", ".join(f"{k}={v}" for k, v in point.columns.items()) or "(no sweep)"
            point_tasks = sum(1 for t in self.tasks if t.point == point.index)
            lines.append(
                f"  point {point.index}: {label}; hidden {point.weights.hidden_size}, "
                f"{point.n_steps} steps, conditions: {', '.join(point.output_order)}; "
                f"{point_tasks} task(s)"
            )
        return "\n".join(lines)


def _record_plan(config: ExperimentConfig, n_steps: int) -> RecordPlan:
    steps = sorted(set(range(0, n_steps, config.record.every)) | {n_steps - 1})
    return RecordPlan(
        quantities=tuple(config.recorded_quantities()),
        steps=tuple(steps),
        units=tuple(config.recorded_units()),
        path_seeds=tuple(config.recorded_seeds()),
        derived=tuple(config.recorded_derived()),
        initial_state=config.record.initial_state,
    )


class _Builder:
    """Builds the weights and inputs of sweep points, each distinct one once,
    and collects the problems found, pointed at their keys."""

    def __init__(self):
        self.built: dict[tuple, Any] = {}
        self.problems: list[Problem] = []
        self.seen: set[tuple] = set()

    def get(self, config: ExperimentConfig, key: tuple, build: Callable[[], Any]):
        if key not in self.built:
            try:
                self.built[key] = build()
            except (WeightsError, InputError, OSError) as error:
                self.built[key] = None
                self._report(config, error)
        return self.built[key]

    def _report(self, config: ExperimentConfig, error: Exception) -> None:
        if isinstance(error, WeightsError):
            given = config.model.weights.model_dump(exclude_none=True)
            parts = (
                ("model", "weights", error.field) if error.field in given else ("model", "weights")
            )
            message = error.detail if error.field in given else str(error)
        elif isinstance(error, InputError):
            parts, message = ("inputs", error.field), error.detail
        else:
            parts, message = (), f"{type(error).__name__}: {error}"
        problem = config._source.problem(parts, message)
        key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
        if key not in self.seen:
            self.seen.add(key)
            self.problems.append(problem)


def _point(index: int, columns: dict, config: ExperimentConfig, builder: _Builder):
    model, seeds = config.model, config.seed_list()
    sizes = dict(input_size=model.input_size, hidden_size=model.hidden_size)
    weights = builder.get(
        config,
        ("weights", config.model.weights.model_dump_json(), model.output_size, *sizes.values()),
        lambda: build_weights(model.weights, output_size=model.output_size, **sizes),
    )
    per_seed = bool(getattr(config.inputs, "per_seed", False))
    inputs = builder.get(
        config,
        ("inputs", config.inputs.model_dump_json(), model.input_size, per_seed and seeds[0]),
        lambda: np.asarray(
            make_inputs(config.inputs, input_size=model.input_size, seeds=seeds[:1]),
            dtype=np.float64,
        ),
    )
    if weights is None or inputs is None:
        return None
    conditions = config.build_conditions()
    baseline = config.baseline
    return PointSpec(
        index=index,
        columns=dict(columns),
        weights=weights,
        conditions={baseline: conditions[baseline], **conditions},
        output_order=tuple(conditions),
        baseline=baseline,
        shared_inputs=None if per_seed else inputs,
        inputs_spec=config.inputs if per_seed else None,
        initial_state=config.build_initial_state(),
        record=_record_plan(config, inputs.shape[0]),
        root_seed=config.root_seed,
        dtype=config.dtype,
        n_steps=inputs.shape[0],
    )


def _bytes_per_seed(point: PointSpec) -> int:
    """Rough memory one seed of a batch costs: kernel buffers, a block of
    uniforms, recorder state, and its share of the block statistics."""
    hidden = point.weights.hidden_size
    itemsize = np.dtype(point.dtype).itemsize
    n_conditions = len(point.conditions)
    streams = {s for c in point.conditions.values() for s in c.noise_streams}
    noise = len(streams) * min(point.n_steps, NOISE_BLOCK_MIN_STEPS) * hidden * itemsize
    kernel = n_conditions * 24 * hidden * itemsize + noise
    recorder = n_conditions * 3 * hidden * 8
    quantities = len(point.record.quantities) + (4 if point.record.derived else 0)
    cells = n_conditions * quantities * len(point.record.steps) * max(len(point.record.units), 1)
    return kernel + recorder + (cells * 4 * 8) // SEED_BLOCK + 1


def _batch_size(config: ExperimentConfig, points: Sequence[PointSpec], n_seeds: int) -> int:
    requested = config.execution.batch_size
    if requested == "auto":
        budget = config.execution.memory_budget_mb * 2**20 // 2  # half for the kernel
        per_seed = max(_bytes_per_seed(p) for p in points)
        blocks = max(1, budget // (per_seed * SEED_BLOCK))
    else:
        blocks = max(1, -(-requested // SEED_BLOCK))
    return min(blocks * SEED_BLOCK, -(-n_seeds // SEED_BLOCK) * SEED_BLOCK)


def plan_run(config: ExperimentConfig) -> RunPlan:
    """The points and tasks of a validated experiment config; raises
    :class:`~stochlstm.experiment.load.ConfigError` for what cannot be built."""
    builder = _Builder()
    points = [
        _point(k, columns, point, builder)
        for k, (columns, point) in enumerate(sweep_points(config))
    ]
    if builder.problems:
        raise ConfigError(builder.problems)
    seeds = tuple(config.seed_list())
    batch_size = _batch_size(config, points, len(seeds))
    tasks = tuple(
        Task(point.index, b, seeds[start : start + batch_size])
        for point in points
        for b, start in enumerate(range(0, len(seeds), batch_size))
    )
    return RunPlan(config, tuple(points), tasks, seeds, batch_size)


# --------------------------------------------------------------------------- where tasks run


def in_process(jobs: int, executor: str | None) -> bool:
    return jobs <= 1 and executor in (None, "local")


def execution(
    config: ExperimentConfig, jobs: int | None, threads: int | None, executor: str | None
) -> tuple[int, int]:
    """Worker processes and threads per task: the arguments, else the file's
    ``execution``; threads ``auto`` is every usable core for a run in this
    process, and one per worker when processes or Dask run the tasks."""
    jobs = int(jobs if jobs is not None else config.execution.jobs)
    setting = threads or config.execution.threads
    if setting == "auto":
        return jobs, usable_cores() if in_process(jobs, executor) else 1
    return jobs, int(setting)


def describe_execution(
    config: ExperimentConfig,
    jobs: int | None = None,
    threads: int | None = None,
    executor: str | None = None,
) -> str:
    """Where the tasks would run, and on how many threads (one line)."""
    jobs, threads = execution(config, jobs, threads, executor)
    if in_process(jobs, executor):
        where = "in this process"
    elif executor in (None, "processes"):
        where = f"in {jobs} worker processes"
    else:
        where = f"on {jobs} Dask workers ({executor})"
    return f"  execution: {where}, {threads} thread(s) each running groups of seeds"
