"""A whole run: the simulation phase (:mod:`stochlstm.experiment.run`), then
the analysis of its tables (metrics, figures, the report), as
``stochlstm run`` does it; and each analysis step on a run directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..experiment import rundir
from ..experiment.run import ProgressCallback, RunOutcome, finish, run_simulation
from .figures import draw_figures
from .metrics import compute_metrics
from .report import write_report
from .run import Run, RunError, load_run

__all__ = ["analyze", "analyze_and_draw", "draw_run_figures", "run_experiment"]


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
    """Run an experiment file into ``<out>/<name>/`` and return the outcome:
    simulate and write the tables (:func:`~stochlstm.experiment.run.run_simulation`,
    which says what is raised when), then, unless ``figures`` is false (default:
    the file's ``output.figures``), write metrics.csv, the figures and
    report.html. A failure there is a warning in the manifest and never loses
    the run."""
    outcome = run_simulation(
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
    )
    if outcome.plan is None:  # a complete run asked to resume
        return outcome
    output = outcome.plan.config.output
    if output.figures if figures is None else figures:
        manifest = outcome.manifest
        try:
            written = analyze_and_draw(outcome.work_dir, formats=tuple(output.figure_formats))
            manifest["checksums"].update(rundir.checksums(outcome.work_dir, written.values()))
        except Exception as error:  # noqa: BLE001
            manifest.setdefault("warnings", []).append(
                f"figures and metrics were not drawn: {type(error).__name__}: {error} "
                f"(run `stochlstm analyze` / `stochlstm plot` on the run directory to retry)"
            )
        rundir.write_manifest(outcome.work_dir, manifest)
    finish(outcome)
    return outcome


def analyze(run: Run | str | os.PathLike, *, allow_incomplete: bool = False) -> pd.DataFrame:
    """Compute the metrics of a run, write ``metrics.csv`` into it and return them."""
    run = run if isinstance(run, Run) else load_run(run, allow_incomplete=allow_incomplete)
    try:
        metrics = compute_metrics(run.summary, sweep=run.sweep_columns)
    except ValueError as error:
        raise RunError(f"{run.path}: {error}") from None
    with rundir.atomic_path(run.path / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    run.__dict__["metrics"] = metrics
    return metrics


def draw_run_figures(
    path: str | os.PathLike | Run, formats=("png", "pdf"), *, allow_incomplete: bool = False
) -> list[Path]:
    """:func:`~stochlstm.analysis.figures.draw_figures` for a run directory;
    problems raise :class:`~stochlstm.analysis.run.RunError`."""
    run = path if isinstance(path, Run) else load_run(path, allow_incomplete=allow_incomplete)
    try:
        return draw_figures(run, formats=tuple(formats))
    except ValueError as error:
        raise RunError(f"{run.path}: cannot draw the figures ({error})") from None


def analyze_and_draw(path: str | os.PathLike, formats=("png", "pdf")) -> dict[str, Path]:
    """Everything derived from a run's tables: metrics.csv, the figures and
    report.html (the run may still say "running": this is its last phase).

    Returns ``{path relative to the run directory: path}`` of the files written.
    """
    run = load_run(path, allow_incomplete=True)
    analyze(run)
    written = [run.path / "metrics.csv", *draw_run_figures(run, formats=formats), write_report(run)]
    return {str(p.relative_to(run.path)): p for p in written}
