"""Where a run's tasks execute: in this process, in local processes, or on Dask.

Every executor hands results back in task order, and tasks do not depend on
where they run (see :mod:`stochlstm.core.randomness` and
:mod:`stochlstm.experiment.plan`), so the executor never changes a number.

An executor is named ``local``, ``processes``, ``dask`` (a local Dask cluster)
or ``tcp://host:port`` (a running Dask scheduler); :func:`check_executor`
reads the name up front and :class:`ExecutorError` says in one line what is
wrong with it, or that its scheduler does not answer.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from .progress import REPORT_SECONDS, StepMeter, use_worker_meter

__all__ = [
    "EXECUTORS",
    "SCHEDULER_TIMEOUT",
    "DaskExecutor",
    "ExecutorError",
    "ProcessExecutor",
    "check_executor",
    "make_executor",
]

EXECUTORS = ("local", "processes", "dask")
SCHEDULER_TIMEOUT = 5.0  # seconds to wait for a Dask scheduler to answer
_PARENT_POLL = 0.2  # seconds between a worker's checks that its parent lives


class ExecutorError(ValueError):
    """An executor that cannot be used: an unknown name, a malformed scheduler
    address, a scheduler that does not answer, Dask not installed. One line."""


def _shown(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def check_executor(name: str) -> tuple[str, str | None]:
    """``(kind, address)`` of the executor ``name``: ``local``, ``processes``,
    ``dask`` (address None), or ``tcp://host:port`` / ``dask://host:port`` of a
    Dask scheduler (kind ``dask``, address ``tcp://host:port``). Raises
    :class:`ExecutorError` naming what is wrong; connects to nothing."""
    text = str(name).strip()
    if text in EXECUTORS:
        return text, None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("tcp", "dask"):
        raise ExecutorError(
            f"unknown executor {_shown(text)}; expected one of: {', '.join(EXECUTORS)}, "
            "or tcp://host:port of a Dask scheduler"
        )
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})", rest)
    if not match or not 1 <= int(match[2]) <= 65535:
        raise ExecutorError(
            f"malformed scheduler address {_shown(text)}; expected tcp://host:port "
            "with a port from 1 to 65535, e.g. tcp://127.0.0.1:8786"
        )
    return "dask", f"tcp://{match[1]}:{int(match[2])}"


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when its parent process ends.

    A daemon thread checks every :data:`_PARENT_POLL` seconds that the parent
    is still the parent (an orphan is adopted by another process) and ends the
    worker at once if not, so a ``kill -9`` of the run leaves no workers
    behind. Linux's ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the
    *thread* that started the worker ends, which the pool does not control.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_worker(parent_pid: int, step_cell) -> None:
    """Worker initializer: exit with the parent (:func:`_exit_with_parent`) and
    count simulated steps in the parent's shared ``step_cell`` (if not None)."""
    _exit_with_parent(parent_pid)
    use_worker_meter(step_cell)


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
    result: Callable[[Any], Any] = lambda future: future.result(),
) -> Iterator[tuple[Any, Any]]:
    """``(task, function(*args))`` in task order, with at most ``window`` tasks
    submitted and not yet handed back; ``result(future)`` waits for each,
    ``done(future)`` after each result."""
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
        value = result(future)
        if done is not None:
            done(future)
        fill()
        yield task, value


def _waiting(waiting: Callable[[], None] | None) -> Callable[[Any], Any]:
    """``future.result()``, calling ``waiting()`` every :data:`REPORT_SECONDS`
    meanwhile (for a ``concurrent.futures`` future)."""
    from concurrent.futures import wait

    def result(future):
        if waiting is not None:
            while wait([future], timeout=REPORT_SECONDS).not_done:
                waiting()
        return future.result()

    return result


class ProcessExecutor(AbstractContextManager):
    """Local worker processes (``spawn``), at most ``2 * jobs`` tasks in flight;
    a worker ends when this process ends, however it ends.

    With ``count_steps``, ``meter`` is a :class:`~stochlstm.experiment.progress.StepMeter`
    in shared memory that the workers count their simulated steps in
    (:func:`~stochlstm.experiment.progress.worker_meter`); None otherwise."""

    def __init__(self, jobs: int, count_steps: bool = False):
        self.jobs = max(1, int(jobs))
        self.count_steps = count_steps
        self.meter: StepMeter | None = None

    def __enter__(self):
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        context = get_context("spawn")
        cell = context.Value("q", 0) if self.count_steps else None
        self.meter = StepMeter(cell) if cell is not None else None
        with _single_threaded_blas():
            self.pool = ProcessPoolExecutor(
                self.jobs,
                mp_context=context,
                initializer=_start_worker,
                initargs=(os.getpid(), cell),
            )
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown(wait=exc_info[0] is None, cancel_futures=True)
        return False

    def map_in_order(
        self,
        function: Callable,
        arguments: Sequence[tuple],
        tasks: Sequence[Any],
        waiting: Callable[[], None] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """``(task, function(*args))`` in task order; ``waiting()`` every
        :data:`~stochlstm.experiment.progress.REPORT_SECONDS` while a result is awaited."""
        return _in_order(
            self.pool.submit,
            function,
            arguments,
            tasks,
            window=2 * self.jobs,
            result=_waiting(waiting),
        )


def _connect(client_type: type, address: str):
    """A ``client_type`` (dask's ``Client``) connected to the scheduler at
    ``address``, or :class:`ExecutorError` after :data:`SCHEDULER_TIMEOUT`
    seconds. The client is made in a thread of its own: ``Client(timeout=...)``
    bounds the connection but not the handshake, and a server that accepts and
    stays silent kept it waiting for good."""
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = client_type(address, timeout=SCHEDULER_TIMEOUT)
        except Exception as error:  # whatever answers, if anything, is no scheduler
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT + 1)
    if "client" in outcome:
        return outcome["client"]
    error = outcome.get("error")
    reason = f"{type(error).__name__}: {error}" if error is not None else "no answer"
    reason = (reason.strip().splitlines() or [""])[0][:200]
    raise ExecutorError(
        f"no Dask scheduler answers at {_shown(address)} within {SCHEDULER_TIMEOUT:g} s ({reason})"
    )


class DaskExecutor(AbstractContextManager):
    """Dask distributed: ``address`` of a running scheduler, or a local cluster
    of ``jobs`` single-threaded workers. Needs ``pip install 'stochlstm[dask]'``.
    Entering raises :class:`ExecutorError` if Dask is missing or the scheduler
    does not answer within :data:`SCHEDULER_TIMEOUT` seconds."""

    def __init__(self, jobs: int, address: str | None = None):
        self.jobs = max(1, int(jobs))
        self.address = address

    def __enter__(self):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError(
                "the dask executor needs dask.distributed: pip install 'stochlstm[dask]'"
            ) from None
        if self.address:
            self.cluster = None
            self.client = _connect(Client, self.address)
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
        self,
        function: Callable,
        arguments: Sequence[tuple],
        tasks: Sequence[Any],
        waiting: Callable[[], None] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """``(task, function(*args))`` in task order; progress is per task
        (``waiting`` is not called)."""
        window = 2 * max(self.jobs, len(self.client.scheduler_info().get("workers", {})) or 1)

        def submit(function, *args):
            return self.client.submit(function, *args, pure=False)

        return _in_order(submit, function, arguments, tasks, window, done=lambda f: f.release())


def make_executor(name: str, jobs: int, address: str | None = None, count_steps: bool = False):
    """The executor ``name`` (see :func:`check_executor`): ``local`` and
    ``processes`` are worker processes (counting their steps in a shared
    meter with ``count_steps``), ``dask`` a local Dask cluster or the
    scheduler at ``address``, ``tcp://host:port`` that scheduler."""
    kind, scheduler = check_executor(name)
    if kind == "dask":
        return DaskExecutor(jobs, address=scheduler or address)
    return ProcessExecutor(jobs, count_steps=count_steps)
