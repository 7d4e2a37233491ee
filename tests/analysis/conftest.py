"""Figures are drawn without a display, and closed after each test; a small
complete run directory shared by the tests that only read it."""

import matplotlib
import pytest

from tests.summary_reference import small_run

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small complete run (100 seeds, hidden 3, 30 steps), shared read-only."""
    return small_run(tmp_path_factory.mktemp("runs") / "small", seeds=100, hidden_size=3, steps=30)


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
