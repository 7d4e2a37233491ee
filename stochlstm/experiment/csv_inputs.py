"""Columns of a CSV file as inputs (or targets), and their normalisation.

A file is read as text (UTF-8, a header row, ``"`` quoting), every selected
value must be a finite decimal number, and every error names the file and
the line. ``normalize`` scales each column after the rows are selected:

- ``none``; ``zscore`` and ``minmax`` with the selected rows' own mean and
  population sd (ddof 0), or min and max;
- ``{mean: ..., sd: ...}``: ``(x - mean) / sd`` with the constants given (a
  number, or one per column), e.g. those a model was trained with;
- ``{fit_rows: {start, stop}}``: ``(x - mean) / sd`` with the mean and
  population sd of the file's data rows ``start <= row < stop`` (whatever
  rows are selected), e.g. the training split.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from ..core.errors import FieldError

__all__ = ["InputError", "from_csv", "normalize_columns"]


class InputError(FieldError):
    """A bad input (or target) specification; ``field`` names the offending key
    of its block (e.g. ``"file"``, ``"columns"``, ``"value"``)."""


def _shown(text: str, limit: int = 20) -> str:
    """``repr(text)``, cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


@dataclass(frozen=True)
class _CSVTable:
    """A CSV file as text: the header's names (stripped), the data rows (each
    one field per name) and the line each row starts on."""

    path: Path
    names: list[str]
    rows: list[list[str]]
    lines: list[int]


def _read_csv_table(path: Path) -> _CSVTable:
    """The fields of a CSV file (UTF-8, a byte order mark allowed, commas
    between fields, ``"`` quoting): InputError("file") unless every row has as
    many fields as the header; blank lines are allowed only at the end."""

    def refuse(message: str):
        raise InputError("file", f"{path.name}: {message}")

    rows, lines = [], []
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, strict=True)
            end = 0  # the line the previous row ended on
            for row in reader:
                rows.append(row)
                lines.append(end + 1)
                end = reader.line_num
    except UnicodeDecodeError:
        refuse("is not UTF-8 text")
    except csv.Error as error:
        refuse(f"line {end + 1}: not CSV: {error}")
    while rows and not rows[-1]:  # a blank line at the end is not a row of data
        rows.pop()
        lines.pop()
    if not rows:
        refuse("is empty; expected a header row naming the columns, then rows of numbers")
    header, rows, lines = rows[0], rows[1:], lines[1:]
    for row, line in zip(rows, lines, strict=True):
        if not row:
            refuse(f"line {line} is blank; blank lines are allowed only at the end")
    wrong = [
        (len(row), line) for row, line in zip(rows, lines, strict=True) if len(row) != len(header)
    ]
    if wrong:
        more = f" (and {len(wrong) - 1} more rows)" if len(wrong) > 1 else ""
        fields = "field" if wrong[0][0] == 1 else "fields"
        refuse(
            f"line {wrong[0][1]} has {wrong[0][0]} {fields} but the header has {len(header)}"
            f"{more}; every row needs one field per column"
        )
    return _CSVTable(path, [name.strip() for name in header], rows, lines)


_NUMBER = re.compile(r"[ \t]*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?[ \t]*")


def _numbers(cells: list[str]) -> np.ndarray:
    """The cells as float64: decimal numbers (spaces around allowed), NaN for
    any other cell."""
    return np.array([float(c) if _NUMBER.fullmatch(c) else math.nan for c in cells])


def _rows(table: _CSVTable, start, stop, field: str, what: str = "") -> range:
    """The data rows ``start:stop`` (a Python slice); InputError(field) if none."""
    rows = range(len(table.rows))[slice(start, stop)]
    if len(rows) == 0:
        raise InputError(
            field,
            f"no rows selected{what} from {table.path.name} "
            f"({len(table.rows)} data rows, start={start}, stop={stop})",
        )
    return rows


def _column_values(table: _CSVTable, columns: list[str], rows: range, field: str) -> np.ndarray:
    """``(len(rows), len(columns))`` float64; InputError(field) naming the first
    cells that are not finite numbers."""
    values = np.empty((len(rows), len(columns)))
    for k, column in enumerate(columns):
        index = table.names.index(column)
        text = [table.rows[r][index] for r in rows]
        values[:, k] = _numbers(text)
        bad = np.flatnonzero(~np.isfinite(values[:, k]))
        if bad.size:
            shown = ", ".join(
                f"row {rows[b]} (line {table.lines[rows[b]]}): "
                f"{_shown(text[b]) if text[b].strip() else 'empty'}"
                for b in bad[:3]
            )
            more = f" and {bad.size - 3} more" if bad.size > 3 else ""
            name = table.path.name
            message = f"{name}, column {_shown(column)}: not a finite number at {shown}{more}"
            raise InputError(field, message)
    return values


def _per_column(value, n_columns: int, name: str) -> np.ndarray:
    row = np.asarray(value, dtype=np.float64)
    if row.ndim == 0:
        return np.full(n_columns, float(row))
    if row.shape != (n_columns,):
        message = (
            f"{name}: expected a number or {n_columns} numbers (one per column), got {row.size}"
        )
        raise InputError("normalize", message)
    return row


def normalize_columns(values: np.ndarray, how, fit_values=None) -> np.ndarray:
    """``values (T, columns)`` scaled as ``how`` says (see the module's
    docstring): a name, ``{mean, sd}``, or ``{fit_rows}`` whose rows'
    ``fit_values`` give the mean and sd."""
    if isinstance(how, BaseModel):
        how = how.model_dump()
    if isinstance(how, Mapping):
        if "fit_rows" in how:
            mean, sd = fit_values.mean(axis=0), fit_values.std(axis=0)
            if np.any(sd == 0):
                column = int(np.flatnonzero(sd == 0)[0])
                message = (
                    f"column {column} is constant over fit_rows; its sd is 0, "
                    "so it cannot be scaled by it"
                )
                raise InputError("normalize", message)
        else:
            mean = _per_column(how.get("mean"), values.shape[1], "mean")
            sd = _per_column(how.get("sd"), values.shape[1], "sd")
            if not np.all(sd > 0):
                raise InputError("normalize", f"sd: expected numbers > 0, got {sd.tolist()}")
        return (values - mean) / sd
    if how == "none":
        return values
    if how == "zscore":
        centred = values - values.mean(axis=0)
        sd = values.std(axis=0)  # population sd (ddof=0), as sklearn's StandardScaler
        return np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)
    if how == "minmax":
        low, span = values.min(axis=0), np.ptp(values, axis=0)
        return np.divide(values - low, span, out=np.zeros_like(values), where=span > 0)
    message = f"expected none, zscore, minmax, {{mean, sd}} or {{fit_rows}}, got {how!r}"
    raise InputError("normalize", message)


def from_csv(
    file,
    columns: Sequence[str],
    *,
    start: int | None = None,
    stop: int | None = None,
    normalize="none",
    base_dir=".",
) -> np.ndarray:
    """Columns of a CSV file (with a header row) as inputs ``(T, len(columns))``.

    ``file`` is relative to ``base_dir`` (the experiment file's folder). Every
    row has one field per name of the header (quoted with ``"`` where it holds
    a comma); blank lines are allowed at the end only; names are matched
    without surrounding spaces. ``start`` / ``stop`` select data rows as a
    Python slice: row 0 is the first row after the header (line 2 of the file
    when no field spans lines). Every selected value must be a finite decimal
    number (``12``, ``-0.5``, ``1e-3``); errors name the file and the line
    (and the column and the row). ``normalize`` (see the module's docstring)
    is applied per column after slicing: ``zscore`` and ``minmax`` turn a
    constant column into zeros; ``{fit_rows: {start, stop}}`` refuses one.
    """
    path = Path(base_dir) / Path(file)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        where = "" if Path(file).is_absolute() else f" (looked for {path})"
        raise InputError("file", f"{str(file)!r} {what}{where}")
    columns = list(columns)
    if not columns:
        raise InputError("columns", "expected at least one column name")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError("columns", f"{', '.join(map(repr, repeated))} listed more than once")
    table = _read_csv_table(path)
    missing = [c for c in columns if c not in table.names]
    if missing:
        available = ", ".join(name[:40] for name in table.names[:20]) or "(none)"
        more = f" and {len(table.names) - 20} more" if len(table.names) > 20 else ""
        raise InputError(
            "columns",
            f"{', '.join(map(_shown, missing))} not in {path.name}; "
            f"its columns are: {available}{more}",
        )
    twice = [c for c in columns if table.names.count(c) > 1]
    if twice:
        fields = [k + 1 for k, name in enumerate(table.names) if name == twice[0]]
        message = f"{path.name} has two columns named {_shown(twice[0])} (fields {fields})"
        raise InputError("columns", message)
    values = _column_values(table, columns, _rows(table, start, stop, "start"), "columns")
    fit_values = None
    if isinstance(normalize, BaseModel):
        normalize = normalize.model_dump()
    if isinstance(normalize, Mapping) and "fit_rows" in normalize:
        fit = normalize["fit_rows"] or {}
        if (fit.get("stop") or 0) > len(table.rows):
            message = (
                f"fit_rows: stop {fit['stop']} is past the end of {path.name} "
                f"({len(table.rows)} data rows)"
            )
            raise InputError("normalize", message)
        rows = _rows(table, fit.get("start"), fit.get("stop"), "normalize", " by fit_rows")
        fit_values = _column_values(table, columns, rows, "normalize")
    return normalize_columns(values, normalize, fit_values)
