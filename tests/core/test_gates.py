"""Gating rules: firing rates, limits, and the relations between rules."""

import math

import numpy as np
import pytest

from stochlstm import Condition, gate_rule, init_uniform, simulate
from stochlstm.core.gates import GATE_RULES, Bernoulli, Concrete, Deterministic, Threshold, sigmoid


def rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def binomial_two_sided_p_value(successes: int, trials: int, prob: float) -> float:
    """Exact two-sided binomial test (sum of the outcomes no likelier than the observed one)."""
    k = np.arange(trials + 1)
    log_pmf = (
        np.array(
            [math.lgamma(trials + 1) - math.lgamma(j + 1) - math.lgamma(trials - j + 1) for j in k]
        )
        + k * math.log(prob)
        + (trials - k) * math.log1p(-prob)
    )
    observed = log_pmf[successes]
    return float(np.exp(log_pmf[log_pmf <= observed + 1e-7]).sum())


PROBS = [0.01, 0.1, 0.3, 0.5, 0.8, 0.97]
# Six independent exact tests at alpha = 1e-4 / 6 each: the chance that this
# test fails although the rule is right is at most 1e-4 (Bonferroni).
ALPHA = 1e-4 / len(PROBS)


@pytest.mark.parametrize("prob", PROBS)
def test_bernoulli_fires_at_rate_p(prob):
    trials = 20_000
    uniform = rng(12345).random(trials)
    fired = gate_rule("bernoulli")(np.full(trials, prob), uniform=uniform)
    assert set(np.unique(fired)) <= {0.0, 1.0}
    assert binomial_two_sided_p_value(int(fired.sum()), trials, prob) > ALPHA


def test_bernoulli_gates_in_simulation_fire_at_their_probabilities():
    """Across a simulation the number of firings of a gate is a sum of
    independent Bernoulli(p_t) given the probabilities: mean sum(p), variance
    sum(p (1 - p)). A two-sided z test at |z| < 4.42 has a false-alarm rate of
    1e-5 per gate (normal approximation over ~10^5 terms), 3e-5 for the three."""
    weights = init_uniform(3, 8, seed=1)
    inputs = rng(0).normal(size=(40, 3))
    sim = simulate(weights, inputs, Condition("bernoulli"), range(300), root_seed=11)
    for gate in ("i", "f", "o"):
        prob, fired = sim["condition"][f"p_{gate}"], sim["condition"][gate]
        z = (fired.sum() - prob.sum()) / np.sqrt((prob * (1 - prob)).sum())
        assert abs(z) < 4.42, (gate, z)


@pytest.mark.parametrize("rule", ["bernoulli", "threshold", "concrete"])
def test_large_logits_give_the_deterministic_zero_and_one(rule):
    preact = np.array([-60.0, -40.0, 40.0, 60.0] * 250)
    prob = sigmoid(preact)
    np.testing.assert_array_equal(prob, (preact > 0).astype(float))
    # u = 0 (probability 2**-53) is left out for concrete: logit(0) = -inf turns
    # the gate on for every finite logit, as 1[0 < p] does for every p > 0.
    smallest = 2.0**-53 if rule == "concrete" else 0.0
    uniform = np.concatenate([[smallest, 1 - 2**-53], rng(3).random(998)])
    params = {"temperature": 0.5} if rule == "concrete" else {}
    gate = gate_rule(rule, **params)(prob, preact=preact, uniform=uniform)
    np.testing.assert_array_equal(gate, (preact > 0).astype(float))


def test_concrete_with_tiny_temperature_reproduces_bernoulli_samples():
    preact = rng(1).normal(scale=3, size=100_000)
    prob = sigmoid(preact)
    uniform = rng(2).random(preact.size)
    bernoulli = gate_rule("bernoulli")(prob, uniform=uniform)
    concrete = Concrete(temperature=1e-9)(prob, preact=preact, uniform=uniform)
    np.testing.assert_array_equal(concrete, bernoulli)
    warm = Concrete(temperature=1.0)(prob, preact=preact, uniform=uniform)
    assert 0 < np.mean((warm > 0) & (warm < 1))


def test_concrete_is_an_unbiased_relaxation_at_temperature_one():
    """At temperature 1, P(concrete > 1/2) = p for the logistic noise it adds."""
    prob = np.full(200_000, 0.3)
    gate = Concrete(temperature=1.0)(
        prob, preact=np.log(prob / (1 - prob)), uniform=rng(4).random(prob.size)
    )
    # false-alarm rate of this bound: 2e-9 (6 standard errors of a proportion)
    assert abs(np.mean(gate > 0.5) - 0.3) < 6 * math.sqrt(0.3 * 0.7 / prob.size)


def test_threshold_equals_rounding():
    prob = rng(5).random(10_000)
    gate = gate_rule("threshold")(prob)
    np.testing.assert_array_equal(gate, np.round(prob))
    np.testing.assert_array_equal(gate_rule("threshold")(np.array([0.5])), [0.0])


def test_deterministic_is_the_probability():
    prob = rng(6).random(10)
    np.testing.assert_array_equal(gate_rule("deterministic")(prob), prob)


def test_unknown_rule_names_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown gate rule 'bernouli'; expected one of: deterministic, bernoulli"
    ):
        gate_rule("bernouli")
    assert set(GATE_RULES) == {"deterministic", "bernoulli", "threshold", "concrete"}


@pytest.mark.parametrize(
    "temperature, message",
    [
        (0, "must be > 0, got 0"),
        (-1, "must be > 0, got -1"),
        (float("nan"), "must be a finite number, got nan"),
    ],
)
def test_concrete_rejects_bad_temperature(temperature, message):
    with pytest.raises(ValueError, match=f"concrete temperature {message}"):
        Concrete(temperature=temperature)


def test_rules_declare_their_parameters_and_whether_they_are_binary():
    assert list(Concrete.parameters()) == ["temperature"]
    assert all(not GATE_RULES[name].parameters() for name in ("deterministic", "bernoulli"))
    assert [name for name, rule in GATE_RULES.items() if rule.binary] == ["bernoulli", "threshold"]
    assert Concrete(0.25).describe() == "concrete(temperature=0.25)"
    assert Bernoulli().describe() == "bernoulli"


def test_gate_rule_takes_the_files_forms():
    assert gate_rule("concrete", temperature=0.3) == Concrete(0.3)
    assert gate_rule({"rule": "concrete", "temperature": 0.3}) == Concrete(0.3)
    # a condition's parameters apply to the rules that have them; a gate's own win
    assert gate_rule("bernoulli", temperature=0.3) == Bernoulli()
    assert gate_rule({"rule": "concrete", "temperature": 2.0}, temperature=0.3) == Concrete(2.0)
    assert gate_rule(Threshold()) == Threshold()
    with pytest.raises(ValueError, match="the bernoulli rule has no parameter 'temperature'"):
        gate_rule({"rule": "bernoulli", "temperature": 0.3})


def test_condition_takes_the_keywords_of_the_experiment_file():
    assert Condition(forget="bernoulli") == Condition(forget=Bernoulli())
    assert Condition(forget="bernoulli").input == Deterministic()
    assert Condition("concrete", temperature=0.5).output == Concrete(0.5)
    mixed = Condition("bernoulli", output={"rule": "concrete", "temperature": 0.3})
    assert (mixed.input, mixed.output) == (Bernoulli(), Concrete(0.3))
    zoneout = Condition(zoneout={"c": 0.1})
    assert (zoneout.zoneout.c, zoneout.zoneout.h) == (0.1, 0.0)
    assert zoneout.noise_streams == ("zoneout_c",)
    binary = Condition(candidate="binary", cell_output="binary", noise="fixed")
    assert binary.noise_streams == ("candidate", "cell_output")
    assert binary.describe().endswith("binary candidate, binary tanh(c), noise=fixed")


@pytest.mark.parametrize(
    "keywords, error, message",
    [
        (
            {"gates": "bernoulli", "temperature": 0.2},
            ValueError,
            "temperature: applies to concrete",
        ),
        ({"temperatur": 0.2}, TypeError, "unexpected keyword.*temperatur"),
        ({"zoneout": {"c": 1.5}}, ValueError, "zoneout c must be a probability"),
        ({"candidate": "sign"}, ValueError, "candidate must be 'tanh' or 'binary'"),
        ({"forget": "bernouli"}, ValueError, "unknown gate rule 'bernouli'"),
    ],
)
def test_condition_refuses_what_the_file_would(keywords, error, message):
    with pytest.raises(error, match=message):
        Condition(**keywords)


def test_stochastic_binary_units_have_mean_tanh():
    """E[±1 unit] = tanh(a): 40k samples per unit, |error| < 5 se (false alarm 6e-7 per unit)."""
    from stochlstm.core.cell import stochastic_sign

    mean = np.tanh(np.array([-2.0, -0.3, 0.0, 0.7]))
    samples = stochastic_sign(np.tile(mean, (40_000, 1)), rng(7).random((40_000, 4)))
    assert set(np.unique(samples)) == {-1.0, 1.0}
    se = np.sqrt((1 - mean**2) / 40_000)
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 5 * se + 1e-12)
