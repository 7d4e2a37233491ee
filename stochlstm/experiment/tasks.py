"""A run's tasks: each a batch of seeds of one sweep point, simulated here
(in groups of seeds on parallel threads, :mod:`stochlstm.engine.threads`)
or by an executor (:mod:`stochlstm.experiment.executors`), each into its
:class:`~stochlstm.engine.recorder.BatchRecord`.

While a task runs, its groups count the steps they have simulated for the
run's progress (:mod:`stochlstm.experiment.progress`), in this process or, in
worker processes, in shared memory; the count reads no value, so it changes
no number.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import numpy as np

from ..engine.kernel import run_kernel
from ..engine.recorder import BatchRecord
from ..engine.threads import check, run_in_threads, seed_groups
from .plan import PointSpec, RunPlan, Task, in_process
from .progress import RunProgress, StepMeter, StepTally, worker_meter

__all__ = ["execute_tasks", "run_task", "start_progress"]


def run_task(
    point: PointSpec,
    seeds: Sequence[int],
    threads: int = 1,
    *,
    meter: StepMeter | None = None,
    reported: Callable[[], None] | None = None,
) -> BatchRecord:
    """Simulate one batch of seeds of one point into its :class:`BatchRecord`,
    in ``threads`` groups of seeds at once (the record does not depend on it).

    With a ``meter``, each group adds the seed-steps it has simulated to it,
    at most every :data:`~stochlstm.experiment.progress.REPORT_SECONDS`, and
    the group on the calling thread then calls ``reported()``."""
    seeds = list(seeds)
    groups = seed_groups(len(seeds), threads, point.weights.hidden_size)
    caller = threading.get_ident()
    calls = [partial(_run_group, point, seeds[g], meter, reported, caller) for g in groups]
    return BatchRecord.concat(run_in_threads(calls, threads))


def _run_task_counted(point: PointSpec, seeds: Sequence[int], threads: int) -> BatchRecord:
    """:func:`run_task` in a worker process, counting in the meter it was given."""
    return run_task(point, seeds, threads, meter=worker_meter())


def _run_group(
    point: PointSpec,
    seeds: list[int],
    meter: StepMeter | None,
    reported: Callable[[], None] | None,
    caller: int,
    cancelled: threading.Event,
) -> BatchRecord:
    recorder = point.recorder(seeds)
    tally = None
    if meter is not None:
        on_caller = threading.get_ident() == caller
        tally = StepTally(meter, len(seeds), reported if on_caller else None)

    def consume(index: int, t: int, values: dict[str, np.ndarray]) -> None:
        check(cancelled)
        recorder(index, t, values)
        if tally is not None:
            tally()

    run_kernel(
        point.weights,
        np.asarray(point.inputs(seeds), dtype=np.float64),
        point.conditions,
        seeds,
        consume,
        root_seed=point.root_seed,
        initial_state=point.initial_state,
        dtype=np.dtype(point.dtype),
        layer=point.record.layer,
    )
    if tally is not None:
        tally.flush()
    return recorder.record


def execute_tasks(
    plan: RunPlan,
    todo: Sequence[Task],
    jobs: int,
    threads: int,
    executor: str | None,
    progress: RunProgress | None = None,
) -> Iterator[tuple[Task, BatchRecord]]:
    """Results of ``todo`` in task order, computed locally or in processes;
    ``progress`` is told how far the tasks under way are (local processes
    count their steps in shared memory; Dask reports finished tasks only)."""
    tick = progress.tick if progress is not None else None
    if in_process(jobs, executor):
        meter = progress.new_meter() if progress is not None else None
        for task in todo:
            point = plan.points[task.point]
            yield task, run_task(point, task.seeds, threads, meter=meter, reported=tick)
        return
    from .executors import make_executor

    with make_executor(executor or "processes", jobs, count_steps=progress is not None) as pool:
        meter = getattr(pool, "meter", None)
        if progress is not None:
            progress.watch(meter)
        yield from pool.map_in_order(
            run_task if meter is None else _run_task_counted,
            [(plan.points[t.point], t.seeds, threads) for t in todo],
            todo,
            waiting=tick,
        )


def start_progress(progress: RunProgress, plan: RunPlan, tasks_done: int) -> None:
    """Tell ``progress`` the work of every task, in seed-steps (seeds x
    conditions x steps), each point read once."""
    point_steps = [len(point.conditions) * point.n_steps for point in plan.points]
    progress.start_simulation(
        [len(task.seeds) * point_steps[task.point] for task in plan.tasks],
        [task.point for task in plan.tasks],
        len(point_steps),
        len(plan.seeds),
        tasks_done,
    )
