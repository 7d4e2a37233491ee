"""Seed groups in threads: whole blocks, results in order, the cause of a failure."""

import signal
import threading
import time
from functools import partial
from itertools import pairwise

import pytest

from stochlstm.engine.statistics import SEED_BLOCK
from stochlstm.engine.threads import GROUP_VALUES, Cancelled, check, run_in_threads, seed_groups


@pytest.mark.parametrize(
    "n_seeds,threads,hidden",
    [
        (1, 4, 64),
        (256, 2, 64),
        (600, 2, 64),
        (600, 3, 8),
        (5000, 7, 64),
        (5000, 1, 64),
        (100_000, 2, 16),
        (100_000, 2, 1024),
    ],
)
def test_seed_groups_are_whole_blocks_covering_every_seed_once(n_seeds, threads, hidden):
    groups = seed_groups(n_seeds, threads, hidden)
    n_blocks = -(-n_seeds // SEED_BLOCK)
    most_blocks = max(1, GROUP_VALUES // (hidden * SEED_BLOCK))
    assert groups[0].start == 0 and groups[-1].stop == n_seeds
    for before, after in pairwise(groups):
        assert before.stop == after.start and before.stop % SEED_BLOCK == 0
    sizes = [-(-(g.stop - g.start) // SEED_BLOCK) for g in groups]
    assert max(sizes) <= most_blocks
    assert max(sizes) - min(sizes) <= 1  # as even as whole blocks allow
    assert len(groups) == n_blocks or len(groups) % threads == 0  # every thread busy


def test_seed_groups_refuse_zero_threads():
    with pytest.raises(ValueError, match="threads"):
        seed_groups(10, 0, 4)


def test_more_calls_than_threads_all_run_in_order():
    seen = []

    def call(k):
        def run(cancelled):
            seen.append(threading.get_ident())
            return k * k

        return run

    assert run_in_threads([call(k) for k in range(7)], threads=2) == [k * k for k in range(7)]
    assert len(set(seen)) <= 2


def test_results_come_back_in_order_and_run_at_once():
    started = threading.Barrier(3, timeout=10)  # breaks unless all three run together

    def call(k):
        def run(cancelled):
            started.wait()
            return k

        return run

    assert run_in_threads([call(k) for k in range(3)], threads=3) == [0, 1, 2]


def test_the_failing_call_is_reported_and_the_others_are_cancelled():
    cancelled_seen = []

    def failing(cancelled):
        time.sleep(0.05)
        raise KeyError("the cause")

    def looping(cancelled):
        for _ in range(1000):  # ~10 s unless cancelled
            try:
                check(cancelled)
            except Cancelled:
                cancelled_seen.append(True)
                raise
            time.sleep(0.01)
        return "finished"

    start = time.perf_counter()
    with pytest.raises(KeyError, match="the cause"):
        run_in_threads([looping, failing, looping], threads=3)
    assert cancelled_seen == [True, True]
    assert time.perf_counter() - start < 5


def test_an_interrupt_while_waiting_stops_the_other_threads():
    """Ctrl-C can arrive while this thread, its own calls done, waits for the
    others: they are cancelled at their next check instead of running on."""
    worker_started = threading.Event()
    main = threading.main_thread()

    def either(cancelled):
        if threading.current_thread() is main:
            assert worker_started.wait(5)
            ctrl_c = partial(signal.pthread_kill, main.ident, signal.SIGINT)
            threading.Timer(0.2, ctrl_c).start()  # arrives while this thread waits
            return
        worker_started.set()
        for _ in range(1000):  # ~10 s unless cancelled
            check(cancelled)
            time.sleep(0.01)

    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_in_threads([either, either], threads=2)
    assert time.perf_counter() - start < 5


def test_no_seeds_is_an_error():
    with pytest.raises(ValueError, match="at least one seed"):
        seed_groups(0, 2, 4)
