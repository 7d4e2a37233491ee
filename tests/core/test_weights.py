"""Weights: the forms given as arrays against the same reference arrays, the
object itself, the seeded initialisation's distribution, and the error messages."""

import pickle

import numpy as np
import pytest

from stochlstm.core.weights import (
    LAYER_ARRAYS,
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    from_torch_state_dict,
    init_uniform,
)

GATES = ("i", "f", "C", "o")


def make_rng(seed):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


# --------------------------------------------------------------------------- #
# The answer's worked example
# --------------------------------------------------------------------------- #


def answer_preactivation(b_i):
    """W_i (rows of ones, twos, threes) on [x, h] = [1, 2, 3, 4, 5, 6], plus b_i, computed
    through the torch-layout blocks; the other gates are zero."""
    w_i = np.array([[1.0] * 6, [2.0] * 6, [3.0] * 6])
    zeros = np.zeros((3, 6))
    weights = from_per_gate(w_i, zeros, zeros, zeros, b_i=b_i, input_size=3)
    x, h = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    preact = weights.weight_ih @ x + weights.bias_ih + weights.weight_hh @ h + weights.bias_hh
    np.testing.assert_array_equal(preact[3:], np.zeros(9))  # forget, candidate, output blocks
    return weights, preact[0:3]  # the input block comes first


def test_answer_worked_example_through_the_torch_layout_blocks():
    # W_i . [1..6] = [21, 42, 63]; the answer prints [22, 42, 62] for W_i . v + b_i,
    # which is b_i = [1, 0, -1]; with b_i = ones the sum is [22, 43, 64].
    weights, input_preact = answer_preactivation(b_i=[1.0, 0.0, -1.0])
    np.testing.assert_array_equal(input_preact, [22.0, 42.0, 62.0])
    _, input_preact = answer_preactivation(b_i=np.ones(3))
    np.testing.assert_array_equal(input_preact, [22.0, 43.0, 64.0])
    np.testing.assert_array_equal(np.round(1 / (1 + np.exp(-input_preact))), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(weights.weight_ih[:3], [[1] * 3, [2] * 3, [3] * 3])  # x columns
    np.testing.assert_array_equal(weights.weight_hh[:3], [[1] * 3, [2] * 3, [3] * 3])  # h columns


def test_to_per_gate_and_from_per_gate_round_trip_with_both_biases_and_readout():
    rng = make_rng(3)
    weights = from_torch(
        rng.normal(size=(16, 3)),
        rng.normal(size=(16, 4)),
        rng.normal(size=16),
        rng.normal(size=16),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
    )
    form = weights.to_per_gate()
    assert list(form) == ["W_i", "W_f", "W_C", "W_o", "b_i", "b_f", "b_C", "b_o", "W_y", "b_y"]
    for block, gate in enumerate(GATES):
        rows = slice(4 * block, 4 * block + 4)
        expected = np.hstack([weights.weight_ih[rows], weights.weight_hh[rows]])
        np.testing.assert_array_equal(form[f"W_{gate}"], expected)
        np.testing.assert_array_equal(
            form[f"b_{gate}"], weights.bias_ih[rows] + weights.bias_hh[rows]
        )

    back = from_per_gate(**form, input_size=3)
    np.testing.assert_array_equal(back.weight_ih, weights.weight_ih)
    np.testing.assert_array_equal(back.weight_hh, weights.weight_hh)
    np.testing.assert_array_equal(back.bias_ih, weights.bias_ih + weights.bias_hh)
    np.testing.assert_array_equal(back.bias_hh, np.zeros(16))
    np.testing.assert_array_equal(back.readout_weight, weights.readout_weight)
    for key, value in back.to_per_gate().items():
        np.testing.assert_array_equal(value, form[key])


def test_missing_biases_are_zeros_and_a_readout_bias_defaults_to_zeros():
    weights = from_keras(np.ones((2, 8)), np.ones((2, 8)), readout_weight=[[1.0, 2.0]])
    np.testing.assert_array_equal(weights.bias_ih, np.zeros(8))
    np.testing.assert_array_equal(weights.bias_hh, np.zeros(8))
    np.testing.assert_array_equal(weights.readout_bias, [0.0])
    assert weights.output_size == 1


# --------------------------------------------------------------------------- #
# The object itself
# --------------------------------------------------------------------------- #


def test_arrays_are_read_only_copies_of_the_callers_arrays():
    weight_ih = np.ones((4, 2))
    weights = from_torch(weight_ih, np.ones((4, 1)))
    assert weight_ih.flags.writeable  # the caller's array is untouched ...
    weight_ih[0, 0] = 5.0
    assert weights.weight_ih[0, 0] == 1.0  # ... and not shared
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(weights, name)[0] = 0.0
    with pytest.raises(AttributeError):
        weights.weight_ih = np.zeros((4, 2))


def test_astype_rounds_and_dtype_follows_the_arrays():
    weights = init_uniform(2, 3, seed=0, output_size=1)
    single = weights.astype(np.float32)
    assert single.dtype == np.float32 and single.readout_bias.dtype == np.float32
    np.testing.assert_array_equal(single.weight_hh, weights.weight_hh.astype(np.float32))
    assert single.astype("float32") is single
    assert from_torch(np.ones((4, 1), np.float32), np.ones((4, 1), np.float32)).dtype == np.float32
    assert from_torch(np.ones((4, 1), np.float32), np.ones((4, 1))).dtype == np.float64
    assert from_torch([[1]] * 4, [[1]] * 4).dtype == np.float64
    with pytest.raises(WeightsError, match="dtype: expected float32 or float64, got 'int32'"):
        weights.astype("int32")


def test_equality_repr_and_state_dict_names():
    weights = init_uniform(2, 3, seed=0)
    assert weights == init_uniform(2, 3, seed=0)
    assert weights != weights.astype(np.float32)
    assert weights != init_uniform(2, 3, seed=0, output_size=1)
    assert repr(weights) == "LSTMWeights(input_size=2, hidden_size=3, output_size=0, dtype=float64)"
    state = weights.to_torch_state_dict()
    assert list(state) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    np.testing.assert_array_equal(state["weight_hh_l0"], weights.weight_hh)
    state["weight_hh_l0"][0, 0] = 9.0  # a writable copy
    assert weights.weight_hh[0, 0] != 9.0


def test_pickled_weights_stay_equal_and_read_only():
    weights = init_uniform(2, 3, seed=0, output_size=1)
    copy = pickle.loads(pickle.dumps(weights))
    assert copy == weights
    assert not copy.weight_ih.flags.writeable and not copy.readout_bias.flags.writeable


def test_weights_error_keeps_its_field_across_pickling():
    error = pickle.loads(pickle.dumps(WeightsError("W_f", "contains inf at [1, 2]")))
    assert isinstance(error, ValueError)
    assert (error.field, str(error)) == ("W_f", "W_f: contains inf at [1, 2]")


# --------------------------------------------------------------------------- #
# init_uniform
# --------------------------------------------------------------------------- #


def test_init_uniform_follows_its_documented_draw_order():
    """Generator(PCG64(SeedSequence(seed))), float64, U(-1/sqrt(H), 1/sqrt(H)), in the
    order weight_ih, weight_hh, bias_ih, bias_hh, readout_weight, readout_bias."""
    input_size, hidden_size, output_size, seed = 3, 5, 2, 42
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    bound = 1 / np.sqrt(hidden_size)
    shapes = {
        "weight_ih": (20, 3),
        "weight_hh": (20, 5),
        "bias_ih": (20,),
        "bias_hh": (20,),
        "readout_weight": (2, 5),
        "readout_bias": (2,),
    }
    expected = {name: rng.uniform(-bound, bound, size=shape) for name, shape in shapes.items()}
    weights = init_uniform(input_size, hidden_size, seed=seed, output_size=output_size)
    for name, array in expected.items():
        np.testing.assert_array_equal(getattr(weights, name), array)
    without_readout = init_uniform(input_size, hidden_size, seed=seed)
    np.testing.assert_array_equal(without_readout.weight_ih, weights.weight_ih)
    single = init_uniform(input_size, hidden_size, seed=seed, output_size=2, dtype=np.float32)
    np.testing.assert_array_equal(single.weight_ih, expected["weight_ih"].astype(np.float32))
    np.testing.assert_array_equal(single.readout_bias, expected["readout_bias"].astype(np.float32))


def test_init_uniform_is_reproducible_and_seeds_differ():
    first, again = init_uniform(4, 6, seed=7), init_uniform(4, 6, seed=7)
    assert first == again
    other = init_uniform(4, 6, seed=8)
    assert not np.any(first.weight_ih == other.weight_ih)


def test_init_uniform_values_follow_uniform_minus_k_to_k():
    """Pooled LSTM values (N = 329,728) against U(-k, k), k = 1/sqrt(H): mean 0, variance
    k^2/3. Tolerance 5 standard errors (SE of the mean k/sqrt(3N); SE of the variance
    sqrt(4/45) k^2/sqrt(N)), a false-alarm rate below 1e-6 per check."""
    hidden_size = 256
    weights = init_uniform(64, hidden_size, seed=123, output_size=32)
    bound = 1 / np.sqrt(hidden_size)
    lstm_values = np.concatenate(
        [
            weights.weight_ih.ravel(),
            weights.weight_hh.ravel(),
            weights.bias_ih,
            weights.bias_hh,
        ]
    )
    count = lstm_values.size
    assert count == 329_728
    assert np.abs(lstm_values.mean()) < 5 * bound / np.sqrt(3 * count)
    variance_se = np.sqrt(4 / 45) * bound**2 / np.sqrt(count)
    assert abs(lstm_values.var(ddof=1) - bound**2 / 3) < 5 * variance_se
    for array in (lstm_values, weights.readout_weight.ravel()):
        # in [-k, k), and reaching both ends: the bound is k, not anything smaller
        assert array.min() >= -bound and array.max() < bound
        assert array.min() < -0.99 * bound and array.max() > 0.99 * bound


# --------------------------------------------------------------------------- #
# Error messages
# --------------------------------------------------------------------------- #


def test_wrong_shape_names_the_array_its_meaning_and_the_shapes():
    with pytest.raises(WeightsError) as caught:
        from_torch(np.zeros((12, 3)), np.zeros((12, 4)))
    assert str(caught.value) == (
        "weight_hh: expected shape (12, 3) = (4*hidden_size, hidden_size), got (12, 4)"
    )
    assert caught.value.field == "weight_hh"
    with pytest.raises(
        WeightsError, match=r"^bias_hh: expected shape \(12,\) = \(4\*hidden_size,\)"
    ):
        from_torch(np.zeros((12, 3)), np.zeros((12, 3)), bias_hh=np.zeros(11))
    with pytest.raises(
        WeightsError, match=r"^weight_ih: .*got \(13, 3\): 13 rows is not 4\*hidden"
    ):
        from_torch(np.zeros((13, 3)), np.zeros((12, 3)))
    with pytest.raises(
        WeightsError, match=r"^weight_ih: expected a 2-D array .* got shape \(12,\)"
    ):
        from_torch(np.zeros(12), np.zeros((12, 3)))
    with pytest.raises(
        WeightsError,
        match=r"^readout_weight: expected shape \(2, 3\) = \(output_size, hidden_size\)",
    ):
        from_torch(np.zeros((12, 3)), np.zeros((12, 3)), readout_weight=np.zeros((2, 4)))


def test_wrong_shape_in_keras_and_per_gate_terms():
    with pytest.raises(
        WeightsError,
        match=r"^recurrent_kernel: expected shape \(4, 16\) = \(hidden_size, 4\*hidden_size\), "
        r"got \(16, 4\)$",
    ):
        from_keras(np.zeros((3, 16)), np.zeros((16, 4)))
    zeros = np.zeros((3, 6))
    with pytest.raises(
        WeightsError,
        match=r"^W_C: expected shape \(3, 6\) = \(hidden_size, input_size \+ hidden_size\), "
        r"got \(3, 5\)$",
    ) as caught:
        from_per_gate(zeros, zeros, np.zeros((3, 5)), zeros, input_size=3)
    assert caught.value.field == "W_C"
    with pytest.raises(WeightsError, match=r"^b_o: expected shape \(3,\) = \(hidden_size,\)"):
        from_per_gate(zeros, zeros, zeros, zeros, b_o=[1.0, 2.0], input_size=3)
    with pytest.raises(WeightsError, match=r"^b_y: given without W_y$"):
        from_per_gate(zeros, zeros, zeros, zeros, input_size=3, b_y=[0.0])


def test_non_finite_values_are_located():
    bias = np.zeros(12)
    bias[3] = np.nan
    with pytest.raises(WeightsError, match=r"^bias_ih: contains NaN at index 3$") as caught:
        from_torch(np.zeros((12, 3)), np.zeros((12, 3)), bias)
    assert caught.value.field == "bias_ih"
    w_f = np.zeros((3, 6))
    w_f[1, 2] = np.inf
    w_f[2, 0] = -np.inf
    zeros = np.zeros((3, 6))
    with pytest.raises(WeightsError, match=r"^W_f: contains inf at \[1, 2\] \(2 non-finite"):
        from_per_gate(zeros, w_f, zeros, zeros, input_size=3)
    kernel = np.zeros((3, 12))
    kernel[0, 5] = -np.inf
    with pytest.raises(WeightsError, match=r"^kernel: contains -inf at \[0, 5\]$"):
        from_keras(kernel, np.zeros((3, 12)))
    too_big_for_float32 = from_torch(np.zeros((4, 1)), [[1e300]] * 4)
    with pytest.raises(
        WeightsError, match=r"^weight_hh: contains inf at \[0, 0\] \(4 .* after the cast"
    ):
        too_big_for_float32.astype(np.float32)


def test_values_that_are_not_numbers():
    with pytest.raises(WeightsError, match="^weight_ih: rows have different lengths$"):
        from_torch([[1.0, 2.0], [3.0]], np.zeros((4, 1)))
    with pytest.raises(WeightsError, match="^bias: expected real numbers, got values of type <U"):
        from_keras(np.zeros((1, 4)), np.zeros((1, 4)), bias=["a", "b", "c", "d"])


def test_the_answers_equations_on_per_gate_weights_equal_torch_lstm(torch):
    """The per-gate form's equations (x first in [x, h]; i, f, C, o) evaluated directly
    equal nn.LSTM's step with the weights converted to its layout."""
    rng = make_rng(5)
    form = {f"W_{g}": rng.normal(size=(4, 7)) for g in GATES} | {
        f"b_{g}": rng.normal(size=4) for g in GATES
    }
    weights = from_per_gate(**form, input_size=3)
    x, h, c = rng.normal(size=3), rng.normal(size=4), rng.normal(size=4)

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    xh = np.concatenate([x, h])
    i, f, o = (sigmoid(form[f"W_{g}"] @ xh + form[f"b_{g}"]) for g in ("i", "f", "o"))
    candidate = np.tanh(form["W_C"] @ xh + form["b_C"])
    c_next = f * c + i * candidate
    h_next = o * np.tanh(c_next)

    lstm = torch.nn.LSTM(3, 4).double()
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in weights.to_torch_state_dict().items()})
    with torch.no_grad():
        _, (h_torch, c_torch) = lstm(
            torch.from_numpy(x[None, None]),
            (torch.from_numpy(h[None, None]), torch.from_numpy(c[None, None])),
        )
    np.testing.assert_allclose(h_torch.numpy().ravel(), h_next, rtol=0, atol=1e-14)
    np.testing.assert_allclose(c_torch.numpy().ravel(), c_next, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- #
# Stacked layers and the readout's kind
# --------------------------------------------------------------------------- #


def test_a_stacked_nn_lstm_state_dict_round_trips_layer_by_layer(torch):
    lstm = torch.nn.LSTM(3, 4, num_layers=3).double()
    state = {key: value.detach().numpy() for key, value in lstm.state_dict().items()}
    weights = from_torch_state_dict(state, readout_weight=np.ones((2, 4)))
    assert (weights.num_layers, weights.input_size, weights.hidden_size) == (3, 3, 4)
    assert [layer.input_size for layer in weights.layers] == [3, 4, 4]
    back = weights.to_torch_state_dict()
    assert list(back) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)
    # the one-layer names are layer 0's
    np.testing.assert_array_equal(weights.weight_hh, state["weight_hh_l0"])
    assert weights.bias_ih is weights.layers[0].bias_ih
    np.testing.assert_array_equal(weights.readout_bias, [0.0, 0.0])
    copy = pickle.loads(pickle.dumps(weights))
    assert copy == weights and not copy.layers[2].weight_ih.flags.writeable
    assert weights.astype(np.float32).layers[2].bias_hh.dtype == np.float32
    assert weights != from_torch_state_dict({k: v for k, v in state.items() if "l2" not in k})
    assert repr(weights) == (
        "LSTMWeights(input_size=3, hidden_size=4, num_layers=3, output_size=2, dtype=float64)"
    )
    with pytest.raises(WeightsError, match=r"^weight_ih_l1: missing in a state dict of 3 layers"):
        from_torch_state_dict({k: v for k, v in state.items() if k != "weight_ih_l1"})
    with pytest.raises(WeightsError, match=r"^weight_hh_l0_reverse: not a parameter of a unidir"):
        from_torch_state_dict({**state, "weight_hh_l0_reverse": state["weight_hh_l0"]})


def test_init_uniform_draws_layer_after_layer_then_the_readout():
    input_size, hidden_size, seed = 3, 5, 42
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    bound = 1 / np.sqrt(hidden_size)
    expected = []
    for inputs in (input_size, hidden_size):
        shapes = [(20, inputs), (20, hidden_size), (20,), (20,)]
        expected.append([rng.uniform(-bound, bound, size=shape) for shape in shapes])
    readout = rng.uniform(-bound, bound, size=(2, hidden_size))
    weights = init_uniform(input_size, hidden_size, seed=seed, output_size=2, num_layers=2)
    for layer, arrays in zip(weights.layers, expected, strict=True):
        for name, array in zip(LAYER_ARRAYS, arrays, strict=True):
            np.testing.assert_array_equal(getattr(layer, name), array)
    np.testing.assert_array_equal(weights.readout_weight, readout)
    one_layer = init_uniform(input_size, hidden_size, seed=seed)
    np.testing.assert_array_equal(one_layer.weight_hh, weights.weight_hh)


def test_an_upper_layer_is_checked_against_the_hidden_size_and_named_by_its_index():
    layer = {"weight_ih": np.zeros((12, 3)), "weight_hh": np.zeros((12, 3))}
    LSTMWeights(np.zeros((12, 2)), np.zeros((12, 3)), upper_layers=[layer])  # input is h: 3
    with pytest.raises(WeightsError) as caught:
        LSTMWeights(
            np.zeros((12, 2)),
            np.zeros((12, 3)),
            upper_layers=[layer, {**layer, "weight_ih": np.zeros((12, 2))}],
        )
    assert str(caught.value) == (
        "weight_ih_l2: expected shape (12, 3) = (4*hidden_size, hidden_size), got (12, 2)"
    )
    with pytest.raises(WeightsError, match=r"^bias_hh_l1: expected shape \(12,\)"):
        LSTMWeights.from_layers([layer, {**layer, "bias_hh": np.zeros(4)}])
    with pytest.raises(WeightsError, match=r"^weight_hh_l1: missing$"):
        LSTMWeights.from_layers([layer, {"weight_ih": np.zeros((12, 3))}])


def test_the_readout_kind_is_checked_kept_and_part_of_equality():
    weights = init_uniform(2, 3, seed=0, output_size=2)
    assert weights.readout_kind == "sigmoid"
    linear = weights.with_readout_kind("linear")
    assert linear != weights and linear == init_uniform(
        2, 3, seed=0, output_size=2, readout_kind="linear"
    )
    assert pickle.loads(pickle.dumps(linear)).readout_kind == "linear"
    assert linear.astype(np.float32).readout_kind == "linear"
    assert linear.with_readout(np.ones((1, 3))).readout_kind == "linear"
    assert repr(linear).endswith("output_size=2, readout_kind=linear, dtype=float64)")
    with pytest.raises(
        WeightsError, match=r"^readout_kind: expected one of sigmoid, linear, softmax"
    ):
        weights.with_readout_kind("tanh")
