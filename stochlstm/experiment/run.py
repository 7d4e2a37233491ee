"""The simulation phase of a run: an experiment file into a run directory's
tables.

The plan (:mod:`stochlstm.experiment.plan`) gives the tasks. Each task
streams its batch, in groups of seeds on parallel threads
(:mod:`stochlstm.engine.threads`), through the kernel into block statistics
and a few sample paths (:mod:`stochlstm.engine.recorder`); the results are
folded in task order into running statistics (:mod:`stochlstm.experiment.tables`),
which are checkpointed so that an interrupted run can be resumed to the same
bits. Metrics, figures and the report are the analysis phase
(:mod:`stochlstm.analysis.pipeline` composes the two).
"""

from __future__ import annotations

import os
import pickle
import shutil
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

from ..engine.kernel import run_kernel
from ..engine.recorder import BatchRecord, BatchRecorder
from ..engine.threads import check, run_in_threads, seed_groups
from . import rundir
from .load import load_experiment
from .plan import PointSpec, RunPlan, Task, execution, in_process, plan_run
from .tables import Accumulator, write_tables

__all__ = ["RunInterrupted", "RunOutcome", "finish", "run_simulation", "run_task"]

CHECKPOINT = ".checkpoint.pkl"
# How often the folded state is saved while running (and always on interruption).
CHECKPOINT_SECONDS = float(os.environ.get("STOCHLSTM_CHECKPOINT_SECONDS", "20"))


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C or SIGTERM); what finished is kept."""


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
        np.asarray(point.inputs(seeds), dtype=np.float64),
        point.conditions,
        seeds,
        consume,
        root_seed=point.root_seed,
        initial_state=point.initial_state,
        dtype=np.dtype(point.dtype),
    )
    return recorder.record


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


def _execute(
    plan: RunPlan, todo: Sequence[Task], jobs: int, threads: int, executor: str | None
) -> Iterator[tuple[Task, BatchRecord]]:
    """Results of ``todo`` in task order, computed locally or in processes."""
    if in_process(jobs, executor):
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
    """What a run did: where (``path``), what status, and the manifest.

    ``work_dir`` is where the files are until :func:`finish` puts them at
    ``path`` (a ``--force`` run writes beside the run it replaces).
    """

    path: Path
    status: str
    manifest: dict[str, Any] = field(repr=False)
    plan: RunPlan | None = field(default=None, repr=False)
    work_dir: Path | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        seeds = self.manifest.get("seeds", {}).get("count", "?")
        conditions = len(self.manifest.get("conditions", {}))
        return (
            f"RunOutcome({str(self.path)!r}, {self.status}, {seeds} seeds, {conditions} conditions)"
        )


ProgressCallback = Callable[[int, int, int], None]  # (tasks done, tasks total, seeds done)


def run_simulation(
    experiment: str | os.PathLike,
    *,
    overrides: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    executor: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    command: str | None = None,
) -> RunOutcome:
    """Simulate an experiment file and write its tables; the files stay in
    ``outcome.work_dir`` until :func:`finish`.

    Raises :class:`~stochlstm.experiment.load.ConfigError` for a bad file
    (nothing is written), :class:`~stochlstm.experiment.rundir.RunDirectoryError`
    when the run directory holds a run that must not be overwritten
    (``force=True`` replaces it once the new run completes; ``resume=True``
    finishes an interrupted one), and :class:`RunInterrupted` after marking
    the run interrupted on Ctrl-C / SIGTERM. A complete run asked to resume is
    returned as it is (``outcome.plan`` is None).
    """
    config = load_experiment(experiment, overrides=list(overrides))
    plan = plan_run(config)
    resolved_yaml = config.to_resolved_yaml()
    out_dir = Path(out if out is not None else config.output.dir)
    target = out_dir / config.name
    jobs, threads = execution(config, jobs, threads, executor)

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
            stored = target / "resolved.yaml"
            if not stored.exists() or stored.read_text(encoding="utf-8") != resolved_yaml:
                raise rundir.RunDirectoryError(
                    f"{target}: the experiment differs from the one this run started with "
                    "(compare resolved.yaml); cannot resume it. Pass --force to start again"
                )
        elif force:
            work_dir = out_dir / f".{config.name}.new-{os.getpid()}"
            if work_dir.exists():
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

    work_dir.mkdir(parents=True, exist_ok=True)
    accumulator = Accumulator()
    checkpoint = work_dir / CHECKPOINT
    started = time.time()
    if resume and checkpoint.exists():
        with open(checkpoint, "rb") as handle:
            accumulator = pickle.load(handle)
    manifest = _manifest(plan, existing if resume else None, command, jobs, threads)
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

    outputs = write_tables(work_dir, plan, accumulator)
    manifest["rows"] = {name: rows for name, (_, rows) in outputs.items()}
    manifest["checksums"] = rundir.checksums(work_dir, [path for path, _ in outputs.values()])
    checkpoint.unlink(missing_ok=True)
    # The simulation's outputs are all in place: the run is complete.
    _finish_manifest(work_dir, manifest, "complete", started)
    return RunOutcome(target, "complete", manifest, plan, work_dir)


def finish(outcome: RunOutcome) -> None:
    """Put the run at ``outcome.path`` (replacing the run there, if any)."""
    if outcome.work_dir is not None and outcome.work_dir != outcome.path:
        rundir.replace_directory(outcome.work_dir, outcome.path)
        outcome.work_dir = outcome.path


def _save_checkpoint(path: Path, accumulator: Accumulator) -> None:
    rundir.atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(accumulator, protocol=5)))


def _manifest(
    plan: RunPlan, previous: dict | None, command: str | None, jobs: int, threads: int
) -> dict[str, Any]:
    from .. import __version__

    manifest = dict(previous or {})
    seeds, config = plan.seeds, plan.config
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
            "root_seed": config.root_seed,
        },
        batch_size=plan.batch_size,
        tasks=len(plan.tasks),
        sweep_columns=plan.sweep_columns,
        sweep_points=[p.columns for p in plan.points],
        conditions={name: cond.describe() for name, cond in plan.points[0].conditions.items()},
        baseline=plan.baseline,
        dtype=config.dtype,
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
