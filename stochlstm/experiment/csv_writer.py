"""Writing the run's tables as CSV: every field formatted, and the rows joined,
by Arrow's C++ kernels (``pyarrow.compute``), a bounded number of rows at a time.

The fields, as ``DataFrame.to_csv(index=False)`` writes them except for the
look of some floats:

- a float is the shortest text that reads back to the same number (Arrow's
  cast to string): ``0.1``, ``1.3e-7`` (``repr`` writes ``1.3e-07``),
  ``1e+15``, ``0.00001``; a text that would read back as an integer gets
  ``.0`` (``1.0``, ``-0.0``), so a float column reads back as floats; NaN is
  an empty field, the infinities ``inf`` and ``-inf``;
- an integer in decimal, a bool ``True`` or ``False``;
- a text as it is, in double quotes (inner quotes doubled) when it holds a
  comma, a quote or a character of the line ending (``os.linesep``).

A table comes in parts, written one after the other: each maps column names
to an array with one value per row or to one value for every row (a label
such as the condition).

Measured on the 448,000-row summary (and 64,000 sample-path rows) of a run of
4,000 seeds x 1,000 steps x 64 units: the table phase took 4.8-6.0x less time
than formatting every float with Python's ``repr`` (old and new alternating,
on a loaded 2-core machine), its peak memory rose by 37 MB instead of 588 MB.
Most of the time left is Arrow's float-to-text cast.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["csv_field", "csv_fields", "write_csv"]

# Rows formatted at once: their text (about 120 bytes a row of summary.csv, and
# a few copies of it while the fields are joined) stays near 10 MB. Measured on
# 448,000 summary rows: the same time as 65,536 rows at once, a third of its
# peak memory (10 MB of Arrow buffers instead of 34 MB).
ROWS_AT_ONCE = 1 << 14

# pandas (the csv module) quotes a text holding the delimiter, the quote or a
# character of the line ending.
_NEEDS_QUOTES = "[" + re.escape(',"' + os.linesep) + "]"

Column = np.ndarray | str | int | float | bool


def csv_fields(values: np.ndarray) -> pa.Array:
    """The CSV fields of a column of numbers, bools or texts, as an Arrow array
    of strings; NaN (and None) gives a null, written as an empty field."""
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "f":
        return _float_fields(values)
    if kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    if kind == "b":
        return pc.if_else(pa.array(values), "True", "False")
    if kind in "UO":
        return _quoted(pa.array(values, type=pa.string()))
    raise TypeError(f"cannot write a column of {values.dtype} as CSV")


def csv_field(value: str | int | float | bool) -> str:
    """The CSV field of one value, as in a column of :func:`csv_fields`."""
    field = csv_fields(np.array([value]))[0]
    return "" if not field.is_valid else str(field.as_py())


def write_csv(
    path: str | os.PathLike,
    parts: Iterable[Mapping[str, Column]],
    names: Sequence[str] | None = None,
) -> int:
    """Write the rows of ``parts`` as CSV to ``path``; the number of rows.

    ``names`` are the columns in order, by default the first part's; a part
    without one of them leaves its fields empty. Without names or parts the
    file is an empty line.
    """
    parts = iter(parts)
    first = next(parts, None)
    names = list(first or {}) if names is None else list(names)
    rows = 0
    with open(Path(path), "wb") as handle:
        handle.write((",".join(map(csv_field, names)) + os.linesep).encode())
        for part in itertools.chain([first], parts) if first is not None else ():
            unknown = [name for name in part if name not in names]
            if unknown:
                raise ValueError(f"columns {unknown} are not among {names}")
            columns = [part.get(name) for name in names]
            length = _length(columns)
            for start in range(0, length, ROWS_AT_ONCE):
                handle.write(_lines(columns, start, min(start + ROWS_AT_ONCE, length)))
            rows += length
    return rows


def _length(columns: list[Column | None]) -> int:
    lengths = {len(c) for c in columns if isinstance(c, np.ndarray)}
    if len(lengths) != 1:
        raise ValueError(f"the arrays of a part must have one length, got {sorted(lengths)}")
    return lengths.pop()


def _lines(columns: list[Column | None], start: int, stop: int) -> pa.Buffer:
    """The CSV text of rows ``start:stop``, each row ended by a line break (a
    column of None gives empty fields)."""
    fields = [
        csv_fields(c[start:stop])
        if isinstance(c, np.ndarray)
        else pa.scalar(None if c is None else csv_field(c), pa.string())
        for c in columns
    ]
    options = pc.JoinOptions(null_handling="replace", null_replacement="")
    rows = pc.binary_join_element_wise(*fields, ",", options=options)
    lines = pc.binary_join_element_wise(rows, "", os.linesep)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2][first:last]


def _float_fields(values: np.ndarray) -> pa.Array:
    """Arrow's shortest text of each float, with ``.0`` where it has neither a
    point nor an exponent (Arrow 26 writes ``1`` for 1.0, ``1e+10`` for 1e10)."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    integral = np.isfinite(values) & (values == np.trunc(values))
    if not integral.any():
        return text
    mask = pa.array(integral)
    candidates = pc.filter(text, mask)
    looks_float = pc.or_(pc.match_substring(candidates, "."), pc.match_substring(candidates, "e"))
    with_point = pc.binary_join_element_wise(candidates, ".0", "")
    return pc.replace_with_mask(text, mask, pc.if_else(looks_float, candidates, with_point))


def _quoted(text: pa.Array) -> pa.Array:
    """``text`` with the fields that need it quoted (:data:`_NEEDS_QUOTES`)."""
    needs_quotes = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if not pc.any(needs_quotes).as_py():
        return text
    escaped = pc.replace_substring(text, '"', '""')
    return pc.if_else(needs_quotes, pc.binary_join_element_wise('"', escaped, '"', ""), text)
