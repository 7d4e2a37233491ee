"""The checkpoint of a run: its folded statistics as data, never code.

``.checkpoint.npz`` holds the arrays of an
:class:`~stochlstm.experiment.tables.Accumulator` (every running statistic's
mean, m2, min and max, every block of sample paths) and one JSON string: how
many tasks are folded (the done list is the tasks before ``next_task``, in
task order), which array is which, and the fingerprint of the run (its
resolved config and input files) the statistics belong to. The arrays and the
done list are written together to a temporary file renamed into place, so a
checkpoint holds a task whole or not at all. It is read with
``allow_pickle=False``: a file that is not such a checkpoint is refused with a
:class:`CheckpointError`, nothing in it is run.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..engine.statistics import RunningStats
from .rundir import atomic_write
from .tables import Accumulator

__all__ = [
    "CHECKPOINT",
    "CheckpointError",
    "load_checkpoint",
    "read_data_file",
    "save_checkpoint",
    "write_data_file",
]

CHECKPOINT = ".checkpoint.npz"
_FORMAT = "stochlstm-checkpoint-1"
_MOMENTS = ("mean", "m2", "min", "max")


class CheckpointError(Exception):
    """A checkpoint that cannot be read back, or belongs to another run."""


def save_checkpoint(path: Path, accumulator: Accumulator, fingerprint: str) -> None:
    """Write ``accumulator`` to ``path`` atomically (write new, then rename)."""
    arrays: dict[str, np.ndarray] = {}
    stats = []
    for k, (key, running) in enumerate(accumulator.stats.items()):
        stats.append([*key, running.n])
        for name in _MOMENTS:
            arrays[f"s{k}_{name}"] = getattr(running, name)
    paths = []
    for k, (key, blocks) in enumerate(accumulator.paths.items()):
        paths.append([*key, len(blocks)])
        for j, block in enumerate(blocks):
            arrays[f"p{k}_{j}"] = block
    meta = {
        "format": _FORMAT,
        "fingerprint": fingerprint,
        "next_task": accumulator.next_task,
        "stats": stats,
        "paths": paths,
        "path_seeds": {str(point): seeds for point, seeds in accumulator.path_seeds.items()},
    }
    write_data_file(path, arrays, meta)


def load_checkpoint(path: Path, fingerprint: str) -> Accumulator:
    """The accumulator saved at ``path``; :class:`CheckpointError` if the file
    is not a checkpoint of this toolkit or belongs to another fingerprint."""
    meta, data = read_data_file(
        path,
        _FORMAT,
        fingerprint,
        what="checkpoint",
        other="another experiment or other input files",
    )
    try:
        accumulator = Accumulator(next_task=int(meta["next_task"]))
        for k, (point, condition, quantity, n) in enumerate(meta["stats"]):
            moments = [data[f"s{k}_{name}"] for name in _MOMENTS]
            accumulator.stats[(point, condition, quantity)] = RunningStats(int(n), *moments)
        for k, (point, condition, quantity, count) in enumerate(meta["paths"]):
            blocks = [data[f"p{k}_{j}"] for j in range(count)]
            accumulator.paths[(point, condition, quantity)] = blocks
        accumulator.path_seeds = {
            int(point): [int(s) for s in seeds] for point, seeds in meta["path_seeds"].items()
        }
    except (ValueError, KeyError, TypeError) as error:
        raise _damaged(path, error) from None
    return accumulator


def write_data_file(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """``arrays`` and the JSON ``meta`` (with its ``format`` and ``fingerprint``)
    as one ``.npz``, atomically: the form of every checkpoint, never pickle."""
    arrays = {**arrays, "meta": np.array(json.dumps(meta))}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def read_data_file(
    path: Path, format: str, fingerprint: str, *, what: str, other: str
) -> tuple[dict, dict[str, np.ndarray]]:
    """The ``meta`` and the arrays of a :func:`write_data_file` file, read with
    ``allow_pickle=False``; :class:`CheckpointError` if it is not a ``format``
    file (a stochlstm ``what``), belongs to ``other`` (another fingerprint) or
    is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            if meta.get("format") != format:
                raise CheckpointError(f"{path}: not a stochlstm {what}")
            if meta["fingerprint"] != fingerprint:
                raise CheckpointError(f"{path}: the {what} belongs to {other}")
            return meta, {k: data[k] for k in data.files if k != "meta"}
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as error:
        raise _damaged(path, error) from None


def _damaged(path: Path, error: Exception) -> CheckpointError:
    detail = " ".join(str(error).split())[:200]
    return CheckpointError(f"{path}: damaged checkpoint ({type(error).__name__}: {detail})")
