"""write_csv writes what DataFrame.to_csv(index=False) writes, byte for byte."""

import numpy as np
import pandas as pd
import pytest

from stochlstm.experiment.csv_writer import write_csv


def floats(n, seed=0):
    rng = np.random.default_rng(seed)
    magnitudes = 10.0 ** rng.integers(-320, 308, n)
    values = rng.standard_normal(n) * magnitudes
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e16, 1e15, 1e-4, 1e-5, 5e-324, 0.1, 1 / 3]
    return np.concatenate([values, special])


FRAMES = {
    "numbers and names": lambda: pd.DataFrame(
        {
            "condition": pd.array(["deterministic", "stochastic"] * 1006, dtype="string"),
            "seed": np.arange(2012, dtype=np.int64),
            "t": np.arange(2012) - 1,
            "flag": np.arange(2012) % 3 == 0,
            "mean": floats(2000),
            "sd": floats(2000, seed=1),
        }
    ),
    "object text": lambda: pd.DataFrame({"name": ["a", "b-c", "d e"], "x": [1.5, np.nan, 2.0]}),
    "text that needs quoting": lambda: pd.DataFrame(
        {"name": ["a,b", 'say "hi"', ""], "x": [1, 2, 3]}
    ),
    "float32": lambda: pd.DataFrame({"x": np.float32([0.1, 1.5, -2.25])}),
    "missing text": lambda: pd.DataFrame({"name": pd.array(["a", None], dtype="string")}),
    "no rows": lambda: pd.DataFrame({"a": np.array([], dtype=float), "b": np.array([], dtype=int)}),
    "no columns": lambda: pd.DataFrame(),
}


@pytest.mark.parametrize("case", list(FRAMES))
def test_write_csv_equals_pandas(tmp_path, case):
    frame = FRAMES[case]()
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    write_csv(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
