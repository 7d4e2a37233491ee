"""Figures: the data each one drew equals the summary it was given (not pixels),
and draw_figures writes every figure that applies."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection, QuadMesh

from stochlstm.analysis.figures import (
    draw_figures,
    plot_divergence,
    plot_final_states,
    plot_gate_heatmaps,
    plot_survival,
    plot_trajectories,
)
from stochlstm.analysis.figures.gates import share_outside_ci
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
    assert "deterministic (on top)" in texts and "bernoulli: mean ± 95% CI" in texts
    assert "sample paths (2 seeds per condition, faint)" in texts
    assert axes[0, 0].get_title() == "cell state c" and axes[2, 0].get_xlabel() == "step t"


def farthest_units(summary, baseline, most):
    """Reference for the default units: per unit, the mean over (quantity, t,
    stochastic condition) of sqrt((mean - baseline mean)² + sd²), plain loops."""
    rows = summary[summary["quantity"].isin(["c", "h"])]
    base = {
        (r.quantity, r.t, r.unit): r.mean for r in rows[rows["condition"] == baseline].itertuples()
    }
    scores = {}
    for r in rows[rows["condition"] != baseline].itertuples():
        distance = np.sqrt((r.mean - base[(r.quantity, r.t, r.unit)]) ** 2 + r.sd**2)
        scores.setdefault(r.unit, []).append(distance)
    ranked = sorted(scores, key=lambda unit: (-np.mean(scores[unit]), unit))
    return sorted(ranked[:most])


def test_trajectories_show_the_units_farthest_from_deterministic_and_say_so():
    sim = small_simulation(seeds=20, hidden_size=10, steps=5)
    summary = summary_frame(sim, SMALL_CONDITIONS)
    fig = plot_trajectories(summary, baseline="deterministic", quantities=("c",))
    expected = farthest_units(summary, "deterministic", 4)
    assert expected != [0, 1, 2, 3]  # the choice is not simply the first units
    assert [ax.get_ylabel() for ax in fig.axes] == [f"c, unit {u}" for u in expected]
    title = fig.get_suptitle()
    assert f"units {', '.join(map(str, expected))} of 10: those farthest from deterministic" in (
        title.replace("\n", " ")
    )
    assert "over 20 seeds" in title
    assert fig.get_figheight() < 10  # 4 rows, not 8


def test_trajectories_draw_the_units_asked_for():
    sim = small_simulation(seeds=20, hidden_size=10, steps=5)
    summary = summary_frame(sim, SMALL_CONDITIONS)
    fig = plot_trajectories(summary, baseline="deterministic", units=[9, 0, 5])
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["c, unit 9", "c, unit 0", "c, unit 5"]
    assert "units 9, 0, 5 of 10 shown" in fig.get_suptitle()


def test_trajectories_draw_the_deterministic_path_on_top(small):
    summary, trajectories, _ = small
    fig = plot_trajectories(summary, trajectories, baseline="deterministic")
    for ax in fig.axes:
        deterministic = by_label(ax, "deterministic")
        others = [a for a in [*ax.lines, *ax.collections] if a is not deterministic]
        assert deterministic.get_zorder() > max(a.get_zorder() for a in others)
        # the means under it are wider, so that they show on either side of it
        means = [by_label(ax, f"{c}: mean") for c in ("bernoulli", "forget-bernoulli")]
        assert min(m.get_linewidth() for m in means) > deterministic.get_linewidth()
        paths = [a for a in ax.lines if a.get_label().startswith("_path")]
        assert paths and max(p.get_alpha() for p in paths) < 0.5  # faint


def test_trajectories_leave_a_far_initial_state_off_the_axis_and_say_so(small):
    summary, trajectories, _ = small
    # an initial state of 40, far outside the range of the later steps
    first = trajectories[trajectories["t"] == 0].assign(t=-1, c=40.0, h=40.0)
    with_initial = pd.concat([first, trajectories], ignore_index=True)
    fig = plot_trajectories(summary, with_initial, baseline="deterministic", paths=2)
    for ax in fig.axes:
        drawn = np.concatenate([line.get_xdata() for line in ax.lines])
        assert drawn.min() == 0  # t = -1 left off
        assert any("t = −1" in text.get_text() and "40" in text.get_text() for text in ax.texts)
    # an initial state inside the range stays on the axis
    near = pd.concat([first.assign(c=0.0, h=0.0), trajectories], ignore_index=True)
    fig = plot_trajectories(summary, near, baseline="deterministic", paths=2)
    assert min(line.get_xdata().min() for line in fig.axes[0].lines) == -1
    assert not fig.axes[0].texts


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


def test_final_states_draw_the_summary_over_all_seeds_and_the_recorded_paths(small):
    summary, trajectories, _ = small
    fig = plot_final_states(summary, trajectories, baseline="deterministic")
    final = trajectories[trajectories["t"] == 29]
    for ax, quantity in zip(fig.axes, "ch", strict=True):
        for condition in ("bernoulli", "forget-bernoulli"):
            cells = summary[
                (summary["condition"] == condition)
                & (summary["quantity"] == quantity)
                & (summary["t"] == 29)
            ].sort_values("unit")
            means = by_label(ax, condition).get_offsets()[:, 1]
            np.testing.assert_array_equal(means, cells["mean"])
            spread = by_label(ax, f"_sd {condition}").get_segments()
            np.testing.assert_allclose(
                [s[:, 1] for s in spread],
                np.c_[
                    np.maximum(cells["mean"] - cells["sd"], cells["min"]),
                    np.minimum(cells["mean"] + cells["sd"], cells["max"]),
                ],
            )
            ci = by_label(ax, f"_ci {condition}").get_segments()
            np.testing.assert_allclose([s[:, 1] for s in ci], cells[["ci_low", "ci_high"]])
            paths = by_label(ax, f"_paths {condition}").get_offsets()[:, 1]
            recorded = final.loc[final["condition"] == condition, quantity]
            np.testing.assert_allclose(np.sort(paths), np.sort(recorded))
        marks = by_label(ax, "deterministic")
        assert isinstance(marks, LineCollection)
        levels = [segment[0, 1] for segment in marks.get_segments()]
        expected = final[final["condition"] == "deterministic"].groupby("unit")[quantity].mean()
        np.testing.assert_allclose(levels, expected.to_numpy())
        assert ax.get_ylabel() == f"{quantity} at t = 29"
    assert "over all 100 seeds" in fig.get_suptitle()
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "recorded sample paths (5 per condition)" in texts


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


def test_survival_draws_each_condition_against_deterministic(small):
    _, _, metrics = small
    fig = plot_survival(metrics, baseline="deterministic")
    assert [ax.get_title() for ax in fig.axes] == [
        "bernoulli vs deterministic",
        "forget-bernoulli vs deterministic",
    ]
    for ax, condition in zip(fig.axes, ("bernoulli", "forget-bernoulli"), strict=True):
        for name in ("deterministic", condition):
            rows = metrics[metrics["condition"] == name]
            empirical = rows[rows["metric"] == "retention"].sort_values("t")
            drawn = by_label(ax, name).get_ydata()
            positive = empirical["value"].where(empirical["value"] > 0)  # 0 is off a log axis
            np.testing.assert_array_equal(drawn, positive)
        rows = metrics[metrics["condition"] == condition]
        empirical = rows[rows["metric"] == "retention"].sort_values("t")
        theory = rows[rows["metric"] == "retention_theory"].sort_values("t")
        dotted = by_label(ax, f"_theory {condition}")
        assert dotted.get_linestyle() == ":"
        np.testing.assert_array_equal(dotted.get_ydata(), theory["value"])
        band = by_label(ax, f"_band {condition}")
        kept = empirical["ci_low"] > 0
        assert_band(
            band,
            empirical["t"][kept],
            empirical["ci_low"][kept],
            empirical["ci_high"][kept],
        )
        # deterministic: its theory is its realised curve, drawn once, on top
        assert not [a for a in ax.lines if a.get_label() == "_theory deterministic"]
        deterministic = by_label(ax, "deterministic")
        assert deterministic.get_zorder() > max(
            a.get_zorder() for a in [*ax.lines, *ax.collections] if a is not deterministic
        )
        half = by_label(ax, "_half")
        assert list(half.get_ydata()) == [0.5, 0.5]
        assert [t.get_text() for t in ax.texts] == ["half-life level"]


def survival_metrics(decay: float, steps: int = 100) -> pd.DataFrame:
    """Retention ``decay ** (t + 1)`` of a deterministic and a bernoulli condition."""
    t = np.arange(steps)
    value = decay ** (t + 1.0)
    frames = []
    for condition in ("deterministic", "bernoulli"):
        for metric in ("retention", "retention_theory"):
            frames.append(
                pd.DataFrame(
                    dict(
                        condition=condition,
                        metric=metric,
                        quantity="c",
                        t=t,
                        unit=pd.NA,
                        value=value,
                        ci_low=value * 0.9,
                        ci_high=value * 1.1,
                    )
                )
            )
    return pd.concat(frames, ignore_index=True).astype({"t": "Int64", "unit": "Int64"})


def test_survival_is_on_a_log_axis_where_it_decays_and_cut_where_it_is_gone():
    slow = plot_survival(survival_metrics(0.999), baseline="deterministic")
    assert slow.axes[0].get_yscale() == "linear"  # 0.9 after 100 steps: nothing to stretch
    fast = plot_survival(survival_metrics(0.3), baseline="deterministic")
    ax = fast.axes[0]
    assert ax.get_yscale() == "log"
    floor, top = ax.get_ylim()
    assert floor == pytest.approx(1e-6) and top > 1
    # 0.3 ** (t + 1) < 1e-6 from t = 11: the axis ends soon after, not at t = 99
    last = int(np.argmax(0.3 ** (np.arange(100) + 1.0) < 1e-6)) - 1
    assert last < ax.get_xlim()[1] < 20
    assert f"steps after t = {last} not shown" in fast.get_suptitle()


def test_plots_without_their_data_say_so(small):
    summary, trajectories, metrics = small
    with pytest.raises(ValueError, match="no divergence rows"):
        plot_divergence(metrics[metrics["metric"] != "divergence"])
    with pytest.raises(ValueError, match="no retention rows"):
        plot_survival(metrics[~metrics["metric"].str.startswith("retention")])
    with pytest.raises(ValueError, match="none of the quantities"):
        plot_trajectories(summary[~summary["quantity"].isin(["c", "h"])])
    with pytest.raises(ValueError, match="none of the quantities"):
        plot_final_states(summary[~summary["quantity"].isin(["c", "h"])])
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
    assert [p.name for p in written] == ["trajectories.png", "final_states.png", "divergence.png"]

    states = summary[summary["quantity"].isin(["c", "h"])]  # no derived quantity at all
    run_dir = write_run_dir(tmp_path / "states", states, None)
    written = draw_figures(run_dir, formats=("png",))
    assert [p.name for p in written] == ["trajectories.png", "final_states.png"]

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
    summary, _, _ = small
    with pytest.raises(ValueError, match=r"t = 30 was not recorded.*0, 1, 2, …, 29 \(30 steps\)"):
        plot_final_states(summary, t=30)
    fig = plot_final_states(summary, trajectories, t=3)
    assert fig.axes[0].get_ylabel() == "c at t = 3"


def test_final_states_jitter_comes_from_the_generator_given(small):
    _, trajectories, _ = small

    summary = small[0]

    def offsets(**kwargs):
        fig = plot_final_states(summary, trajectories, baseline="deterministic", **kwargs)
        points = [c for c in fig.axes[0].collections if c.get_label().startswith("_paths")]
        return np.concatenate([c.get_offsets() for c in points])

    np.testing.assert_array_equal(offsets(), offsets())  # the default is a fixed generator
    other = offsets(rng=np.random.Generator(np.random.PCG64(1)))
    np.testing.assert_array_equal(other[:, 1], offsets()[:, 1])  # same values
    assert not np.array_equal(other[:, 0], offsets()[:, 0])  # spread otherwise


def test_gate_share_outside_the_ci_counts_a_gate_every_seed_agrees_on_as_resolved():
    """p = 1 - 3e-10 fires at all 2,000 seeds: the realised rate 1 differs from p by
    3e-10, far inside the 3/n a rate seen at every seed is known to; a rate of
    0.9 against p = 0.5 is far outside."""
    cells = []
    for unit, (p, rate, sd) in enumerate([(1 - 3e-10, 1.0, 0.0), (0.5, 0.9, 0.3)]):
        for quantity, mean, spread in (("p_i", p, 0.0), ("i", rate, sd)):
            half = 1.96 * spread / np.sqrt(2000)
            cells.append(
                dict(
                    quantity=quantity,
                    t=0,
                    unit=unit,
                    n=2000,
                    mean=mean,
                    sd=spread,
                    ci_low=mean - half,
                    ci_high=mean + half,
                )
            )
    rows = pd.DataFrame(cells)
    assert share_outside_ci(rows, "i") == 0.5  # the second unit only
