"""Running an experiment file into a run directory.

A run is planned as tasks, one per (sweep point, batch of seeds). Batches are
whole blocks of :data:`~stochlstm.stats.SEED_BLOCK` seeds and their size comes
from the experiment file only, so the plan, and every number the run writes,
is the same whatever ``--jobs``, threads or executor runs the tasks. Each task
streams its batch, in groups of seeds on parallel threads
(:mod:`stochlstm.parallel`), through the kernel into block statistics and a
few sample paths (:mod:`stochlstm.recorder`); the results are folded in task order into
running statistics, which are checkpointed so that an interrupted run can be
resumed to the same bits.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import rundir
from .condition import Condition
from .csv_writer import write_csv
from .parallel import check, run_in_threads, seed_groups, usable_cores
from .recorder import BatchRecord, BatchRecorder, RecordPlan, derived_quantities
from .simulate import NOISE_BLOCK_MIN_STEPS, readout_columns, run_kernel
from .stats import SEED_BLOCK, RunningStats
from .weights import LSTMWeights

__all__ = ["RunInterrupted", "RunPlan", "Task", "plan_run", "run_experiment", "run_task"]

CHECKPOINT = ".checkpoint.pkl"
# How often the folded state is saved while running (and always on interruption).
CHECKPOINT_SECONDS = float(os.environ.get("STOCHLSTM_CHECKPOINT_SECONDS", "20"))


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C or SIGTERM); what finished is kept."""


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PointSpec:
    """Everything a task needs to simulate one sweep point (picklable)."""

    index: int
    columns: dict[str, Any]
    weights: LSTMWeights
    conditions: dict[str, Condition]  # baseline first
    output_order: tuple[str, ...]  # conditions as the user listed them
    baseline: str | None
    shared_inputs: np.ndarray | None
    config: Any  # for inputs drawn per seed
    initial_state: dict[str, np.ndarray]
    record: RecordPlan
    root_seed: int
    dtype: str
    n_steps: int


@dataclass(frozen=True)
class Task:
    point: int
    batch: int
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class RunPlan:
    name: str
    points: tuple[PointSpec, ...]
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    batch_size: int

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
                f"{point.n_steps} steps, conditions: {', '.join(point.output_order)}; {point_tasks} task(s)"
            )
        return "\n".join(lines)


def _baseline(config, conditions: dict[str, Condition]) -> tuple[str | None, dict[str, Condition]]:
    """The baseline's name and the conditions with it first; adds a
    ``deterministic`` condition when none of the user's is deterministic."""
    name = getattr(config, "baseline", None)
    if name is None:
        name = next((n for n, c in conditions.items() if c.is_deterministic), None)
    if name is None:
        name = "deterministic"
        conditions = {**conditions, name: Condition()}
    ordered = {name: conditions[name], **{n: c for n, c in conditions.items() if n != name}}
    return name, ordered


def _record_plan(config, n_steps: int) -> RecordPlan:
    record = config.record
    steps = sorted(set(range(0, n_steps, int(record.every))) | {n_steps - 1})
    return RecordPlan(
        quantities=tuple(config.recorded_quantities()),
        steps=tuple(steps),
        units=tuple(config.recorded_units()),
        path_seeds=tuple(config.recorded_seeds()),
        derived=tuple(config.recorded_derived()),
        initial_state=bool(record.initial_state),
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


def _batch_size(config, points: Sequence[PointSpec], n_seeds: int) -> int:
    execution = config.execution
    requested = execution.batch_size
    if requested in (None, "auto"):
        budget = (
            int(execution.memory_budget_mb) * 2**20 // 2
        )  # half for the kernel, half for the rest
        per_seed = max(_bytes_per_seed(p) for p in points)
        blocks = max(1, budget // (per_seed * SEED_BLOCK))
    else:
        blocks = max(1, -(-int(requested) // SEED_BLOCK))
    return min(blocks * SEED_BLOCK, -(-n_seeds // SEED_BLOCK) * SEED_BLOCK)


def _point(index: int, columns: dict[str, Any], config) -> PointSpec:
    seeds = config.seed_list()
    weights = config.build_weights()
    user_conditions = config.build_conditions()
    baseline, conditions = _baseline(config, user_conditions)
    per_seed_inputs = bool(getattr(config.inputs, "per_seed", False))
    shared = None if per_seed_inputs else np.asarray(config.build_inputs(None), dtype=np.float64)
    n_steps = shared.shape[0] if shared is not None else config.build_inputs(seeds[:1]).shape[0]
    initial = config.build_initial_state()
    return PointSpec(
        index=index,
        columns=dict(columns),
        weights=weights,
        conditions=conditions,
        output_order=(*user_conditions, *([] if baseline in user_conditions else [baseline])),
        baseline=baseline,
        shared_inputs=shared,
        config=config if per_seed_inputs else None,
        initial_state={k: np.asarray(v, dtype=np.float64) for k, v in initial.items()},
        record=_record_plan(config, n_steps),
        root_seed=int(config.root_seed),
        dtype=str(config.dtype),
        n_steps=n_steps,
    )


def plan_run(config) -> RunPlan:
    """The points and tasks of a validated experiment config."""
    seeds = tuple(config.seed_list())
    points = tuple(
        _point(k, columns, point_config)
        for k, (columns, point_config) in enumerate(config.sweep_points())
    )
    batch_size = _batch_size(config, points, len(seeds))
    tasks = tuple(
        Task(point.index, b, seeds[start : start + batch_size])
        for point in points
        for b, start in enumerate(range(0, len(seeds), batch_size))
    )
    return RunPlan(config.name, points, tasks, seeds, batch_size)


# ---------------------------------------------------------------- one task


def run_task(point: PointSpec, seeds: Sequence[int], threads: int = 1) -> BatchRecord:
    """Simulate one batch of seeds of one point into its :class:`BatchRecord`,
    in ``threads`` groups of seeds at once (the record does not depend on it)."""
    seeds = list(seeds)
    groups = seed_groups(len(seeds), threads, point.weights.hidden_size)
    return BatchRecord.concat(
        run_in_threads([partial(_run_group, point, seeds[group]) for group in groups], threads)
    )


def _run_group(point: PointSpec, seeds: list[int], cancelled: threading.Event) -> BatchRecord:
    if point.shared_inputs is not None:
        inputs = point.shared_inputs
    else:
        inputs = np.asarray(point.config.build_inputs(seeds), dtype=np.float64)
    recorder = BatchRecorder(
        point.record,
        point.conditions,
        seeds,
        point.weights.hidden_size,
        point.weights.output_size,
        baseline=point.baseline,
    )

    def consume(index: int, t: int, values: dict[str, np.ndarray]) -> None:
        check(cancelled)
        recorder(index, t, values)

    run_kernel(
        point.weights,
        inputs,
        point.conditions,
        seeds,
        consume,
        root_seed=point.root_seed,
        initial_state=point.initial_state,
        dtype=np.dtype(point.dtype),
    )
    return recorder.record


# ---------------------------------------------------------------- folding


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


# ---------------------------------------------------------------- outputs


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


# ---------------------------------------------------------------- executing


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the run is going (main thread only)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_process(jobs: int, executor: str | None) -> bool:
    return jobs <= 1 and executor in (None, "local")


def _jobs_and_threads(
    config, jobs: int | None, threads: int | None, executor: str | None
) -> tuple[int, int]:
    """Worker processes and threads per task: the arguments, else the file's
    ``execution``; threads ``auto`` is every usable core for a run in this
    process, and one per worker when processes or Dask run the tasks."""
    jobs = int(jobs if jobs is not None else config.execution.jobs)
    setting = threads or config.execution.threads
    if setting in (None, "auto"):
        return jobs, usable_cores() if _in_process(jobs, executor) else 1
    return jobs, int(setting)


def execution_summary(
    config, jobs: int | None = None, threads: int | None = None, executor: str | None = None
) -> str:
    """Where the tasks would run, and on how many threads (one line)."""
    jobs, threads = _jobs_and_threads(config, jobs, threads, executor)
    if _in_process(jobs, executor):
        where = "in this process"
    elif executor in (None, "processes"):
        where = f"in {jobs} worker processes"
    else:
        where = f"on {jobs} Dask workers ({executor})"
    return f"  execution: {where}, {threads} thread(s) each running groups of seeds"


def _execute(
    plan: RunPlan, todo: Sequence[Task], jobs: int, threads: int, executor: str | None
) -> Iterator[tuple[Task, BatchRecord]]:
    """Results of ``todo`` in task order, computed locally or in processes."""
    if _in_process(jobs, executor):
        for task in todo:
            yield task, run_task(plan.points[task.point], task.seeds, threads)
        return
    from .executors import make_executor

    with make_executor(executor or "processes", jobs) as pool:
        yield from pool.map_in_order(
            run_task, [(plan.points[t.point], t.seeds, threads) for t in todo], todo
        )


# ---------------------------------------------------------------- the run


@dataclass
class RunOutcome:
    """What :func:`run_experiment` did: where, what status, how long, how many rows."""

    path: Path
    status: str
    manifest: dict[str, Any]
    plan: RunPlan | None = None

    def load(self):
        from .analysis import load_run

        return load_run(self.path)


ProgressCallback = Callable[[int, int, int], None]  # (tasks done, tasks total, seeds done)


def run_experiment(
    experiment: str | os.PathLike,
    *,
    overrides: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    executor: str | None = None,
    resume: bool = False,
    force: bool = False,
    figures: bool | None = None,
    progress: ProgressCallback | None = None,
    command: str | None = None,
) -> RunOutcome:
    """Run an experiment file into ``<out>/<name>/`` and return the outcome.

    Raises :class:`stochlstm.config.ConfigError` for a bad file (nothing is
    written), :class:`~stochlstm.rundir.RunDirectoryError` when the run
    directory holds a run that must not be overwritten (``force=True``
    replaces it once the new run completes; ``resume=True`` finishes an
    interrupted one), and :class:`RunInterrupted` after marking the run
    interrupted on Ctrl-C / SIGTERM.
    """
    from .config import load_experiment

    config = load_experiment(experiment, overrides=list(overrides))
    resolved_yaml = config.to_resolved_yaml()
    out_dir = Path(out if out is not None else config.output.dir)
    target = out_dir / config.name
    jobs, threads = _jobs_and_threads(config, jobs, threads, executor)
    draw = config.output.figures if figures is None else figures

    existing = rundir.read_manifest(target) if target.exists() else None
    work_dir = target
    if target.exists() and any(target.iterdir()):
        if existing is None and not force:
            raise rundir.RunDirectoryError(
                f"{target} exists and is not a stochlstm run directory; refusing to write into it "
                "(choose another --out, or pass --force to replace it)"
            )
        status = existing.get("status") if existing else None
        if resume and status == "complete":
            return RunOutcome(target, "complete", existing)
        if resume:
            stored = (
                (target / "resolved.yaml").read_text(encoding="utf-8")
                if (target / "resolved.yaml").exists()
                else None
            )
            if stored != resolved_yaml:
                raise rundir.RunDirectoryError(
                    f"{target}: the experiment differs from the one this run started with "
                    "(compare resolved.yaml); cannot resume it. Pass --force to start again"
                )
        elif force:
            work_dir = out_dir / f".{config.name}.new-{os.getpid()}"
            if work_dir.exists():
                import shutil

                shutil.rmtree(work_dir)
        elif status == "complete":
            raise rundir.RunDirectoryError(
                f"{target} already holds a complete run (finished {existing.get('finished', '?')}); "
                "pass --force to replace it (the old run stays until the new one completes) "
                "or --out DIR to write elsewhere"
            )
        else:
            raise rundir.RunDirectoryError(
                f"{target} holds a {status} run; pass --resume to finish it or --force to start again"
            )
    elif resume:
        raise rundir.RunDirectoryError(f"{target}: there is no run to resume")

    plan = plan_run(config)
    work_dir.mkdir(parents=True, exist_ok=True)
    accumulator = Accumulator()
    checkpoint = work_dir / CHECKPOINT
    started = time.time()
    if resume and checkpoint.exists():
        with open(checkpoint, "rb") as handle:
            accumulator = pickle.load(handle)
    manifest = _manifest(config, plan, existing if resume else None, command, jobs, threads)
    if not resume:
        rundir.atomic_write_text(work_dir / "experiment.yaml", config.source_text)
        rundir.atomic_write_text(work_dir / "resolved.yaml", resolved_yaml)
    rundir.write_manifest(work_dir, manifest)

    last_checkpoint = time.time()
    try:
        with _sigterm_as_interrupt():
            todo = plan.tasks[accumulator.next_task :]
            seeds_done = sum(len(t.seeds) for t in plan.tasks[: accumulator.next_task])
            if progress:
                progress(accumulator.next_task, len(plan.tasks), seeds_done)
            for task, record in _execute(plan, todo, jobs, threads, executor):
                accumulator.fold(task, record)
                seeds_done += len(task.seeds)
                if (
                    time.time() - last_checkpoint > CHECKPOINT_SECONDS
                    and accumulator.next_task < len(plan.tasks)
                ):
                    _save_checkpoint(checkpoint, accumulator)
                    last_checkpoint = time.time()
                if progress:
                    progress(accumulator.next_task, len(plan.tasks), seeds_done)
    except KeyboardInterrupt:
        _save_checkpoint(checkpoint, accumulator)
        _finish_manifest(work_dir, manifest, "interrupted", started)
        raise RunInterrupted(
            f"interrupted after {accumulator.next_task} of {len(plan.tasks)} task(s); "
            f"finished work is kept in {work_dir}; run again with --resume to finish"
        ) from None
    except BaseException as error:
        _save_checkpoint(checkpoint, accumulator)
        manifest["error"] = f"{type(error).__name__}: {error}"
        _finish_manifest(work_dir, manifest, "failed", started)
        raise

    outputs = _write_outputs(work_dir, plan, accumulator, config)
    manifest["rows"] = {name: rows for name, (_, rows) in outputs.items()}
    manifest["checksums"] = _checksums(work_dir, outputs.values())
    checkpoint.unlink(missing_ok=True)
    # The simulation's outputs are all in place: the run is complete.
    _finish_manifest(work_dir, manifest, "complete", started)
    if draw:
        # Metrics, figures and the report are derived from the files above; a
        # failure there is a warning in the manifest and never loses the run.
        try:
            from .analysis import analyze_and_draw

            extra = analyze_and_draw(work_dir, formats=tuple(config.output.figure_formats))
            manifest["checksums"].update(_checksums(work_dir, ((p, None) for p in extra.values())))
        except Exception as error:  # noqa: BLE001
            manifest.setdefault("warnings", []).append(
                f"figures and metrics were not drawn: {type(error).__name__}: {error} "
                f"(run `stochlstm analyze` / `stochlstm plot` on the run directory to retry)"
            )
        rundir.write_manifest(work_dir, manifest)
    if work_dir != target:
        rundir.replace_directory(work_dir, target)
    return RunOutcome(target, "complete", manifest, plan)


def _checksums(work_dir: Path, outputs) -> dict[str, str]:
    return {
        str(path.relative_to(work_dir)): rundir.file_sha256(path)
        for path, _ in outputs
        if path.is_file()
    }


def _save_checkpoint(path: Path, accumulator: Accumulator) -> None:
    rundir.atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(accumulator, protocol=5)))


def _manifest(
    config, plan: RunPlan, previous: dict | None, command: str | None, jobs: int, threads: int
) -> dict[str, Any]:
    from . import __version__

    manifest = dict(previous or {})
    seeds = plan.seeds
    manifest.update(
        tool="stochlstm",
        version=__version__,
        experiment=config.name,
        status="running",
        command=command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        pid=os.getpid(),
        jobs=jobs,
        threads=threads,
        seeds={
            "count": len(seeds),
            "first": seeds[0],
            "last": seeds[-1],
            "root_seed": int(config.root_seed),
        },
        batch_size=plan.batch_size,
        tasks=len(plan.tasks),
        sweep_points=[p.columns for p in plan.points],
        conditions={name: cond.describe() for name, cond in plan.points[0].conditions.items()},
        baseline=plan.points[0].baseline,
        dtype=str(config.dtype),
        versions=rundir.package_versions(),
    )
    manifest.setdefault("started", rundir.now())
    manifest.setdefault("attempts", 0)
    manifest["attempts"] += 1
    return manifest


def _finish_manifest(work_dir: Path, manifest: dict, status: str, started: float) -> None:
    manifest["status"] = status
    manifest["finished" if status == "complete" else "stopped"] = rundir.now()
    manifest["elapsed_seconds"] = round(
        manifest.get("elapsed_seconds", 0.0) + time.time() - started, 3
    )
    rundir.write_manifest(work_dir, manifest)


def _write_outputs(
    work_dir: Path, plan: RunPlan, accumulator: Accumulator, config
) -> dict[str, tuple[Path, int]]:
    outputs: dict[str, tuple[Path, int]] = {}
    summary = summary_frame(plan, accumulator)
    path = rundir.atomic_write(work_dir / "summary.csv", lambda tmp: write_csv(summary, tmp))
    outputs["summary.csv"] = (path, len(summary))
    trajectories = trajectories_frame(plan, accumulator)
    if config.output.format == "parquet":
        name = "trajectories.parquet"
        write = lambda tmp: trajectories.to_parquet(tmp, index=False)  # noqa: E731
    else:
        name = "trajectories.csv"
        write = lambda tmp: write_csv(trajectories, tmp)  # noqa: E731
    path = rundir.atomic_write(work_dir / name, write)
    outputs[name] = (path, len(trajectories))
    return outputs
