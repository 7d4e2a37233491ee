"""Metrics: hand-computed cases on tiny summaries, and closed forms on simulations."""

import math

import numpy as np
import pandas as pd
import pytest

from stochlstm import Condition, from_torch, simulate
from stochlstm.analysis.metrics import (
    compute_metrics,
    divergence,
    gate_calibration,
    gate_saturation,
    mean_field_gap,
    memory_survival,
)
from stochlstm.analysis.table import comparison_table
from stochlstm.core.names import SUMMARY_COLUMNS
from tests.summary_reference import summary_frame


def cells(condition, quantity, means, *, half=0.1, n=10, units=(0,), **sweep):
    """Summary rows: ``means[t][k]`` is the mean of unit ``units[k]`` at step t,
    with CI mean ± half (``half`` a scalar or shaped like ``means``)."""
    means = np.asarray(means, dtype=float).reshape(len(means), -1)
    half = np.broadcast_to(np.asarray(half, dtype=float), means.shape)
    t, k = np.meshgrid(np.arange(means.shape[0]), np.arange(means.shape[1]), indexing="ij")
    frame = pd.DataFrame(
        {
            "condition": condition,
            "quantity": quantity,
            "t": t.ravel(),
            "unit": np.asarray(units)[k.ravel()],
            "n": n,
            "mean": means.ravel(),
            "sd": half.ravel(),
            "se": half.ravel() / 2,
            "ci_low": (means - half).ravel(),
            "ci_high": (means + half).ravel(),
            "min": means.ravel() - 1,
            "max": means.ravel() + 1,
        }
    )
    for key, value in reversed(list(sweep.items())):
        frame.insert(0, key, value)
    return frame


def summary(*frames):
    return pd.concat(frames, ignore_index=True)


def only(metrics, metric, **where):
    rows = metrics[metrics["metric"] == metric]
    for key, value in where.items():
        rows = rows[rows[key].isna()] if value is None else rows[rows[key] == value]
    return rows


def one(metrics, metric, **where):
    rows = only(metrics, metric, **where)
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ---------------------------------------------------------------- hand-computed cases


def test_divergence_per_step_final_and_time_average():
    data = summary(
        cells("deterministic", "c", [[1.0], [2.0], [3.0]], half=0.0),
        cells("b", "div_h", [[0.1], [0.3], [0.2]], half=0.05, units=(-1,)),
    )
    metrics = divergence(data)
    per_t = only(metrics, "divergence", quantity="h")
    np.testing.assert_allclose(per_t["value"], [0.1, 0.3, 0.2])
    np.testing.assert_allclose(per_t["ci_low"], [0.05, 0.25, 0.15])
    assert list(per_t["t"]) == [0, 1, 2] and per_t["unit"].isna().all()
    final = one(metrics, "divergence_final", quantity="h")
    assert (final["value"], final["ci_low"], final["ci_high"]) == pytest.approx((0.2, 0.15, 0.25))
    mean = one(metrics, "divergence_mean", quantity="h")
    assert (mean["value"], mean["ci_low"], mean["ci_high"]) == pytest.approx((0.2, 0.15, 0.25))
    assert set(metrics["condition"]) == {"b"}  # the baseline has no divergence rows


def test_mean_field_gap_largest_and_share_of_cells_excluding_zero():
    data = cells(
        "b", "dev_c", [[0.05, -0.4], [0.2, 0.0]], half=[[0.1, 0.1], [0.1, 0.0]], units=(0, 1)
    )
    metrics = mean_field_gap(data)
    per_cell = only(metrics, "mean_field_gap", quantity="c")
    np.testing.assert_allclose(per_cell["value"], [0.05, -0.4, 0.2, 0.0])
    largest = one(metrics, "mean_field_gap_max", quantity="c")
    assert (largest["t"], largest["unit"]) == (0, 1)  # where: step 0, unit 1
    assert (largest["value"], largest["ci_low"], largest["ci_high"]) == pytest.approx(
        (0.4, 0.3, 0.5)
    )
    # 0.05 ± 0.1 and 0 ± 0 include 0; -0.4 ± 0.1 and 0.2 ± 0.1 do not
    assert one(metrics, "mean_field_gap_share", quantity="c")["value"] == 0.5


def test_largest_gap_whose_ci_straddles_zero_has_lower_bound_zero():
    metrics = mean_field_gap(cells("b", "dev_h", [[-0.05]], half=0.1))
    largest = one(metrics, "mean_field_gap_max", quantity="h")
    assert (largest["value"], largest["ci_low"], largest["ci_high"]) == pytest.approx(
        (0.05, 0.0, 0.15)
    )


def test_gate_calibration_difference_and_combined_half_width():
    data = summary(
        cells("b", "i", [[0.6, 0.4], [1.0, 0.0]], half=[[0.3, 0.4], [0.1, 0.1]], units=(0, 1)),
        cells("b", "p_i", [[0.5, 0.5], [0.5, 0.5]], half=[[0.4, 0.3], [0.1, 0.1]], units=(0, 1)),
    )
    metrics = gate_calibration(data)
    # step 0: differences 0.1 and -0.1, each ± sqrt(0.3² + 0.4²) = 0.5; averaged over units
    step0 = one(metrics, "calibration", quantity="i", t=0)
    assert (step0["value"], step0["ci_low"], step0["ci_high"]) == pytest.approx((0.0, -0.5, 0.5))
    # step 1: differences 0.5 and -0.5, each ± sqrt(0.02)
    step1 = one(metrics, "calibration", quantity="i", t=1)
    assert step1["ci_high"] - step1["value"] == pytest.approx(math.sqrt(0.02))
    overall = one(metrics, "calibration", quantity="i", t=None)
    assert overall["value"] == pytest.approx(0.0)
    assert overall["ci_high"] == pytest.approx((0.5 + math.sqrt(0.02)) / 2)
    assert one(metrics, "firing_rate", quantity="i", t=0)["value"] == pytest.approx(0.5)
    assert one(metrics, "gate_prob", quantity="i", t=None)["ci_low"] == pytest.approx(0.5 - 0.225)
    # only the two step-1 cells exclude 0 (0.5 ± 0.14)
    assert one(metrics, "calibration_share", quantity="i")["value"] == 0.5
    assert only(metrics, "calibration", quantity="f").empty  # forget gate not recorded


def test_memory_survival_curve_and_half_lives():
    retention = [[0.9, 1.0], [0.6, 1.0], [0.45, 0.8], [0.3, 0.7]]
    data = summary(
        cells("b", "retention", retention, half=0.1, units=(0, 1)),
        cells(
            "b",
            "retention_theory",
            [[0.8, 0.8], [0.4, 0.4], [0.2, 0.2], [0.1, 0.1]],
            half=0.0,
            units=(0, 1),
        ),
    )
    metrics = memory_survival(data)
    curve = only(metrics, "retention")
    np.testing.assert_allclose(curve["value"], [0.95, 0.8, 0.625, 0.5])
    np.testing.assert_allclose(curve["ci_low"], [0.85, 0.7, 0.525, 0.4])
    unit0 = one(metrics, "half_life", unit=0)
    # mean first below 0.5 at t=2; lower CI bound (0.8, 0.5, 0.35) at t=2;
    # upper bound (1.0, 0.7, 0.55, 0.4) at t=3
    assert (unit0["value"], unit0["ci_low"], unit0["ci_high"]) == (2, 2, 3)
    unit1 = one(metrics, "half_life", unit=1)
    assert np.isnan(unit1["value"]) and np.isnan(unit1["ci_high"])  # never below 0.5 in the run
    assert np.isnan(one(metrics, "half_life", unit=None)["value"])  # 0.5 is not below 0.5
    assert one(metrics, "half_life", unit=None)["ci_low"] == 3  # lower bound 0.4 at t=3
    assert one(metrics, "half_life_theory", unit=None)["value"] == 1


def test_saturation_and_flip_rate_average_over_units_and_steps():
    data = summary(
        cells("b", "sat_f", [[0.0, 1.0], [0.5, 0.5]], half=0.0, units=(0, 1)),
        cells("b", "flip_f", [[0.2, 0.4], [0.0, 0.2]], half=0.1, units=(0, 1)),
        cells("d", "sat_f", [[0.0, 0.0], [0.0, 0.0]], half=0.0, units=(0, 1)),
    )
    metrics = gate_saturation(data)
    np.testing.assert_allclose(only(metrics, "saturation", condition="b", t=0)["value"], [0.5])
    assert one(metrics, "saturation", condition="b", t=None)["value"] == pytest.approx(0.5)
    flip = one(metrics, "flip_rate", condition="b", t=None)
    assert (flip["value"], flip["ci_low"], flip["ci_high"]) == pytest.approx((0.2, 0.1, 0.3))
    assert only(metrics, "flip_rate", condition="d").empty


def test_metrics_are_computed_per_sweep_point():
    data = summary(
        cells("deterministic", "retention", [[0.9]], half=0.0, temperature=0.5),
        cells("b", "div_c", [[0.1], [0.2]], units=(-1,), temperature=0.5),
        cells("deterministic", "retention", [[0.9]], half=0.0, temperature=1.0),
        cells("b", "div_c", [[0.3], [0.5]], units=(-1,), temperature=1.0),
    )
    with pytest.raises(ValueError, match="columns temperature are not the table's"):
        compute_metrics(data)  # sweep columns are named, never guessed
    metrics = compute_metrics(data, sweep=["temperature"])
    assert list(metrics.columns) == [
        "temperature",
        "condition",
        "metric",
        "quantity",
        "t",
        "unit",
        "value",
        "ci_low",
        "ci_high",
    ]
    final = only(metrics, "divergence_final")
    assert dict(zip(final["temperature"], final["value"], strict=True)) == {0.5: 0.2, 1.0: 0.5}
    table = comparison_table(metrics, "deterministic", sweep=["temperature"])
    rows = table[table["metric"] == "divergence_final"]
    assert list(rows[["temperature", "condition", "baseline"]].itertuples(index=False)) == [
        (0.5, "b", False),
        (1.0, "b", False),
    ]
    np.testing.assert_allclose(rows["value"], [0.2, 0.5])


def test_summary_without_contract_columns_is_an_error():
    with pytest.raises(ValueError, match="missing the columns ci_low"):
        compute_metrics(cells("b", "c", [[0.0]]).drop(columns=["ci_low"]))


def test_metrics_columns_and_types():
    metrics = compute_metrics(cells("deterministic", "retention", [[0.9], [0.4]]))
    assert list(metrics.columns) == [
        "condition",
        "metric",
        "quantity",
        "t",
        "unit",
        "value",
        "ci_low",
        "ci_high",
    ]
    assert str(metrics["t"].dtype) == "Int64" and str(metrics["unit"].dtype) == "Int64"
    assert metrics["value"].dtype == np.float64


# ---------------------------------------------------------------- closed forms


def zero_recurrence_weights(hidden, inputs, seed, forget_prob=None):
    """Gate probabilities that do not depend on h (W_hh = 0); optionally a constant
    forget probability (bias only)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    weight_ih = rng.uniform(-1, 1, (4 * hidden, inputs))
    bias = rng.uniform(-1, 1, 4 * hidden)
    if forget_prob is not None:
        weight_ih[hidden : 2 * hidden] = 0.0
        bias[hidden : 2 * hidden] = math.log(forget_prob / (1 - forget_prob))
    return from_torch(weight_ih, np.zeros((4 * hidden, hidden)), bias, np.zeros(4 * hidden))


@pytest.fixture(scope="module")
def no_recurrence():
    """H = 4, T = 25, 400 seeds; deterministic, bernoulli and threshold gates."""
    weights = zero_recurrence_weights(4, 3, seed=5)
    inputs = np.random.Generator(np.random.PCG64(6)).normal(size=(25, 3))
    conditions = {
        "deterministic": Condition(),
        "bernoulli": Condition("bernoulli"),
        "threshold": Condition("threshold"),
    }
    sim = simulate(weights, inputs, conditions, seeds=400, root_seed=0)
    return compute_metrics(summary_frame(sim, conditions))


def test_stochastic_mean_of_c_is_the_deterministic_c_when_gates_ignore_h(no_recurrence):
    """With W_hh = 0 the gate probabilities are the same at every seed and f_t is
    independent of c_{t-1}, so E[c_t] = p_f c_det_{t-1} + p_i g = c_det_t exactly:
    the mean-field gap of c is 0 in every cell. Each cell's 95% CI misses it with
    probability about 5% (the false-alarm rate), so the share of the 100 cells
    flagged should be near 0.05; 0.15 bounds it generously (the cells share seeds,
    so the share varies more than a binomial; with this fixed root seed it is 0.02)."""
    share = one(no_recurrence, "mean_field_gap_share", condition="bernoulli", quantity="c")["value"]
    assert share <= 0.15
    # h = o tanh(c) is not linear in c: Jensen's gap is there and detected
    assert (
        one(no_recurrence, "mean_field_gap_share", condition="bernoulli", quantity="h")["value"]
        > 0.3
    )
    # threshold gates are a different deterministic cell: every cell differs
    assert (
        one(no_recurrence, "mean_field_gap_share", condition="threshold", quantity="c")["value"]
        == 1.0
    )


def test_bernoulli_gates_are_calibrated_and_deterministic_gates_exactly(no_recurrence):
    deterministic = only(no_recurrence, "calibration", condition="deterministic")
    assert len(deterministic) and (deterministic["value"] == 0.0).all()
    for gate in "ifo":
        overall = one(no_recurrence, "calibration", condition="bernoulli", quantity=gate, t=None)
        assert overall["ci_low"] <= 0.0 <= overall["ci_high"]
        assert abs(overall["value"]) < 0.01
        # per (t, unit) cell: about 5% false alarms expected; 0.12 bounds it (100 cells)
        share = one(no_recurrence, "calibration_share", condition="bernoulli", quantity=gate)[
            "value"
        ]
        assert share <= 0.12
        assert (
            one(no_recurrence, "calibration_share", condition="deterministic", quantity=gate)[
                "value"
            ]
            == 0
        )
        assert (
            one(no_recurrence, "calibration_share", condition="threshold", quantity=gate)["value"]
            > 0.9
        )


@pytest.fixture(scope="module")
def constant_forget():
    """Forget probability p = 0.9 at every step and unit (bias only), 2000 seeds."""
    weights = zero_recurrence_weights(2, 1, seed=0, forget_prob=0.9)
    conditions = {"deterministic": Condition(), "forget": Condition(forget="bernoulli")}
    sim = simulate(weights, np.zeros((30, 1)), conditions, seeds=2000, root_seed=3)
    summary = summary_frame(sim, conditions)
    return summary, compute_metrics(summary)


def test_theoretical_retention_of_a_constant_forget_probability_is_its_power(constant_forget):
    summary, metrics = constant_forget
    for condition in ("deterministic", "forget"):
        rows = summary[
            (summary["condition"] == condition) & (summary["quantity"] == "retention_theory")
        ]
        np.testing.assert_allclose(rows["mean"], 0.9 ** (rows["t"] + 1), rtol=1e-13)
        assert (rows["sd"] == 0).all()
        # half-life: first t with 0.9^(t+1) < 0.5 is t = ceil(log 0.5 / log 0.9) - 1 = 6
        assert one(metrics, "half_life_theory", condition=condition, unit=None)["value"] == 6
    deterministic = summary[
        (summary["condition"] == "deterministic") & (summary["quantity"] == "retention")
    ]
    np.testing.assert_allclose(deterministic["mean"], 0.9 ** (deterministic["t"] + 1), rtol=1e-13)


def test_empirical_survival_matches_theory(constant_forget):
    """Under bernoulli forget gates retention is 1[all f = 1 so far], a Bernoulli
    with mean p^(t+1). Tested per (t, unit) against the exact binomial sd at
    3.29 sd (false alarm 0.1% per cell, about 6% over the 60 cells if they were
    independent; they are nested, so less)."""
    summary, metrics = constant_forget
    rows = summary[(summary["condition"] == "forget") & (summary["quantity"] == "retention")]
    theory = 0.9 ** (rows["t"] + 1)
    z = (rows["mean"] - theory) / np.sqrt(theory * (1 - theory) / rows["n"])
    assert np.abs(z).max() < 3.29
    curve = only(metrics, "retention", condition="forget")
    inside = (curve["ci_low"] <= 0.9 ** (curve["t"] + 1)) & (
        0.9 ** (curve["t"] + 1) <= curve["ci_high"]
    )
    assert inside.mean() >= 0.9
    half = one(metrics, "half_life", condition="forget", unit=None)
    # the mean at t = 4 (theory 0.59) and t = 7 (0.43) is 8+ sd from 0.5 with 2000 seeds x 2 units
    assert 5 <= half["value"] <= 7
    assert half["ci_low"] <= 6 <= half["ci_high"]


def test_summary_contract_columns_are_what_metrics_read():
    assert SUMMARY_COLUMNS == (
        "condition",
        "quantity",
        "t",
        "unit",
        "n",
        "mean",
        "sd",
        "se",
        "ci_low",
        "ci_high",
        "min",
        "max",
    )
