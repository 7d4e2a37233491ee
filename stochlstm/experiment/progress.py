"""How far a run is: :class:`ProgressEvent`\\ s for a callback to show.

A run reports, phase by phase (simulate, tables, metrics, figures, report),
events to ``progress``: a callable receives each :class:`ProgressEvent`;
``progress=True`` shows them with rich
(:mod:`stochlstm.experiment.progress_display`). In ``simulate`` the count
moves inside a batch, not only when a task ends: each group of seeds counts
the steps it has simulated and adds them to a :class:`StepMeter` at most
every :data:`REPORT_SECONDS` (a worker process adds to a meter in shared
memory), and the run reads the meter as often. Counting reads no value of
the simulation, so it changes no number.

The work of a phase after the simulation says how far it is with
:func:`advance` (e.g. once per figure written); outside a run that does
nothing.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import accumulate

__all__ = [
    "REPORT_SECONDS",
    "ProgressCallback",
    "ProgressEvent",
    "RunProgress",
    "StepMeter",
    "StepTally",
    "advance",
    "check_progress",
    "expect",
    "reporting_phase",
    "use_worker_meter",
    "worker_meter",
]

# At most this often a group of seeds adds its steps to the meter, and the run
# reports a simulation that is under way (read by worker processes as they start).
REPORT_SECONDS = float(os.environ.get("STOCHLSTM_REPORT_SECONDS", "0.1"))

# The unit of each phase's ``done`` and ``total``; "" for a phase of one piece.
UNITS = {"simulate": "seeds", "figures": "figures"}


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run is.

    ``phase`` is ``simulate``, ``tables``, ``metrics``, ``figures`` or
    ``report``. ``done`` and ``total`` count the phase's work in ``unit``
    (``total`` None while not known):

    - ``simulate``: seeds, over every sweep point (``total`` = seeds x points),
      a seed part-way through its steps counted by the share done (so ``done``
      moves inside a single batch); ``point`` is the sweep point being
      simulated (1 to ``points``); ``tasks_done`` of ``tasks_total`` batches are
      in the statistics.
    - ``figures``: figures written; other phases: 0, then 1 when finished.

    ``elapsed`` is the seconds since the phase began (in this attempt, for a
    resumed run), ``rate`` the units per second meanwhile (None until
    measured), ``finished`` true on the phase's last event.
    """

    phase: str
    done: float
    total: float | None
    unit: str = ""
    elapsed: float = 0.0
    rate: float | None = None
    point: int = 1
    points: int = 1
    tasks_done: int = 0
    tasks_total: int = 0
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """``done / total``, None when the total is not known."""
        return self.done / self.total if self.total else None

    @property
    def remaining_seconds(self) -> float | None:
        """Seconds left in this phase at the rate so far (None when not known)."""
        if self.total is None or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


ProgressCallback = Callable[[ProgressEvent], None]


def check_progress(progress) -> None:
    """Raise TypeError unless ``progress`` is True, False, None or a callable."""
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress: expected True, False, None or a callable, got {progress!r}")


# ---------------------------------------------------------------- counting steps


class _LocalCell:
    """A counter the threads of this process add to (the interface of a
    ``multiprocessing.Value``)."""

    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class StepMeter:
    """Seed-steps simulated (one seed through one step of one condition),
    added to from any thread; ``StepMeter(context.Value("q", 0))`` is one that
    worker processes add to (passed to them when they start)."""

    def __init__(self, cell=None):
        self.cell = _LocalCell() if cell is None else cell

    def add(self, steps: int) -> None:
        with self.cell.get_lock():
            self.cell.value += steps

    @property
    def value(self) -> int:
        return self.cell.value


class StepTally:
    """Counts one group of seeds' steps, call by call, and adds them to
    ``meter`` at most every :data:`REPORT_SECONDS` (and on :meth:`flush`),
    then calls ``reported()`` if given. One per group, used by one thread."""

    __slots__ = ("meter", "pending", "reported", "seeds", "due")

    def __init__(self, meter: StepMeter, seeds: int, reported: Callable[[], None] | None = None):
        self.meter, self.seeds, self.reported = meter, seeds, reported
        self.pending = 0
        self.due = time.monotonic() + REPORT_SECONDS

    def __call__(self) -> None:
        """One step of one condition done for the group's seeds."""
        self.pending += self.seeds
        if time.monotonic() >= self.due:
            self.flush()

    def flush(self) -> None:
        self.due = time.monotonic() + REPORT_SECONDS
        if self.pending:
            self.meter.add(self.pending)
            self.pending = 0
            if self.reported is not None:
                self.reported()


_worker_meter: StepMeter | None = None


def use_worker_meter(cell) -> None:
    """In a worker process, as it starts: count this process's steps in the
    shared ``cell`` (None: count nothing)."""
    global _worker_meter
    _worker_meter = None if cell is None else StepMeter(cell)


def worker_meter() -> StepMeter | None:
    """The meter this worker process counts its steps in, if any."""
    return _worker_meter


# ---------------------------------------------------------------- the run's reports


_current_phase: ContextVar[_RunPhase | None] = ContextVar("stochlstm_phase", default=None)


def advance(count: int = 1) -> None:
    """``count`` more pieces of the current phase's work done (e.g. a figure
    written); nothing outside a run's phase."""
    phase = _current_phase.get()
    if phase is not None:
        phase.done += count
        phase.progress.emit(phase.event())


def expect(total: int) -> None:
    """The current phase will do ``total`` pieces of work in all (shown as
    done/total); nothing outside a run's phase."""
    phase = _current_phase.get()
    if phase is not None:
        phase.total = total
        phase.progress.emit(phase.event())


class _RunPhase:
    """A phase after the simulation: its pieces of work done (:func:`advance`)
    and, if said (:func:`expect`), how many there are."""

    def __init__(self, progress: RunProgress, name: str):
        self.progress, self.name, self.unit = progress, name, UNITS.get(name, "")
        self.done, self.total = 0, None
        self.started = time.monotonic()

    def event(self, finished: bool = False) -> ProgressEvent:
        elapsed = time.monotonic() - self.started
        done, total = self.done, self.total
        if finished and total is None:  # a phase of one piece is one piece done
            done = done if self.unit else 1
            total = done
        return ProgressEvent(
            self.name,
            done,
            total,
            self.unit,
            elapsed,
            self.done / elapsed if elapsed > 0 and self.done else None,
            finished=finished,
            **self.progress.simulation_fields(),
        )


class RunProgress:
    """A run's reports to ``callback``: :meth:`start_simulation`, :meth:`tick`
    (from the thread that runs the run, as often as it likes: it reports at
    most every :data:`REPORT_SECONDS`), :meth:`task_done` after each batch is
    folded in, :meth:`finish_simulation`, then :meth:`phase` around each
    later phase."""

    def __init__(self, callback: ProgressCallback):
        self.callback = callback
        self.meter: StepMeter | None = None
        self.point_ends: list[int] = [0]
        self.steps_total = self.steps_before = self.steps_folded = 0
        self.seeds_total = 0
        self.tasks_done = self.tasks_total = 0
        self.started = self.last = time.monotonic()

    def emit(self, event: ProgressEvent) -> None:
        self.last = time.monotonic()
        self.callback(event)

    # -------------------------------------------------------- simulate

    def start_simulation(
        self,
        task_steps: Sequence[int],
        task_points: Sequence[int],
        n_points: int,
        seeds_per_point: int,
        tasks_done: int,
    ) -> None:
        """``task_steps[k]``: the seed-steps of task ``k`` (its seeds x its
        point's conditions x steps), ``task_points[k]`` its point (0-based),
        tasks in order; the first ``tasks_done`` were done before (a resumed run)."""
        per_point = [0] * n_points
        for steps, point in zip(task_steps, task_points, strict=True):
            per_point[point] += steps
        self.point_ends = list(accumulate(per_point))
        self.steps_total = sum(task_steps)
        self.steps_before = self.steps_folded = sum(task_steps[:tasks_done])
        self.seeds_total = seeds_per_point * n_points
        self.tasks_done, self.tasks_total = tasks_done, len(task_steps)
        self.task_steps = task_steps
        self.started = time.monotonic()
        self.origin: tuple[float, int] | None = None
        self.emit(self.simulation_event())

    def new_meter(self) -> StepMeter:
        """A meter for this process's threads to count in (see :class:`StepTally`)."""
        self.meter = StepMeter()
        return self.meter

    def watch(self, meter: StepMeter | None) -> None:
        """Read the simulation's progress from ``meter`` (None: per task only)."""
        self.meter = meter

    def tick(self) -> None:
        if time.monotonic() - self.last >= REPORT_SECONDS:
            self.emit(self.simulation_event())

    def task_done(self) -> None:
        self.steps_folded += self.task_steps[self.tasks_done]
        self.tasks_done += 1
        self.emit(self.simulation_event())

    def finish_simulation(self) -> None:
        self.emit(self.simulation_event(finished=True))

    def _steps_done(self) -> int:
        counted = self.steps_before + (self.meter.value if self.meter is not None else 0)
        return min(self.steps_total, max(counted, self.steps_folded))

    def simulation_fields(self) -> dict[str, int]:
        steps = self._steps_done()
        point = min(bisect_right(self.point_ends, steps), len(self.point_ends) - 1) + 1
        return dict(
            point=point,
            points=len(self.point_ends),
            tasks_done=self.tasks_done,
            tasks_total=self.tasks_total,
        )

    def simulation_event(self, finished: bool = False) -> ProgressEvent:
        steps, now = self._steps_done(), time.monotonic()
        seeds_per_step = self.seeds_total / self.steps_total if self.steps_total else 0.0
        # the rate is measured from the first steps counted, not from the start:
        # starting the threads or worker processes is no part of it
        rate = None
        if self.origin is None:
            if steps > self.steps_before:
                self.origin = (now, steps)
        elif now > self.origin[0] and steps > self.origin[1]:
            rate = (steps - self.origin[1]) * seeds_per_step / (now - self.origin[0])
        return ProgressEvent(
            "simulate",
            steps * seeds_per_step,
            self.seeds_total,
            UNITS["simulate"],
            now - self.started,
            rate,
            finished=finished,
            **self.simulation_fields(),
        )

    # -------------------------------------------------------- later phases

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Around a phase after the simulation: an event as it begins, one per
        :func:`advance` in it, and a finished one if it ends without error."""
        work = _RunPhase(self, name)
        token = _current_phase.set(work)
        try:
            self.emit(work.event())
            yield
        finally:
            _current_phase.reset(token)
        self.emit(work.event(finished=True))


@contextmanager
def reporting_phase(progress: RunProgress | None, name: str) -> Iterator[None]:
    """:meth:`RunProgress.phase`, or nothing when there is no progress to report."""
    if progress is None:
        yield
    else:
        with progress.phase(name):
            yield
