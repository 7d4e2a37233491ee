"""The per-seed loss: closed forms and torch's losses for each kind and
encoding, and the recorder's loss quantities against plain numpy over the
full arrays of :func:`stochlstm.simulate`."""

import numpy as np
import pytest

from stochlstm import Condition, init_uniform, simulate
from stochlstm.engine.kernel import run_kernel
from stochlstm.engine.loss import LOG_FLOOR, LossPlan, seed_loss
from stochlstm.engine.recorder import BatchRecorder, RecordPlan
from tests.summary_reference import cell_stats

RNG = np.random.Generator(np.random.PCG64(11))


# ---------------------------------------------------------------- closed forms


def test_mse_is_the_mean_over_outputs_of_squared_errors():
    y = np.array([[0.2, 0.9], [0.4, 0.1]])  # (Y=2, B=2)
    z = np.array([[0.0, 1.0], [1.0, 0.0]])
    expected = [(0.2**2 + 0.6**2) / 2, (0.1**2 + 0.1**2) / 2]
    np.testing.assert_allclose(seed_loss(y, z, "mse", "values"), expected, rtol=1e-15)


def test_binary_cross_entropy_and_accuracy_are_closed_forms():
    y = np.array([[0.8, 0.3, 0.5]])
    z = np.array([[1.0, 1.0, 0.0]])
    expected = [-np.log(0.8), -np.log(0.3), -np.log(0.5)]
    np.testing.assert_allclose(seed_loss(y, z, "cross_entropy", "binary"), expected, rtol=1e-15)
    # 1[y > 0.5] = z: 0.5 counts as 0
    np.testing.assert_array_equal(seed_loss(y, z, "accuracy", "binary"), [1.0, 0.0, 1.0])


def test_class_cross_entropy_and_accuracy_are_closed_forms():
    y = np.array([[0.7, 0.1, 0.4], [0.2, 0.6, 0.4], [0.1, 0.3, 0.2]])  # (3 classes, 3 seeds)
    z = np.array([[0, 2, 1]])
    expected = [-np.log(0.7), -np.log(0.3), -np.log(0.4)]
    np.testing.assert_allclose(seed_loss(y, z, "cross_entropy", "classes"), expected, rtol=1e-15)
    # seed 2 ties classes 0 and 1: the first largest (0) is the prediction
    np.testing.assert_array_equal(seed_loss(y, z, "accuracy", "classes"), [1.0, 0.0, 0.0])


def test_a_probability_of_zero_costs_the_log_floor_not_infinity():
    y, z = np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])
    np.testing.assert_array_equal(seed_loss(y, z, "cross_entropy", "binary"), [-LOG_FLOOR, 0.0])


def test_losses_equal_torchs(torch):
    probs = RNG.uniform(0.01, 0.99, size=(4, 50))
    bits = (RNG.uniform(size=(4, 50)) < 0.5).astype(float)
    values = RNG.normal(size=(4, 50))
    per_seed = {"reduction": "none"}
    t = torch.from_numpy
    bce = torch.nn.functional.binary_cross_entropy(t(probs), t(bits), **per_seed).mean(0)
    np.testing.assert_allclose(
        seed_loss(probs, bits, "cross_entropy", "binary"), bce.numpy(), rtol=1e-13
    )
    mse = torch.nn.functional.mse_loss(t(probs), t(values), **per_seed).mean(0)
    np.testing.assert_allclose(seed_loss(probs, values, "mse", "values"), mse.numpy(), rtol=1e-13)
    simplex = probs / probs.sum(axis=0)
    classes = RNG.integers(0, 4, size=50)
    nll = torch.nn.functional.nll_loss(t(np.log(simplex).T), t(classes), **per_seed)
    np.testing.assert_allclose(
        seed_loss(simplex, classes[None], "cross_entropy", "classes"), nll.numpy(), rtol=1e-13
    )


# ---------------------------------------------------------------- the recorder

N_SEEDS, HIDDEN, STEPS, OUTPUTS = 300, 4, 12, 2
CONDITIONS = {
    "det": Condition(),
    "bern": Condition("bernoulli"),
    "forget": Condition(forget="bernoulli"),
}


@pytest.mark.parametrize("per_seed", [False, True])
def test_recorded_loss_equals_numpy_over_all_seeds(per_seed):
    """loss per step, loss_window and dev_loss_window (paired against the
    baseline) against numpy over the full arrays, with targets shared or per seed."""
    weights = init_uniform(2, HIDDEN, seed=4, output_size=OUTPUTS)
    inputs = RNG.normal(size=(STEPS, 2))
    seeds = list(range(N_SEEDS))
    n_targets = STEPS - 1
    shape = (n_targets, N_SEEDS, OUTPUTS) if per_seed else (n_targets, OUTPUTS)
    targets = RNG.uniform(size=shape)
    loss = LossPlan("mse", "values", n_steps=n_targets, window=(3, 9))
    recorded = tuple(range(0, STEPS, 2)) + (STEPS - 1,)
    plan = RecordPlan(("h",), recorded, tuple(range(HIDDEN)), loss=loss)
    recorder = BatchRecorder(
        plan, CONDITIONS, seeds, HIDDEN, OUTPUTS, baseline="det", targets=targets
    )
    run_kernel(weights, inputs, CONDITIONS, seeds, recorder)
    sim = simulate(weights, inputs, CONDITIONS, seeds, threads=1)

    goal = targets if per_seed else targets[:, None, :]
    windows = {}
    for name in CONDITIONS:
        y = sim[name]["y"][:n_targets]  # (T', B, Y)
        per_step = np.mean((y - goal) ** 2, axis=2)  # (T', B)
        windows[name] = per_step[3:10].mean(axis=0)
        steps = [t for t in recorded if t < n_targets]
        expected = cell_stats(per_step[steps][:, :, None])
        moments = recorder.record.moments[(name, "loss")]
        mean = _pooled_mean(moments)
        np.testing.assert_allclose(mean[:, 0], expected["mean"][:, 0], rtol=1e-13)
        mean = _pooled_mean(recorder.record.moments[(name, "loss_window")])
        np.testing.assert_allclose(mean[0, 0], windows[name].mean(), rtol=1e-13)
    assert ("det", "dev_loss_window") not in recorder.record.moments
    for name in ("bern", "forget"):
        moments = recorder.record.moments[(name, "dev_loss_window")]
        paired = windows[name] - windows["det"]
        np.testing.assert_allclose(_pooled_mean(moments)[0, 0], paired.mean(), rtol=1e-12)
        np.testing.assert_allclose(np.max(moments[3]), paired.max(), rtol=1e-13)


def _pooled_mean(moments) -> np.ndarray:
    """The mean over all seeds of block moments ``[mean, m2, min, max]``."""
    sizes = np.array([256, N_SEEDS - 256])
    return np.tensordot(sizes / N_SEEDS, moments[0], axes=1)
