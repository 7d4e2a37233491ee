"""The loss figure of a run with targets, against the run's own metrics."""

from pathlib import Path

import numpy as np
import pytest

from stochlstm.analysis.figures import draw_figures, plot_loss
from stochlstm.analysis.run import load_run

SUNSPOTS = Path(__file__).parents[2] / "results" / "sunspot-forecast"


@pytest.fixture(scope="module")
def run():
    if not (SUNSPOTS / "manifest.json").exists():
        pytest.skip("results/sunspot-forecast is not committed")
    return load_run(SUNSPOTS)


def test_points_are_the_window_losses_in_order_of_cost(run):
    fig = plot_loss(run.metrics, run.summary, run.targets, baseline=run.baseline)
    ax = fig.axes[0]
    window = run.metrics[run.metrics["metric"] == "loss_window"].sort_values("value")
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == list(window["condition"])
    circles = [line for line in ax.lines if line.get_marker() == "o"]
    np.testing.assert_array_equal([line.get_xdata()[0] for line in circles], window["value"])
    diamonds = {
        line.get_ydata()[0]: line.get_xdata()[0] for line in ax.lines if line.get_marker() == "D"
    }
    of_mean = run.metrics[run.metrics["metric"] == "loss_of_mean_prediction"].set_index("condition")
    for k, name in enumerate(window["condition"]):
        assert diamonds[k] == of_mean.loc[name, "value"]
    baseline = window.set_index("condition").loc[run.baseline, "value"]
    assert any(
        line.get_xdata()[0] == baseline and line.get_linestyle() == "--" for line in ax.lines
    )


def test_the_forecast_panel_draws_the_targets_of_the_window(run):
    fig = plot_loss(run.metrics, run.summary, run.targets, baseline=run.baseline)
    target = run.targets[run.targets["in_window"].astype(bool)].sort_values("t")
    drawn = fig.axes[1].lines[0]
    np.testing.assert_array_equal(drawn.get_ydata(), target["target"])


def test_draw_figures_writes_the_loss_figure_of_the_chosen_conditions(run, tmp_path):
    written = draw_figures(
        run, formats=("png",), out_dir=tmp_path, conditions=["deterministic", "bernoulli"]
    )
    assert tmp_path / "loss.png" in written
    fig = plot_loss(
        run.metrics,
        run.summary,
        run.targets,
        baseline=run.baseline,
        conditions=["deterministic", "bernoulli"],
    )
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["deterministic", "bernoulli"]
