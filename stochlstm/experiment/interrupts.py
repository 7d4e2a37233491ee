"""Ctrl-C and SIGTERM during a run: stop, but never in the middle of a commit.

Inside :func:`stop_signals`, SIGINT and SIGTERM raise :class:`KeyboardInterrupt`
in the main thread, as Ctrl-C does by default, once: the signals that follow
(a second Ctrl-C 1 ms later) are ignored while the run stops, so its cleanup
(save the checkpoint, mark the run interrupted) is not cut short. Inside
:func:`deferred`, they are held and raised when the block ends, so that what
the block does (fold a finished task into the running totals, write a
checkpoint) happens whole or not at all, whatever signal arrives when and
however many. Outside the main thread both are no-ops (Python delivers
signals to the main thread only).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["deferred", "stop_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = threading.local()


def _handler(signum, frame) -> None:
    if getattr(_state, "depth", 0) or getattr(_state, "stopping", False):
        _state.pending = signum
        return
    _state.stopping = True
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (or wait for the end of a
    :func:`deferred` block) while the block runs."""
    if not _main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _handler) for signum in _SIGNALS}
    _state.stopping = False
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state.stopping = False
        _state.__dict__.pop("pending", None)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends; then raise
    KeyboardInterrupt if one arrived (unless the block raised already)."""
    if not _main_thread():
        yield
        return
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1
        pending = _state.__dict__.pop("pending", None) if _state.depth == 0 else None
    if pending is not None and not getattr(_state, "stopping", False):
        _state.stopping = True
        raise KeyboardInterrupt
