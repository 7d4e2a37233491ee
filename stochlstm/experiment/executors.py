"""Where a run's tasks execute: in this process, in local processes, or on Dask.

Every executor hands results back in task order, and tasks do not depend on
where they run (see :mod:`stochlstm.core.randomness` and
:mod:`stochlstm.experiment.plan`), so the executor never changes a number.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

__all__ = ["EXECUTORS", "DaskExecutor", "ProcessExecutor", "make_executor"]


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS asked for one thread in the worker processes started meanwhile."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    previous = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _in_order(
    submit: Callable,
    function: Callable,
    arguments: Sequence[tuple],
    tasks: Sequence[Any],
    window: int,
    done: Callable | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(task, function(*args))`` in task order, with at most ``window`` tasks
    submitted and not yet handed back; ``done(future)`` after each result."""
    pending: deque = deque()
    queue = iter(zip(tasks, arguments, strict=True))

    def fill() -> None:
        for task, args in queue:
            pending.append((task, submit(function, *args)))
            if len(pending) >= window:
                return

    fill()
    while pending:
        task, future = pending.popleft()
        result = future.result()
        if done is not None:
            done(future)
        fill()
        yield task, result


class ProcessExecutor(AbstractContextManager):
    """Local worker processes (``spawn``), at most ``2 * jobs`` tasks in flight."""

    def __init__(self, jobs: int):
        self.jobs = max(1, int(jobs))

    def __enter__(self):
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with _single_threaded_blas():
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn"))
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown(wait=exc_info[0] is None, cancel_futures=True)
        return False

    def map_in_order(
        self, function: Callable, arguments: Sequence[tuple], tasks: Sequence[Any]
    ) -> Iterator[tuple[Any, Any]]:
        return _in_order(self.pool.submit, function, arguments, tasks, window=2 * self.jobs)


class DaskExecutor(AbstractContextManager):
    """Dask distributed: ``address`` of a running scheduler, or a local cluster
    of ``jobs`` single-threaded workers. Needs ``pip install 'stochlstm[dask]'``."""

    def __init__(self, jobs: int, address: str | None = None):
        self.jobs = max(1, int(jobs))
        self.address = address

    def __enter__(self):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as error:
            raise RuntimeError(
                "the dask executor needs dask.distributed: pip install 'stochlstm[dask]'"
            ) from error
        if self.address:
            self.cluster = None
            self.client = Client(self.address)
        else:
            with _single_threaded_blas():
                self.cluster = LocalCluster(
                    n_workers=self.jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,
                )
            self.client = Client(self.cluster)
        return self

    def __exit__(self, *exc_info):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False

    def map_in_order(
        self, function: Callable, arguments: Sequence[tuple], tasks: Sequence[Any]
    ) -> Iterator[tuple[Any, Any]]:
        window = 2 * max(self.jobs, len(self.client.scheduler_info().get("workers", {})) or 1)

        def submit(function, *args):
            return self.client.submit(function, *args, pure=False)

        return _in_order(submit, function, arguments, tasks, window, done=lambda f: f.release())


EXECUTORS = ("local", "processes", "dask")


def make_executor(name: str, jobs: int, address: str | None = None):
    """An executor by name: ``processes`` or ``dask`` (``dask://host:port`` for a scheduler)."""
    if name.startswith(("dask://", "tcp://")):
        return DaskExecutor(jobs, address=name.removeprefix("dask://"))
    if name == "dask":
        return DaskExecutor(jobs, address=address)
    if name in ("processes", "local"):
        return ProcessExecutor(jobs)
    raise ValueError(f"unknown executor {name!r}; expected one of: {', '.join(EXECUTORS)}")


class ExecutorError(ValueError):  # TEMPORARY until the executors branch lands
    """An executor that does not exist or cannot be reached."""


def check_executor(name: str) -> None:  # TEMPORARY until the executors branch lands
    if name not in EXECUTORS and not name.startswith("tcp://"):
        raise ExecutorError(f"--executor {name}: unknown executor")
