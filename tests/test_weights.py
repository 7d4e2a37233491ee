"""Weights: every form against the same reference arrays, torch.nn.LSTM state dicts,
the seeded initialisation's distribution, and the error messages."""

import pickle
import sys

import numpy as np
import pytest

from stochlstm.weights import (
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    init_uniform,
    load_weights,
    save_weights,
    weights_from_mapping,
)

GATES = ("i", "f", "C", "o")
INPUT_SIZE, HIDDEN_SIZE = 3, 4


def make_rng(seed):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


@pytest.fixture
def per_gate():
    """Reference weights in the answer's form (W_* act on [x, h], x first)."""
    rng = make_rng(11)
    form = {f"W_{g}": rng.normal(size=(HIDDEN_SIZE, INPUT_SIZE + HIDDEN_SIZE)) for g in GATES}
    form.update({f"b_{g}": rng.normal(size=HIDDEN_SIZE) for g in GATES})
    return form


def torch_layout_of(form):
    """The same weights in nn.LSTM's layout, built by hand: row blocks i, f, g, o."""
    return {
        "weight_ih": np.vstack([form[f"W_{g}"][:, :INPUT_SIZE] for g in GATES]),
        "weight_hh": np.vstack([form[f"W_{g}"][:, INPUT_SIZE:] for g in GATES]),
        "bias_ih": np.concatenate([form[f"b_{g}"] for g in GATES]),
        "bias_hh": np.zeros(4 * HIDDEN_SIZE),
    }


def keras_layout_of(form):
    """The same weights in Keras' layout: column blocks i, f, c, o of the kernels."""
    return {
        "kernel": np.hstack([form[f"W_{g}"][:, :INPUT_SIZE].T for g in GATES]),
        "recurrent_kernel": np.hstack([form[f"W_{g}"][:, INPUT_SIZE:].T for g in GATES]),
        "bias": np.concatenate([form[f"b_{g}"] for g in GATES]),
    }


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


# --------------------------------------------------------------------------- #
# The same weights in every form
# --------------------------------------------------------------------------- #


def build_from_form(form_name, per_gate, tmp_path):
    torch_arrays, keras_arrays = torch_layout_of(per_gate), keras_layout_of(per_gate)
    sizes = {"input_size": INPUT_SIZE, "hidden_size": HIDDEN_SIZE}
    if form_name == "per_gate":
        return from_per_gate(**per_gate, input_size=INPUT_SIZE)
    if form_name == "per_gate_lists":
        lists = {key: value.tolist() for key, value in per_gate.items()}
        return from_per_gate(**lists, input_size=INPUT_SIZE)
    if form_name == "torch":
        return from_torch(**torch_arrays)
    if form_name == "keras":
        return from_keras(**keras_arrays)
    if form_name == "npz_torch":
        np.savez(tmp_path / "w.npz", **{f"{k}_l0": v for k, v in torch_arrays.items()})
        return load_weights(tmp_path / "w.npz")
    if form_name == "npz_torch_without_l0":
        np.savez(tmp_path / "w.npz", **torch_arrays)
        return load_weights(str(tmp_path / "w.npz"))
    if form_name == "npz_keras":
        np.savez(tmp_path / "w.npz", **keras_arrays)
        return load_weights(tmp_path / "w.npz", layout="keras")
    if form_name == "mapping_per_gate":
        lists = {key: value.tolist() for key, value in per_gate.items()}
        return weights_from_mapping(lists, **sizes)
    if form_name == "mapping_torch":
        return weights_from_mapping({k: v.tolist() for k, v in torch_arrays.items()}, **sizes)
    if form_name == "mapping_keras":
        return weights_from_mapping({k: v.tolist() for k, v in keras_arrays.items()}, **sizes)
    if form_name == "mapping_file":
        (tmp_path / "sub").mkdir()
        np.savez(tmp_path / "sub" / "w.npz", **keras_arrays)
        mapping = {"file": "sub/w.npz", "layout": "keras"}
        return weights_from_mapping(mapping, **sizes, base_dir=tmp_path)
    raise AssertionError(form_name)


FORMS = [
    "per_gate",
    "per_gate_lists",
    "torch",
    "keras",
    "npz_torch",
    "npz_torch_without_l0",
    "npz_keras",
    "mapping_per_gate",
    "mapping_torch",
    "mapping_keras",
    "mapping_file",
]


@pytest.mark.parametrize("form_name", FORMS)
def test_the_same_weights_in_every_form_give_identical_lstm_weights(form_name, per_gate, tmp_path):
    reference = torch_layout_of(per_gate)
    weights = build_from_form(form_name, per_gate, tmp_path)
    assert weights == LSTMWeights(**reference)
    for name, array in reference.items():
        np.testing.assert_array_equal(getattr(weights, name), array)
    assert weights.dtype == np.float64
    assert (weights.input_size, weights.hidden_size, weights.output_size) == (3, 4, 0)


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


def test_save_weights_round_trips_through_npz(tmp_path):
    weights = init_uniform(2, 3, seed=5, output_size=2).astype(np.float32)
    assert load_weights(save_weights(weights, tmp_path / "w.npz")) == weights
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left


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


# --------------------------------------------------------------------------- #
# The experiment file's weights block
# --------------------------------------------------------------------------- #

SIZES = {"input_size": 3, "hidden_size": 3}


def answer_mapping():
    zeros = [[0] * 6] * 3
    return {
        "W_i": [[1] * 6, [2] * 6, [3] * 6],
        "b_i": [1, 1, 1],
        "W_f": zeros,
        "W_C": zeros,
        "W_o": zeros,
    }


def test_mapping_random_form_is_init_uniform():
    weights = weights_from_mapping({"init": "uniform", "seed": 4}, **SIZES, output_size=2)
    assert weights == init_uniform(3, 3, seed=4, output_size=2)
    assert weights_from_mapping({"init": "uniform"}, **SIZES) == init_uniform(3, 3, seed=0)


def test_mapping_readout_is_given_or_initialised_from_the_seed():
    mapping = answer_mapping()
    plain = weights_from_mapping(mapping, **SIZES)
    assert plain.output_size == 0
    drawn = weights_from_mapping({**mapping, "seed": 9}, **SIZES, output_size=2)
    reference = init_uniform(3, 3, seed=9, output_size=2)
    np.testing.assert_array_equal(drawn.readout_weight, reference.readout_weight)
    np.testing.assert_array_equal(drawn.readout_bias, reference.readout_bias)
    np.testing.assert_array_equal(drawn.weight_ih, plain.weight_ih)
    zero_seed = weights_from_mapping(mapping, **SIZES, output_size=1)
    np.testing.assert_array_equal(
        zero_seed.readout_weight, init_uniform(3, 3, seed=0, output_size=1).readout_weight
    )
    given = weights_from_mapping(
        {**mapping, "W_y": [[1, 2, 3]], "b_y": [0.5]}, **SIZES, output_size=1
    )
    np.testing.assert_array_equal(given.readout_weight, [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(given.readout_bias, [0.5])
    spelled = {"init": "uniform", "readout_weight": [[1, 2, 3]]}
    assert weights_from_mapping(spelled, **SIZES, output_size=1).readout_bias.tolist() == [0.0]


@pytest.mark.parametrize(
    "mapping, field, message",
    [
        (
            {**answer_mapping(), "weight_ih": [[0] * 3] * 12},
            "weight_ih",
            r"^weight_ih: mixes the PyTorch layout with the per-gate form \(W_i\); give exactly",
        ),
        ({"init": "uniform", "file": "w.npz"}, "file", r"^file: mixes the file with the random"),
        (
            {"kernel": [[0] * 12] * 3, "recurrent_kernel": [[0] * 12] * 3, "layout": "keras"},
            "layout",
            r"^layout: mixes the file with the Keras layout",
        ),
        (
            {**answer_mapping(), "W_c": [[0] * 6] * 3},
            "W_c",
            r"^W_c: unknown key in the weights \(did you mean W_C\?\); expected one form: \{init",
        ),
        ({"init": "uniform", "sead": 3}, "sead", r"^sead: unknown key .*did you mean seed\?"),
        (
            {k: v for k, v in answer_mapping().items() if k != "W_f"},
            "W_f",
            r"^W_f: missing: the per-gate form needs W_i, W_f, W_C, W_o$",
        ),
        ({"seed": 3}, "weights", r"^weights: no weights given; expected one form"),
        (
            {"init": "normal"},
            "init",
            r"^init: unknown initialisation 'normal'; expected 'uniform'$",
        ),
        ({"init": "uniform", "seed": -1}, "seed", r"^seed: expected an integer >= 0, got -1$"),
        (
            {**answer_mapping(), "W_y": [[1, 2, 3]], "readout_bias": [0]},
            "readout_bias",
            r"^readout_bias: a second readout beside W_y; give one$",
        ),
        (
            {"weight_ih": [[0] * 3] * 16, "weight_hh": [[0] * 3] * 12},
            "weight_ih",
            r"^weight_ih: expected shape \(12, 3\) = \(4\*hidden_size, input_size\), got \(16, 3",
        ),
        (
            {**answer_mapping(), "W_y": [[1, 2, 3]]},
            "W_y",
            r"^W_y: gives a readout of output_size 1, but the model's output_size is 0",
        ),
        ([1, 2], "weights", r"^weights: expected a mapping"),
    ],
)
def test_mapping_errors_name_the_offending_key(mapping, field, message):
    with pytest.raises(WeightsError, match=message) as caught:
        weights_from_mapping(mapping, **SIZES)
    assert caught.value.field == field


def test_mapping_sizes_are_those_of_the_model():
    with pytest.raises(
        WeightsError, match=r"^W_i: expected shape \(3, 7\) = \(hidden_size, input_size"
    ):
        weights_from_mapping(answer_mapping(), input_size=4, hidden_size=3)
    with pytest.raises(
        WeightsError, match=r"^kernel: expected shape \(3, 8\) = \(input_size, 4\*hidden"
    ):
        weights_from_mapping(
            {"kernel": [[0] * 12] * 3, "recurrent_kernel": [[0] * 12] * 3},
            input_size=3,
            hidden_size=2,
        )


def test_mapping_file_errors(tmp_path):
    with pytest.raises(WeightsError, match=r"^file: not found: .*missing\.npz$") as caught:
        weights_from_mapping({"file": "missing.npz"}, **SIZES, base_dir=tmp_path)
    assert caught.value.field == "file"
    assert str(tmp_path) in str(caught.value)
    save_weights(init_uniform(3, 3, seed=0, output_size=1), tmp_path / "w.npz")
    with pytest.raises(WeightsError, match=r"^W_y: the weights file already has a readout"):
        weights_from_mapping(
            {"file": "w.npz", "W_y": [[1, 2, 3]]}, **SIZES, output_size=1, base_dir=tmp_path
        )
    with pytest.raises(WeightsError, match=r"^file: gives a readout of output_size 1, but"):
        weights_from_mapping({"file": "w.npz"}, **SIZES, base_dir=tmp_path)
    with pytest.raises(
        WeightsError, match=r"^weight_ih_l0: expected shape \(20, 3\) .* \(in .*w\.npz\)$"
    ):
        weights_from_mapping({"file": "w.npz"}, input_size=3, hidden_size=5, base_dir=tmp_path)
    with pytest.raises(WeightsError, match=r"^layout: expected 'torch' or 'keras', got 'tf'$"):
        weights_from_mapping({"file": "w.npz", "layout": "tf"}, **SIZES, base_dir=tmp_path)


# --------------------------------------------------------------------------- #
# Files without torch
# --------------------------------------------------------------------------- #


def lstm_keys(prefix="", layers=1, reverse=False):
    keys = {}
    for layer in range(layers):
        for direction in ("", "_reverse") if reverse else ("",):
            for kind, shape in (
                ("weight_ih", (8, 1)),
                ("weight_hh", (8, 2)),
                ("bias_ih", (8,)),
                ("bias_hh", (8,)),
            ):
                keys[f"{prefix}{kind}_l{layer}{direction}"] = np.ones(shape)
    return keys


@pytest.mark.parametrize(
    "arrays, key, shows",
    [
        (lstm_keys(layers=2), "weight_ih_l1", r"a layer 1 \(num_layers > 1\)"),
        (
            lstm_keys(reverse=True),
            "weight_ih_l0_reverse",
            r"a reverse direction \(bidirectional=True\)",
        ),
        (
            {**lstm_keys("lstm."), "lstm.weight_hr_l0": np.ones((2, 2))},
            "lstm.weight_hr_l0",
            r"a projection \(proj_size > 0\)",
        ),
    ],
)
def test_only_single_layer_unidirectional_lstms_are_loaded(tmp_path, arrays, key, shows):
    np.savez(tmp_path / "w.npz", **arrays)
    message = rf"^{key}: shows {shows}; only single-layer unidirectional LSTMs are supported"
    with pytest.raises(WeightsError, match=message) as caught:
        load_weights(tmp_path / "w.npz")
    assert caught.value.field == key


def test_a_prefix_is_found_when_there_is_one_lstm_and_chosen_otherwise(tmp_path):
    np.savez(tmp_path / "one.npz", **lstm_keys("model.lstm."), **{"fc.weight": np.ones((1, 2))})
    assert load_weights(tmp_path / "one.npz").hidden_size == 2
    two = {**lstm_keys("encoder."), **lstm_keys("decoder.")}
    two["decoder.weight_ih_l0"] = np.full((8, 1), 2.0)
    np.savez(tmp_path / "two.npz", **two)
    with pytest.raises(WeightsError, match=r"several LSTMs \(encoder.weight_ih_l0, decoder.weight"):
        load_weights(tmp_path / "two.npz")
    decoder = load_weights(tmp_path / "two.npz", prefix="decoder")
    np.testing.assert_array_equal(decoder.weight_ih, np.full((8, 1), 2.0))
    with pytest.raises(WeightsError, match=r"^prefix: no LSTM under 'other\.'"):
        load_weights(tmp_path / "two.npz", prefix="other")


def test_file_errors(tmp_path):
    with pytest.raises(WeightsError, match=r"^file: not found: .*nowhere\.npz$"):
        load_weights(tmp_path / "nowhere.npz")
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(
        WeightsError, match=r"^file: .*w\.h5: expected a \.npz, \.pt or \.pth file$"
    ):
        load_weights(tmp_path / "w.h5")
    np.savez(tmp_path / "arr.npz", *lstm_keys().values())
    with pytest.raises(
        WeightsError, match=r"^kernel: missing: .* keys: arr_0, arr_1, arr_2, arr_3"
    ):
        load_weights(tmp_path / "arr.npz", layout="keras")
    with pytest.raises(WeightsError, match=r"^weight_ih_l0: no LSTM input weights; keys: arr_0"):
        load_weights(tmp_path / "arr.npz")
    np.savez(tmp_path / "no_hh.npz", weight_ih_l0=np.ones((4, 1)))
    with pytest.raises(WeightsError, match=r"^weight_hh_l0: missing beside weight_ih_l0 \(in "):
        load_weights(tmp_path / "no_hh.npz")
    np.savez(tmp_path / "objects.npz", weight_ih_l0=np.array([None, 1.0], dtype=object))
    with pytest.raises(WeightsError, match=r"^file: cannot read .*objects\.npz as \.npz: .*pickle"):
        load_weights(tmp_path / "objects.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(WeightsError, match=r"^file: .*single\.npz holds a single array"):
        load_weights(tmp_path / "single.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(WeightsError, match=r"^file: cannot read .*bad\.npz as \.npz"):
        load_weights(tmp_path / "bad.npz")


def test_a_state_dict_without_torch_says_how_to_fix_it(tmp_path, monkeypatch):
    (tmp_path / "lstm.pt").write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(
        WeightsError,
        match=r"^file: reading lstm\.pt needs PyTorch: pip install torch, "
        r"or convert it to \.npz",
    ):
        load_weights(tmp_path / "lstm.pt")


# --------------------------------------------------------------------------- #
# torch.nn.LSTM state dicts
# --------------------------------------------------------------------------- #


def seeded_lstm(torch, *args, seed=0, **kwargs):
    """An nn.LSTM whose parameters come from a local torch.Generator (no global seed)."""
    lstm = torch.nn.LSTM(*args, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.uniform_(-0.5, 0.5, generator=generator)
    return lstm


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_a_saved_torch_lstm_loads_to_its_exact_parameters(tmp_path, suffix):
    torch = pytest.importorskip("torch")
    lstm = seeded_lstm(torch, 3, 5, seed=1)
    path = tmp_path / f"lstm{suffix}"
    torch.save(lstm.state_dict(), path)
    weights = load_weights(path)
    assert weights.dtype == np.float32
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(
            getattr(weights, name), getattr(lstm, f"{name}_l0").detach().numpy()
        )
    assert weights == from_torch(*(p.detach() for p in lstm.parameters()))  # tensors accepted too
    np.savez(tmp_path / "lstm.npz", **{k: v.numpy() for k, v in lstm.state_dict().items()})
    assert load_weights(tmp_path / "lstm.npz") == weights


def test_the_answers_equations_on_per_gate_weights_equal_torch_lstm():
    """The per-gate form's equations (x first in [x, h]; i, f, C, o) evaluated directly
    equal nn.LSTM's step with the weights converted to its layout."""
    torch = pytest.importorskip("torch")
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


def test_bigger_models_checkpoints_lstm_cells_and_bias_free_lstms(tmp_path):
    torch = pytest.importorskip("torch")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = seeded_lstm(torch, 2, 3, seed=2)
            self.readout = torch.nn.Linear(3, 1)

    model = Model()
    torch.save({"epoch": 3, "model": model.state_dict()}, tmp_path / "checkpoint.pt")
    weights = load_weights(tmp_path / "checkpoint.pt")
    np.testing.assert_array_equal(weights.weight_hh, model.lstm.weight_hh_l0.detach().numpy())
    np.testing.assert_array_equal(weights.readout_weight, model.readout.weight.detach().numpy())
    np.testing.assert_array_equal(weights.readout_bias, model.readout.bias.detach().numpy())

    cell = torch.nn.LSTMCell(2, 3)
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    np.testing.assert_array_equal(
        load_weights(tmp_path / "cell.pt").weight_ih, cell.weight_ih.detach().numpy()
    )

    torch.save(torch.nn.LSTM(2, 3, bias=False).state_dict(), tmp_path / "no_bias.pt")
    no_bias = load_weights(tmp_path / "no_bias.pt")
    np.testing.assert_array_equal(no_bias.bias_ih, np.zeros(12, np.float32))


def test_a_saved_multi_layer_torch_lstm_is_rejected(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.LSTM(2, 3, num_layers=2).state_dict(), tmp_path / "deep.pt")
    with pytest.raises(
        WeightsError,
        match=r"^weight_ih_l1: shows a layer 1 \(num_layers > 1\); only "
        r"single-layer unidirectional LSTMs are supported \(in ",
    ):
        load_weights(tmp_path / "deep.pt")
    torch.save(torch.nn.LSTM(2, 3), tmp_path / "module.pt")  # a whole module, not a state dict
    with pytest.raises(
        WeightsError, match=r"^file: cannot read .*module\.pt as a PyTorch state dict"
    ):
        load_weights(tmp_path / "module.pt")
    with pytest.raises(WeightsError, match=r"^layout: lstm\.pt is a PyTorch state dict"):
        torch.save(torch.nn.LSTM(2, 3).state_dict(), tmp_path / "lstm.pt")
        load_weights(tmp_path / "lstm.pt", layout="keras")
