"""A model trained in PyTorch (nn.LSTM of one or two layers and an nn.Linear
head), saved as a state dict (.pt) or its arrays (.npz), run through an
experiment file: its deterministic ``y`` in summary.csv is torch's prediction;
its mistakes are one line naming the key."""

import textwrap

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stochlstm import run_experiment
from stochlstm.cli import EXIT_BAD_INPUT, app

STEPS, INPUT_SIZE, HIDDEN_SIZE = 30, 2, 6


def make_rng(seed):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def series():
    return make_rng(1).normal(size=(STEPS, INPUT_SIZE))


def trained_model(torch, num_layers, outputs=1, dtype=None, seed=0):
    """An nn.Module with ``lstm`` and ``head``, parameters from a local generator."""

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=num_layers)
            self.head = torch.nn.Linear(HIDDEN_SIZE, outputs)

    model = Model()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-0.6, 0.6, generator=generator)
    return model.to(dtype or torch.float32)


def torch_prediction(torch, model, dtype, softmax=False):
    """The model's output on :func:`series`, ``(T, Y)``, in ``dtype`` (the weights
    cast exactly)."""
    model = model.to(dtype)
    with torch.no_grad():
        output, _ = model.lstm(torch.from_numpy(series()[:, None, :]).to(dtype))
        z = model.head(output)[:, 0]
        return (torch.softmax(z, dim=-1) if softmax else z).numpy()


def save(torch, model, path):
    if path.suffix == ".pt":
        torch.save(model.state_dict(), path)
    else:
        np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})


def experiment_file(tmp_path, weights, *, num_layers, readout="linear", outputs=1, extra=""):
    values = ", ".join(f"[{a!r}, {b!r}]" for a, b in series().tolist())
    text = (
        textwrap.dedent(f"""\
        name: trained
        seeds: 3
        model:
          input_size: {INPUT_SIZE}
          hidden_size: {HIDDEN_SIZE}
          num_layers: {num_layers}
          output_size: {outputs}
          readout: {readout}
          weights: {weights}
        inputs: {{kind: sequence, values: [{values}]}}
        conditions:
          deterministic: {{}}
          stochastic: {{gates: bernoulli}}
        record: {{seeds: 1}}
        output: {{figures: false}}
        """)
        + extra
    )
    path = tmp_path / "trained.yaml"
    path.write_text(text)
    return path


def summarised_y(run_dir, condition="deterministic"):
    """The mean of ``y`` per (t, output): ``(T, Y)``."""
    summary = pd.read_csv(run_dir / "summary.csv")
    rows = summary[(summary.condition == condition) & (summary.quantity == "y")]
    return rows.pivot(index="t", columns="unit", values="mean").to_numpy()


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("weights_dtype", ["float64", "float32"])
def test_a_saved_lstm_and_linear_head_predict_as_in_torch(
    torch, tmp_path, suffix, num_layers, weights_dtype
):
    dtype = getattr(torch, weights_dtype)
    model = trained_model(torch, num_layers, dtype=dtype)
    save(torch, model, tmp_path / f"model{suffix}")
    path = experiment_file(tmp_path, f"{{file: model{suffix}}}", num_layers=num_layers)
    outcome = run_experiment(path, out=tmp_path / "runs")
    y = summarised_y(outcome.path)
    # float64 weights: torch in float64; float32 weights: torch in float32 to 1e-6, and
    # torch in float64 on the same (exactly cast) weights to 1e-12, as the run is float64
    np.testing.assert_allclose(y, torch_prediction(torch, model, torch.float64), rtol=0, atol=1e-12)
    if weights_dtype == "float32":
        float32 = torch_prediction(torch, model, torch.float32)
        np.testing.assert_allclose(y, float32, rtol=0, atol=1e-6)
    stochastic = summarised_y(outcome.path, "stochastic")
    assert np.abs(stochastic - y).max() > 0.01  # the gates were sampled


def test_a_softmax_head_gives_torch_softmax_probabilities(torch, tmp_path):
    model = trained_model(torch, 2, outputs=3, dtype=torch.float64)
    save(torch, model, tmp_path / "model.pt")
    path = experiment_file(tmp_path, "{file: model.pt}", num_layers=2, readout="softmax", outputs=3)
    y = summarised_y(run_experiment(path, out=tmp_path / "runs").path)
    expected = torch_prediction(torch, model, torch.float64, softmax=True)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_conditions_on_one_layer_and_the_recorded_layer(torch, tmp_path):
    """``layers: [1]`` leaves layer 0 as the deterministic run's; ``record.layer: 0``
    records it (y stays the readout of the last layer)."""
    model = trained_model(torch, 2, dtype=torch.float64)
    save(torch, model, tmp_path / "model.pt")
    extra = "  upper: {gates: bernoulli, layers: [1]}\n"
    path = experiment_file(tmp_path, "{file: model.pt}", num_layers=2)
    path.write_text(
        path.read_text()
        .replace("record:", extra + "record:")
        .replace("record: {seeds: 1}", "record: {seeds: 1, layer: 0}")
    )
    summary = pd.read_csv(run_experiment(path, out=tmp_path / "runs").path / "summary.csv")
    columns = ["quantity", "t", "unit", "mean", "sd"]
    for quantity in ("c", "h", "f", "p_o"):
        upper = summary[(summary.condition == "upper") & (summary.quantity == quantity)]
        standard = summary[(summary.condition == "deterministic") & (summary.quantity == quantity)]
        pd.testing.assert_frame_equal(
            upper[columns].reset_index(drop=True), standard[columns].reset_index(drop=True)
        )
        assert (upper["sd"] == 0).all()
    upper_y = summary[(summary.condition == "upper") & (summary.quantity == "y")]
    assert upper_y["sd"].max() > 0  # layer 1 was sampled, and y reads it


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda state: {**state, "optimizer.step": np.ones(1)},
            r"model\.weights\.file: arrays used by neither the LSTM nor the readout: "
            r"optimizer\.step; map them with keys \(lstm, readout\) or list them under ignore",
        ),
        (
            lambda state: {k: v for k, v in state.items() if not k.startswith("head.")},
            r"model\.weights\.file: has no readout \(looked for readout\.weight, head\.weight, "
            r".*\), but model\.output_size is 1",
        ),
        (
            lambda state: {**state, "lstm.weight_hh_l1": np.ones((24, 3))},
            r"model\.weights\.file: lstm\.weight_hh_l1: expected shape \(24, 6\) = "
            r"\(4\*hidden_size, hidden_size\), got \(24, 3\)",
        ),
        (
            lambda state: {**state, "lstm.weight_ih_l1": np.ones((24, 2))},
            r"model\.weights\.file: lstm\.weight_ih_l1: expected shape \(24, 6\) = "
            r"\(4\*hidden_size, hidden_size\), got \(24, 2\)",
        ),
        (
            lambda state: {k: v for k, v in state.items() if "_l1" not in k},
            r"model\.weights\.file: lstm\.weight_ih_l1: missing: the file's LSTM has 1 layer, "
            r"but model\.num_layers is 2",
        ),
    ],
)
def test_a_file_that_does_not_fit_is_one_line_naming_the_key(torch, tmp_path, change, message):
    model = trained_model(torch, 2)
    state = {key: value.numpy() for key, value in model.state_dict().items()}
    np.savez(tmp_path / "model.npz", **change(state))
    path = experiment_file(tmp_path, "{file: model.npz}", num_layers=2)
    result = cli("run", path, "--out", tmp_path / "runs")
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not (tmp_path / "runs" / "trained").exists()


def test_ignore_and_keys_map_any_state_dict(torch, tmp_path):
    model = trained_model(torch, 2, dtype=torch.float64)
    state = {key: value.numpy() for key, value in model.state_dict().items()}
    renamed = {
        key.replace("lstm.", "encoder.rnn.").replace("head.", "decoder."): value
        for key, value in state.items()
    }
    renamed |= {"step": np.ones(1), "optim.exp_avg": np.ones(3)}
    np.savez(tmp_path / "model.npz", **renamed)
    weights = (
        "{file: model.npz, keys: {lstm: encoder.rnn, readout: decoder.}, ignore: [step, optim.]}"
    )
    path = experiment_file(tmp_path, weights, num_layers=2)
    y = summarised_y(run_experiment(path, out=tmp_path / "runs").path)
    np.testing.assert_allclose(y, torch_prediction(torch, model, torch.float64), rtol=0, atol=1e-12)


def test_the_bundled_sunspot_weights_are_the_same_in_both_files():
    """experiments/sunspot-forecast.yaml reads the .npz (no torch needed); it
    holds exactly the arrays of the .pt the training script saves."""
    torch = pytest.importorskip("torch")
    from pathlib import Path

    data = Path(__file__).parents[2] / "experiments" / "data"
    saved = torch.load(data / "sunspots-lstm.pt", weights_only=True)
    arrays = np.load(data / "sunspots-lstm.npz", allow_pickle=False)
    assert sorted(arrays.files) == sorted(saved)
    for key, value in saved.items():
        assert arrays[key].dtype == value.numpy().dtype
        np.testing.assert_array_equal(arrays[key], value.numpy())
