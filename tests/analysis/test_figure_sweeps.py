"""Sweep figures: a condition that the swept parameter does not change is drawn
once, the points of a numeric sweep get an ordered colour scale, and a gate
figure that is the same at every point is written once."""

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import to_rgb

from stochlstm import Condition
from stochlstm.analysis import figures
from stochlstm.analysis.figures import draw_figures, plot_divergence, plot_survival
from stochlstm.analysis.figures._arms import ramp, varying_columns
from stochlstm.analysis.metrics import compute_metrics
from stochlstm.analysis.run import load_run
from tests.summary_reference import (
    small_simulation,
    summary_frame,
    trajectories_frame,
    write_run_dir,
)

TEMPERATURES = (1.0, 0.1, 0.3)  # not in order: the colour scale follows the values


def conditions_at(temperature):
    return {
        "deterministic": Condition(),
        "bernoulli": Condition("bernoulli"),
        "concrete": Condition("concrete", temperature=temperature),
    }


@pytest.fixture(scope="module")
def temperature_sweep():
    """30 seeds, hidden 3, 12 steps at each temperature of the concrete gates:
    summary, trajectories (2 paths) and metrics with a ``temperature`` column."""
    summaries, paths = [], []
    for temperature in TEMPERATURES:
        conditions = conditions_at(temperature)
        sim = small_simulation(seeds=30, hidden_size=3, steps=12, conditions=conditions)
        point = {"temperature": temperature}
        summaries.append(summary_frame(sim, conditions, sweep=point))
        paths.append(trajectories_frame(sim, seeds=range(2), sweep=point))
    summary = pd.concat(summaries, ignore_index=True)
    metrics = compute_metrics(summary, sweep=["temperature"])
    return summary, pd.concat(paths, ignore_index=True), metrics


def luminance(color):
    r, g, b = to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_only_the_swept_condition_changes_with_the_sweep(temperature_sweep):
    summary, _, metrics = temperature_sweep
    keys, values = ["quantity", "t", "unit"], ["mean", "sd"]
    assert varying_columns(summary, ["temperature"], keys, values) == {
        "deterministic": [],
        "bernoulli": [],
        "concrete": ["temperature"],
    }
    changed = summary.assign(mean=summary["mean"].where(summary["temperature"] != 0.3, 0.0))
    assert varying_columns(changed, ["temperature"], keys, values)["bernoulli"] == ["temperature"]


def test_divergence_draws_an_unchanged_condition_once_and_the_sweep_in_order(temperature_sweep):
    _, _, metrics = temperature_sweep
    fig = plot_divergence(metrics, baseline="deterministic", sweep=["temperature"])
    concrete = [f"concrete (temperature = {t})" for t in sorted(TEMPERATURES)]
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines] == ["bernoulli", *concrete]
        bernoulli = metrics[
            (metrics["metric"] == "divergence")
            & (metrics["condition"] == "bernoulli")
            & (metrics["temperature"] == TEMPERATURES[0])
            & (metrics["quantity"] == ax.get_ylabel()[len("RMS over units of ")])
        ].sort_values("t")
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), bernoulli["value"])
        # an ordered scale: light (smallest temperature) to dark (largest)
        shades = [luminance(line.get_color()) for line in ax.lines[1:]]
        assert shades == sorted(shades, reverse=True) and len(set(shades)) == 3
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts.count("bernoulli") == 1 and not [t for t in texts if "bernoulli (" in t]
    assert len(texts) == 5  # bernoulli, three concrete, the band


def test_survival_draws_unchanged_conditions_once(temperature_sweep):
    _, _, metrics = temperature_sweep
    fig = plot_survival(metrics, baseline="deterministic", sweep=["temperature"])
    bernoulli, concrete = fig.axes
    labels = [line.get_label() for line in bernoulli.lines]
    assert sorted(labels) == ["_half", "_theory bernoulli", "bernoulli", "deterministic"]
    drawn = [line.get_label() for line in concrete.lines if not line.get_label().startswith("_")]
    assert drawn == [
        *(f"concrete (temperature = {t})" for t in sorted(TEMPERATURES)),
        "deterministic",
    ]


def test_a_ramp_is_ordered_light_to_dark_in_the_colour_given():
    for color in ("tab:blue", "tab:orange", "black"):
        shades = ramp(color, 5)
        lightness = [luminance(shade) for shade in shades]
        assert lightness == sorted(lightness, reverse=True) and len(set(lightness)) == 5
        assert to_rgb(color) in [pytest.approx(shade) for shade in shades]
    assert ramp("tab:green", 1) == [to_rgb("tab:green")]


def test_draw_figures_writes_an_unchanged_gate_figure_once(
    tmp_path, temperature_sweep, monkeypatch
):
    # the figures are made but not rendered to files (the names are what matters)
    monkeypatch.setattr(
        figures,
        "save",
        lambda fig, folder, stem, formats: [folder / f"{stem}.{f}" for f in formats],
    )
    summary, trajectories, _ = temperature_sweep
    run_dir = write_run_dir(
        tmp_path / "sweep",
        summary,
        trajectories,
        conditions=conditions_at(0.5),
        seeds=30,
        steps=12,
        sweep={"conditions.concrete.temperature": list(TEMPERATURES)},
    )
    resolved = yaml.safe_load((run_dir / "resolved.yaml").read_text())
    resolved["conditions"]["concrete"] = {"gates": "concrete", "temperature": 0.5}
    (run_dir / "resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    assert load_run(run_dir).sweep_columns == ["temperature"]
    names = [p.name for p in draw_figures(run_dir, formats=("png",))]
    gates = [name for name in names if name.startswith("gates_")]
    assert gates == ["gates_bernoulli.png"] + [
        f"gates_concrete__temperature={t}.png" for t in TEMPERATURES
    ]
    assert names.count("divergence.png") == 1 and "trajectories__temperature=0.1.png" in names
