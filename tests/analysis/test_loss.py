"""Loss metrics against independent computations: torch's predictions for a
deterministic LSTM + linear head (and + sigmoid), and numpy over the recorded
trajectories of every seed (per-seed window losses, paired differences, the
delta-method ratio, the seed-averaged prediction, cross-entropy and accuracy)."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stochlstm import load_run, run_experiment
from stochlstm.cli import EXIT_BAD_INPUT, app
from tests.summary_reference import t_critical

N_SEEDS, HIDDEN, STEPS = 300, 5, 24
WINDOW = (10, 22)  # the last step (23) has no target with shift 1


def sine_csv(tmp_path):
    t = np.arange(STEPS)
    frame = pd.DataFrame({"x": np.sin(t / 2.5) + 0.1 * np.cos(t), "flag": (np.sin(t / 3) > 0) * 1})
    frame.to_csv(tmp_path / "series.csv", index=False)


def write_experiment(tmp_path, weights: str, targets: str, name: str = "loss") -> object:
    sine_csv(tmp_path)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nseeds: {N_SEEDS}\n"
        f"model: {{input_size: 1, hidden_size: {HIDDEN}, output_size: 1, weights: {weights}}}\n"
        "inputs: {kind: csv, file: series.csv, columns: [x], normalize: {fit_rows: {stop: 12}}}\n"
        f"targets: {targets}\n"
        "conditions: {deterministic: {}, bernoulli: {gates: bernoulli}, "
        "forget: {forget: bernoulli, noise: fixed}}\n"
        f"record: {{seeds: {N_SEEDS}, quantities: [h, y]}}\noutput: {{figures: false}}\n"
    )
    return run_experiment(path, out=tmp_path / "runs", figures=False)


@pytest.mark.parametrize("readout", ["linear", "sigmoid"])
def test_deterministic_loss_equals_torchs_predictions(tmp_path, torch, readout):
    """nn.LSTM + nn.Linear (a regression head, or wrapped in a sigmoid) in
    float64: the summarised MSE of the deterministic condition (per step and
    over the window) and of its seed-averaged prediction equal the MSE of
    torch's predictions to 1e-12. The linear head is read from the state dict
    of the whole model (``lstm.*``, ``head.*``)."""
    generator = torch.Generator().manual_seed(3)
    lstm = torch.nn.LSTM(1, HIDDEN).double()
    head = torch.nn.Linear(HIDDEN, 1).double()
    for parameter in [*lstm.parameters(), *head.parameters()]:
        parameter.data = torch.rand(parameter.shape, generator=generator, dtype=torch.float64) - 0.5
    state = {k: v.numpy() for k, v in lstm.state_dict().items()}
    if readout == "linear":
        state = {f"lstm.{k}": v for k, v in state.items()}
        state |= {f"head.{k}": v.numpy() for k, v in head.state_dict().items()}
        weights = "{file: lstm.npz}, readout: linear"
    else:
        weights = f"{{file: lstm.npz, W_y: {head.weight.tolist()}, b_y: {head.bias.tolist()}}}"
    np.savez(tmp_path / "lstm.npz", **state)
    outcome = write_experiment(
        tmp_path,
        weights,
        f"{{kind: inputs, shift: 1, loss_from: {WINDOW[0]}, loss_to: {WINDOW[1]}}}",
    )
    run = load_run(outcome.path)
    series = pd.read_csv(tmp_path / "series.csv")["x"].to_numpy()
    scaled = (series - series[:12].mean()) / series[:12].std()
    np.testing.assert_allclose(run.targets["target"], scaled[1:], rtol=1e-15)
    with torch.no_grad():
        hidden, _ = lstm(torch.tensor(scaled, dtype=torch.float64)[:, None, None])
        predictions = head(hidden[:, 0, :])
        if readout == "sigmoid":
            predictions = torch.sigmoid(predictions)
        predictions = predictions[:, 0].numpy()
    errors = (predictions[:-1] - scaled[1:]) ** 2
    window = errors[WINDOW[0] : WINDOW[1] + 1].mean()
    summary = run.summary.query("condition == 'deterministic'")
    per_step = summary.query("quantity == 'loss'").sort_values("t")
    np.testing.assert_allclose(per_step["mean"], errors, rtol=1e-12, atol=1e-15)
    got = summary.query("quantity == 'loss_window'")
    assert got["t"].item() == WINDOW[1] and got["unit"].item() == -1
    assert abs(got["mean"].item() - window) < 1e-12 * window
    metrics = run.metrics.query("condition == 'deterministic'").set_index("metric")
    assert abs(metrics.loc["loss_of_mean_prediction", "value"] - window) < 1e-12 * window


@pytest.fixture(scope="module")
def random_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("loss")
    targets = f"{{kind: inputs, shift: 1, loss_from: {WINDOW[0]}, loss_to: {WINDOW[1]}}}"
    outcome = write_experiment(tmp_path, "{init: uniform, seed: 5}", targets)
    return load_run(outcome.path)


def per_seed_windows(run, loss, window=WINDOW) -> dict[str, np.ndarray]:
    """Each condition's per-seed mean of ``loss(y, target)`` over the steps
    ``window`` (both included), from its recorded y and targets.csv."""
    paths = run.trajectories.query("unit == 0")
    target = run.targets.set_index("t")["target"]
    windows = {}
    for condition, rows in paths.groupby("condition", sort=False):
        y = rows.pivot(index="seed", columns="t", values="y")
        steps = list(range(window[0], window[1] + 1))
        windows[condition] = loss(y[steps].to_numpy(), target[steps].to_numpy()).mean(axis=1)
    return windows


def test_window_loss_difference_and_ratio_equal_numpy_over_every_seed(random_run):
    """Per-seed window MSE from the trajectories of all seeds; the difference
    is paired (its t CI), the ratio's CI the delta method with the pairs' covariance."""
    windows = per_seed_windows(random_run, lambda y, z: (y - z) ** 2)
    base, metrics = windows["deterministic"], random_run.metrics.set_index(["condition", "metric"])
    half = t_critical(N_SEEDS - 1) / np.sqrt(N_SEEDS)
    for condition in ("bernoulli", "forget"):
        losses = windows[condition]
        row = metrics.loc[(condition, "loss_window")]
        np.testing.assert_allclose(row["value"], losses.mean(), rtol=1e-12)
        np.testing.assert_allclose(
            row["ci_high"] - row["value"], half * losses.std(ddof=1), rtol=1e-9
        )
        paired = losses - base
        row = metrics.loc[(condition, "loss_difference")]
        np.testing.assert_allclose(row["value"], paired.mean(), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(
            row["ci_high"] - row["value"], half * paired.std(ddof=1), rtol=1e-9
        )
        ratio = losses.mean() / base.mean()
        covariance = np.cov(losses, base)  # ddof 1
        spread = covariance[0, 0] - 2 * ratio * covariance[0, 1] + ratio**2 * covariance[1, 1]
        row = metrics.loc[(condition, "loss_ratio")]
        np.testing.assert_allclose(row["value"], ratio, rtol=1e-12)
        np.testing.assert_allclose(
            row["ci_high"] - row["value"], half * np.sqrt(spread) / base.mean(), rtol=1e-8
        )
    assert ("deterministic", "loss_ratio") not in metrics.index


def test_loss_of_the_seed_averaged_prediction_equals_numpy(random_run):
    paths = random_run.trajectories.query("unit == 0 and condition == 'bernoulli'")
    mean = paths.groupby("t")["y"].mean()
    target = random_run.targets.set_index("t")["target"]
    steps = list(range(WINDOW[0], WINDOW[1] + 1))
    expected = np.mean((mean[steps].to_numpy() - target[steps].to_numpy()) ** 2)
    metrics = random_run.metrics.set_index(["condition", "metric"])
    row = metrics.loc[("bernoulli", "loss_of_mean_prediction")]
    np.testing.assert_allclose(row["value"], expected, rtol=1e-12)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


@pytest.mark.parametrize("loss", ["cross_entropy", "accuracy"])
def test_cross_entropy_and_accuracy_equal_their_closed_forms(tmp_path, loss):
    """A sigmoid readout against 0/1 targets (a CSV column aligned with the inputs)."""
    outcome = write_experiment(
        tmp_path,
        "{init: uniform, seed: 5}",
        f"{{kind: csv, columns: [flag], loss: {loss}, loss_from: 4}}",
        name=loss,
    )
    run = load_run(outcome.path)
    if loss == "accuracy":
        closed = lambda y, z: ((y > 0.5) == (z == 1)).astype(float)  # noqa: E731
    else:
        closed = lambda y, z: -(z * np.log(y) + (1 - z) * np.log(1 - y))  # noqa: E731
    windows = per_seed_windows(run, closed, window=(4, STEPS - 1))
    metrics = run.metrics.set_index(["condition", "metric"])
    for condition, losses in windows.items():
        np.testing.assert_allclose(
            metrics.loc[(condition, "loss_window"), "value"], losses.mean(), rtol=1e-12
        )
    assert set(run.targets["target"]) == {0, 1}


def test_an_edited_targets_file_is_refused(random_run, tmp_path):
    import shutil

    copy = shutil.copytree(random_run.path, tmp_path / "copy")
    targets = copy / "targets.csv"
    targets.write_text(targets.read_text().replace(",1\n", ",0\n", 1))
    result = CliRunner().invoke(app, ["analyze", str(copy)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "targets.csv: changed since the run wrote it" in result.output


def test_each_sweep_point_is_scored_against_its_own_targets(tmp_path):
    sine_csv(tmp_path)
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: sweep\nseeds: 50\n"
        f"model: {{input_size: 1, hidden_size: {HIDDEN}, output_size: 1}}\n"
        "inputs: {kind: csv, file: series.csv, columns: [x]}\n"
        "targets: {kind: inputs, shift: 1, loss_from: 5}\n"
        "conditions: {deterministic: {}, bernoulli: {gates: bernoulli}}\n"
        "sweep: {targets.shift: [1, 3]}\n"
        "record: {seeds: 50, quantities: [y]}\noutput: {figures: false}\n"
    )
    run = load_run(run_experiment(path, out=tmp_path / "runs", figures=False).path)
    assert run.sweep_columns == ["shift"] and set(run.targets["shift"]) == {1, 3}
    paths, metrics = run.trajectories, run.metrics.set_index(["shift", "condition", "metric"])
    series = run.targets.query("shift == 1").set_index("t")["target"]  # x_{t+1}
    for shift in (1, 3):
        last = STEPS - 1 - shift  # the window's default end
        steps = list(range(5, last + 1))
        goal = series.reindex([t + shift - 1 for t in steps]).to_numpy()
        y = paths.query(f"shift == {shift} and condition == 'bernoulli' and unit == 0")
        y = y.pivot(index="seed", columns="t", values="y")[steps].to_numpy()
        row = metrics.loc[(shift, "bernoulli", "loss_window")]
        assert row["t"] == last
        np.testing.assert_allclose(row["value"], ((y - goal) ** 2).mean(), rtol=1e-12)
