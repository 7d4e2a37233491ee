"""The training cell against the simulator's numpy kernel, and its estimators."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stochlstm.core.cell import cell_step  # noqa: E402
from stochlstm.core.conditions import Condition  # noqa: E402
from stochlstm.core.weights import LSTMWeights, init_uniform  # noqa: E402
from stochlstm.engine.kernel import run_kernel  # noqa: E402
from stochlstm.train.cell import LSTMLayer, realise_gate  # noqa: E402
from stochlstm.train.noise import batch_seeds, batch_uniforms, noise_root  # noqa: E402

STEPS, BATCH, INPUTS, HIDDEN = 12, 5, 3, 4

CONDITIONS = {
    "deterministic": Condition(),
    "bernoulli": Condition("bernoulli"),
    "concrete": Condition("concrete", temperature=0.7),
    "threshold": Condition("threshold"),
    "forget-bernoulli": Condition(forget="bernoulli"),
    "zoneout": Condition(zoneout={"c": 0.3, "h": 0.2}),
    "erase": Condition("bernoulli", forget_semantics="erase"),
}


def layer_from(weights) -> LSTMLayer:
    layer = LSTMLayer(weights.input_size, weights.hidden_size)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.tensor(weights.weight_ih))
        layer.weight_hh_l0.copy_(torch.tensor(weights.weight_hh))
        layer.bias_ih_l0.copy_(torch.tensor(weights.bias_ih))
        layer.bias_hh_l0.copy_(torch.tensor(weights.bias_hh))
    return layer


def kernel_h(weights, inputs, condition, seeds, root):
    hidden = np.empty((len(inputs), len(seeds), weights.hidden_size))

    def consume(index, t, values):
        hidden[t] = values["h"].T

    run_kernel(weights, inputs, condition, seeds, consume, root_seed=root)
    return hidden


@pytest.mark.parametrize("name", CONDITIONS)
def test_forward_equals_the_numpy_kernel_on_the_same_weights_and_uniforms(name):
    condition = CONDITIONS[name]
    weights = init_uniform(INPUTS, HIDDEN, seed=3)
    inputs = np.random.Generator(np.random.PCG64(1)).normal(size=(STEPS, BATCH, INPUTS)) * 2
    root, seeds = noise_root(7), batch_seeds(iteration=11, batch_size=BATCH)
    uniforms = batch_uniforms(root, seeds, condition.noise_streams, STEPS, HIDDEN)
    hidden, _ = layer_from(weights)(
        torch.from_numpy(inputs), condition, {k: torch.from_numpy(v) for k, v in uniforms.items()}
    )
    expected = kernel_h(weights, inputs, condition, seeds, root)
    np.testing.assert_allclose(hidden.detach().numpy(), expected, rtol=0, atol=1e-12)


def test_zoneout_in_evaluation_is_its_expectation():
    """Krueger et al.: c and h are z * previous + (1 - z) * new, with the reference cell."""
    condition = Condition(zoneout={"c": 0.3, "h": 0.2})
    weights = init_uniform(INPUTS, HIDDEN, seed=4)
    inputs = np.random.Generator(np.random.PCG64(2)).normal(size=(STEPS, BATCH, INPUTS))
    hidden, _ = layer_from(weights)(torch.from_numpy(inputs), condition, expected=True)
    h, c = np.zeros((BATCH, HIDDEN)), np.zeros((BATCH, HIDDEN))
    expected = []
    for x in inputs:
        step = cell_step(weights, x, h, c)
        c = 0.3 * c + 0.7 * step["c"]
        h = 0.2 * h + 0.8 * (step["o"] * np.tanh(c))
        expected.append(h)
    np.testing.assert_allclose(hidden.detach().numpy(), np.stack(expected), rtol=0, atol=1e-12)


def test_straight_through_gradient_equals_the_deterministic_one_where_gates_are_saturated():
    """With preactivations of +-40, p is 0 or 1 to float64 precision, so 1[u < p] equals p
    for every u in [0, 1): the sampled network is the deterministic one, and the
    straight-through gradient (through p) must be its exact gradient."""
    weights = init_uniform(INPUTS, HIDDEN, seed=5)
    rows = np.arange(4 * HIDDEN)
    gate_rows = (rows < 2 * HIDDEN) | (rows >= 3 * HIDDEN)  # input, forget, output
    sign = np.where(np.random.Generator(np.random.PCG64(3)).random(4 * HIDDEN) < 0.5, -1.0, 1.0)
    bias_ih = weights.bias_ih.copy()
    bias_ih[gate_rows] = 40.0 * sign[gate_rows]
    weights = LSTMWeights(weights.weight_ih, weights.weight_hh, bias_ih, weights.bias_hh)
    inputs = torch.from_numpy(
        np.random.Generator(np.random.PCG64(4)).normal(size=(STEPS, BATCH, INPUTS))
    )
    condition = Condition("bernoulli")
    uniforms = batch_uniforms(noise_root(0), range(BATCH), condition.noise_streams, STEPS, HIDDEN)
    uniforms = {k: torch.from_numpy(v) for k, v in uniforms.items()}
    gradients = {}
    for name, chosen, noise in (("st", condition, uniforms), ("det", Condition(), None)):
        layer = layer_from(weights)
        hidden, _ = layer(inputs, chosen, noise)
        (hidden**2).sum().backward()
        gradients[name] = {n: p.grad.clone() for n, p in layer.named_parameters()}
        gradients[name]["h"] = hidden.detach()
    for key, value in gradients["det"].items():
        torch.testing.assert_close(gradients["st"][key], value, rtol=0, atol=1e-12)


def test_straight_through_passes_the_gradient_of_p_unchanged():
    preact = torch.tensor([-1.0, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
    prob = torch.sigmoid(preact)
    uniform = torch.tensor([0.9, 0.1, 0.5], dtype=torch.float64)
    gate = realise_gate("bernoulli", prob, preact, uniform, 1.0)
    assert gate.tolist() == [0.0, 1.0, 1.0]
    gate.sum().backward()
    expected = (prob * (1 - prob)).detach()
    torch.testing.assert_close(preact.grad, expected, rtol=0, atol=1e-15)
