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
from .experiment.progress_display import show_progress
from .experiment.run import RunInterrupted
from .experiment.rundir import OutputError, RunDirectoryError
from .train.run import train_experiment

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
            help="Draw the figures at the end; metrics.csv and report.html are written "
            "either way (default: the file's output.figures).",
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
            planned = plan_run(config)
            out.print(planned.describe())
            out.print(describe_execution(config, jobs, threads, executor, plan=planned))
        return
    started = time.time()
    with _user_errors(), _progress() as report:  # the error after the rows
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
    """The run's phases on stderr as they happen (seeds, rate and time left
    while simulating; they stay, with the time each took), on a terminal
    only: yields the callback, or None."""
    if not err.is_terminal:
        yield None
        return
    with show_progress(err) as report:
        yield report


@app.command()
def train(
    experiment: ExperimentFile,
    set_: Overrides = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: execution.jobs)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Parent folder of the run directory (default: output.dir)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted run from its checkpoints.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing run once the new one completes.")
    ] = False,
    figures: Annotated[
        bool | None,
        typer.Option("--figures/--no-figures", help="Draw figures and the report at the end."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", help="local | processes | dask | tcp://scheduler:8786"),
    ] = None,
) -> None:
    """Train an LSTM under each condition's gates (the file's train block), evaluate it
    under each test-time rule over the noise seeds, and write the run directory."""
    if resume and force:
        _fail("--resume and --force cannot be used together", code=EXIT_BAD_INPUT)
    started = time.time()
    with _training_progress() as report, _user_errors():
        outcome = train_experiment(
            experiment,
            overrides=set_ or [],
            out=out_dir,
            jobs=jobs,
            executor=executor,
            resume=resume,
            force=force,
            figures=figures,
            progress=report,
            command=" ".join(["stochlstm", *sys.argv[1:]]),
        )
    out.print(f"[bold green]{outcome.status}[/]: {outcome.path} ({time.time() - started:.1f} s)")
    for name, rows in (outcome.manifest.get("rows") or {}).items():
        out.print(f"  {name:<22} {rows:>10,} rows")
    if (outcome.path / "report.html").exists():
        out.print(f"  open {outcome.path / 'report.html'}")
    if (outcome.path / "evaluate.yaml").exists():
        out.print(
            f"  stochlstm run {outcome.path / 'evaluate.yaml'}  (one model, its header says how)"
        )


@contextmanager
def _training_progress():
    """A bar per arm and training seed with its last validation loss, on a terminal."""
    if not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        tasks = {}

        def report(condition, seed, done, total, loss) -> None:
            key = (condition, seed)
            shown = "-" if loss is None else f"{loss:.4g}"
            if key not in tasks:
                tasks[key] = bar.add_task(f"{condition} seed {seed}", total=total, loss=shown)
            bar.update(tasks[key], completed=done, loss=shown)

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
        out.print(describe_execution(config, plan=planned))
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
    width = out.width if out.is_terminal else 100_000  # wrapped on a terminal only
    table = comparison_text(metrics, run.baseline, sweep=run.sweep_columns, width=width)
    out.print(table, markup=False)
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
    """Draw the comparison figures of a run into RUN_DIR/figures/ (report.html links them)."""
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
def report(run_dir: RunDir, no_verify: NoVerify = False) -> None:
    """Rebuild RUN_DIR/report.html from the run's tables, metrics and figures."""
    with _user_errors():
        path = pipeline.write_run_report(run_dir, verify=not no_verify)
    out.print(f"wrote {path}")


@app.command()
def example(seed: Annotated[int, typer.Option(help="Seed of the gate noise.")] = 0) -> None:
    """The answer's worked example, step by step, deterministic vs bernoulli."""
    out.print(worked_example(seed), markup=False)


@app.command()
def runs(
    directory: Annotated[
        Path, typer.Argument(help="A results folder (or a run directory).")
    ] = Path("results"),
) -> None:
    """List the runs in a results folder: status, seeds, sweep points, times, conditions."""
    from .analysis.runs import list_runs, runs_text

    with _user_errors():
        found = list_runs(directory)
    if found.empty:
        out.print(
            f"no runs in {directory} (a run directory holds a manifest.json; "
            "`stochlstm run EXPERIMENT` writes one)",
            markup=False,
        )
        return
    out.print(runs_text(found), markup=False)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="A run directory: a.")],
    run_b: Annotated[Path, typer.Argument(help="A run directory: b.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for comparison.csv and divergence.png "
            "(default: ./compare-<a>-vs-<b>; never inside a run directory).",
        ),
    ] = None,
    every_row: Annotated[
        bool, typer.Option("--all", help="Print every matched row, not only the headline ones.")
    ] = False,
    no_verify: NoVerify = False,
) -> None:
    """Two runs side by side: their metrics in one table (b − a) and their divergence in one figure."""
    from .analysis import compare as comparing

    with _user_errors():
        a, b = (load_run(path, verify=not no_verify) for path in (run_a, run_b))
        labels = comparing.run_labels(run_a, run_b)
        folder = out_dir or comparing.default_out_dir(run_a, run_b)
        comparing.check_out_dir(folder, (a, b))
        table = comparing.compare_runs(a, b)
        written, problem = comparing.write_comparison(a, b, folder, table=table, labels=labels)
    settings = comparing.settings_difference(a, b)
    text = comparing.comparison_summary_text(table, labels, settings=settings, every_row=every_row)
    out.print(text, markup=False)
    if problem:
        err.print(f"warning: no figure: {problem}", markup=False, style="yellow")
    for path in written:
        out.print(f"wrote {path}", markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
