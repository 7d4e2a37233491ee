"""Running groups of seeds in threads of one process.

A batch splits into groups of whole seed blocks, each a kernel on its own buffers in its own
thread (NumPy releases the GIL in its loops and BLAS calls); a seed's numbers are the same bits
in any group, so the thread count never changes a result. Separate buffers matter: column
slices of shared buffers, synchronised every step, ran only 7-28% faster on two threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from itertools import pairwise

from threadpoolctl import threadpool_limits

from .statistics import SEED_BLOCK

__all__ = ["Cancelled", "check", "run_in_threads", "seed_groups", "usable_cores"]


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Values (hidden units x seeds) per quantity and step of a group, at most: few enough that a
# step stays in cache and the uniforms come in long calls (short calls from several threads
# spend their time handing over the GIL), many enough that NumPy's per-call cost stays small.
GROUP_VALUES = 64 * 1024


def seed_groups(n_seeds: int, threads: int, hidden_size: int) -> list[slice]:
    """``n_seeds`` in slices of whole blocks, at most :data:`GROUP_VALUES` values each,
    a multiple of ``threads`` of them when there are enough blocks, as even as can be."""
    if threads < 1:
        raise ValueError(f"threads: expected a positive number, got {threads}")
    if n_seeds < 1:
        raise ValueError("at least one seed is needed")
    n_blocks = -(-n_seeds // SEED_BLOCK)
    group_blocks = max(1, GROUP_VALUES // (max(1, hidden_size) * SEED_BLOCK))
    rounds = -(-n_blocks // (group_blocks * threads))
    n_groups = min(n_blocks, rounds * threads)
    bounds = [round(k * n_blocks / n_groups) * SEED_BLOCK for k in range(n_groups + 1)]
    return [slice(lo, min(hi, n_seeds)) for lo, hi in pairwise(bounds)]


class Cancelled(Exception):
    """Raised in a group's run when another group has failed or the run was interrupted."""


def run_in_threads(calls: Sequence[Callable[[threading.Event], object]], threads: int) -> list:
    """Run ``calls`` on ``threads`` threads (this one among them); their results in order.

    Each call gets an event, set when another call has failed or this thread was interrupted:
    it should then raise :class:`Cancelled` (``check(cancelled)`` once per step). BLAS is held
    to one thread meanwhile. Once every running call has ended, the first error that is not a
    cancellation is raised."""
    cancelled = threading.Event()
    results: list = [None] * len(calls)
    pending = iter(range(len(calls)))
    take = threading.Lock()

    def work() -> None:
        while not cancelled.is_set():
            with take:
                k = next(pending, None)
            if k is None:
                return
            try:
                results[k] = calls[k](cancelled)
            except BaseException:
                cancelled.set()
                raise

    n_threads = max(1, min(threads, len(calls)))
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max(1, n_threads - 1), thread_name_prefix="stochlstm") as pool,
    ):
        futures = [pool.submit(work) for _ in range(n_threads - 1)]
        errors: list[BaseException] = []
        try:
            work()
        except BaseException as error:  # an interrupt too: the others stop first
            errors.append(error)
        try:
            wait(futures)
        except BaseException as error:  # interrupted while the others finish
            cancelled.set()
            errors.append(error)
            wait(futures)
        errors += [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    return results


def check(cancelled: threading.Event) -> None:
    if cancelled.is_set():
        raise Cancelled("another group of seeds failed or the run was interrupted")
