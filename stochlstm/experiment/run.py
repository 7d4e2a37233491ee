"""A run's life: an experiment file into a complete run directory, through
phases that an interrupt can stop anywhere and ``--resume`` finishes.

The plan (:mod:`stochlstm.experiment.plan`) gives the tasks. In the
``simulate`` phase each task streams its batch (:mod:`stochlstm.experiment.tasks`),
in groups of seeds on parallel threads (:mod:`stochlstm.engine.threads`),
through the kernel into block statistics and a few sample paths
(:mod:`stochlstm.engine.recorder`);
the results are folded in task order into running statistics
(:mod:`stochlstm.experiment.tables`), checkpointed as data
(:mod:`stochlstm.experiment.checkpoint`). The ``tables`` phase writes
summary.csv and the trajectories; the caller's phases follow (metrics,
figures and the report: :mod:`stochlstm.analysis.pipeline`).

The guarantees (DESIGN.md, "Run directory integrity"): one process writes a
run directory at a time (:mod:`stochlstm.experiment.lock`); a folded task and
its place in the done list are committed together, whatever signal arrives
(:mod:`stochlstm.experiment.interrupts`); the manifest records the phases
done, the sha256 of the resolved config, of every input file and of every
output; ``--resume`` refuses a run whose experiment or input files changed
and does only the phases that are missing, to the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import rundir
from .checkpoint import CHECKPOINT, CheckpointError, load_checkpoint, save_checkpoint
from .interrupts import deferred, stop_signals
from .load import load_experiment
from .lock import RunLock
from .plan import RunPlan, execution, in_process, plan_run
from .progress import ProgressCallback, RunProgress, check_progress, reporting_phase
from .tables import Accumulator, write_tables
from .tasks import execute_tasks, run_task, start_progress

__all__ = [
    "Phase",
    "ProgressCallback",
    "RunInterrupted",
    "RunOutcome",
    "all_done",
    "choose_work_dir",
    "fingerprint",
    "run_simulation",
    "run_task",
]

# How often the folded state is saved while running (and always on interruption).
CHECKPOINT_SECONDS = float(os.environ.get("STOCHLSTM_CHECKPOINT_SECONDS", "20"))


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C or SIGTERM); what finished is kept."""


# ---------------------------------------------------------------- the run

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class Phase:
    """A phase after the tables: ``run(work_dir)`` writes files into the run
    directory and returns their paths, which the manifest checksums. An
    exception in it becomes a warning and leaves the phase ``failed``
    (``--resume`` tries it again): the tables are never lost to it."""

    name: str
    run: Callable[[Path], Iterable[Path]]


@dataclass
class RunOutcome:
    """What a run did: where (``path``), what status, and the manifest;
    ``plan`` is None when a resumed run had nothing left to do."""

    path: Path
    status: str
    manifest: dict[str, Any] = field(repr=False)
    plan: RunPlan | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        seeds = self.manifest.get("seeds", {}).get("count", "?")
        conditions = len(self.manifest.get("conditions", {}))
        return (
            f"RunOutcome({str(self.path)!r}, {self.status}, {seeds} seeds, {conditions} conditions)"
        )


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
    progress: bool | ProgressCallback | None = None,
    command: str | None = None,
    phases: Sequence[Phase] | Callable[[Any], Sequence[Phase]] = (),
) -> RunOutcome:
    """Run an experiment file into ``<out>/<name>/``: simulate, write the
    tables, then ``phases`` (or ``phases(config)``); the run is ``complete``
    when all are done.

    ``progress``: True shows the progress of each phase with rich (on
    stderr, or in the notebook), a callable receives each
    :class:`~stochlstm.experiment.progress.ProgressEvent`, None or False
    shows nothing.

    Raises :class:`~stochlstm.experiment.problems.ConfigError` for a bad file
    and :class:`~stochlstm.experiment.rundir.OutputError` for an output
    location that cannot be written (nothing is written);
    :class:`~stochlstm.experiment.rundir.RunDirectoryError` when another
    process writes the run directory, or it holds a run that must not be
    overwritten (``force=True`` replaces it once the new run completes;
    ``resume=True`` finishes an interrupted one, or the interrupted
    replacement of a ``force`` run, if its experiment and input files are
    unchanged); :class:`~stochlstm.experiment.checkpoint.CheckpointError` for
    a damaged checkpoint; and :class:`RunInterrupted` after marking the run
    interrupted on Ctrl-C / SIGTERM.
    """
    check_progress(progress)
    config = load_experiment(experiment, overrides=list(overrides))
    plan = plan_run(config)
    jobs, threads = execution(config, jobs, threads, executor)
    if not in_process(jobs, executor):
        from .executors import check_executor

        check_executor(executor or "processes")
    target = Path(out if out is not None else config.output.dir) / config.name
    rundir.check_output_location(target)
    resolved_yaml = config.to_resolved_yaml()
    inputs = {str(path): rundir.file_sha256(path) for path in plan.input_files}
    phases = list(phases(config) if callable(phases) else phases)
    names = ("simulate", "tables", *(phase.name for phase in phases))
    with rundir.output_errors(target), RunLock(target, command), stop_signals():
        work_dir, previous = choose_work_dir(target, resume, force, resolved_yaml, inputs)
        if previous is not None and all_done(previous, names):
            return RunOutcome(target, "complete", previous)
        run = _RunInProgress(plan, target, work_dir, previous, names, inputs, resolved_yaml)
        run.start(command, jobs, threads)
        from .progress_display import showing  # rich, imported when a run starts

        with showing(progress) as callback:
            reporter = RunProgress(callback) if callback is not None else None
            run.go(jobs, threads, executor, reporter, phases)
        return RunOutcome(target, run.manifest["status"], run.manifest, plan)


def fingerprint(resolved_yaml: str, inputs: dict[str, str]) -> str:
    """The sha256 of a run's resolved config and input files' checksums: what a
    checkpoint belongs to (``--resume`` refuses a checkpoint of another)."""
    text = resolved_yaml + "".join(f"\n{name} {sha}" for name, sha in inputs.items())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def all_done(manifest: dict, names: Sequence[str]) -> bool:
    """Whether the run of ``manifest`` is complete with every phase in ``names`` done."""
    if manifest.get("status") != "complete":
        return False
    phases = manifest.get("phases")
    return phases is None or all(phases.get(name) == DONE for name in names)


def choose_work_dir(
    target: Path, resume: bool, force: bool, resolved_yaml: str, inputs: dict[str, str]
) -> tuple[Path, dict | None]:
    """Where this run writes, and the manifest of the run it continues (None
    for a new one). A ``force`` run writes in ``.<name>.new`` beside ``target``."""
    replacement = target.parent / f".{target.name}.new"
    existing = rundir.read_manifest(target) if target.is_dir() else None
    if resume:
        pending = rundir.read_manifest(replacement) if replacement.is_dir() else None
        if pending is not None:
            work_dir, previous = replacement, pending
        elif existing is not None:
            work_dir, previous = target, existing
        else:
            raise rundir.RunDirectoryError(f"{target}: there is no run to resume")
        _check_same_run(work_dir, previous, resolved_yaml, inputs)
        return work_dir, previous
    if target.exists() and any(target.iterdir()):
        if existing is None:
            raise rundir.RunDirectoryError(
                f"{target} exists and is not a stochlstm run directory; refusing to write into "
                "or replace it (choose another --out)"
            )
        if force:
            shutil.rmtree(replacement, ignore_errors=True)
            return replacement, None
        status = existing.get("status")
        if status == "complete":
            note = (
                "; an interrupted --force replacement is waiting: --resume finishes it"
                if replacement.is_dir()
                else ""
            )
            raise rundir.RunDirectoryError(
                f"{target} already holds a complete run (finished {existing.get('finished', '?')}); "
                "pass --force to replace it (the old run stays until the new one completes) "
                f"or --out DIR to write elsewhere{note}"
            )
        what = status if status in ("interrupted", "failed") else "unfinished (its process died)"
        raise rundir.RunDirectoryError(
            f"{target} holds an {what} run; pass --resume to finish it or --force to start again"
        )
    shutil.rmtree(replacement, ignore_errors=True)  # a replacement of a run since removed
    return target, None


def _check_same_run(work_dir: Path, previous: dict, resolved_yaml: str, inputs: dict) -> None:
    stored = work_dir / "resolved.yaml"
    if not stored.exists() or stored.read_text(encoding="utf-8") != resolved_yaml:
        raise rundir.RunDirectoryError(
            f"{work_dir}: the experiment differs from the one this run started with "
            "(compare resolved.yaml); cannot resume it. Pass --force to start again"
        )
    before = previous.get("inputs", {})
    for name in sorted(set(before) | set(inputs)):
        if before.get(name) != inputs.get(name):
            raise rundir.RunDirectoryError(
                f"{work_dir}: input file {name} changed since the run started (its sha256 "
                "differs from the manifest's); cannot resume it. Pass --force to start again"
            )


class _RunInProgress:
    """The phases of one run into ``work_dir``, its manifest kept true at each step."""

    def __init__(self, plan, target, work_dir, previous, names, inputs, resolved_yaml):
        self.plan, self.target, self.work_dir = plan, target, work_dir
        self.previous, self.names, self.inputs = previous, names, inputs
        self.resolved_yaml = resolved_yaml
        self.fingerprint = fingerprint(resolved_yaml, inputs)
        self.checkpoint = work_dir / CHECKPOINT
        self.accumulator: Accumulator | None = None
        self.current = "simulate"
        self.started = time.time()
        self.progress: RunProgress | None = None

    def start(self, command, jobs, threads) -> None:
        previous = self.previous
        manifest = _manifest(self.plan, previous, command, jobs, threads)
        done = (previous or {}).get("phases", {})
        manifest["phases"] = {
            name: DONE if done.get(name) == DONE else PENDING for name in self.names
        }
        manifest["inputs"] = self.inputs
        manifest.pop("warnings", None)
        self.manifest = manifest
        if previous is None:
            manifest["checksums"] = rundir.write_experiment_files(
                self.work_dir, self.plan.config.source_text, self.resolved_yaml
            )
        rundir.write_manifest(self.work_dir, manifest)

    def done(self, name: str) -> bool:
        return self.manifest["phases"].get(name) == DONE

    def mark(self, name: str, state: str, written: Iterable[Path] = ()) -> None:
        rundir.mark_phase(self.work_dir, self.manifest, name, state, written)

    def go(self, jobs, threads, executor, progress: RunProgress | None, phases) -> None:
        self.progress = progress
        try:
            if not self.done("simulate"):
                self.current = "simulate"
                self._simulate(jobs, threads, executor, progress)
            if not self.done("tables"):
                self.current = "tables"
                self._tables()
            for phase in phases:
                if not self.done(phase.name):
                    self.current = phase.name
                    if not self._analysis(phase):
                        break
            with deferred():
                self._finish_manifest("complete")
                if self.work_dir != self.target:
                    rundir.replace_directory(self.work_dir, self.target)
        except KeyboardInterrupt:
            with deferred():
                self._keep("interrupted")
            where = (
                self.work_dir
                if self.work_dir == self.target
                else f"{self.work_dir} (the replacement)"
            )
            raise RunInterrupted(
                f"interrupted while {_DOING.get(self.current, self.current)}; finished work is "
                f"kept in {where}; run the same command with --resume to finish"
            ) from None
        except CheckpointError:
            raise
        except BaseException as error:
            with deferred():
                self.manifest["error"] = f"{type(error).__name__}: {error}"
                try:
                    self._keep("failed")
                except OSError:  # e.g. the disk is full: the error itself says more
                    pass
            raise

    def _simulate(self, jobs, threads, executor, progress: RunProgress | None) -> None:
        plan = self.plan
        accumulator = Accumulator()
        if self.previous is not None and self.checkpoint.exists():
            accumulator = load_checkpoint(self.checkpoint, self.fingerprint)
        self.accumulator = accumulator
        todo = plan.tasks[accumulator.next_task :]
        if progress is not None:
            start_progress(progress, plan, accumulator.next_task)
        last_save = time.time()
        for task, record in execute_tasks(plan, todo, jobs, threads, executor, progress):
            with deferred():  # a task is folded whole or not at all
                accumulator.fold(task, record)
            if time.time() - last_save > CHECKPOINT_SECONDS:
                with deferred():
                    save_checkpoint(self.checkpoint, accumulator, self.fingerprint)
                last_save = time.time()
            if progress is not None:
                progress.task_done()
        with deferred():
            save_checkpoint(self.checkpoint, accumulator, self.fingerprint)
            self.mark("simulate", DONE)
        if progress is not None:
            progress.finish_simulation()

    def _tables(self) -> None:
        if self.accumulator is None:
            if not self.checkpoint.exists():
                raise CheckpointError(
                    f"{self.checkpoint}: missing, though the manifest says the simulation is "
                    "done; pass --force to start again"
                )
            self.accumulator = load_checkpoint(self.checkpoint, self.fingerprint)
        with reporting_phase(self.progress, "tables"):
            outputs = write_tables(self.work_dir, self.plan, self.accumulator)
        with deferred():
            self.manifest["rows"] = {name: rows for name, (_, rows) in outputs.items()}
            self.mark("tables", DONE, [path for path, _ in outputs.values()])
            self.checkpoint.unlink(missing_ok=True)

    def _analysis(self, phase: Phase) -> bool:
        try:
            with reporting_phase(self.progress, phase.name):
                written = list(phase.run(self.work_dir))
        except (KeyboardInterrupt, OSError):
            raise
        except Exception as error:  # noqa: BLE001 (a bug here must not lose the tables)
            self.manifest.setdefault("warnings", []).append(
                f"{phase.name} failed: {type(error).__name__}: {error} "
                "(run the same command with --resume to try again)"
            )
            self.mark(phase.name, FAILED)
            return False
        with deferred():
            self.mark(phase.name, DONE, written)
        return True

    def _keep(self, status: str) -> None:
        """Keep what is finished (the checkpoint of a simulation in progress) and say so."""
        self.manifest["stopped_in"] = self.current
        if self.current == "simulate" and self.accumulator is not None:
            save_checkpoint(self.checkpoint, self.accumulator, self.fingerprint)
        self._finish_manifest(status)

    def _finish_manifest(self, status: str) -> None:
        rundir.finish_manifest(self.work_dir, self.manifest, status, time.time() - self.started)


_DOING = {
    "simulate": "simulating",
    "tables": "writing the tables",
    "metrics": "computing the metrics",
    "figures": "drawing the figures",
    "report": "writing the report",
}


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
