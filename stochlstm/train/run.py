"""``stochlstm train``: an experiment file with a ``train`` block into a run directory.

The run directory, lock, manifest, phases and ``--resume`` are those of
``stochlstm run`` (:mod:`stochlstm.experiment.run`, :mod:`~stochlstm.experiment.rundir`,
:mod:`~stochlstm.experiment.lock`, :mod:`~stochlstm.experiment.interrupts`). Phases:

- ``train``: every arm x training seed is a task (:mod:`stochlstm.train.loop`),
  advanced in rounds of ``checkpoint_every`` iterations through the same
  executors as ``run`` (``--jobs``, ``--executor``); after each chunk its state
  is checkpointed as arrays + JSON (``.training/<condition>/seed-<k>.npz``).
  Every chunk starts from such a state, so an interrupted run resumes at the
  last checkpointed iteration with the same numbers, in any executor.
  Writes ``training.csv`` and ``weights/<condition>/seed-<k>.npz`` (and then
  removes the checkpoints).
- ``evaluate``: writes ``evaluate.yaml``, the experiment file with which
  ``stochlstm run`` evaluates one trained model, and runs it for each model
  (:mod:`stochlstm.train.evaluate`): each under each test-time rule over the
  run's noise seeds, ``evaluation.csv``, and the gate histograms, ``gates.csv``.
- ``figures`` and ``report`` (:mod:`stochlstm.train.figures`, :mod:`stochlstm.train.report`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..experiment import rundir
from ..experiment.checkpoint import CheckpointError, read_data_file, write_data_file
from ..experiment.csv_inputs import InputError, from_csv
from ..experiment.forecasts import series_of
from ..experiment.interrupts import deferred, stop_signals
from ..experiment.load import load_experiment
from ..experiment.lock import RunLock
from ..experiment.plan import in_process
from ..experiment.problems import ConfigError, Source
from ..experiment.run import RunInterrupted, RunOutcome, all_done, choose_work_dir, fingerprint
from ..experiment.task_forms import task_sizes
from ..experiment.train_schema import training_problems
from .evaluate import evaluate_model, evaluation_yaml, overrides_of
from .loop import TaskState, TrainJob, advance, initial_state, kept_iteration, model_arrays

__all__ = ["PHASES", "TrainProgress", "train_experiment", "training_jobs"]

PHASES = ("train", "evaluate", "figures", "report")
CHECKPOINTS = ".training"
_FORMAT = "stochlstm-training-checkpoint-1"
# (condition, train seed, iterations done, iterations in all, last validation loss)
TrainProgress = Callable[[str, int, int, int, float | None], None]


def training_jobs(config, series: np.ndarray | None = None) -> list[TrainJob]:
    """The tasks of a config with a train block: arms in file order, then
    training seeds (``series``: a CSV forecast's, :func:`read_series`)."""
    train = config.train
    _, output_size, readout = task_sizes(train.task)
    schedule = train.temperature
    return [
        TrainJob(
            condition_name=name,
            condition=condition,
            train_seed=seed,
            task=train.task,
            input_size=config.model.input_size,
            hidden_size=config.model.hidden_size,
            output_size=output_size,
            readout=readout,
            init_seed=config.model.weights.seed,
            iterations=train.iterations,
            batch_size=train.batch_size,
            optimizer=train.optimizer.kind,
            lr=train.optimizer.lr,
            temperature=None if schedule is None else (schedule.start, schedule.end),
            validation_examples=train.validation_examples,
            validate_every=train.validate_every,
            dtype=config.dtype,
            threads=train.threads,
            series=series,
            keep=train.keep,
        )
        for name, condition in config.build_conditions().items()
        for seed in range(train.seeds)
    ]


def _load_config(experiment, overrides):
    config = load_experiment(experiment, overrides=list(overrides))
    source = config._source or Source()
    if config.train is None:
        message = "missing: stochlstm train needs a train block (stochlstm run simulates)"
        raise ConfigError([source.problem(("train",), message)])
    problems = training_problems(config)
    if problems:
        raise ConfigError([source.problem(path, message) for path, message in problems])
    return config


def read_series(config) -> np.ndarray | None:
    """The series of a CSV forecast task (None for another task); a ConfigError
    naming the key of ``train.task.csv`` for a file that does not give one."""
    csv = getattr(config.train.task, "csv", None)
    if csv is None:
        return None
    source = config._source or Source()
    try:
        series = series_of(csv)
    except InputError as error:
        field, message = {"columns": "column"}.get(error.field, error.field), error.detail
        if error.field == "normalize":  # the z-score's rows, 0..test: past the end
            rows = len(from_csv(csv.file, [csv.column]))
            field, message = "test", f"{csv.test} is past the end of the column ({rows} rows)"
        raise ConfigError([source.problem(("train", "task", "csv", field), message)]) from None
    if len(series) <= csv.test:
        message = (
            f"{csv.test} leaves no row to test: the column has {len(series)} rows "
            f"(0..{len(series) - 1})"
        )
        raise ConfigError([source.problem(("train", "task", "csv", "test"), message)])
    return series


def train_experiment(
    experiment: str | os.PathLike,
    *,
    overrides: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    jobs: int | None = None,
    executor: str | None = None,
    resume: bool = False,
    force: bool = False,
    figures: bool | None = None,
    progress: TrainProgress | None = None,
    command: str | None = None,
) -> RunOutcome:
    """Train every arm x training seed of ``experiment`` into ``<out>/<name>/``,
    evaluate, draw the figures and write the report. The errors are those of
    :func:`stochlstm.experiment.run.run_simulation`; torch must be installed
    (``pip install 'stochlstm[train]'``)."""
    config = _load_config(experiment, overrides)
    series = read_series(config)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise rundir.OutputError(
            "stochlstm train needs PyTorch: pip install 'stochlstm[train]'"
        ) from None
    jobs = int(jobs if jobs is not None else config.execution.jobs)
    if not in_process(jobs, executor):
        from ..experiment.executors import check_executor

        check_executor(executor or "processes")
    target = Path(out if out is not None else config.output.dir) / config.name
    rundir.check_output_location(target)
    resolved_yaml = config.to_resolved_yaml()
    draw = config.output.figures if figures is None else figures
    names = PHASES if draw else PHASES[:2]
    csv = getattr(config.train.task, "csv", None)
    inputs = {} if csv is None else {csv.file: rundir.file_sha256(Path(csv.file))}
    with rundir.output_errors(target), RunLock(target, command), stop_signals():
        work_dir, previous = choose_work_dir(target, resume, force, resolved_yaml, inputs)
        if previous is not None and all_done(previous, names):
            return RunOutcome(target, "complete", previous)
        run = _TrainingRun(config, target, work_dir, previous, names, resolved_yaml, inputs)
        run.jobs = training_jobs(config, series)
        run.start(command, jobs)
        run.go(jobs, executor, progress)
        return RunOutcome(target, run.manifest["status"], run.manifest)


class _TrainingRun:
    def __init__(self, config, target, work_dir, previous, names, resolved_yaml, inputs):
        self.config, self.target, self.work_dir = config, target, work_dir
        self.previous, self.names, self.resolved_yaml = previous, names, resolved_yaml
        self.inputs = inputs
        self.fingerprint = fingerprint(resolved_yaml, inputs)
        self.jobs: list[TrainJob] = []
        self.current = "train"
        self.started = time.time()

    def start(self, command, jobs) -> None:
        from .. import __version__

        config, previous = self.config, self.previous
        manifest = dict(previous or {})
        seeds = config.seed_list()
        versions = rundir.package_versions()
        versions["torch"] = __import__("torch").__version__
        manifest.update(
            tool="stochlstm",
            version=__version__,
            kind="train",
            experiment=config.name,
            status="running",
            command=command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            pid=os.getpid(),
            jobs=jobs,
            seeds={
                "count": len(seeds),
                "first": seeds[0],
                "last": seeds[-1],
                "root_seed": config.root_seed,
            },
            train_seeds=config.train.seeds,
            keep=config.train.keep,
            conditions={name: c.describe() for name, c in config.build_conditions().items()},
            task=config.train.task.model_dump(mode="json"),
            dtype=config.dtype,
            versions=versions,
        )
        manifest.setdefault("started", rundir.now())
        manifest["attempts"] = manifest.get("attempts", 0) + 1
        done = (previous or {}).get("phases", {})
        manifest["phases"] = {n: "done" if done.get(n) == "done" else "pending" for n in self.names}
        manifest["inputs"] = self.inputs
        manifest.pop("warnings", None)
        self.manifest = manifest
        if previous is None:
            manifest["checksums"] = rundir.write_experiment_files(
                self.work_dir, config.source_text or "", self.resolved_yaml
            )
        rundir.write_manifest(self.work_dir, manifest)

    def mark(self, name: str, state: str, written=()) -> None:
        rundir.mark_phase(self.work_dir, self.manifest, name, state, written)

    def go(self, jobs, executor, progress) -> None:
        from .figures import draw_training_figures
        from .report import write_training_report

        steps = {
            "train": lambda: self._train(jobs, executor, progress),
            "evaluate": self._evaluate,
            "figures": lambda: draw_training_figures(
                self.work_dir, self.config.output.figure_formats
            ),
            "report": lambda: [write_training_report(self.work_dir)],
        }
        try:
            for name in self.names:
                if self.manifest["phases"].get(name) == "done":
                    continue
                self.current = name
                written = steps[name]()
                with deferred():
                    self.mark(name, "done", written)
                if name == "train":  # the weights are written: the checkpoints are done with
                    shutil.rmtree(self.work_dir / CHECKPOINTS, ignore_errors=True)
            with deferred():
                self._finish("complete")
                if self.work_dir != self.target:
                    rundir.replace_directory(self.work_dir, self.target)
        except KeyboardInterrupt:
            with deferred():
                self.manifest["stopped_in"] = self.current
                self._finish("interrupted")
            raise RunInterrupted(
                f"interrupted while in the {self.current} phase; finished work (the last "
                f"checkpointed iteration of every model) is kept in {self.work_dir}; run the same "
                "command with --resume to finish"
            ) from None
        except CheckpointError:
            raise
        except BaseException as error:
            with deferred():
                self.manifest["error"] = f"{type(error).__name__}: {error}"
                self.manifest["stopped_in"] = self.current
                try:
                    self._finish("failed")
                except OSError:
                    pass
            raise

    def _finish(self, status: str) -> None:
        rundir.finish_manifest(self.work_dir, self.manifest, status, time.time() - self.started)

    # ---------------------------------------------------------------- train

    def _checkpoint(self, job: TrainJob) -> Path:
        return self.work_dir / CHECKPOINTS / job.condition_name / f"seed-{job.train_seed}.npz"

    def _train(self, jobs, executor, progress) -> list[Path]:
        states = [self._resume_state(job) for job in self.jobs]
        every = self.config.train.checkpoint_every
        for job, state in zip(self.jobs, states, strict=True):
            _report(progress, job, state)
        with _executor(jobs, executor) as run_chunks:
            while True:
                todo = [
                    k
                    for k, (j, s) in enumerate(zip(self.jobs, states, strict=True))
                    if s.iteration < j.iterations
                ]
                if not todo:
                    break
                arguments = [
                    (self.jobs[k], states[k], (states[k].iteration // every + 1) * every)
                    for k in todo
                ]
                for k, state in run_chunks(arguments, todo):
                    with deferred():  # a chunk is checkpointed whole or not at all
                        _save_state(self._checkpoint(self.jobs[k]), state, self.fingerprint)
                        states[k] = state
                    _report(progress, self.jobs[k], state)
        return self._write_training(states)

    def _resume_state(self, job: TrainJob) -> TaskState:
        path = self._checkpoint(job)
        if self.previous is not None and path.exists():
            return _load_state(path, self.fingerprint)
        return initial_state(job)

    def _write_training(self, states: list[TaskState]) -> list[Path]:
        rows = [row for state in states for row in state.rows]
        frame = pd.DataFrame(
            rows,
            columns=[
                "condition",
                "train_seed",
                "iteration",
                "split",
                "loss",
                "accuracy",
                "saturated",
            ],
        )
        if self.config.train.task.kind != "copy":
            frame = frame.drop(columns="accuracy")
        written = [_write_csv(self.work_dir / "training.csv", frame)]
        for job, state in zip(self.jobs, states, strict=True):
            path = self.work_dir / "weights" / job.condition_name / f"seed-{job.train_seed}.npz"
            written.append(_write_npz(path, model_arrays(state)))
        self.manifest["rows"] = {"training.csv": len(frame)}
        self.manifest["kept_iteration"] = {
            f"{job.condition_name}/seed-{job.train_seed}": kept_iteration(state)
            for job, state in zip(self.jobs, states, strict=True)
        }
        return written

    # ---------------------------------------------------------------- evaluate

    def _evaluate(self) -> list[Path]:
        config = self.config
        experiment = self.work_dir / "evaluate.yaml"
        written = [rundir.atomic_write_text(experiment, evaluation_yaml(config, self.target))]
        rows, histograms = [], []
        for job in self.jobs:
            results, histogram = evaluate_model(
                experiment,
                overrides_of(config, job.condition_name, job.train_seed),
                config.train.evaluate.under,
            )
            keys = {"train_condition": job.condition_name, "train_seed": job.train_seed}
            rows += [{**keys, **row} for row in results]
            histograms += [
                {"condition": job.condition_name, "train_seed": job.train_seed, **h}
                for h in histogram
            ]
        evaluation = pd.DataFrame(rows)
        gates = pd.DataFrame(histograms)
        written += [
            _write_csv(self.work_dir / "evaluation.csv", evaluation),
            _write_csv(self.work_dir / "gates.csv", gates),
        ]
        self.manifest.setdefault("rows", {}).update(
            {"evaluation.csv": len(evaluation), "gates.csv": len(gates)}
        )
        return written


def _report(progress, job: TrainJob, state: TaskState) -> None:
    if progress is None:
        return
    validation = [row["loss"] for row in state.rows if row["split"] == "validation"]
    progress(
        job.condition_name,
        job.train_seed,
        state.iteration,
        job.iterations,
        validation[-1] if validation else None,
    )


class _executor:
    """``run_chunks(arguments, keys)``: ``(key, advance(*arguments))`` in order, here or in workers."""

    def __init__(self, jobs: int, executor: str | None):
        self.jobs, self.name, self.pool = jobs, executor, None

    def __enter__(self):
        if not in_process(self.jobs, self.name):
            from ..experiment.executors import make_executor

            self.pool = make_executor(self.name or "processes", self.jobs).__enter__()
        return self.run_chunks

    def __exit__(self, *exc_info):
        if self.pool is not None:
            self.pool.__exit__(*exc_info)
        return False

    def run_chunks(self, arguments, keys):
        if self.pool is None:
            for key, args in zip(keys, arguments, strict=True):
                yield key, advance(*args)
            return
        yield from self.pool.map_in_order(advance, arguments, keys)


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return rundir.atomic_write(
        path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n")
    )


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return rundir.atomic_write(path, write)


def _save_state(path: Path, state: TaskState, fingerprint: str) -> None:
    meta = {
        "format": _FORMAT,
        "fingerprint": fingerprint,
        "iteration": state.iteration,
        "rows": state.rows,
        "train_losses": state.train_losses,
    }
    write_data_file(path, state.arrays, meta)


def _load_state(path: Path, fingerprint: str) -> TaskState:
    meta, arrays = read_data_file(
        path, _FORMAT, fingerprint, what="training checkpoint", other="another experiment"
    )
    return TaskState(arrays, int(meta["iteration"]), meta["rows"], meta["train_losses"])
