"""One writer per run directory: an OS lock held from the first file written
to the last.

The lock is ``fcntl.flock`` on ``<out>/.<name>.lock``, a file beside the run
directory rather than in it: ``--force`` builds the new run in
``<out>/.<name>.new`` and swaps the directories at the end, and one lock must
cover both. The operating system releases the lock when its process ends,
however it ends, so a lock is never stale; the file itself stays (removing it
would let two processes lock two different files of the same name). It holds
a line saying who holds the lock, for the message a second process gets.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from .rundir import RunDirectoryError, now

__all__ = ["RunLock", "lock_holder", "lock_path"]


def lock_path(target: Path) -> Path:
    """The lock file of the run directory ``target``."""
    return target.parent / f".{target.name}.lock"


def lock_holder(target: str | os.PathLike) -> str | None:
    """Who holds the lock of run directory ``target`` (the line the holder wrote),
    or None when no process does.

    There is no way to ask ``flock`` without taking the lock: a free lock is
    taken shared and released at once. A writer starting in that instant is
    refused as if the run were busy; a listing of runs can live with that.
    """
    import fcntl

    path = lock_path(Path(target))
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class RunLock:
    """The exclusive lock of run directory ``target``; ``with RunLock(target):``.

    Entering raises :class:`~stochlstm.experiment.rundir.RunDirectoryError`
    naming the process that holds it, if another does.
    """

    def __init__(self, target: str | os.PathLike, command: str | None = None):
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.command = command or " ".join(sys.argv)
        self._handle = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunDirectoryError(
                f"{self.target} is being written by {holder}; wait for it to finish or stop it "
                "(one process writes a run directory at a time)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"process {os.getpid()} on {socket.gethostname()} (`{self.command}`, since {now()})\n"
        )
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None
