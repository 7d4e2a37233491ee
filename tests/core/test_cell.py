"""The cell against the answer's worked example and against torch.nn.LSTM."""

import numpy as np
import pytest

from stochlstm import Condition, cell_step, from_per_gate, from_torch, gate_rule, init_uniform
from stochlstm.core.cell import preactivation, readout, unroll
from stochlstm.core.weights import from_torch_state_dict


def answer_weights(hidden=3, inputs=3):
    """W_i rows of ones, twos, threes acting on [x_t, h_{t-1}]; b_i = ones.

    The other gates are zero weights (probability 1/2) unless given."""
    zeros = np.zeros((hidden, inputs + hidden))
    w_i = np.array([[1.0] * 6, [2.0] * 6, [3.0] * 6])
    return from_per_gate(
        W_i=w_i,
        W_f=zeros,
        W_C=zeros,
        W_o=zeros,
        b_i=np.ones(hidden),
        b_f=np.zeros(hidden),
        b_C=np.zeros(hidden),
        b_o=np.zeros(hidden),
        input_size=inputs,
    )


def test_worked_example_input_gate_preactivation_and_rounding():
    weights = answer_weights()
    x = np.array([[1.0, 2.0, 3.0]])
    h = np.array([[4.0, 5.0, 6.0]])
    preact = preactivation(weights, x, h)[0, :3]
    # W_i · [1, 2, 3, 4, 5, 6] = [21, 42, 63]. The answer prints [22, 42, 62]
    # for W_i · v + b_i; with b_i = [1, 1, 1] the sum is [22, 43, 64] (the
    # printed figures need b_i = [1, 0, -1]). Both round to [1, 1, 1] below.
    np.testing.assert_array_equal(preact - weights.to_per_gate()["b_i"], [21.0, 42.0, 63.0])
    np.testing.assert_array_equal(preact, [22.0, 43.0, 64.0])
    np.testing.assert_array_equal(preact - [22.0, 42.0, 62.0], [0.0, 1.0, 2.0])
    step = cell_step(weights, x, h, np.zeros((1, 3)))
    input_prob = step["p_i"][0]
    np.testing.assert_array_equal(np.round(input_prob, 8), [1.0, 1.0, 1.0])
    # and the exact values: sigmoid(22) = 1 - 2.79e-10
    np.testing.assert_allclose(input_prob, 1 / (1 + np.exp(-preact)), rtol=0, atol=1e-15)
    assert 1 - input_prob[0] == pytest.approx(2.789468e-10, rel=1e-6)
    # the threshold rule rounds them to exactly one, as does bernoulli for any u < 1 - 3e-10
    threshold = cell_step(weights, x, h, np.zeros((1, 3)), Condition(input=gate_rule("threshold")))
    np.testing.assert_array_equal(threshold["i"][0], [1.0, 1.0, 1.0])


def test_hadamard_example_in_the_cell_update():
    """f ∘ c_{t-1} is element-wise: f = [1, 2, 3] / 4 and c = 4 · [3, 2, 1] give [3, 4, 3]."""
    hidden = 3
    forget_prob = np.array([1.0, 2.0, 3.0]) / 4
    zeros = np.zeros((hidden, 2 * hidden))
    weights = from_per_gate(
        W_i=zeros,
        W_f=zeros,
        W_C=zeros,
        W_o=zeros,
        b_i=np.full(hidden, -100.0),  # input gate off: threshold(sigmoid(-100)) = 0
        b_f=np.log(forget_prob / (1 - forget_prob)),
        b_C=np.zeros(hidden),
        b_o=np.zeros(hidden),
        input_size=hidden,
    )
    condition = Condition(input=gate_rule("threshold"))
    step = cell_step(
        weights, np.zeros((1, 3)), np.zeros((1, 3)), 4 * np.array([[3.0, 2.0, 1.0]]), condition
    )
    np.testing.assert_allclose(step["p_f"][0], forget_prob, rtol=1e-15)
    np.testing.assert_allclose(step["c"][0], [3.0, 4.0, 3.0], rtol=1e-14)


def test_erase_semantics_keeps_one_minus_forget():
    weights = init_uniform(2, 4, seed=1)
    rng = np.random.Generator(np.random.PCG64(5))
    x, h, c = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    standard = cell_step(weights, x, h, c)
    erase = cell_step(weights, x, h, c, Condition(forget_semantics="erase"))
    np.testing.assert_allclose(
        erase["c"], (1 - standard["f"]) * c + standard["i"] * standard["g"], rtol=1e-14
    )


SIZES = [(1, 1, 1, 5), (3, 3, 4, 7), (5, 16, 32, 20), (10, 64, 8, 50)]


def torch_lstm(torch, weights, dtype):
    lstm = torch.nn.LSTM(weights.input_size, weights.hidden_size).to(dtype)
    with torch.no_grad():
        for name, value in weights.to_torch_state_dict().items():
            getattr(lstm, name).copy_(torch.from_numpy(np.asarray(value)))
    return lstm


def random_problem(input_size, hidden_size, batch, steps, seed):
    rng = np.random.Generator(np.random.PCG64(seed))
    weights = from_torch(
        rng.uniform(-0.6, 0.6, (4 * hidden_size, input_size)),
        rng.uniform(-0.6, 0.6, (4 * hidden_size, hidden_size)),
        rng.uniform(-0.6, 0.6, 4 * hidden_size),
        rng.uniform(-0.6, 0.6, 4 * hidden_size),
    )
    inputs = rng.normal(size=(steps, batch, input_size))
    h0, c0 = rng.normal(size=(2, batch, hidden_size))
    return weights, inputs, h0, c0


@pytest.mark.parametrize("input_size,hidden_size,batch,steps", SIZES)
def test_reference_cell_equals_torch_lstm(torch, input_size, hidden_size, batch, steps):
    weights, inputs, h0, c0 = random_problem(
        input_size, hidden_size, batch, steps, seed=hidden_size
    )
    ours = unroll(weights, inputs, h0, c0)
    lstm = torch_lstm(torch, weights, torch.float64)
    with torch.no_grad():
        output, (h_n, c_n) = lstm(
            torch.from_numpy(inputs), (torch.from_numpy(h0[None]), torch.from_numpy(c0[None]))
        )
    np.testing.assert_allclose(ours["h"], output.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["c"][-1], c_n[0].numpy(), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- readouts, stacked layers


@pytest.mark.parametrize("kind", ["sigmoid", "linear", "softmax"])
def test_the_readouts_equal_torch_heads(torch, kind):
    rng = np.random.Generator(np.random.PCG64(4))
    weights = from_torch(
        np.zeros((20, 2)),
        np.zeros((20, 5)),
        readout_weight=rng.normal(size=(3, 5)) * 4,
        readout_bias=rng.normal(size=3),
    ).with_readout_kind(kind)
    hidden_state = rng.normal(size=(7, 5))
    head = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weights.readout_weight.copy()))
        head.bias.copy_(torch.from_numpy(weights.readout_bias.copy()))
        z = head(torch.from_numpy(hidden_state))
        expected = {
            "sigmoid": torch.sigmoid,
            "linear": lambda v: v,
            "softmax": lambda v: torch.softmax(v, dim=1),
        }[kind](z)
    np.testing.assert_allclose(readout(weights, hidden_state), expected.numpy(), rtol=0, atol=1e-12)
    step = cell_step(weights, np.ones((7, 2)), hidden_state, np.zeros((7, 5)))
    np.testing.assert_allclose(step["y"], readout(weights, step["h"]), rtol=0, atol=0)


def test_stacked_reference_equals_torch_lstm_on_every_layer(torch):
    rng = np.random.Generator(np.random.PCG64(8))
    lstm = torch.nn.LSTM(3, 5, num_layers=3).double()
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, parameter.shape)))
    weights = from_torch_state_dict(lstm.state_dict())
    inputs = rng.normal(size=(9, 4, 3))
    h0, c0 = rng.normal(size=(2, 3, 4, 5))  # (layers, batch, hidden)
    with torch.no_grad():
        output, (h_n, c_n) = lstm(
            torch.from_numpy(inputs), (torch.from_numpy(h0), torch.from_numpy(c0))
        )
    ours = unroll(weights, inputs, h0, c0)
    np.testing.assert_allclose(ours["h"], output.numpy(), rtol=0, atol=1e-12)
    for layer in range(3):
        mine = unroll(weights, inputs, h0, c0, layer=layer)
        np.testing.assert_allclose(mine["h"][-1], h_n[layer].numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine["c"][-1], c_n[layer].numpy(), rtol=0, atol=1e-12)


def test_a_condition_acts_only_on_the_layers_it_lists():
    weights = init_uniform(2, 4, seed=1, num_layers=2)
    rng = np.random.Generator(np.random.PCG64(2))
    inputs, draws = rng.normal(size=(6, 3, 2)), rng.random(size=(6, 3, 4))
    upper_only = Condition("bernoulli", layers=[1])
    uniforms = [{}, {stream: draws for stream in upper_only.noise_streams}]
    standard = unroll(weights, inputs, np.zeros((3, 4)), np.zeros((3, 4)), layer=0)
    lower = unroll(
        weights, inputs, np.zeros((3, 4)), np.zeros((3, 4)), upper_only, uniforms, layer=0
    )
    for quantity, values in standard.items():
        np.testing.assert_array_equal(lower[quantity], values)
    upper = unroll(weights, inputs, np.zeros((3, 4)), np.zeros((3, 4)), upper_only, uniforms)
    assert set(np.unique(upper["f"])) <= {0.0, 1.0}
    with pytest.raises(
        ValueError, match=r"cell_step needs uniforms for \['forget', 'input', 'output'\]"
    ):
        unroll(weights, inputs, np.zeros((3, 4)), np.zeros((3, 4)), upper_only)
