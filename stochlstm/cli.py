"""The ``stochlstm`` command: thin Typer commands over the Python API."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .analysis import pipeline
from .analysis.run import RunError, load_run
from .analysis.selection import parse_conditions, parse_steps, parse_units
from .analysis.table import comparison_text
from .analysis.worked_example import worked_example
from .experiment.checkpoint import CheckpointError
from .experiment.executors import ExecutorError
from .experiment.load import load_experiment
from .experiment.plan import describe_execution, plan_run
from .experiment.problems import ConfigError
from .experiment.run import RunInterrupted
from .experiment.rundir import OutputError, RunDirectoryError

app = typer.Typer(
    help="Deterministic vs stochastic LSTM gating, side by side.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_BAD_INPUT = 2
EXIT_RUN_DIRECTORY = 3
EXIT_INTERRUPTED = 130

ExperimentFile = Annotated[
    Path,
    typer.Argument(help="The experiment file (YAML).", exists=True, dir_okay=False, readable=True),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a field: --set key.path=value (repeatable).", metavar="KEY=VALUE"
    ),
]
RunDir = Annotated[
    Path, typer.Argument(help="A run directory (results/<name>).", exists=True, file_okay=False)
]
NoVerify = Annotated[
    bool,
    typer.Option(
        "--no-verify",
        help="Read the tables even if they changed since the run wrote them "
        "(their sha256 differs from the manifest's).",
    ),
]
FIGURE_FORMATS = ("png", "pdf", "svg")


def _fail(*lines: str, code: int) -> None:
    for line in lines:
        err.print(f"error: {line}", markup=False, style="red")
    raise typer.Exit(code)


@contextmanager
def _user_errors():
    """A user's mistake: ``error: ...`` on stderr and the exit code that says which."""
    try:
        yield
    except ConfigError as error:  # one line per problem: file:line: field.path: what is wrong
        _fail(*str(error).splitlines(), code=EXIT_BAD_INPUT)
    except (RunError, OutputError, ExecutorError, CheckpointError) as error:
        _fail(str(error), code=EXIT_BAD_INPUT)
    except RunDirectoryError as error:
        _fail(str(error), code=EXIT_RUN_DIRECTORY)
    except RunInterrupted as error:
        _fail(str(error), code=EXIT_INTERRUPTED)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"stochlstm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Deterministic vs stochastic LSTM gating, side by side."""


@app.command()
def run(
    experiment: ExperimentFile,
    set_: Overrides = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", min=1, help="Worker processes (default: the file's execution.jobs)."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            "-t",
            min=1,
            help="Threads per process (default: the file's execution.threads; "
            "auto = every usable core, 1 per worker process).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Parent folder of the run directory (default: the file's output.dir)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Finish an interrupted or failed run: only the phases that are missing.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing run once the new one completes.")
    ] = False,
    figures: Annotated[
        bool | None,
        typer.Option(
            "--figures/--no-figures",
            help="Draw figures, metrics and the report at the end "
            "(default: the file's output.figures).",
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", help="local | processes | dask | tcp://scheduler:8786"),
    ] = None,
    plan: Annotated[bool, typer.Option("--plan", help="Show the planned tasks and stop.")] = False,
) -> None:
    """Run an experiment: simulate every condition over the seeds and write the run directory."""
    if resume and force:
        _fail("--resume and --force cannot be used together", code=EXIT_BAD_INPUT)
    if plan:
        with _user_errors():
            config = load_experiment(experiment, overrides=set_ or [])
            out.print(plan_run(config).describe())
            out.print(describe_execution(config, jobs, threads, executor))
        return
    started = time.time()
    with _progress() as report, _user_errors():
        outcome = pipeline.run_experiment(
            experiment,
            overrides=set_ or [],
            out=out_dir,
            jobs=jobs,
            threads=threads,
            resume=resume,
            force=force,
            figures=figures,
            executor=executor,
            progress=report,
            command=" ".join(["stochlstm", *sys.argv[1:]]),
        )
    _print_outcome(outcome, time.time() - started)


def _print_outcome(outcome, seconds: float) -> None:
    manifest = outcome.manifest
    for warning in manifest.get("warnings", []):
        err.print(f"warning: {warning}", markup=False, style="yellow")
    out.print(f"[bold green]{outcome.status}[/]: {outcome.path}")
    seeds = manifest.get("seeds", {})
    out.print(
        f"  {seeds.get('count', '?')} seeds x {len(manifest.get('sweep_points', [])) or 1} point(s), "
        f"conditions: {', '.join(manifest.get('conditions', {}))}; {seconds:.1f} s"
    )
    for name, rows in (manifest.get("rows") or {}).items():
        out.print(f"  {name:<22} {rows:>10,} rows")
    figures = list((outcome.path / "figures").glob("*.png"))
    if figures:
        out.print(f"  figures/               {len(figures):>10} PNG")
    if (outcome.path / "report.html").exists():
        out.print(f"  open {outcome.path / 'report.html'}")


@contextmanager
def _progress():
    """A rich progress bar on a terminal, yielding its callback; None otherwise."""
    if not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks"),
        TextColumn("{task.fields[seeds]:,} seeds"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = None

        def report(done: int, total: int, seeds: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task("run", total=total, seeds=seeds)
            bar.update(task, completed=done, seeds=seeds)

        yield report


@app.command()
def validate(
    experiment: ExperimentFile,
    set_: Overrides = None,
    plan: Annotated[bool, typer.Option("--plan", help="Also show the planned tasks.")] = False,
) -> None:
    """Check an experiment file, its weights and its inputs, without running it."""
    with _user_errors():
        config = load_experiment(experiment, overrides=set_ or [])
        planned = plan_run(config)
    if plan:
        out.print(planned.describe())
    seeds = planned.seeds
    out.print(
        f"[green]ok[/]: {experiment} is valid: experiment {config.name!r}, {len(seeds)} seeds, "
        f"conditions {', '.join(config.conditions)}"
    )


@app.command()
def analyze(run_dir: RunDir, no_verify: NoVerify = False) -> None:
    """Compute the comparison metrics of a run, print the table and write metrics.csv."""
    with _user_errors():
        run = load_run(run_dir, verify=not no_verify)
        metrics = pipeline.analyze(run)
    out.print(comparison_text(metrics, run.baseline, sweep=run.sweep_columns), markup=False)
    out.print(f"wrote {run_dir / 'metrics.csv'} ({len(metrics):,} rows)")


@app.command()
def plot(
    run_dir: RunDir,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="png, pdf or svg (repeatable; default: the experiment's output.figure_formats).",
        ),
    ] = None,
    units: Annotated[
        str | None,
        typer.Option(
            "--units",
            help="Units drawn in the per-unit figures, e.g. 0,3,5 "
            "(default: the recorded units farthest from the deterministic path).",
            metavar="LIST",
        ),
    ] = None,
    conditions: Annotated[
        str | None,
        typer.Option(
            "--conditions",
            help="Conditions drawn, e.g. deterministic,bernoulli (default: all).",
            metavar="LIST",
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            help="Steps drawn, START:STOP with both included, e.g. 0:50, 100: or :50 "
            "(default: all recorded; the final-state figure shows the last step drawn).",
            metavar="START:STOP",
        ),
    ] = None,
    no_verify: NoVerify = False,
) -> None:
    """Draw the comparison figures of a run into RUN_DIR/figures/."""
    unknown = [f for f in formats or () if f not in FIGURE_FORMATS]
    if unknown:
        _fail(
            f"--format {unknown[0]}: not a figure format; choose from {', '.join(FIGURE_FORMATS)}",
            code=EXIT_BAD_INPUT,
        )
    try:
        choice = dict(
            units=None if units is None else parse_units(units),
            conditions=None if conditions is None else parse_conditions(conditions),
            steps=None if steps is None else parse_steps(steps),
        )
    except ValueError as error:
        _fail(f"--{error}", code=EXIT_BAD_INPUT)
    with _user_errors():
        run = load_run(run_dir, verify=not no_verify)
        chosen = tuple(formats or run.config.output.figure_formats)
        paths = pipeline.draw_run_figures(run, formats=chosen, **choice)
    for path in paths:
        out.print(f"wrote {path}")


@app.command()
def example(seed: Annotated[int, typer.Option(help="Seed of the gate noise.")] = 0) -> None:
    """The answer's worked example, step by step, deterministic vs bernoulli."""
    out.print(worked_example(seed), markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
