"""A run's progress shown with rich: one row per phase, as it happens.

::

    simulate  ━━━━━━━━━━╺━━━━━━━━━ point 2/5  6,141/10,000 seeds  1,893/s    3.2 s ETA 2.0 s
    tables    ━━━━━━━━━━━━━━━━━━━━ done                                      0.3 s
    figures   ━━━━━━━━━━━━━━━━━━━━ 4 figures                                 2.1 s

:func:`show_progress` gives the callback for
:class:`~stochlstm.experiment.progress.ProgressEvent`\\ s; ``stochlstm run``
and ``run_experiment(progress=True)`` use it.
"""

from __future__ import annotations

import importlib.util
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Column
from rich.text import Text

from .progress import REPORT_SECONDS, ProgressCallback, ProgressEvent, check_progress

__all__ = ["describe", "show_progress", "showing"]


def _clock(seconds: float) -> str:
    """``4.2 s`` under a minute, ``0:01:05`` from then on."""
    return f"{seconds:.1f} s" if seconds < 59.95 else str(timedelta(seconds=round(seconds)))


class _Elapsed(ProgressColumn):
    """The seconds a phase has taken (so far)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(_clock(elapsed or 0.0), style="progress.elapsed")


def describe(event: ProgressEvent) -> str:
    """The event in words: ``point 2/5  6,141/10,000 seeds  1,893/s``,
    ``4 figures``, ``done``."""
    parts = []
    if event.phase == "simulate":
        if event.points > 1:
            parts.append(f"point {event.point}/{event.points}")
        parts.append(f"{int(event.done):,}/{int(event.total or 0):,} {event.unit}")
        if event.rate:
            parts.append(f"{event.rate:,.0f}/s")
    elif event.unit:
        total = f"/{event.total:,.0f}" if event.total is not None and not event.finished else ""
        parts.append(f"{event.done:,.0f}{total} {event.unit}")
    elif event.finished:
        parts.append("done")
    return "  ".join(parts)


def _eta(event: ProgressEvent) -> str:
    remaining = event.remaining_seconds
    if event.finished or remaining is None:
        return ""
    return f"ETA {_clock(remaining)}"


class _Rows:
    """The rich rows of a run, one per phase, updated from its events."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.rows: dict[str, TaskID] = {}

    def __call__(self, event: ProgressEvent) -> None:
        row = self.rows.get(event.phase)
        if row is None:
            row = self.rows[event.phase] = self.bar.add_task(event.phase, detail="", eta="")
        self.bar.update(
            row,
            total=event.total,
            completed=event.done,
            detail=describe(event),
            eta=_eta(event),
        )


def _columns() -> tuple:
    return (
        TextColumn("{task.description:<9}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[detail]}", table_column=Column(min_width=38, no_wrap=True)),
        _Elapsed(table_column=Column(min_width=7, justify="right")),
        TextColumn("{task.fields[eta]}", style="progress.remaining"),
    )


@contextmanager
def show_progress(
    console: Console | None = None, *, transient: bool = False
) -> Iterator[ProgressCallback]:
    """Show a run's events with rich on ``console`` (default: stderr; in a
    notebook, the notebook) while the block lasts; yields the callback.
    ``transient`` rows disappear at the end."""
    console = console if console is not None else Console(stderr=True)
    if console.is_jupyter and importlib.util.find_spec("ipywidgets") is None:
        with _in_notebook() as show:
            yield show
        return
    with Progress(*_columns(), console=console, transient=transient) as bar:
        yield _Rows(bar)


@contextmanager
def _in_notebook() -> Iterator[ProgressCallback]:
    """The rows in a notebook without ipywidgets (which rich's live display
    needs): one HTML output, replaced at most every
    :data:`~stochlstm.experiment.progress.REPORT_SECONDS` and at each phase's end."""
    from IPython.display import HTML, display

    bar = Progress(*_columns(), console=Console(file=io.StringIO()), auto_refresh=False)
    rows, handle = _Rows(bar), display(HTML(""), display_id=True)
    shown = 0.0

    def draw() -> None:
        page = Console(record=True, file=io.StringIO(), width=100, force_jupyter=False)
        page.print(bar.get_renderable())
        handle.update(HTML(page.export_html(inline_styles=True, code_format=_PRE)))

    def show(event: ProgressEvent) -> None:
        nonlocal shown
        rows(event)
        if event.finished or time.monotonic() - shown >= REPORT_SECONDS:
            draw()
            shown = time.monotonic()

    yield show
    draw()


_PRE = '<pre style="font-family: monospace; line-height: 1.3">{code}</pre>'


@contextmanager
def showing(progress: bool | ProgressCallback | None) -> Iterator[ProgressCallback | None]:
    """The callback for a run's ``progress`` argument while the run lasts:
    True shows the events with rich (:func:`show_progress`), a callable
    is the callback, None or False is no callback."""
    check_progress(progress)
    if progress is True:
        with show_progress() as display:
            yield display
    else:
        yield progress or None
