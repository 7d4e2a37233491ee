"""Reading a run directory back.

>>> run = load_run("results/answer-example")            # doctest: +SKIP
>>> run.config.model.hidden_size, run.baseline           # doctest: +SKIP
>>> run.summary.query("quantity == 'c' and t == 19")     # doctest: +SKIP

A run directory (see the README) holds ``manifest.json`` (with the run's
``status``), ``resolved.yaml`` (the validated config, read back as an
:class:`~stochlstm.experiment.schema.ExperimentConfig`), ``summary.csv`` and
usually ``trajectories.csv`` (or ``trajectories.parquet``). What the analysis
needs to know of the run, its baseline and its sweep columns, is read from
the config; the tables are read on first use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiment.load import load_experiment, sweep_columns, sweep_points
from ..experiment.problems import ConfigError
from ..experiment.rundir import file_sha256
from ..experiment.schema import ExperimentConfig
from .metrics import compute_metrics

__all__ = ["Run", "RunError", "load_run"]

_KEY_DTYPES = {"condition": "str", "t": "int64", "unit": "int64"}
_SUMMARY_DTYPES = {**_KEY_DTYPES, "quantity": "str", "n": "int64"}
_TRAJECTORY_DTYPES = {**_KEY_DTYPES, "seed": "int64"}
_TARGETS_DTYPES = {"loss": "str", "t": "int64", "unit": "int64", "in_window": "int64"}
_METRICS_DTYPES = {**_KEY_DTYPES, "metric": "str", "quantity": "str", "t": "Int64", "unit": "Int64"}


class RunError(Exception):
    """A folder that cannot be analysed as asked; the message is one line naming the folder."""


@dataclass(eq=False)
class Run:
    """A run directory: its ``config`` (resolved.yaml) and ``manifest`` (manifest.json)."""

    path: Path
    config: ExperimentConfig = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def description(self) -> str:
        return self.config.description

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def figures_dir(self) -> Path:
        return self.path / "figures"

    @property
    def baseline(self) -> str:
        """The condition the ``dev_*`` and ``div_*`` quantities are measured against."""
        return self.config.baseline

    @property
    def sweep_columns(self) -> list[str]:
        """The columns of the tables that hold swept parameters, in sweep order."""
        return list(sweep_columns(self.config).values())

    @cached_property
    def points(self) -> list[tuple[dict[str, Any], ExperimentConfig]]:
        """``(sweep columns, config)`` of each sweep point; ``[({}, config)]`` without a sweep."""
        return sweep_points(self.config)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: across-seed statistics per (condition, quantity, t, unit)."""
        return _read_csv(self.path / "summary.csv", _SUMMARY_DTYPES)

    @cached_property
    def trajectories(self) -> pd.DataFrame | None:
        """The recorded sample paths (``trajectories.parquet`` if present, else
        ``trajectories.csv``); None if the run kept none."""
        parquet = self.path / "trajectories.parquet"
        if parquet.exists():
            try:
                frame = pd.read_parquet(parquet)
            except ImportError as error:
                raise RunError(f"{parquet}: reading Parquet needs pyarrow ({error})") from None
            if "condition" in frame.columns:
                frame["condition"] = frame["condition"].astype("str")
            return frame
        frame = _read_csv(self.path / "trajectories.csv", _TRAJECTORY_DTYPES, optional=True)
        return frame if len(frame) else None

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """``metrics.csv`` when it exists, else computed from the summary (not
        written; :func:`~stochlstm.analysis.pipeline.analyze` writes it)."""
        path = self.path / "metrics.csv"
        if path.exists():
            return _read_csv(path, _METRICS_DTYPES)
        return compute_metrics(
            self.summary, sweep=self.sweep_columns, targets=self.targets, baseline=self.baseline
        )

    @cached_property
    def targets(self) -> pd.DataFrame | None:
        """``targets.csv`` (the targets of a run whose targets are the same at
        every seed, see :func:`~stochlstm.experiment.tables.targets_parts`); None without."""
        frame = _read_csv(self.path / "targets.csv", _TARGETS_DTYPES, optional=True)
        return frame if len(frame) else None


def _verify(path: Path, checksums: dict[str, str]) -> None:
    """A :class:`RunError` naming the first file the analysis reads that is
    missing or changed since the run wrote it."""
    for name in VERIFIED:
        expected = checksums.get(name)
        if expected is None:
            continue
        file = path / name
        if not file.is_file():
            raise RunError(f"{file}: missing, though the manifest lists it")
        if file_sha256(file) != expected:
            raise RunError(
                f"{file}: changed since the run wrote it (its sha256 differs from the "
                "manifest's); rerun the experiment, or pass --no-verify to use it as it is"
            )


def _read_csv(path: Path, dtypes: dict[str, str], *, optional: bool = False) -> pd.DataFrame:
    """The table at ``path``, with ``dtypes`` for those columns it has;
    ``optional``: an empty frame if the file is missing or empty."""
    if optional and not path.exists():
        return pd.DataFrame()
    try:
        return pd.read_csv(path, dtype=dtypes)
    except pd.errors.EmptyDataError:
        if optional:
            return pd.DataFrame()
        raise RunError(f"{path}: the file is empty") from None
    except (OSError, ValueError) as error:  # a ParserError is a ValueError
        message = " ".join(str(error).split())
        raise RunError(f"{path}: cannot read ({message})") from None


# The files the analysis reads; with ``verify`` they must match the manifest's checksums.
VERIFIED = (
    "resolved.yaml",
    "summary.csv",
    "trajectories.csv",
    "trajectories.parquet",
    "metrics.csv",
    "targets.csv",
)


def load_run(
    path: str | os.PathLike, *, allow_incomplete: bool = False, verify: bool = True
) -> Run:
    """Open the run directory at ``path``.

    Raises :class:`RunError` when ``path`` is not a run directory (no
    ``manifest.json``), has no ``summary.csv`` or no valid ``resolved.yaml``,
    its manifest says the run is not complete (unless ``allow_incomplete``),
    or (with ``verify``) a file the analysis reads differs from the sha256
    the manifest recorded when the run wrote it.
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
            "finish it with `stochlstm run <experiment> --resume`"
        )
    if not (path / "summary.csv").exists():
        raise RunError(f"{path}: no summary.csv (status: {status})")
    if verify:
        _verify(path, manifest.get("checksums") or {})
    try:
        config = load_experiment(path / "resolved.yaml")
    except ConfigError as error:
        raise RunError(
            f"{path}: resolved.yaml is not a valid experiment ({error.problems[0]})"
        ) from None
    return Run(path=path, config=config, manifest=manifest)
