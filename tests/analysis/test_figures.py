"""Figures: the data each one drew equals the summary it was given (not pixels),
and draw_figures writes every figure that applies."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh

from stochlstm.analysis.figures import (
    draw_figures,
    plot_divergence,
    plot_final_states,
    plot_gate_heatmaps,
    plot_survival,
    plot_trajectories,
)
from stochlstm.analysis.metrics import compute_metrics
from stochlstm.analysis.run import load_run
from tests.summary_reference import (
    SMALL_CONDITIONS,
    small_run,
    small_simulation,
    summary_frame,
    trajectories_frame,
    write_run_dir,
)


@pytest.fixture(scope="module")
def small():
    """100 seeds, hidden 3, 30 steps; deterministic, bernoulli, forget-only bernoulli."""
    sim = small_simulation(seeds=100, hidden_size=3, steps=30)
    summary = summary_frame(sim, SMALL_CONDITIONS)
    trajectories = trajectories_frame(sim, seeds=range(5))
    return summary, trajectories, compute_metrics(summary)


def cell(summary, condition, quantity, unit):
    rows = summary[
        (summary["condition"] == condition)
        & (summary["quantity"] == quantity)
        & (summary["unit"] == unit)
    ]
    return rows.sort_values("t")


def by_label(ax, label):
    found = [a for a in [*ax.lines, *ax.collections] if a.get_label() == label]
    assert len(found) == 1, [a.get_label() for a in [*ax.lines, *ax.collections]]
    return found[0]


def assert_band(band, t, low, high):
    """A fill_between polygon spans [low, high] at every t."""
    assert isinstance(band, PolyCollection)
    vertices = band.get_paths()[0].vertices
    for x, lo, hi in zip(t, low, high, strict=True):
        ys = vertices[np.isclose(vertices[:, 0], x), 1]
        assert ys.min() == pytest.approx(lo) and ys.max() == pytest.approx(hi)


# ---------------------------------------------------------------- (a) trajectories


def test_trajectories_draw_the_summary_means_bands_and_sample_paths(small):
    summary, trajectories, _ = small
    fig = plot_trajectories(summary, trajectories, baseline="deterministic", paths=2)
    axes = np.array(fig.axes).reshape(3, 2)  # rows: units 0..2, columns: c, h
    for unit in range(3):
        for col, quantity in enumerate("ch"):
            ax = axes[unit, col]
            assert ax.get_ylabel() == f"{quantity}, unit {unit}"
            deterministic = cell(summary, "deterministic", quantity, unit)
            line = by_label(ax, "deterministic")
            np.testing.assert_array_equal(line.get_xdata(), deterministic["t"])
            np.testing.assert_array_equal(line.get_ydata(), deterministic["mean"])
            for condition in ("bernoulli", "forget-bernoulli"):
                rows = cell(summary, condition, quantity, unit)
                np.testing.assert_array_equal(
                    by_label(ax, f"{condition}: mean").get_ydata(), rows["mean"]
                )
                assert_band(
                    by_label(ax, f"{condition}: 95% CI of the mean"),
                    rows["t"],
                    rows["ci_low"],
                    rows["ci_high"],
                )
                for seed in (0, 1):
                    path = trajectories[
                        (trajectories["condition"] == condition)
                        & (trajectories["seed"] == seed)
                        & (trajectories["unit"] == unit)
                    ].sort_values("t")
                    drawn = by_label(ax, f"_path {condition} seed {seed}")
                    np.testing.assert_array_equal(drawn.get_ydata(), path[quantity])
                assert not [a for a in ax.lines if a.get_label().endswith("seed 2")]  # paths=2
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert "deterministic" in texts and "bernoulli: mean ± 95% CI" in texts
    assert axes[0, 0].get_title() == "cell state c" and axes[2, 0].get_xlabel() == "step t"


def test_trajectories_cap_the_units_shown_and_say_so():
    sim = small_simulation(seeds=20, hidden_size=10, steps=5)
    summary = summary_frame(sim, SMALL_CONDITIONS)
    fig = plot_trajectories(summary, quantities=("c",))
    assert len(fig.axes) == 8
    assert "units 0–7 of 10 shown" in fig._suptitle.get_text()
    assert "over 20 seeds" in fig._suptitle.get_text()


def test_trajectories_without_sample_paths_or_baseline(small):
    summary, _, _ = small
    stochastic = summary[summary["condition"] != "deterministic"]
    fig = plot_trajectories(stochastic, baseline=None, quantities=("h",))
    labels = {a.get_label() for a in fig.axes[0].lines}
    assert labels == {"bernoulli: mean", "forget-bernoulli: mean"}


# ---------------------------------------------------------------- (b) divergence


def test_divergence_draws_the_metric_with_its_band(small):
    _, _, metrics = small
    fig = plot_divergence(metrics)
    for ax, quantity in zip(fig.axes, "ch", strict=True):
        assert quantity in ax.get_ylabel()
        for condition in ("bernoulli", "forget-bernoulli"):
            rows = metrics[
                (metrics["metric"] == "divergence")
                & (metrics["condition"] == condition)
                & (metrics["quantity"] == quantity)
            ].sort_values("t")
            line = by_label(ax, condition)
            np.testing.assert_array_equal(line.get_xdata(), rows["t"].to_numpy(dtype=float))
            np.testing.assert_array_equal(line.get_ydata(), rows["value"])
            assert_band(
                by_label(ax, f"_band {condition}"), rows["t"], rows["ci_low"], rows["ci_high"]
            )
        assert not [line for line in ax.lines if line.get_label() == "deterministic"]


# ---------------------------------------------------------------- (c) final states


def test_final_states_draw_every_sample_path_and_mark_the_deterministic_value(small):
    _, trajectories, _ = small
    fig = plot_final_states(trajectories, baseline="deterministic")
    final = trajectories[trajectories["t"] == 29]
    for ax, quantity in zip(fig.axes, "ch", strict=True):
        points = np.concatenate(
            [c.get_offsets()[:, 1] for c in ax.collections if isinstance(c, PathCollection)]
        )
        stochastic = final[final["condition"] != "deterministic"][quantity]
        np.testing.assert_allclose(np.sort(points), np.sort(stochastic))
        marks = by_label(ax, "deterministic")
        assert isinstance(marks, LineCollection)
        levels = [segment[0, 1] for segment in marks.get_segments()]
        expected = final[final["condition"] == "deterministic"].groupby("unit")[quantity].mean()
        np.testing.assert_allclose(levels, expected.to_numpy())
        assert ax.get_ylabel() == f"{quantity} at t = 29"
    assert "5 sample paths" in fig._suptitle.get_text()


# ---------------------------------------------------------------- (d) gate heatmaps


def test_gate_heatmaps_show_mean_probability_realised_gate_and_difference(small):
    summary, _, _ = small
    fig = plot_gate_heatmaps(summary, "bernoulli")
    axes = [ax for ax in fig.axes if ax.collections and isinstance(ax.collections[0], QuadMesh)]
    assert len(axes) == 9  # 3 gates x (probability, realised, difference)

    def grid(quantity):
        rows = summary[(summary["condition"] == "bernoulli") & (summary["quantity"] == quantity)]
        return rows.pivot(index="unit", columns="t", values="mean").to_numpy()

    for row, gate in enumerate("ifo"):
        drawn = [
            np.asarray(axes[3 * row + k].collections[0].get_array()).reshape(3, 30)
            for k in range(3)
        ]
        np.testing.assert_array_equal(drawn[0], grid(f"p_{gate}"))
        np.testing.assert_array_equal(drawn[1], grid(gate))
        np.testing.assert_allclose(drawn[2], grid(gate) - grid(f"p_{gate}"))
    assert axes[1].get_title() == "input gate: mean realised gate i"


def test_gate_heatmaps_of_a_forget_only_condition_show_all_gates(small):
    summary, _, _ = small
    fig = plot_gate_heatmaps(summary, "forget-bernoulli", gates=("f",))
    meshes = [
        ax.collections[0]
        for ax in fig.axes
        if ax.collections and isinstance(ax.collections[0], QuadMesh)
    ]
    assert len(meshes) == 3
    assert "forget-bernoulli" in fig._suptitle.get_text()


# ---------------------------------------------------------------- (e) survival


def test_survival_draws_realised_and_theoretical_retention(small):
    _, _, metrics = small
    fig = plot_survival(metrics, baseline="deterministic")
    linear = fig.axes[0]
    for condition in ("deterministic", "bernoulli", "forget-bernoulli"):
        rows = metrics[metrics["condition"] == condition]
        empirical = rows[rows["metric"] == "retention"].sort_values("t")
        theory = rows[rows["metric"] == "retention_theory"].sort_values("t")
        np.testing.assert_array_equal(by_label(linear, condition).get_ydata(), empirical["value"])
        dashed = by_label(linear, f"_theory {condition}")
        assert dashed.get_linestyle() == "--"
        np.testing.assert_array_equal(dashed.get_ydata(), theory["value"])
        assert_band(
            by_label(linear, f"_band {condition}"),
            empirical["t"],
            empirical["ci_low"],
            empirical["ci_high"],
        )
    assert fig.axes[1].get_yscale() == "log"


def test_plots_without_their_data_say_so(small):
    summary, trajectories, metrics = small
    with pytest.raises(ValueError, match="no divergence rows"):
        plot_divergence(metrics[metrics["metric"] != "divergence"])
    with pytest.raises(ValueError, match="no retention rows"):
        plot_survival(metrics[~metrics["metric"].str.startswith("retention")])
    with pytest.raises(ValueError, match="none of the quantities"):
        plot_trajectories(summary[~summary["quantity"].isin(["c", "h"])])
    with pytest.raises(ValueError, match="no gate with p and gate recorded"):
        plot_gate_heatmaps(summary[summary["quantity"] != "p_o"], "deterministic", gates=("o",))


# ---------------------------------------------------------------- draw_figures


EXPECTED = [
    "trajectories",
    "final_states",
    "gates_bernoulli",
    "gates_forget-bernoulli",
    "divergence",
    "survival",
]


def test_draw_figures_writes_every_figure_of_a_small_run(tmp_path):
    run_dir = small_run(tmp_path / "run", seeds=100, hidden_size=3, steps=30)
    written = draw_figures(run_dir)
    assert [p.name for p in written] == [
        f"{stem}.{fmt}" for stem in EXPECTED for fmt in ("png", "pdf")
    ]
    for path in written:
        assert path.parent == run_dir / "figures" and path.stat().st_size > 1000
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[1].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == sorted(
        p.name for p in written
    )


def test_draw_figures_skips_figures_whose_quantities_were_not_recorded(tmp_path, small):
    summary, _, _ = small
    kept = summary[summary["quantity"].isin(["c", "h", "dev_c", "dev_h", "div_c", "div_h"])]
    run_dir = write_run_dir(tmp_path / "run", kept, None)
    written = draw_figures(run_dir, formats=("png",))
    assert [p.name for p in written] == ["trajectories.png", "divergence.png"]

    only_gates = summary[summary["quantity"].isin(["p_f", "f"])]
    run_dir = write_run_dir(tmp_path / "gates", only_gates, None)
    written = draw_figures(load_run(run_dir), formats=("svg",))
    assert [p.name for p in written] == ["gates_bernoulli.svg", "gates_forget-bernoulli.svg"]


def test_draw_figures_per_sweep_point(tmp_path):
    conditions = {k: SMALL_CONDITIONS[k] for k in ("deterministic", "forget-bernoulli")}
    summaries, paths = [], []
    for hidden in (2, 3):
        sim = small_simulation(seeds=30, hidden_size=hidden, steps=8, conditions=conditions)
        summaries.append(summary_frame(sim, conditions, sweep={"hidden_size": hidden}))
        paths.append(trajectories_frame(sim, seeds=range(3), sweep={"hidden_size": hidden}))
    run_dir = write_run_dir(
        tmp_path / "sweep",
        pd.concat(summaries, ignore_index=True),
        pd.concat(paths, ignore_index=True),
        conditions=conditions,
        seeds=30,
        steps=8,
        sweep={"model.hidden_size": [2, 3]},
    )
    names = [p.name for p in draw_figures(run_dir, formats=("png",))]
    assert names == [
        "trajectories__hidden_size=2.png",
        "final_states__hidden_size=2.png",
        "gates_forget-bernoulli__hidden_size=2.png",
        "trajectories__hidden_size=3.png",
        "final_states__hidden_size=3.png",
        "gates_forget-bernoulli__hidden_size=3.png",
        "divergence.png",
        "survival.png",
    ]
    run = load_run(run_dir)
    assert run.sweep_columns == ["hidden_size"]
    fig = plot_divergence(run.metrics, sweep=run.sweep_columns)
    assert {line.get_label() for line in fig.axes[0].lines} == {
        "forget-bernoulli (hidden_size = 2)",
        "forget-bernoulli (hidden_size = 3)",
    }
    with pytest.raises(ValueError, match="several sweep points"):
        plot_trajectories(run.summary)


def test_final_states_at_a_step_not_recorded_names_the_recorded_steps(small):
    _, trajectories, _ = small
    with pytest.raises(ValueError, match=r"t = 30 was not recorded.*0, 1, 2, …, 29 \(30 steps\)"):
        plot_final_states(trajectories, t=30)
    fig = plot_final_states(trajectories, t=3)
    assert fig.axes[0].get_ylabel() == "c at t = 3"


def test_final_states_jitter_comes_from_the_generator_given(small):
    _, trajectories, _ = small

    def offsets(**kwargs):
        fig = plot_final_states(trajectories, baseline="deterministic", **kwargs)
        points = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
        return np.concatenate([c.get_offsets() for c in points])

    np.testing.assert_array_equal(offsets(), offsets())  # the default is a fixed generator
    other = offsets(rng=np.random.Generator(np.random.PCG64(1)))
    np.testing.assert_array_equal(other[:, 1], offsets()[:, 1])  # same values
    assert not np.array_equal(other[:, 0], offsets()[:, 0])  # spread otherwise
