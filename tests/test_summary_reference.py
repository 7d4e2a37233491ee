"""The reference summary (tests/summary_reference.py), that the streaming
runner is tested against, against hand computations and Student's t tables."""

import numpy as np
import pandas as pd
import pytest

from stochlstm import Condition
from tests.summary_reference import (
    SMALL_CONDITIONS,
    small_simulation,
    summary_frame,
    t_critical,
    trajectories_frame,
)


def test_t_critical_matches_tables():
    # Student t 0.975 quantiles (e.g. scipy.stats.t.ppf(0.975, df))
    table = {
        1: 12.706204736174707,
        2: 4.302652729749464,
        9: 2.2621571627982053,
        29: 2.045229642132703,
        99: 1.9842169515863990,
        999: 1.9623414611334487,
        100000: 1.959987707534759,
    }
    for df, value in table.items():
        assert t_critical(df) == pytest.approx(value, rel=1e-12)
    assert np.isnan(t_critical(0))


@pytest.fixture(scope="module")
def reference():
    conditions = {
        **SMALL_CONDITIONS,
        "erase": Condition(forget="bernoulli", forget_semantics="erase"),
        "threshold": Condition("threshold"),
    }
    sim = small_simulation(seeds=40, hidden_size=3, steps=7, conditions=conditions)
    return sim, conditions, summary_frame(sim, conditions)


def stats_of(summary, condition, quantity):
    rows = summary[(summary["condition"] == condition) & (summary["quantity"] == quantity)]
    return rows.sort_values(["t", "unit"])


def test_reference_summary_rows_and_columns(reference):
    sim, conditions, summary = reference
    assert list(summary.columns) == [
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
    ]
    quantities = summary.groupby("condition", sort=False)["quantity"].unique().map(list).to_dict()
    cell = ["p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h"]
    derived = ["retention", "retention_theory", "sat_i", "sat_f", "sat_o"]
    deviations = ["dev_c", "dev_h", "div_c", "div_h"]
    assert quantities["deterministic"] == cell + derived  # the baseline: no deviations, no flips
    assert quantities["bernoulli"] == cell + deviations + derived + ["flip_i", "flip_f", "flip_o"]
    assert quantities["forget-bernoulli"] == cell + deviations + derived + ["flip_f"]
    assert quantities["threshold"] == cell + deviations + derived + ["flip_i", "flip_f", "flip_o"]
    assert (stats_of(summary, "bernoulli", "div_h")["unit"] == -1).all()
    per_unit = {
        "deterministic": 14,
        "bernoulli": 19,
        "forget-bernoulli": 17,
        "erase": 17,
        "threshold": 19,
    }
    steps, units = 7, 3
    assert len(summary) == sum(n * steps * units for n in per_unit.values()) + 4 * 2 * steps


def test_reference_statistics_are_those_of_the_full_arrays(reference):
    sim, _, summary = reference
    values = sim["bernoulli"]["c"]  # (T, B, H)
    rows = stats_of(summary, "bernoulli", "c")
    n = values.shape[1]
    np.testing.assert_allclose(rows["mean"], values.mean(axis=1).ravel(), rtol=1e-15)
    np.testing.assert_allclose(rows["sd"], values.std(axis=1, ddof=1).ravel(), rtol=1e-15)
    np.testing.assert_allclose(rows["se"], rows["sd"] / np.sqrt(n), rtol=1e-15)
    np.testing.assert_allclose(
        rows["ci_high"] - rows["mean"], t_critical(n - 1) * rows["se"], rtol=1e-12
    )
    np.testing.assert_array_equal(rows["min"], values.min(axis=1).ravel())
    assert (rows["n"] == n).all()
    # a quantity that is the same at every seed has exactly that mean and zero spread
    constant = stats_of(summary, "deterministic", "p_f")
    assert (constant["sd"] == 0).all() and (constant["mean"] == constant["min"]).all()


def test_reference_derived_quantities_by_hand(reference):
    sim, _, summary = reference
    base, coin, erase = sim["deterministic"], sim["bernoulli"], sim["erase"]
    t, seed = 4, 7
    deviation = coin["h"][t, seed] - base["h"][t, seed]
    assert stats_of(summary, "bernoulli", "dev_h").query("t == 4")[
        "mean"
    ].to_numpy() == pytest.approx((coin["h"][t] - base["h"][t]).mean(axis=0), rel=1e-12)
    rms = np.sqrt(np.mean((coin["h"] - base["h"]) ** 2, axis=2))  # (T, B)
    assert rms[t, seed] == pytest.approx(np.sqrt(np.mean(deviation**2)))
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "div_h")["mean"], rms.mean(axis=1), rtol=1e-12
    )
    kept = np.prod(coin["f"][: t + 1], axis=0)  # product over steps 0..t
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "retention").query("t == 4")["mean"],
        kept.mean(axis=0),
        rtol=1e-12,
    )
    erased = np.prod(1 - erase["f"][: t + 1], axis=0)  # erase: the keep factor is 1 - f
    np.testing.assert_allclose(
        stats_of(summary, "erase", "retention").query("t == 4")["mean"],
        erased.mean(axis=0),
        rtol=1e-12,
    )
    theory = np.prod(1 - erase["p_f"][: t + 1], axis=0)
    np.testing.assert_allclose(
        stats_of(summary, "erase", "retention_theory").query("t == 4")["mean"],
        theory.mean(axis=0),
        rtol=1e-12,
    )
    flips = coin["o"] != (coin["p_o"] > 0.5)
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "flip_o")["mean"], flips.mean(axis=1).ravel(), rtol=1e-15
    )
    saturated = (coin["p_i"] < 0.1) | (coin["p_i"] > 0.9)
    np.testing.assert_allclose(
        stats_of(summary, "bernoulli", "sat_i")["mean"], saturated.mean(axis=1).ravel(), rtol=1e-15
    )
    assert (
        stats_of(summary, "threshold", "flip_f")["mean"] == 0
    ).all()  # rounding agrees with itself


def test_reference_trajectories_keep_a_few_seeds_every_kth_step(reference):
    sim, _, _ = reference
    frame = trajectories_frame(sim, seeds=[3, 5], every=3, sweep={"temperature": 0.5})
    assert list(frame.columns[:5]) == ["temperature", "condition", "seed", "t", "unit"]
    assert sorted(pd.unique(frame["seed"])) == [3, 5] and sorted(pd.unique(frame["t"])) == [0, 3, 6]
    row = frame[
        (frame["condition"] == "bernoulli")
        & (frame["seed"] == 5)
        & (frame["t"] == 3)
        & (frame["unit"] == 2)
    ]
    assert row["c"].item() == sim["bernoulli"]["c"][3, 5, 2]
