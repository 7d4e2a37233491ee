"""The runs in a results folder, one row each, read from their manifests.

>>> list_runs("results")                                  # doctest: +SKIP
                 name    status  seeds  sweep_points  ...

A run directory is a folder holding a ``manifest.json`` written by stochlstm;
other folders are looked into (up to :data:`MAX_DEPTH` levels, so the runs of
``--out results/hidden-32`` are found too) and otherwise skipped, and so are
hidden ones (``.<name>.new``, a ``--force`` replacement in progress). Nothing
is written and no table is read: a listing of a hundred runs reads a hundred
small JSON files.

``status`` is the manifest's (``complete``, ``running``, ``interrupted``,
``failed``), except that a run whose manifest says ``running`` while no
process holds its lock (:mod:`stochlstm.experiment.lock`) is ``unfinished``:
its process died (``kill -9``, a power cut) and ``--resume`` finishes it. A
manifest that cannot be read is ``unreadable``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..experiment.lock import lock_holder
from .run import RunError

__all__ = ["RUN_COLUMNS", "list_runs", "runs_text"]

MANIFEST = "manifest.json"
MAX_DEPTH = 3  # folder levels below the listed one searched for run directories
UNFINISHED = "unfinished"
UNREADABLE = "unreadable"
_END = {"complete": "finished", "interrupted": "stopped", "failed": "stopped"}  # manifest key

# The columns of list_runs, and what each holds.
RUN_COLUMNS = {
    "name": "the run directory, relative to the listed folder",
    "status": "complete | running | interrupted | failed | unfinished (running, "
    "but its process died) | unreadable (a damaged manifest)",
    "seeds": "number of seeds",
    "sweep_points": "number of sweep points (1 without a sweep)",
    "sweep": "the sweep columns (the swept parameters), comma-separated",
    "conditions": "the conditions, comma-separated",
    "started": "when the run started (ISO 8601, UTC)",
    "finished": "when it finished, or stopped (interrupted, failed); empty otherwise",
    "missing": "the phases not done yet, comma-separated (simulate, tables, metrics, ...)",
    "path": "the run directory",
}


def list_runs(directory: str | os.PathLike = "results") -> pd.DataFrame:
    """One row per run directory in ``directory`` (or ``directory`` itself, if
    it is one), sorted by name, with the columns of :data:`RUN_COLUMNS`.

    Raises :class:`~stochlstm.analysis.run.RunError` when ``directory`` does
    not exist or is not a folder; a folder without runs gives an empty frame.
    """
    directory = Path(directory)
    if not directory.exists():
        raise RunError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise RunError(f"{directory}: not a directory")
    rows = [_row(path, directory) for path in _run_dirs(directory, MAX_DEPTH)]
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    frame = frame.astype({"seeds": "Int64", "sweep_points": "Int64"})
    return frame.sort_values("name", kind="stable").reset_index(drop=True)


def _run_dirs(folder: Path, depth: int) -> Iterator[Path]:
    """The run directories at or below ``folder``, not below a run directory."""
    if (folder / MANIFEST).is_file():
        yield folder
        return
    if depth == 0:
        return
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:  # a folder that cannot be read is not a run
        return
    for child in children:
        yield from _run_dirs(child, depth - 1)


def _row(path: Path, root: Path) -> dict:
    name = path.relative_to(root).as_posix() if path != root else path.name
    row = dict.fromkeys(RUN_COLUMNS, "")
    row.update(name=name, path=str(path), seeds=None, sweep_points=None)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict):
        return {**row, "status": UNREADABLE}
    status = str(manifest.get("status", UNREADABLE))
    if status == "running" and lock_holder(path) is None:
        status = UNFINISHED
    seeds = manifest.get("seeds")
    phases = manifest.get("phases")
    row.update(
        status=status,
        seeds=seeds.get("count") if isinstance(seeds, dict) else None,
        sweep_points=len(manifest.get("sweep_points") or [{}]),
        sweep=", ".join(map(str, (manifest.get("sweep_columns") or {}).values())),
        conditions=", ".join(manifest.get("conditions") or {}),
        started=str(manifest.get("started", "")),
        finished=str(manifest.get(_END.get(status, ""), "")),
        missing=", ".join(k for k, v in phases.items() if v != "done")
        if isinstance(phases, dict)
        else "",
    )
    return row


def runs_text(runs: pd.DataFrame) -> str:
    """The listing as plain text for a terminal: one line per run, and a note
    on what to do with an unfinished or interrupted one."""

    def when(stamp: str) -> str:  # 2026-12-02T06:57:28+00:00 -> 2026-12-02 06:57
        return stamp[:16].replace("T", " ") if stamp else "–"

    def points(row) -> str:
        return f"{row.sweep_points} ({row.sweep})" if row.sweep else str(row.sweep_points)

    columns = {
        "name": runs["name"],
        "status": runs["status"],
        "seeds": runs["seeds"].map(lambda n: "–" if pd.isna(n) else f"{n:,}"),
        "points": [points(row) for row in runs.itertuples()],
        "started (UTC)": runs["started"].map(when),
        "finished (UTC)": runs["finished"].map(when),
        "missing": runs["missing"].replace("", "–"),
        "conditions": runs["conditions"],
    }
    unreadable = (runs["status"] == UNREADABLE).to_numpy()
    for name in ("seeds", "points"):
        columns[name] = [
            "–" if bad else v for bad, v in zip(unreadable, columns[name], strict=True)
        ]
    lines = [_aligned(columns, right={"seeds"})]
    if (runs["status"] == UNFINISHED).any():
        lines.append(
            "unfinished: the manifest says running, but no process holds the run's lock "
            "(its process died); `stochlstm run EXPERIMENT --resume` finishes it"
        )
    if runs["status"].isin(["interrupted", "failed"]).any():
        lines.append(
            "interrupted, failed: `stochlstm run EXPERIMENT --resume` finishes the missing phases"
        )
    return "\n".join(lines)


def _aligned(columns: dict, right=frozenset()) -> str:
    """Text columns separated by two spaces, left-aligned (``right``: right-aligned)."""
    cells = {name: [str(v) for v in values] for name, values in columns.items()}
    widths = {name: max(len(name), *map(len, values)) for name, values in cells.items()}

    def line(values: dict) -> str:
        parts = [
            v.rjust(widths[k]) if k in right else v.ljust(widths[k]) for k, v in values.items()
        ]
        return "  ".join(parts).rstrip()

    rows = [dict(zip(cells, row, strict=True)) for row in zip(*cells.values(), strict=True)]
    return "\n".join([line({k: k for k in cells}), *map(line, rows)])
