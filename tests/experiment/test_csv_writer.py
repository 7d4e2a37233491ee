"""write_csv: floats as the shortest text that reads back to the same number,
everything else as DataFrame.to_csv(index=False) writes it."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from stochlstm.experiment import csv_writer
from stochlstm.experiment.csv_writer import csv_fields, write_csv

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.1, 1 / 3, 1.3e-7]
LIMITS = [5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308]
INTEGRAL = [float(10**k) for k in range(23)] + [2.0**53, -(2.0**53) - 2, 123456789012.0, -7.0]


def floats(n, seed):
    """Random floats of every magnitude, subnormals and huge ones included."""
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):  # a few become infinite
        values = rng.standard_normal(n) * 10.0 ** rng.integers(-330, 309, n)
    bits = rng.integers(0, 2**63, n // 4, dtype=np.uint64).view(np.float64)  # any pattern
    return np.concatenate([values, bits[np.isfinite(bits)], SPECIAL, LIMITS, INTEGRAL])


def same_floats(actual, expected):
    """Equal values, NaN where NaN, and the same sign of zero."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    return np.array_equal(actual, expected, equal_nan=True) and np.array_equal(
        np.signbit(actual), np.signbit(expected)
    )


def test_each_float_is_the_shortest_text_that_reads_back_to_it():
    """The same decimal number as Python's repr (the shortest that round-trips),
    written with a point or an exponent; NaN is a null (an empty field)."""
    values = floats(20_000, seed=0)
    fields = csv_fields(values).to_pylist()
    for value, field in zip(values.tolist(), fields, strict=True):
        if np.isnan(value):
            assert field is None
            continue
        assert float(field) == value and np.signbit(float(field)) == np.signbit(value), field
        if np.isfinite(value):
            assert Decimal(field) == Decimal(repr(value)), (field, repr(value))
        assert any(c in field for c in ".en"), field  # never an integer's text


def test_floats_read_back_with_pandas_exactly(tmp_path):
    values = floats(50_000, seed=1)
    integral = np.asarray(INTEGRAL + [0.0, -0.0, 1.0])
    write_csv(tmp_path / "t.csv", [{"x": values, "k": np.arange(len(values))}])
    write_csv(tmp_path / "integral.csv", [{"x": integral}])
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["x"].dtype == np.float64 and same_floats(back["x"], values)
    back = pd.read_csv(tmp_path / "integral.csv")  # a float column, even without a fraction
    assert back["x"].dtype == np.float64 and same_floats(back["x"], integral)


def test_float32_is_the_shortest_text_of_the_float32():
    values = floats(2_000, seed=2)
    values = values[~(np.abs(values) > np.finfo(np.float32).max)].astype(np.float32)
    fields = csv_fields(values).to_pylist()
    for value, field in zip(values, fields, strict=True):
        assert same_floats(np.float32(np.nan if field is None else field), value), field


def test_nan_is_an_empty_field_and_numbers_have_no_quotes(tmp_path):
    write_csv(tmp_path / "t.csv", [{"a": np.array([1.5, np.nan, 2.0]), "b": np.arange(3)}])
    assert (tmp_path / "t.csv").read_text() == "a,b\n1.5,0\n,1\n2.0,2\n"


TEXT = ["deterministic", "a,b", 'say "hi"', "two\nlines", "cr\r", " spaced ", "x;y", "'q'"]


def test_integers_bools_and_texts_are_written_as_pandas_writes_them(tmp_path):
    n = len(TEXT)
    frame = pd.DataFrame(
        {
            "text": pd.array(TEXT, dtype="string"),
            "int": np.array([0, -1, 7, 2**62, -(2**63), 3, 4, 5], dtype=np.int64),
            "uint": np.arange(n, dtype=np.uint32),
            "flag": np.arange(n) % 3 == 0,
            "a,b": np.arange(n),  # a column name that needs quotes
            "label": "stochastic",
            "swept": 0.5,
        }
    )
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    columns = {name: frame[name].to_numpy() for name in list(frame.columns)[:5]}
    parts = [{**columns, "label": "stochastic", "swept": 0.5}]
    write_csv(tmp_path / "ours.csv", parts)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_parts_make_one_table_like_pandas_concat(tmp_path, monkeypatch):
    """Labels repeat on every row; a column a part lacks is empty in its rows
    (NaN, as in pd.concat); a part is written in slices of ROWS_AT_ONCE rows."""
    monkeypatch.setattr(csv_writer, "ROWS_AT_ONCE", 7)
    rng = np.random.default_rng(3)
    parts = [
        {"condition": "deterministic", "temperature": 0.5, "t": np.arange(20), "c": rng.random(20)},
        {"condition": "stochastic", "temperature": 2.0, "t": np.arange(5), "c": rng.random(5)},
        {"condition": "concrete", "temperature": 1e-5, "t": np.arange(9), "h": rng.random(9)},
    ]
    rows = write_csv(tmp_path / "t.csv", parts, names=["condition", "temperature", "t", "c", "h"])
    expected = pd.concat(map(pd.DataFrame, parts), ignore_index=True)
    assert rows == len(expected) == 34
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), expected, check_exact=True)


def test_no_parts_is_an_empty_line_and_unknown_columns_are_refused(tmp_path):
    assert write_csv(tmp_path / "empty.csv", []) == 0
    assert (tmp_path / "empty.csv").read_text() == "\n"
    with pytest.raises(ValueError, match=r"\['h'\] are not among"):
        write_csv(tmp_path / "t.csv", [{"c": np.zeros(2)}, {"h": np.zeros(2)}])
