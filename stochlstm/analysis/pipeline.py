"""A whole run: the simulation and tables (:mod:`stochlstm.experiment.run`),
then the analysis phases (metrics, figures, the report), as ``stochlstm run``
does it; and each analysis step on an existing run directory, under the run
directory's lock, recorded in its manifest.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from ..experiment import rundir
from ..experiment.lock import RunLock
from ..experiment.run import Phase, ProgressCallback, RunOutcome, run_simulation
from ..experiment.schema import ExperimentConfig
from .metrics import compute_metrics
from .run import Run, RunError, load_run

# The figures and the report import matplotlib and seaborn (seconds): only
# when they are drawn.

__all__ = [
    "analysis_phases",
    "analyze",
    "analyze_and_draw",
    "draw_run_figures",
    "run_experiment",
    "write_run_report",
]


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
    progress: bool | ProgressCallback | None = None,
    command: str | None = None,
) -> RunOutcome:
    """Run an experiment file into ``<out>/<name>/`` and return the outcome:
    simulate and write the tables, then the analysis phases: metrics.csv, the
    figures in the file's ``output.figure_formats`` (unless ``figures`` is false;
    default: the file's ``output.figures``) and report.html.

    ``progress=True`` shows each phase as it runs (rich, on stderr or in the
    notebook: seeds done, seeds/s and the time left while simulating, then
    tables, metrics, figures, report); a callable receives each
    :class:`~stochlstm.experiment.progress.ProgressEvent` instead.
    :func:`~stochlstm.experiment.run.run_simulation` says what is raised when."""

    def phases(config: ExperimentConfig) -> list[Phase]:
        wanted = config.output.figures if figures is None else figures
        return analysis_phases(config.output.figure_formats if wanted else ())

    return run_simulation(
        experiment,
        overrides=overrides,
        out=out,
        jobs=jobs,
        threads=threads,
        executor=executor,
        resume=resume,
        force=force,
        progress=progress,
        command=command,
        phases=phases,
    )


def analysis_phases(formats: Sequence[str] = ("png", "pdf")) -> list[Phase]:
    """The phases after the tables: metrics, figures (none without ``formats``),
    report; one reading of the run directory shared by them.

    Figures drawn after the report (``--resume --figures`` after a run without
    them) bring the report up to date in the same phase."""
    runs: dict[Path, Run] = {}

    def step(work: Callable[[Run], Iterable[Path]]) -> Callable[[Path], list[Path]]:
        def run_phase(path: Path) -> list[Path]:
            if path not in runs:
                runs[path] = load_run(path, allow_incomplete=True, verify=False)
            return list(work(runs[path]))

        return run_phase

    def figures(run: Run) -> list[Path]:
        drawn = _draw(run, formats)
        report_done = (run.manifest.get("phases") or {}).get("report") == "done"
        return [*drawn, _write_report(run, last_phase=True)] if report_done else drawn

    phases = [Phase("metrics", step(lambda run: [_write_metrics(run)]))]
    if formats:
        phases.append(Phase("figures", step(figures)))
    phases.append(Phase("report", step(lambda run: [_write_report(run, last_phase=True)])))
    return phases


def analyze(
    run: Run | str | os.PathLike, *, allow_incomplete: bool = False, verify: bool = True
) -> pd.DataFrame:
    """Compute the metrics of a run, write ``metrics.csv`` into it and return them."""
    run = _open(run, allow_incomplete, verify)
    with RunLock(run.path):
        _record(run.path, [_write_metrics(run)])
    return run.metrics


def draw_run_figures(
    path: str | os.PathLike | Run,
    formats=("png", "pdf"),
    *,
    allow_incomplete: bool = False,
    verify: bool = True,
    units: Sequence[int] | None = None,
    conditions: Sequence[str] | None = None,
    steps: tuple[int | None, int | None] | None = None,
) -> list[Path]:
    """:func:`~stochlstm.analysis.figures.draw_figures` for a run directory, and
    report.html, when there is one, brought up to date to link them; recorded in
    its manifest. ``units``, ``conditions`` and ``steps`` (``(start, stop)``,
    inclusive) choose what is drawn. Returns the files written; problems, a
    choice the run cannot honour among them, raise
    :class:`~stochlstm.analysis.run.RunError` before anything is written."""
    run = _open(path, allow_incomplete, verify)
    with RunLock(run.path):
        written = list(_draw(run, formats, units=units, conditions=conditions, steps=steps))
        if (run.path / "report.html").exists():
            written.append(_write_report(run))
        return _record(run.path, written)


def write_run_report(
    path: str | os.PathLike | Run, *, allow_incomplete: bool = False, verify: bool = True
) -> Path:
    """Rebuild a run directory's report.html from its tables, metrics and the
    figures in ``figures/`` (drawing none), recorded in its manifest; problems
    raise :class:`~stochlstm.analysis.run.RunError`."""
    run = _open(path, allow_incomplete, verify)
    with RunLock(run.path):
        return _record(run.path, [_write_report(run)])[0]


def analyze_and_draw(
    path: str | os.PathLike, formats=("png", "pdf"), *, verify: bool = True
) -> dict[str, Path]:
    """Rebuild everything derived from a run's tables: metrics.csv, the
    figures and report.html; ``{path relative to the run directory: path}``."""
    run = load_run(path, allow_incomplete=True, verify=verify)
    with RunLock(run.path):
        written = [_write_metrics(run), *_draw(run, formats), _write_report(run)]
        _record(run.path, written)
    return {str(p.relative_to(run.path)): p for p in written}


def _open(run: Run | str | os.PathLike, allow_incomplete: bool, verify: bool) -> Run:
    if isinstance(run, Run):
        return run
    return load_run(run, allow_incomplete=allow_incomplete, verify=verify)


def _write_metrics(run: Run) -> Path:
    try:
        metrics = compute_metrics(
            run.summary, sweep=run.sweep_columns, targets=run.targets, baseline=run.baseline
        )
    except ValueError as error:
        raise RunError(f"{run.path}: {error}") from None
    path = run.path / "metrics.csv"
    with rundir.atomic_path(path) as tmp:
        metrics.to_csv(tmp, index=False)
    run.__dict__["metrics"] = metrics
    return path


def _draw(run: Run, formats: Sequence[str], **choice) -> list[Path]:
    from . import figures

    try:
        return figures.draw_figures(run, formats=tuple(formats), **choice)
    except ValueError as error:
        raise RunError(f"{run.path}: cannot draw the figures ({error})") from None


def _write_report(run: Run, *, last_phase: bool = False) -> Path:
    """report.html; as the run's ``last_phase`` it describes the run as the
    complete one it is once the report is in place."""
    from .report import write_report

    if last_phase:
        run = copy.copy(run)  # keeps the tables already read
        run.manifest = {**run.manifest, "status": "complete"}
    return write_report(run)


def _record(run_dir: Path, written: list[Path]) -> list[Path]:
    """Put the checksums of the files just ``written`` into the run's manifest."""
    manifest = rundir.read_manifest(run_dir)
    if manifest is not None:
        manifest.setdefault("checksums", {}).update(rundir.checksums(run_dir, written))
        rundir.write_manifest(run_dir, manifest)
    return written
