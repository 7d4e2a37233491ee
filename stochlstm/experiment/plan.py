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

A sweep's points are made when asked for (:class:`~stochlstm.experiment.sweep.SweepPoints`);
their weights, inputs and conditions are built once per distinct value of
the keys they come from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.conditions import Condition
from ..core.weights import LSTMWeights
from ..engine.recorder import BatchRecorder, RecordPlan
from ..engine.statistics import SEED_BLOCK
from ..engine.threads import usable_cores
from .fields import seed_range
from .inputs import InputError, make_inputs
from .memory import MemoryEstimate, memory_plan
from .problems import ConfigError, Problem, Source
from .schema import ExperimentConfig
from .sweep import sweep_columns, sweep_points
from .targets import TargetError, build_targets, make_targets
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
    shared_targets: np.ndarray | None = None  # (n, W); None without targets or per seed
    targets_spec: Any = None  # for targets of inputs drawn per seed

    def inputs(self, seeds: Sequence[int]) -> np.ndarray:
        """The inputs of ``seeds``: the shared ``(T, X)``, or ``(T, B, X)``."""
        if self.shared_inputs is not None:
            return self.shared_inputs
        spec, input_size = self.inputs_spec, self.weights.input_size
        return make_inputs(spec, input_size=input_size, seeds=seeds)

    def targets(self, seeds: Sequence[int]) -> np.ndarray | None:
        """The targets of ``seeds`` (:mod:`~stochlstm.experiment.targets`): the
        shared ``(n, W)``, or ``(n, B, W)``; None without targets."""
        if self.record.loss is None or self.shared_targets is not None:
            return self.shared_targets
        inputs = self.inputs(seeds)
        spec = self.targets_spec
        return make_targets(spec, inputs_spec=self.inputs_spec, inputs=inputs, seeds=seeds)

    def recorder(self, seeds: Sequence[int]) -> BatchRecorder:
        """The recorder of ``seeds`` of this point, the kernel's consumer."""
        weights = self.weights
        return BatchRecorder(
            self.record,
            self.conditions,
            seeds,
            weights.hidden_size,
            weights.output_size,
            baseline=self.baseline,
            targets=self.targets(seeds),
        )


@dataclass(frozen=True)
class Task:
    point: int
    batch: int
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class RunPlan:
    """The run: its resolved config, sweep points, tasks, and what the
    analysis of its tables reads (the baseline, the sweep columns).
    ``memory`` is the estimate the batch size was chosen from; ``input_files``
    the weights and input files the points read."""

    config: ExperimentConfig
    points: Sequence[PointSpec]
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    batch_size: int
    memory: MemoryEstimate | None = None
    input_files: tuple[Path, ...] = ()

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
            layers = point.weights.num_layers
            layers = f" x {layers} layers" if layers > 1 else ""
            lines.append(
                f"  point {point.index}: {label}; hidden {point.weights.hidden_size}{layers}, "
                f"{point.n_steps} steps, conditions: {', '.join(point.output_order)}; "
                f"{batches} task(s)"
            )
        return "\n".join(lines)


def _record_plan(config: ExperimentConfig, n_steps: int, loss=None) -> RecordPlan:
    steps = sorted(set(range(0, n_steps, config.record.every)) | {n_steps - 1})
    return RecordPlan(
        quantities=tuple(config.recorded_quantities()),
        steps=tuple(steps),
        units=tuple(config.recorded_units()),
        path_seeds=tuple(config.recorded_seeds()),
        derived=tuple(config.recorded_derived()),
        initial_state=config.record.initial_state,
        loss=loss,
        layer=config.recorded_layer(),
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
            except (WeightsError, InputError, TargetError, OSError) as error:
                self.built[key] = None
                self._report(config, error)
        return self.built[key]

    def _report(self, config: ExperimentConfig, error: Exception) -> None:
        if isinstance(error, WeightsError):
            given = config.model.weights.model_dump(exclude_none=True)
            field = (
                error.field.replace("[", ".").replace("]", "").split(".")
            )  # keys.lstm, ignore[0]
            known = field[0] in given
            parts = ("model", "weights", *(int(p) if p.isdigit() else p for p in field))
            parts = parts if known else ("model", "weights")
            message = error.detail if known else str(error)
        elif isinstance(error, InputError):
            parts, message = ("inputs", error.field), error.detail
        elif isinstance(error, TargetError):
            parts, message = ("targets", error.field), error.detail
        else:
            parts, message = (), f"{type(error).__name__}: {error}"
        problem = config._source.problem(parts, message)
        key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
        if key not in self.seen:
            self.seen.add(key)
            self.problems.append(problem)


# The parts of a point, each from the top-level keys of the config it reads:
# built once per distinct value of those keys (see SweepPoints.variants).
_MODEL_KEYS = ("model", "inputs", "targets", "seeds", "initial_state", "record")
_CONDITION_KEYS = ("conditions", "baseline")


@dataclass(frozen=True)
class _ModelPart:
    weights: LSTMWeights
    shared_inputs: np.ndarray | None
    inputs_spec: Any
    initial_state: dict[str, np.ndarray]
    record: RecordPlan
    n_steps: int
    shared_targets: np.ndarray | None
    targets_spec: Any


@dataclass(frozen=True)
class _ConditionPart:
    conditions: dict[str, Condition]  # baseline first
    output_order: tuple[str, ...]
    baseline: str


def _model_part(config: ExperimentConfig, builder: _Builder) -> _ModelPart | None:
    model, seeds = config.model, list(seed_range(config.seeds)[:1])
    shape = model.model_dump(include={"input_size", "hidden_size", "num_layers", "output_size"})
    weights = builder.get(
        config,
        ("weights", model.weights.model_dump_json(), model.readout.kind, *shape.values()),
        lambda: build_weights(model.weights, readout_kind=model.readout.kind, **shape),
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
    built = builder.get(
        config,
        ("targets", config.model_dump_json(include={"targets", "inputs", "model", "record"})),
        lambda: build_targets(config, inputs, seeds[:1]),
    )
    if built is None:
        return None
    targets, loss = built
    targets_per_seed = targets is not None and targets.ndim == 3
    return _ModelPart(
        weights=weights,
        shared_inputs=None if per_seed else inputs,
        inputs_spec=config.inputs if per_seed else None,
        initial_state=config.build_initial_state(),
        record=_record_plan(config, inputs.shape[0], loss),
        n_steps=inputs.shape[0],
        shared_targets=None if targets_per_seed else targets,
        targets_spec=config.targets if targets_per_seed else None,
    )


def _layer_problems(model: ExperimentConfig, conditions: ExperimentConfig) -> list[Problem]:
    """The layers named (``record.layer``, a condition's ``layers``) that the
    model (``model.num_layers``) of ``model`` does not have; checked for every
    model and conditions a sweep combines."""
    n_layers = model.model.num_layers
    layers = f"layers 0..{n_layers - 1}" if n_layers > 1 else "layer 0 only"
    have = f"model.num_layers is {n_layers} ({layers})"
    found = []
    if model.recorded_layer() >= n_layers:
        message = f"layer {model.recorded_layer()} does not exist: {have}"
        found.append(model._source.problem(("record", "layer"), message))
    for name, spec in conditions.conditions.items():
        for index, layer in enumerate(spec.layers or ()):
            if layer >= n_layers:
                message = f"layer {layer} does not exist: {have}"
                found.append(
                    conditions._source.problem(("conditions", name, "layers", index), message)
                )
    return found


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
            shared_targets=model.shared_targets,
            targets_spec=model.targets_spec,
        )


def _variants(sweep, keys: Sequence[str]) -> tuple[list[ExperimentConfig], np.ndarray]:
    """The distinct configs of ``sweep`` as far as ``keys`` go, and each point's."""
    if hasattr(sweep, "variants"):
        return sweep.variants(keys)
    return [config for _, config in sweep], np.arange(len(sweep))


def _variant_values(sweep, key: str) -> tuple[list, np.ndarray]:
    configs, of_point = _variants(sweep, (key,))
    return [getattr(c, key) for c in configs], of_point


def plan_run(config: ExperimentConfig) -> RunPlan:
    """The points and tasks of a validated experiment config; raises
    :class:`~stochlstm.experiment.load.ConfigError` for what cannot be built
    or what would not fit ``execution.memory_budget_mb`` (checked before
    anything big is built)."""
    if config.inputs is None:  # a file that only trains (stochlstm.experiment.train_schema)
        source = config._source or Source()
        message = "no inputs to simulate: this file trains models, run it with stochlstm train"
        raise ConfigError([source.problem(("inputs",), message)])
    sweep = sweep_points(config)
    model_configs, model_of = _variants(sweep, _MODEL_KEYS)
    condition_configs, condition_of = _variants(sweep, _CONDITION_KEYS)
    layer_problems = [
        problem
        for model_config in model_configs
        for conditions_config in condition_configs
        for problem in _layer_problems(model_config, conditions_config)
    ]
    if layer_problems:
        raise ConfigError(list(dict.fromkeys(layer_problems)))
    memory, batch_size = memory_plan(
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
    files = {
        Path(spec.file)
        for c in model_configs
        for spec in (c.model.weights, c.inputs, c.targets)
        if getattr(spec, "file", None) is not None
    }
    return RunPlan(config, points, tasks, seeds, batch_size, memory, tuple(sorted(files)))


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
    plan: RunPlan | None = None,
) -> str:
    """Where the tasks would run, and on how many threads (one line); given
    the ``plan``, a second line when it has fewer tasks than worker processes
    (some would idle), saying what to change."""
    jobs, threads = execution(config, jobs, threads, executor)
    if in_process(jobs, executor):
        where = "in this process"
        workers = "worker processes"
    elif executor in (None, "processes"):
        where = f"in {jobs} worker processes"
        workers = "worker processes"
    else:
        where = f"on {jobs} Dask workers ({executor})"
        workers = "Dask workers"
    line = f"  execution: {where}, {threads} thread(s) each running groups of seeds"
    if plan is None or in_process(jobs, executor) or len(plan.tasks) >= jobs:
        return line
    return f"{line}\n  note: {_idle_advice(plan, jobs, workers)}"


def _idle_advice(plan: RunPlan, jobs: int, workers: str) -> str:
    """What to change when ``plan`` has fewer tasks than ``jobs`` workers."""
    n_tasks, n_points, n_seeds = len(plan.tasks), max(1, len(plan.points)), len(plan.seeds)
    idle = jobs - n_tasks
    text = (
        f"{n_tasks} task(s) for {jobs} {workers}: {idle} would idle. "
        "Run in one process (--jobs 1): its threads share every core within a task"
    )
    batches = -(-jobs // n_points)  # batches per point for a task per worker
    batch_size = -(-n_seeds // (batches * SEED_BLOCK)) * SEED_BLOCK
    if batch_size < n_seeds:
        text += (
            f"; or split the seeds into {batches} tasks per point with "
            f"--set execution.batch_size={batch_size}"
        )
    return text
