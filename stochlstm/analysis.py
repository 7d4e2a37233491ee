"""Reading a run directory back, and computing its metrics.

>>> run = load_run("results/answer-example")        # doctest: +SKIP
>>> run.summary.query("quantity == 'c' and t == 19")   # doctest: +SKIP
>>> metrics = analyze(run)                             # writes metrics.csv   # doctest: +SKIP
>>> comparison_table(metrics, run.baseline)            # doctest: +SKIP

A run directory (see the README) holds ``manifest.json`` (with the run's
``status``), ``resolved.yaml`` (the validated config), ``summary.csv`` and
usually ``trajectories.csv`` (or ``trajectories.parquet``). The tables are read
on first use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .metrics import comparison_table, compute_metrics, find_baseline, sweep_columns
from .rundir import atomic_path

__all__ = [
    "Run",
    "RunError",
    "analyze",
    "analyze_and_draw",
    "atomic_path",
    "comparison_text",
    "draw_run_figures",
    "load_run",
]

_SUMMARY_DTYPES = {
    "condition": "str",
    "quantity": "str",
    "t": "int64",
    "unit": "int64",
    "n": "int64",
}
_TRAJECTORY_DTYPES = {"condition": "str", "seed": "int64", "t": "int64", "unit": "int64"}
_METRICS_DTYPES = {
    "condition": "str",
    "metric": "str",
    "quantity": "str",
    "t": "Int64",
    "unit": "Int64",
}


class RunError(Exception):
    """A folder that cannot be analysed as asked; the message is one line naming the folder."""


@dataclass(eq=False)
class Run:
    """A run directory. ``config`` is resolved.yaml, ``manifest`` manifest.json;
    ``summary``, ``trajectories`` and ``metrics`` are read when first used."""

    path: Path
    config: dict[str, Any] = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)

    @property
    def description(self) -> str:
        return str(self.config.get("description") or "")

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def figures_dir(self) -> Path:
        return self.path / "figures"

    @cached_property
    def baseline(self) -> str | None:
        """The deterministic baseline condition (resolved.yaml's ``baseline``,
        else found from the summary); None when the run has none."""
        configured = self.config.get("baseline")
        if configured is not None:
            return str(configured)
        try:
            return find_baseline(self.summary)
        except ValueError:
            return None

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: across-seed statistics per (condition, quantity, t, unit)."""
        return _read_csv(self.path / "summary.csv", _SUMMARY_DTYPES)

    @cached_property
    def trajectories(self) -> pd.DataFrame | None:
        """The recorded sample paths (``trajectories.parquet`` if present, else
        ``trajectories.csv``); None if the run kept none."""
        parquet, csv = self.path / "trajectories.parquet", self.path / "trajectories.csv"
        if parquet.exists():
            try:
                frame = pd.read_parquet(parquet)
            except ImportError as error:
                raise RunError(f"{parquet}: reading Parquet needs pyarrow ({error})") from None
            for column in ("condition",):
                if column in frame.columns:
                    frame[column] = frame[column].astype("str")
            return frame
        if csv.exists():
            try:
                frame = _read_csv(csv, _TRAJECTORY_DTYPES)
            except _EmptyFile:
                return None
            return frame if len(frame) else None
        return None

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """``metrics.csv`` when it exists, else computed from the summary (not written;
        :func:`analyze` writes it)."""
        path = self.path / "metrics.csv"
        if path.exists():
            metrics = _read_csv(path, _METRICS_DTYPES)
        else:
            metrics = compute_metrics(self.summary, self.baseline)
        metrics.attrs["baseline"] = self.baseline
        return metrics


class _EmptyFile(RunError):
    pass


def _read_csv(path: Path, dtypes: dict[str, str]) -> pd.DataFrame:
    try:
        header = pd.read_csv(path, nrows=0).columns
        return pd.read_csv(path, dtype={k: v for k, v in dtypes.items() if k in header})
    except pd.errors.EmptyDataError:
        raise _EmptyFile(f"{path}: the file is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        message = " ".join(str(error).split())
        raise RunError(f"{path}: cannot read ({message})") from None


def load_run(path: str | os.PathLike, *, allow_incomplete: bool = False) -> Run:
    """Open the run directory at ``path``.

    Raises :class:`RunError` when ``path`` is not a run directory (no
    ``manifest.json``), has no ``summary.csv``, or its manifest says the run is
    not complete (unless ``allow_incomplete``).
    """
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such directory")
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise RunError(f"{path}: not a run directory (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{manifest_path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise RunError(f"{manifest_path}: expected a JSON object")
    status = manifest.get("status")
    if status != "complete" and not allow_incomplete:
        raise RunError(
            f"{path}: the run is not complete (status: {status}); "
            "pass allow_incomplete=True to analyse it anyway"
        )
    if not (path / "summary.csv").exists():
        raise RunError(f"{path}: no summary.csv (status: {status})")
    config: dict[str, Any] = {}
    config_path = path / "resolved.yaml"
    if config_path.exists():
        try:
            config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            message = " ".join(str(error).split())
            raise RunError(f"{config_path}: not valid YAML ({message})") from None
        if not isinstance(config, dict):
            raise RunError(f"{config_path}: expected a mapping")
    return Run(path=path, config=config, manifest=manifest)


def analyze(
    run: Run | str | os.PathLike, *, baseline: str | None = None, allow_incomplete: bool = False
) -> pd.DataFrame:
    """Compute the metrics of a run, write ``metrics.csv`` into it and return them.

    ``baseline`` overrides the run's deterministic baseline condition.
    """
    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    try:
        metrics = compute_metrics(run.summary, baseline or run.baseline)
    except ValueError as error:
        raise RunError(f"{run.path}: {error}") from None
    with atomic_path(run.path / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    run.__dict__["metrics"] = metrics
    return metrics


def comparison_text(metrics: pd.DataFrame, baseline: str | None = None) -> str:
    """The comparison table as plain text for a terminal: one column per
    condition (and sweep point) when there are at most six, else one row each."""
    table = comparison_table(
        metrics, baseline if baseline is not None else metrics.attrs.get("baseline")
    )
    sweep = sweep_columns(metrics)
    numbers = table.drop(columns=[*sweep, "condition", "baseline"])
    labels = [
        f"{row['condition']}{' (baseline)' if row['baseline'] else ''}"
        + "".join(f" {k}={row[k]}" for k in sweep)
        for _, row in table.iterrows()
    ]
    formatted = numbers.map(lambda v: "–" if pd.isna(v) else f"{v:.4g}")
    formatted.index = labels
    if len(table) <= 6:
        formatted = formatted.T
    return formatted.to_string()


def draw_run_figures(
    path: str | os.PathLike | Run, formats=("png", "pdf"), *, allow_incomplete: bool = False
) -> list[Path]:
    """:func:`stochlstm.plots.draw_figures` for a run directory; problems raise RunError."""
    from .plots import draw_figures

    run = path if isinstance(path, Run) else load_run(path, allow_incomplete=allow_incomplete)
    try:
        return draw_figures(run, formats=tuple(formats))
    except ValueError as error:
        raise RunError(f"{run.path}: cannot draw the figures ({error})") from None


def analyze_and_draw(path: str | os.PathLike, formats=("png", "pdf")) -> dict[str, Path]:
    """Everything derived from a run's tables, for the runner at the end of a run
    (the manifest still says "running"): metrics.csv, the figures and report.html.

    Returns ``{path relative to the run directory: path}`` of the files written.
    """
    from .report import write_report

    run = load_run(path, allow_incomplete=True)
    written = [run.path / "metrics.csv"]
    analyze(run)
    written += draw_run_figures(run, formats=formats)
    written.append(write_report(run))
    return {str(p.relative_to(run.path)): p for p in written}
