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

Before building anything, the plan estimates the memory of every phase from
the config alone (weights, inputs, the per-cell statistics and sample paths
held for the whole run, the seeds in flight, writing the tables), chooses the
batch so that it fits ``execution.memory_budget_mb`` beside what the run
holds, and refuses a run that cannot fit with one line naming its largest
part and what to shrink.

A sweep's points are made when asked for (:class:`~stochlstm.experiment.load.SweepPoints`);
their weights, inputs and conditions are built once per distinct value of
the keys they come from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.conditions import Condition
from ..core.weights import LSTMWeights
from ..engine.kernel import noise_block_steps
from ..engine.recorder import RecordPlan, derived_quantities
from ..engine.statistics import SEED_BLOCK
from ..engine.threads import usable_cores
from .fields import seed_range
from .inputs import InputError, make_inputs
from .load import sweep_columns, sweep_points
from .problems import ConfigError, Problem, Source
from .schema import ExperimentConfig
from .weight_files import WeightsError, build_weights

__all__ = ["MemoryEstimate", "PointSpec", "RunPlan", "Task", "execution", "plan_run"]


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
    analysis of its tables reads (the baseline, the sweep columns).
    ``memory`` is the estimate the batch size was chosen from."""

    config: ExperimentConfig
    points: Sequence[PointSpec]
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    batch_size: int
    memory: MemoryEstimate | None = None

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

    def describe(self, shown: int = 3) -> str:
        """A human summary of the planned work: every point of a small sweep,
        the first and last ``shown`` of a large one."""
        n_points, batches = len(self.points), len(self.tasks) // max(len(self.points), 1)
        lines = [
            f"experiment {self.name}: {n_points} sweep point(s) x {len(self.seeds)} seeds "
            f"= {len(self.tasks)} task(s) of up to {self.batch_size} seeds"
        ]
        if self.memory is not None:
            lines.append(f"  memory: {self.memory.describe()}")
        chosen = range(n_points)
        if n_points > 2 * shown + 1:
            chosen = [*range(shown), None, *range(n_points - shown, n_points)]
        for index in chosen:
            if index is None:
                lines.append(f"  ... {n_points - 2 * shown} more point(s) ...")
                continue
            point = self.points[index]
            label = ", ".join(f"{k}={v}" for k, v in point.columns.items()) or "(no sweep)"
            lines.append(
                f"  point {point.index}: {label}; hidden {point.weights.hidden_size}, "
                f"{point.n_steps} steps, conditions: {', '.join(point.output_order)}; "
                f"{batches} task(s)"
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


# The parts of a point, each from the top-level keys of the config it reads:
# built once per distinct value of those keys (see SweepPoints.variants).
_MODEL_KEYS = ("model", "inputs", "seeds", "initial_state", "record")
_CONDITION_KEYS = ("conditions", "baseline")


@dataclass(frozen=True)
class _ModelPart:
    weights: LSTMWeights
    shared_inputs: np.ndarray | None
    inputs_spec: Any
    initial_state: dict[str, np.ndarray]
    record: RecordPlan
    n_steps: int


@dataclass(frozen=True)
class _ConditionPart:
    conditions: dict[str, Condition]  # baseline first
    output_order: tuple[str, ...]
    baseline: str


def _model_part(config: ExperimentConfig, builder: _Builder) -> _ModelPart | None:
    model, seeds = config.model, list(seed_range(config.seeds)[:1])
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
    return _ModelPart(
        weights=weights,
        shared_inputs=None if per_seed else inputs,
        inputs_spec=config.inputs if per_seed else None,
        initial_state=config.build_initial_state(),
        record=_record_plan(config, inputs.shape[0]),
        n_steps=inputs.shape[0],
    )


def _condition_part(config: ExperimentConfig) -> _ConditionPart:
    conditions, baseline = config.build_conditions(), config.baseline
    return _ConditionPart(
        conditions={baseline: conditions[baseline], **conditions},
        output_order=tuple(conditions),
        baseline=baseline,
    )


class _Points(Sequence):
    """The :class:`PointSpec` of every sweep point, made when asked for from
    the parts built once per variant."""

    def __init__(self, sweep, model_parts, model_of, condition_parts, condition_of):
        self.sweep = sweep
        self.model_parts, self.model_of = model_parts, model_of
        self.condition_parts, self.condition_of = condition_parts, condition_of
        self.root_seeds, self.root_seed_of = _variant_values(sweep, "root_seed")
        self.dtypes, self.dtype_of = _variant_values(sweep, "dtype")

    def __len__(self) -> int:
        return len(self.sweep)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"point {index} out of range ({len(self)} points)")
        model = self.model_parts[self.model_of[index]]
        conditions = self.condition_parts[self.condition_of[index]]
        columns = self.sweep.columns(index) if hasattr(self.sweep, "columns") else {}
        return PointSpec(
            index=index,
            columns=columns,
            weights=model.weights,
            conditions=conditions.conditions,
            output_order=conditions.output_order,
            baseline=conditions.baseline,
            shared_inputs=model.shared_inputs,
            inputs_spec=model.inputs_spec,
            initial_state=model.initial_state,
            record=model.record,
            root_seed=self.root_seeds[self.root_seed_of[index]],
            dtype=self.dtypes[self.dtype_of[index]],
            n_steps=model.n_steps,
        )


def _variants(sweep, keys: Sequence[str]) -> tuple[list[ExperimentConfig], np.ndarray]:
    """The distinct configs of ``sweep`` as far as ``keys`` go, and each point's."""
    if hasattr(sweep, "variants"):
        return sweep.variants(keys)
    return [config for _, config in sweep], np.arange(len(sweep))


def _variant_values(sweep, key: str) -> tuple[list, np.ndarray]:
    configs, of_point = _variants(sweep, (key,))
    return [getattr(c, key) for c in configs], of_point


# --------------------------------------------------------------------------- memory
#
# Estimated from the config alone, before weights, inputs or anything big is
# built. A run holds for its whole length the running statistics and sample
# paths of every point (see tables.Accumulator), and, at the end, the tables
# being written; the batch of seeds in flight gets what the budget leaves.

_FLOAT = 8  # bytes of a float64
# summary columns besides the sweep's: condition, quantity, t, unit, n, mean,
# sd, se, ci_low, ci_high, min, max
_SUMMARY_COLUMNS = 12
# Writing the tables (measured with tracemalloc): summary.csv is formatted one
# (condition, quantity) part at a time, about 4 copies of a part's values; the
# trajectories' columns are held whole once (three times for Parquet, through
# a pandas frame and an Arrow table).
_SUMMARY_PART_COPIES = 4
# A seed in the plan: a Python int in the run's list and in its task's tuple.
_SEED_LIST_BYTES = 2 * 8 + 32
_TRAJECTORY_COPIES = {"csv": 1, "parquet": 3}
_KERNEL_ROWS = 24  # (H, B) work arrays of the kernel, per condition
_STEP_ROWS = 12  # (H, B) arrays of one step handed to the recorder, per condition


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


def count_steps(config: ExperimentConfig) -> int:
    """The number of steps of the inputs, without making them (a CSV file's
    lines bound its rows)."""
    inputs = config.inputs
    if hasattr(inputs, "steps"):
        return int(inputs.steps)
    if inputs.kind == "sequence":
        return len(inputs.values)
    if inputs.stop is not None:
        return inputs.stop - (inputs.start or 0)
    try:
        with open(inputs.file, "rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 1  # reported when the inputs are built
    return max(1, lines - (inputs.start or 0))


def weights_bytes(config: ExperimentConfig) -> int:
    """The weights: ``weight_ih (4H, X)``, ``weight_hh (4H, H)``, two biases
    and the readout, in float64, and the kernel's reordered copy."""
    model = config.model
    hidden, inputs, outputs = model.hidden_size, model.input_size, model.output_size
    values = 4 * hidden * (inputs + hidden + 2) + outputs * (hidden + 1)
    return 2 * values * _FLOAT


def inputs_bytes(config: ExperimentConfig, n_steps: int) -> int:
    """The inputs shared by every seed ``(T, X)`` and their projection
    ``(T, 4H)``; none when they are drawn per seed (see :func:`seed_bytes`)."""
    if getattr(config.inputs, "per_seed", False):
        return 0
    model = config.model
    return n_steps * (model.input_size + 4 * model.hidden_size) * _FLOAT


def recorded_cells(config: ExperimentConfig, conditions: ExperimentConfig, n_steps: int):
    """``(cells, conditions, quantities, steps, units)`` of the per-cell
    statistics of one point whose record and model are ``config``'s and
    conditions ``conditions``'s: a cell is (condition, quantity incl.
    derived, recorded step, unit)."""
    steps = len(set(range(0, n_steps, config.record.every)) | {n_steps - 1})
    units = len(config.recorded_units())
    derived = set(config.recorded_derived())
    own = len(config.recorded_quantities())
    per_condition = [
        own + len(derived.intersection(derived_quantities(c, name == conditions.baseline)))
        for name, c in conditions.build_conditions().items()
    ]
    return sum(per_condition) * steps * units, len(per_condition), max(per_condition), steps, units


def statistics_bytes(cells: int) -> int:
    """The run-long statistics of a point: four float64 arrays (mean, m2, min,
    max) per cell, held for the whole run."""
    return cells * 4 * _FLOAT


def paths_bytes(config: ExperimentConfig, n_conditions: int, n_steps: int) -> int:
    """The sample paths of a point, held for the whole run."""
    steps = len(set(range(0, n_steps, config.record.every)) | {n_steps - 1})
    per_seed = steps * len(config.recorded_units()) * len(config.recorded_quantities())
    return len(config.recorded_seeds()) * n_conditions * per_seed * _FLOAT


def tables_bytes(config: ExperimentConfig, n_conditions: int, cells: int, n_steps: int) -> int:
    """Writing summary and trajectories: a part of the summary (one condition
    and quantity: steps x units rows) at a time, the trajectories whole."""
    sweep = len(config.sweep or ())
    steps = len(set(range(0, n_steps, config.record.every)) | {n_steps - 1})
    units = len(config.recorded_units())
    summary_part = steps * max(units, config.model.output_size, 1) * (_SUMMARY_COLUMNS + sweep)
    path_rows = len(config.recorded_seeds()) * n_conditions * steps * units
    trajectories = path_rows * (4 + sweep + len(config.recorded_quantities()))
    copies = _TRAJECTORY_COPIES.get(config.output.format, 3)
    return (summary_part * _SUMMARY_PART_COPIES + trajectories * copies) * _FLOAT


def seed_bytes(
    config: ExperimentConfig, conditions: ExperimentConfig, n_steps: int, cells: int, batch: int
) -> int:
    """Memory one seed of a batch of ``batch`` costs: kernel buffers, its share
    of a block of uniforms, the step's values handed to the recorder, the
    baseline's states kept for the other conditions, per-seed inputs, and its
    share of the batch's block statistics (per :data:`SEED_BLOCK` seeds, with
    the copy folded into the run's statistics)."""
    model = config.model
    hidden, itemsize = model.hidden_size, np.dtype(config.dtype).itemsize
    conditions = conditions.build_conditions()
    streams = {s for c in conditions.values() for s in c.noise_streams}
    block_steps = noise_block_steps(len(streams), hidden, batch, n_steps)
    noise = len(streams) * block_steps * hidden * (_FLOAT + itemsize)
    kernel = len(conditions) * _KERNEL_ROWS * hidden * itemsize
    step = len(conditions) * _STEP_ROWS * hidden * _FLOAT
    # the baseline's c and h over a block of steps, kept until the other conditions used them
    baseline_states = 2 * block_steps * hidden * _FLOAT if len(conditions) > 1 else 0
    inputs = 0
    if getattr(config.inputs, "per_seed", False):
        inputs = n_steps * model.input_size * (_FLOAT + itemsize)
    block_statistics = 2 * statistics_bytes(cells) // SEED_BLOCK
    return noise + kernel + step + baseline_states + inputs + block_statistics + 1


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part: ``run_long`` holds the parts kept for the
    whole run (weights, shared inputs, per-cell statistics, sample paths,
    tables being written); ``batch`` the seeds in flight."""

    parts: dict[str, int]  # run-long parts
    batch: int
    budget: int
    statistics_shape: str  # "8 conditions x 12 quantities x ..."

    @property
    def run_long(self) -> int:
        return sum(self.parts.values())

    @property
    def peak(self) -> int:
        """The larger phase: simulating (the held parts and the batch), or
        writing the tables (the held parts and the tables)."""
        held = self.run_long - self.parts.get("table writing", 0)
        return held + max(self.batch, self.parts.get("table writing", 0))

    def describe(self) -> str:
        parts = ", ".join(f"{name} {_mb(b)}" for name, b in self.parts.items() if b)
        return (
            f"about {_mb(self.peak)} at the peak, of {_mb(self.budget)} "
            f"({parts}, batch {_mb(self.batch)})"
        )


_ADVICE = {
    "per-cell statistics": (
        "record fewer steps (record.every), units, derived quantities or conditions"
    ),
    "sample paths": "record fewer sample paths (record.seeds), steps, units or quantities",
    "table writing": "record fewer steps (record.every), units or sample paths",
    "seed list": "run fewer seeds (split them over several runs)",
    "weights": "use a smaller model (hidden_size, input_size)",
    "inputs": "use fewer steps or a smaller model",
    "seeds in flight": (
        "record fewer steps (record.every), units or derived quantities, "
        "or use a smaller model or fewer conditions"
    ),
}


def _memory_plan(
    config: ExperimentConfig,
    model_configs: Sequence[ExperimentConfig],
    model_of: np.ndarray,
    condition_configs: Sequence[ExperimentConfig],
    condition_of: np.ndarray,
    n_seeds: int,
) -> tuple[MemoryEstimate, int]:
    """The memory estimate of the run and its batch size; a ConfigError at
    ``execution.memory_budget_mb`` when it cannot fit."""
    budget = config.execution.memory_budget_mb * 2**20
    steps = [count_steps(c) for c in model_configs]
    weights = sum(weights_bytes(c) for c in model_configs)
    inputs = sum(inputs_bytes(c, t) for c, t in zip(model_configs, steps, strict=True))
    # the statistics' shape depends on the record, sizes and steps of the
    # point's model variant and on its conditions: count the points of each
    distinct: dict[tuple, int] = {}
    record_of = np.asarray(
        [
            distinct.setdefault(
                (
                    c.record.model_dump_json(),
                    c.model.model_dump_json(include={"input_size", "hidden_size", "output_size"}),
                    bool(getattr(c.inputs, "per_seed", False)),
                    t,
                ),
                len(distinct),
            )
            for c, t in zip(model_configs, steps, strict=True)
        ]
    )
    first_model = {r: m for m, r in reversed(list(enumerate(record_of.tolist())))}
    n_conditions = len(condition_configs)
    shapes, counts = np.unique(
        record_of[np.asarray(model_of)] * n_conditions + np.asarray(condition_of),
        return_counts=True,
    )
    statistics = paths = tables = 0
    largest_cells, shape, per_seed = 0, "", 1
    for key, count in zip(shapes.tolist(), counts.tolist(), strict=True):
        record, c = divmod(key, n_conditions)
        m = first_model[record]
        point, conditions = model_configs[m], condition_configs[c]
        cells, width, quantities, n_recorded, units = recorded_cells(point, conditions, steps[m])
        statistics += count * statistics_bytes(cells)
        paths += count * paths_bytes(point, width, steps[m])
        tables += count * tables_bytes(point, width, cells, steps[m])
        per_seed = max(per_seed, seed_bytes(point, conditions, steps[m], cells, SEED_BLOCK))
        if cells > largest_cells:
            largest_cells = cells
            shape = (
                f"{width} conditions x {quantities} quantities x {n_recorded} steps x {units} units"
            )
    parts = {
        "weights": weights,
        "inputs": inputs,
        "per-cell statistics": statistics,
        "sample paths": paths,
        "table writing": tables,
        "seed list": n_seeds * _SEED_LIST_BYTES,
    }
    held = weights + inputs + statistics + paths + parts["seed list"]
    jobs = config.execution.jobs
    room = budget - held
    requested = config.execution.batch_size
    if requested == "auto":
        blocks = max(1, room // max(1, per_seed * SEED_BLOCK * jobs))
    else:
        blocks = max(1, -(-requested // SEED_BLOCK))
    batch_size = min(blocks * SEED_BLOCK, -(-n_seeds // SEED_BLOCK) * SEED_BLOCK)
    # as many batches as needed, of even sizes (4,000 seeds: 2 x 2,048, not 2,304 + 1,696),
    # so that each splits into as many groups of seeds for the threads
    n_batches = -(-n_seeds // batch_size)
    batch_size = -(-n_seeds // (n_batches * SEED_BLOCK)) * SEED_BLOCK
    in_flight = per_seed * batch_size * jobs
    estimate = MemoryEstimate(parts, in_flight, budget, shape)
    need = estimate.peak
    if need > budget:
        phase = {**parts, "seeds in flight": in_flight}
        biggest = max(phase, key=phase.get)
        detail = {
            "per-cell statistics": f": {shape} x 4 float64 per point",
            "table writing": ": the rows of trajectories.csv, held whole while written",
            "seeds in flight": (
                f": {batch_size} seeds at once, with block statistics of {shape} "
                "x 4 float64 per 256 seeds"
            ),
        }.get(biggest, "")
        message = (
            f"the run needs about {need / 2**20:,.0f} MB "
            f"({biggest} {phase[biggest] / 2**20:,.0f} MB{detail}); "
            f"{_ADVICE[biggest]}, or raise memory_budget_mb"
        )
        source = config._source or Source()
        raise ConfigError([source.problem(("execution", "memory_budget_mb"), message)])
    return estimate, batch_size


def plan_run(config: ExperimentConfig) -> RunPlan:
    """The points and tasks of a validated experiment config; raises
    :class:`~stochlstm.experiment.load.ConfigError` for what cannot be built
    or what would not fit ``execution.memory_budget_mb`` (checked before
    anything big is built)."""
    sweep = sweep_points(config)
    model_configs, model_of = _variants(sweep, _MODEL_KEYS)
    condition_configs, condition_of = _variants(sweep, _CONDITION_KEYS)
    memory, batch_size = _memory_plan(
        config,
        model_configs,
        model_of,
        condition_configs,
        condition_of,
        len(seed_range(config.seeds)),
    )
    seeds = tuple(config.seed_list())
    builder = _Builder()
    model_parts = [_model_part(c, builder) for c in model_configs]
    if builder.problems:
        raise ConfigError(builder.problems)
    condition_parts = [_condition_part(c) for c in condition_configs]
    points = _Points(sweep, model_parts, model_of, condition_parts, condition_of)
    batches = [seeds[start : start + batch_size] for start in range(0, len(seeds), batch_size)]
    tasks = tuple(
        Task(index, b, batch) for index in range(len(points)) for b, batch in enumerate(batches)
    )
    return RunPlan(config, points, tasks, seeds, batch_size, memory)


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
