"""The copy and forecasting tasks through stochlstm train: the columns they
write, and the deterministic test loss of evaluation.csv against torch's own
nn.LSTM + nn.Linear on the saved weights and the same test data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from stochlstm.experiment.inputs import sir_epidemic  # noqa: E402
from stochlstm.experiment.load import load_experiment  # noqa: E402
from stochlstm.experiment.plan import plan_run  # noqa: E402
from stochlstm.train.run import train_experiment  # noqa: E402

SUNSPOTS = Path(__file__).resolve().parents[2] / "experiments" / "data" / "sunspots.csv"


def torch_outputs(weights_file: Path, inputs: np.ndarray) -> np.ndarray:
    """``nn.LSTM`` + ``nn.Linear`` (float64) with the saved state dict: ``(T, B, Y)``."""
    with np.load(weights_file) as data:
        state = {key: torch.tensor(data[key], dtype=torch.float64) for key in data.files}
    hidden = state["lstm.weight_hh_l0"].shape[1]
    lstm = torch.nn.LSTM(inputs.shape[-1], hidden, dtype=torch.float64)
    head = torch.nn.Linear(hidden, state["head.weight"].shape[0], dtype=torch.float64)
    lstm.load_state_dict({k[len("lstm.") :]: v for k, v in state.items() if k.startswith("lstm.")})
    head.load_state_dict({k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")})
    with torch.no_grad():
        return head(lstm(torch.from_numpy(inputs))[0]).numpy()


def run(tmp_path, task: str, input_size: int, iterations: int = 6) -> Path:
    text = f"""
name: task
seeds: 40
model: {{input_size: {input_size}, hidden_size: 5, weights: {{init: uniform, seed: 0}}}}
conditions: {{deterministic: {{}}, bernoulli: {{gates: bernoulli}}}}
train:
  task: {task}
  seeds: 1
  iterations: {iterations}
  batch_size: 8
  validation_examples: 8
  validate_every: 3
  checkpoint_every: 3
output: {{figures: false}}
"""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return train_experiment(path, out=tmp_path / "results").path


def deterministic_row(run_dir: Path, condition: str = "deterministic") -> pd.Series:
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    chosen = (evaluation["train_condition"] == condition) & (
        evaluation["eval_rule"] == "deterministic"
    )
    return evaluation[chosen].iloc[0]


def test_the_copy_task_writes_accuracy_and_scores_the_answer_as_torch(tmp_path):
    run_dir = run(tmp_path, "{kind: copy, symbols: 3, length: 2, delay: 3}", 5)
    training = pd.read_csv(run_dir / "training.csv")
    validation = training[training["split"] == "validation"]
    assert validation["accuracy"].between(0, 1).all() and validation["accuracy"].notna().all()
    assert training.loc[training["split"] == "train", "accuracy"].isna().all()
    row = deterministic_row(run_dir, "bernoulli")
    # the test set of training seed 0: noise seed s runs example s, as evaluate.yaml's inputs
    config = load_experiment(run_dir / "evaluate.yaml")
    point = plan_run(config).points[0]
    seeds = list(range(40))
    inputs, answers = point.inputs(seeds), point.targets(seeds)[-2:, :, 0].astype(int)
    logits = torch_outputs(run_dir / "weights" / "bernoulli" / "seed-0.npz", inputs)[-2:]
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, answers[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(row["loss_mean"], -picked.mean(), rtol=1e-10)
    assert row["accuracy_mean"] == (logits.argmax(axis=-1) == answers).mean()


def test_a_csv_forecast_scores_the_test_years_as_torch(tmp_path):
    task = (
        f"{{kind: forecast, csv: {{file: {SUNSPOTS}, column: SUNACTIVITY, "
        "validation: 200, test: 250}}"
    )
    run_dir = run(tmp_path, task, 1)
    training = pd.read_csv(run_dir / "training.csv")
    validation = training[(training["split"] == "validation")].groupby("condition")["loss"]
    assert (validation.last() < validation.first()).all()  # 6 Adam steps already help
    raw = np.loadtxt(SUNSPOTS, delimiter=",", skiprows=1)[:, 1]
    series = (raw - raw[:250].mean()) / raw[:250].std()
    outputs = torch_outputs(
        run_dir / "weights" / "deterministic" / "seed-0.npz", series[:-1, None, None]
    )
    test_mse = np.mean((outputs[249:, 0, 0] - series[250:]) ** 2)
    row = deterministic_row(run_dir)
    np.testing.assert_allclose(row["loss_mean"], test_mse, rtol=1e-10)
    assert row["loss_sd"] == 0  # one series, no noise: every seed scores the same


def test_an_epidemic_forecast_scores_each_seeds_outbreak_as_torch(tmp_path):
    epidemic = "population: 500, infected: 2, beta: 0.5, gamma: 0.2, steps: 25"
    run_dir = run(tmp_path, f"{{kind: forecast, epidemic: {{{epidemic}}}}}", 1)
    counts = sir_epidemic(
        26, population=500, infected=2, beta=0.5, gamma=0.2, seed=0, run_seeds=range(40)
    )  # (26, 40, 1): training seed 0's test outbreaks, one per noise seed
    outputs = torch_outputs(run_dir / "weights" / "deterministic" / "seed-0.npz", counts[:-1])
    per_seed = np.mean((outputs[:, :, 0] - counts[1:, :, 0]) ** 2, axis=0)
    row = deterministic_row(run_dir)
    np.testing.assert_allclose(row["loss_mean"], per_seed.mean(), rtol=1e-10)
    np.testing.assert_allclose(row["loss_sd"], per_seed.std(ddof=1), rtol=1e-8)


@pytest.mark.slow
def test_keep_best_writes_the_weights_of_the_lowest_validation_loss(tmp_path):
    """Early stopping on the sunspot series (it overfits fast at this learning
    rate): the kept weights are those a run stopped at that iteration writes."""
    task = (
        f"{{kind: forecast, csv: {{file: {SUNSPOTS}, column: SUNACTIVITY, "
        "validation: 200, test: 250}}\n  optimizer: {kind: adam, lr: 0.05}"
    )
    best = run(tmp_path / "best", task + "\n  keep: best", 1, iterations=30)
    manifest = json.loads((best / "manifest.json").read_text())
    kept = manifest["kept_iteration"]["bernoulli/seed-0"]
    training = pd.read_csv(best / "training.csv")
    validation = training[
        (training["split"] == "validation") & (training["condition"] == "bernoulli")
    ]
    assert kept == validation.loc[validation["loss"].idxmin(), "iteration"]
    assert 0 < kept < 30  # the test means something: the loss went up again
    stopped = run(tmp_path / "stopped", task, 1, iterations=kept)
    name = Path("weights") / "bernoulli" / "seed-0.npz"
    with np.load(best / name) as kept_weights, np.load(stopped / name) as stopped_weights:
        assert sorted(kept_weights.files) == sorted(stopped_weights.files)
        for key in kept_weights.files:
            np.testing.assert_array_equal(kept_weights[key], stopped_weights[key])


@pytest.mark.parametrize(
    "fields, key, message",
    [
        ("column: SUNS, validation: 200, test: 250", "column", "'SUNS' not in sunspots.csv"),
        ("column: SUNACTIVITY, validation: 200, test: 400", "test", "past the end of the column"),
        ("column: SUNACTIVITY, validation: 200, test: 309", "test", "leaves no row to test"),
    ],
)
def test_a_csv_forecast_that_cannot_be_read_is_one_line_naming_its_key(
    tmp_path, fields, key, message
):
    from stochlstm.experiment.problems import ConfigError

    task = f"{{kind: forecast, csv: {{file: {SUNSPOTS}, {fields}}}}}"
    with pytest.raises(ConfigError, match=rf"train\.task\.csv\.{key}: .*{message}"):
        run(tmp_path, task, 1)
