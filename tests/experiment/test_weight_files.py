"""Weight files (.npz, PyTorch state dicts) and the experiment file's weights
block: every form gives the same weights, and the errors name the key."""

import json
import re
import sys
import textwrap

import numpy as np
import pytest
from pydantic import TypeAdapter

from stochlstm.core.weights import (
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    init_uniform,
)
from stochlstm.experiment.forms import WeightsSpec
from stochlstm.experiment.load import parse_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.problems import ConfigError
from stochlstm.experiment.weight_files import build_weights, load_weights, save_weights

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


def weights_from_mapping(
    mapping, *, input_size, hidden_size, output_size=0, num_layers=1, base_dir="."
):
    """The ``model.weights`` block ``mapping`` as weights, as a run builds it."""
    spec = TypeAdapter(WeightsSpec).validate_python(mapping, context={"base_dir": base_dir})
    return build_weights(
        spec,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=output_size,
        num_layers=num_layers,
    )


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


def test_save_weights_round_trips_through_npz(tmp_path):
    weights = init_uniform(2, 3, seed=5, output_size=2).astype(np.float32)
    assert load_weights(save_weights(weights, tmp_path / "w.npz")) == weights
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left


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


def weights_problems(mapping) -> list:
    """The problems of an experiment file whose ``model.weights`` is ``mapping``."""
    text = textwrap.dedent(f"""\
        name: w
        model:
          input_size: 3
          hidden_size: 3
          weights: {json.dumps(mapping)}
        inputs: {{kind: constant, value: [1, 2, 3], steps: 2}}
        conditions: {{deterministic: {{}}}}
        """)
    with pytest.raises(ConfigError) as error:
        plan_run(parse_experiment(text, file="w.yaml"))
    return error.value.problems


@pytest.mark.parametrize(
    "mapping, path, message",
    [
        (
            {**answer_mapping(), "weight_ih": [[0] * 3] * 12},
            "model.weights.weight_ih",
            r"^mixes the PyTorch layout with the per-gate form \(W_i\); give exactly one form$",
        ),
        (
            {"init": "uniform", "file": "w.npz"},
            "model.weights.file",
            r"^mixes the file with the random",
        ),
        (
            {"kernel": [[0] * 12] * 3, "recurrent_kernel": [[0] * 12] * 3, "layout": "keras"},
            "model.weights.layout",
            r"^mixes the file with the Keras layout",
        ),
        (
            {**answer_mapping(), "W_c": [[0] * 6] * 3},
            "model.weights.W_c",
            r"^unknown key 'W_c' \(did you mean W_C\?\); allowed keys: .*W_i, W_f, W_C, W_o",
        ),
        (
            {"W_c": [[0] * 6] * 3},
            "model.weights.W_c",
            r"^unknown key in the weights \(did you mean W_C\?\); expected one form: \{init",
        ),
        (
            {"init": "uniform", "sead": 3},
            "model.weights.sead",
            r"^unknown key 'sead' \(did you mean seed\?\)",
        ),
        (
            {k: v for k, v in answer_mapping().items() if k != "W_f"},
            "model.weights.W_f",
            r"^missing \(required\)$",
        ),
        ({"seed": 3}, "model.weights", r"^no weights given; expected one form"),
        (
            {"init": "normal"},
            "model.weights.init",
            r"^expected 'uniform', got the string 'normal'$",
        ),
        ({"init": "uniform", "seed": -1}, "model.weights.seed", r"^must be >= 0, got -1$"),
        (
            {**answer_mapping(), "W_y": [[1, 2, 3]], "readout_bias": [0]},
            "model.weights.readout_bias",
            r"^a second readout beside W_y; give one$",
        ),
        (
            {"weight_ih": [[0] * 3] * 16, "weight_hh": [[0] * 3] * 12},
            "model.weights.weight_ih",
            r"^expected shape \(12, 3\) = \(4\*hidden_size, input_size\), got \(16, 3",
        ),
        (
            {**answer_mapping(), "W_y": [[1, 2, 3]]},
            "model.weights.W_y",
            r"^gives a readout of output_size 1, but the model's output_size is 0",
        ),
        ([1, 2], "model.weights", r"^expected a mapping naming one weight form, got a list$"),
        (
            {"file": "w.npz", "layout": "tf"},
            "model.weights.layout",
            r"^expected 'torch' or 'keras'",
        ),
    ],
)
def test_weights_block_errors_name_the_offending_key(mapping, path, message):
    (problem,) = weights_problems(mapping)
    assert problem.path == path
    assert re.search(message, problem.message), problem.message
    assert problem.line == 5  # the line of the weights


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
    with pytest.raises(
        WeightsError,
        match=r"^file: gives a readout \(readout_weight, readout_bias\) of output_size 1, but the "
        r"model's output_size is 0: set model.output_size, or list readout_weight, readout_bias "
        r"under ignore",
    ):
        weights_from_mapping({"file": "w.npz"}, **SIZES, base_dir=tmp_path)
    with pytest.raises(
        WeightsError, match=r"^file: weight_ih_l0: expected shape \(20, 3\) .* \(in .*w\.npz\)$"
    ):
        weights_from_mapping({"file": "w.npz"}, input_size=3, hidden_size=5, base_dir=tmp_path)


# --------------------------------------------------------------------------- #
# Files without torch
# --------------------------------------------------------------------------- #


def lstm_keys(prefix="", layers=1, reverse=False):
    keys = {}
    for layer in range(layers):
        for direction in ("", "_reverse") if reverse else ("",):
            for kind, shape in (
                ("weight_ih", (8, 1 if layer == 0 else 2)),
                ("weight_hh", (8, 2)),
                ("bias_ih", (8,)),
                ("bias_hh", (8,)),
            ):
                keys[f"{prefix}{kind}_l{layer}{direction}"] = np.ones(shape)
    return keys


@pytest.mark.parametrize(
    "arrays, key, shows",
    [
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
def test_only_unidirectional_lstms_without_projection_are_loaded(tmp_path, arrays, key, shows):
    np.savez(tmp_path / "w.npz", **arrays)
    message = rf"^{key}: shows {shows}; only unidirectional LSTMs are supported"
    with pytest.raises(WeightsError, match=message) as caught:
        load_weights(tmp_path / "w.npz")
    assert caught.value.field == key


def test_a_prefix_is_found_when_there_is_one_lstm_and_chosen_otherwise(tmp_path):
    np.savez(tmp_path / "one.npz", **lstm_keys("model.lstm."), **{"fc.weight": np.ones((1, 2))})
    with pytest.raises(WeightsError, match=r"^file: arrays used by neither .*: fc\.weight; "):
        load_weights(tmp_path / "one.npz")  # fc is not beside model.lstm: not the readout
    assert load_weights(tmp_path / "one.npz", ignore=["fc.weight"]).hidden_size == 2
    two = {**lstm_keys("encoder."), **lstm_keys("decoder.")}
    two["decoder.weight_ih_l0"] = np.full((8, 1), 2.0)
    np.savez(tmp_path / "two.npz", **two)
    with pytest.raises(
        WeightsError, match=r"several LSTMs \(encoder.weight_ih_l0, decoder.weight.*keys\.lstm"
    ):
        load_weights(tmp_path / "two.npz")
    decoder = load_weights(tmp_path / "two.npz", keys={"lstm": "decoder"}, ignore=["encoder."])
    np.testing.assert_array_equal(decoder.weight_ih, np.full((8, 1), 2.0))
    with pytest.raises(WeightsError, match=r"^file: arrays .*: encoder\.weight_ih_l0, encoder"):
        load_weights(tmp_path / "two.npz", keys={"lstm": "decoder."})
    with pytest.raises(WeightsError, match=r"^keys.lstm: no LSTM under 'other\.'"):
        load_weights(tmp_path / "two.npz", keys={"lstm": "other"})
    with pytest.raises(WeightsError, match=r"^ignore\[1\]: 'enc\.' matches no array"):
        load_weights(tmp_path / "two.npz", ignore=["decoder.", "enc."])


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
def test_a_saved_torch_lstm_loads_to_its_exact_parameters(torch, tmp_path, suffix):
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


def test_bigger_models_checkpoints_lstm_cells_and_bias_free_lstms(torch, tmp_path):

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


def test_whole_modules_and_keras_layout_for_state_dicts_are_refused(torch, tmp_path):
    torch.save(torch.nn.LSTM(2, 3), tmp_path / "module.pt")  # a whole module, not a state dict
    with pytest.raises(
        WeightsError, match=r"^file: cannot read .*module\.pt as a PyTorch state dict"
    ):
        load_weights(tmp_path / "module.pt")
    with pytest.raises(WeightsError, match=r"^layout: lstm\.pt is a PyTorch state dict"):
        torch.save(torch.nn.LSTM(2, 3).state_dict(), tmp_path / "lstm.pt")
        load_weights(tmp_path / "lstm.pt", layout="keras")


# --------------------------------------------------------------------------- #
# Stacked layers, readouts and the keys of a file
# --------------------------------------------------------------------------- #


def head_keys(prefix, outputs=1, hidden=2):
    return {f"{prefix}weight": np.full((outputs, hidden), 0.5), f"{prefix}bias": np.ones(outputs)}


@pytest.mark.parametrize("lstm", ["", "lstm.", "rnn.", "model.lstm."])
@pytest.mark.parametrize("head", ["head.", "fc.", "linear.", "out.", "readout.", "output."])
def test_the_common_lstm_and_head_prefixes_are_found(tmp_path, lstm, head):
    parent = lstm.rpartition("lstm.")[0] if lstm.startswith("model.") else ""
    np.savez(tmp_path / "w.npz", **lstm_keys(lstm, layers=2), **head_keys(parent + head))
    weights = load_weights(tmp_path / "w.npz", output_size=1)
    assert (weights.num_layers, weights.output_size) == (2, 1)
    np.testing.assert_array_equal(weights.readout_weight, [[0.5, 0.5]])


def test_two_heads_the_readout_key_and_the_readouts_width(tmp_path):
    np.savez(tmp_path / "w.npz", **lstm_keys("lstm."), **head_keys("head."), **head_keys("fc.", 3))
    with pytest.raises(
        WeightsError, match=r"^fc\.weight: several readouts \(head\.weight, fc\.weight\): choose"
    ):
        load_weights(tmp_path / "w.npz")
    assert (
        load_weights(tmp_path / "w.npz", keys={"readout": "fc"}, ignore=["head."]).output_size == 3
    )
    with pytest.raises(WeightsError, match=r"^fc\.weight: gives a readout of output_size 3, but"):
        load_weights(tmp_path / "w.npz", keys={"readout": "fc."}, ignore=["head."], output_size=2)
    with pytest.raises(WeightsError, match=r"^keys\.readout: no readout under 'proj\.'"):
        load_weights(tmp_path / "w.npz", keys={"readout": "proj."})


def test_the_files_layers_must_be_the_models(tmp_path):
    np.savez(tmp_path / "w.npz", **lstm_keys("lstm.", layers=3))
    assert load_weights(tmp_path / "w.npz").num_layers == 3
    with pytest.raises(
        WeightsError,
        match=r"^lstm\.weight_ih_l2: present: the file's LSTM has 3 layers, but model\.num_layers is 2",
    ):
        load_weights(tmp_path / "w.npz", num_layers=2)
    gap = {k: v for k, v in lstm_keys("lstm.", layers=3).items() if "_l1" not in k}
    np.savez(tmp_path / "gap.npz", **gap)
    with pytest.raises(WeightsError, match=r"^lstm\.weight_ih_l1: missing, though the file has"):
        load_weights(tmp_path / "gap.npz")


def test_inline_torch_layers_by_their_state_dict_names():
    layer = {"weight_ih": np.ones((8, 1)), "weight_hh": np.ones((8, 2)), "bias_ih": np.zeros(8)}
    upper = {
        "weight_ih_l1": np.full((8, 2), 0.5).tolist(),
        "weight_hh_l1": np.ones((8, 2)).tolist(),
    }
    mapping = {f"{k}_l0": v.tolist() for k, v in layer.items()} | upper
    weights = weights_from_mapping(
        mapping, input_size=1, hidden_size=2, output_size=0, num_layers=2
    )
    assert weights == LSTMWeights.from_layers([layer, {k[:-3]: v for k, v in upper.items()}])
    with pytest.raises(WeightsError, match=r"^weight_ih_l1: given, but model\.num_layers is 1"):
        weights_from_mapping(mapping, input_size=1, hidden_size=2)
    with pytest.raises(WeightsError, match=r"^weight_ih_l2: missing: model\.num_layers is 3"):
        weights_from_mapping(mapping, input_size=1, hidden_size=2, num_layers=3)
    with pytest.raises(WeightsError, match=r"^weight_hh_l1: expected shape \(8, 2\) = \(4\*hidden"):
        weights_from_mapping(
            {**mapping, "weight_hh_l1": [[1.0]] * 8}, input_size=1, hidden_size=2, num_layers=2
        )


def mapping_problem(mapping, model="", conditions=""):
    """The one problem of a file with this ``model.weights``, lines added to
    ``model`` and conditions beside the deterministic one."""
    template = textwrap.dedent("""\
        name: w
        model:
          input_size: 1
          hidden_size: 2MODEL
          weights: WEIGHTS
        inputs: {kind: constant, value: 1, steps: 2}
        conditions:
          deterministic: {}
        """)
    text = template.replace("MODEL", model).replace("WEIGHTS", json.dumps(mapping)) + conditions
    with pytest.raises(ConfigError) as error:
        plan_run(parse_experiment(text, file="w.yaml"))
    (problem,) = error.value.problems
    return problem


@pytest.mark.parametrize(
    "mapping, model, extra, path, message",
    [
        (
            {"weight_ih": [[0]] * 8, "weight_hh": [[0, 0]] * 8, "weight_ih_l0": [[0]] * 8},
            "",
            "",
            "model.weights.weight_ih_l0",
            r"^a second weight_ih beside weight_ih_l0; give one$",
        ),
        (
            {"weight_ih": [[0]] * 8, "weight_hh": [[0, 0]] * 8, "weight_ih_1": [[0]] * 8},
            "",
            "",
            "model.weights.weight_ih_1",
            r"^unknown key 'weight_ih_1'; allowed keys: .*weight_ih_l<k>",
        ),
        (
            {"weight_ih": [[0]] * 8, "weight_hh": [[0, 0]] * 8, "bias_hh_l1": "zeros"},
            "",
            "",
            "model.weights.bias_hh_l1",
            r"^expected a list of numbers$",
        ),
        (
            {
                "W_i": [[0] * 3] * 2,
                "W_f": [[0] * 3] * 2,
                "W_C": [[0] * 3] * 2,
                "W_o": [[0] * 3] * 2,
            },
            "\n  num_layers: 2",
            "",
            "model.weights.W_i",
            r"^the per-gate form gives one layer, but model\.num_layers is 2: give the PyTorch",
        ),
        (
            {"init": "uniform"},
            "\n  output_size: 1\n  readout: softmax",
            "",
            "model.readout",
            r"^softmax needs output_size >= 2 \(model\.output_size is 1\)$",
        ),
        (
            {"init": "uniform"},
            "\n  readout: {kind: linear}",
            "",
            "model.readout",
            r"^a linear readout needs model\.output_size >= 1$",
        ),
        (
            {"init": "uniform"},
            "\n  num_layers: 2",
            "record: {layer: 2}\n",
            "record.layer",
            r"^layer 2 does not exist: model\.num_layers is 2 \(layers 0\.\.1\)$",
        ),
        (
            {"init": "uniform"},
            "",
            "  upper: {gates: bernoulli, layers: [0, 1]}\n",
            "conditions.upper.layers[1]",
            r"^layer 1 does not exist: model\.num_layers is 1 \(layer 0 only\)$",
        ),
        (
            {"file": "missing.npz", "ignore": ["a", "a"]},
            "",
            "",
            "model.weights.ignore",
            r"^listed more than once: a$",
        ),
    ],
)
def test_model_mistakes_name_their_key_and_line(mapping, model, extra, path, message):
    problem = mapping_problem(mapping, model, extra)
    assert problem.path == path
    assert re.search(message, problem.message), problem.message
    assert problem.line is not None


def test_a_file_without_a_readout_never_gets_a_random_one(tmp_path):
    np.savez(tmp_path / "w.npz", **lstm_keys())
    with pytest.raises(WeightsError, match=r"^file: has no readout \(looked for readout\.weight"):
        weights_from_mapping(
            {"file": "w.npz"}, input_size=1, hidden_size=2, output_size=1, base_dir=tmp_path
        )
    given = weights_from_mapping(
        {"file": "w.npz", "W_y": [[1.0, 2.0]]},
        input_size=1,
        hidden_size=2,
        output_size=1,
        base_dir=tmp_path,
    )
    np.testing.assert_array_equal(given.readout_weight, [[1.0, 2.0]])
