"""SIGINT/SIGTERM during a run: raised once, never inside a deferred block."""

import os
import signal

import pytest

from stochlstm.experiment.interrupts import deferred, stop_signals


def signal_self(signum=signal.SIGINT):
    os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_a_deferred_block_is_raised_when_it_ends(signum):
    steps = []
    with stop_signals(), pytest.raises(KeyboardInterrupt):
        with deferred():
            signal_self(signum)
            steps.append("after the signal")  # the block runs to its end
        steps.append("after the block")  # never reached
    assert steps == ["after the signal"]


def test_signals_during_the_stop_do_not_cut_the_cleanup_short():
    cleaned = []
    with stop_signals():
        try:
            signal_self()
            pytest.fail("the first signal must interrupt")
        except KeyboardInterrupt:
            signal_self()  # a second Ctrl-C 1 ms later
            signal_self(signal.SIGTERM)
            cleaned.append("checkpoint saved")
            with deferred():
                cleaned.append("manifest written")
    assert cleaned == ["checkpoint saved", "manifest written"]


def test_the_previous_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_signals():
        pass
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
