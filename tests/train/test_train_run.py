"""stochlstm train end to end: tasks, learning, reruns, resume, loading in run."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from stochlstm.experiment.train_schema import AddingTask  # noqa: E402
from stochlstm.train.run import train_experiment  # noqa: E402
from stochlstm.train.tasks import make_batch  # noqa: E402

TINY = """
name: tiny
seeds: 50
model: {input_size: 2, hidden_size: 4, weights: {init: uniform, seed: 0}}
conditions:
  deterministic: {}
  bernoulli: {gates: bernoulli}
  concrete: {gates: concrete, temperature: 1.0}
  zoneout: {zoneout: {c: 0.1, h: 0.05}}
train:
  task: {kind: adding, steps: 6}
  seeds: 2
  iterations: 12
  batch_size: 8
  validation_examples: 16
  validate_every: 4
  checkpoint_every: 5
  temperature: {start: 1.0, end: 0.2}
  evaluate: {examples: 20}
output: {figures: false}
"""

OUTPUTS = ["training.csv", "evaluation.csv", "gates.csv"]


def write(tmp_path, text=TINY, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def outputs(run_dir):
    files = OUTPUTS + sorted(str(p.relative_to(run_dir)) for p in run_dir.glob("weights/*/*.npz"))
    return {name: (run_dir / name).read_bytes() for name in files}


def test_predicting_one_scores_mse_one_sixth():
    """E[(1 - (u1 + u2))^2] = Var(u1 + u2) = 1/6. The squared error's sd is 0.197, so
    the mean of 200,000 has se 0.00044; 5 se (0.0022) is a false alarm once in 1.7 million."""
    batch = make_batch(
        AddingTask(kind="adding", steps=30), np.random.Generator(np.random.PCG64(0)), 200_000
    )
    assert abs(np.mean((1.0 - batch.targets) ** 2) - 1 / 6) < 0.0022
    assert (batch.inputs[:, :, 1].sum(axis=0) == 2).all()
    marked = (batch.inputs[:, :, 0] * batch.inputs[:, :, 1]).sum(axis=0)
    np.testing.assert_allclose(marked, batch.targets[:, 0])


@pytest.mark.slow
def test_a_run_writes_training_weights_and_evaluation(tmp_path):
    outcome = train_experiment(write(tmp_path), out=tmp_path / "results")
    run_dir = outcome.path
    assert outcome.status == "complete"
    training = pd.read_csv(run_dir / "training.csv")
    assert set(training["split"]) == {"train", "validation"}
    assert sorted(training["iteration"].unique()) == [0, 4, 8, 12]
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    assert len(evaluation) == 4 * 2 * 3
    assert (evaluation["n"] == 50).all()
    deterministic = evaluation[evaluation["eval_rule"].isin(["deterministic", "threshold"])]
    assert (deterministic["loss_ci_low"] < deterministic["loss_mean"]).all()
    with np.load(run_dir / "weights" / "bernoulli" / "seed-1.npz") as data:
        assert sorted(data.files) == sorted(
            [
                "lstm.weight_ih_l0",
                "lstm.weight_hh_l0",
                "lstm.bias_ih_l0",
                "lstm.bias_hh_l0",
                "head.weight",
                "head.bias",
            ]
        )
        assert data["head.weight"].shape == (1, 4)
    assert not list(run_dir.glob("**/*.pkl"))


@pytest.mark.slow
def test_reruns_are_bit_identical(tmp_path):
    first = train_experiment(write(tmp_path), out=tmp_path / "a").path
    second = train_experiment(write(tmp_path), out=tmp_path / "b").path
    assert outputs(first) == outputs(second)


@pytest.mark.slow
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path):
    from stochlstm.experiment.run import RunInterrupted

    whole = train_experiment(write(tmp_path), out=tmp_path / "whole").path
    reports = []

    def interrupt(condition, seed, done, total, loss):
        reports.append(done)
        if condition == "concrete" and done == 5:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="--resume"):
        train_experiment(write(tmp_path), out=tmp_path / "cut", progress=interrupt)
    cut = tmp_path / "cut" / "tiny"
    assert '"interrupted"' in (cut / "manifest.json").read_text()
    assert (cut / ".training" / "concrete" / "seed-0.npz").exists()
    resumed = train_experiment(write(tmp_path), out=tmp_path / "cut", resume=True).path
    assert outputs(resumed) == outputs(whole)


@pytest.mark.slow
def test_jobs_in_worker_processes_give_the_same_bytes(tmp_path):
    here = train_experiment(write(tmp_path), out=tmp_path / "here").path
    there = train_experiment(write(tmp_path), out=tmp_path / "there", jobs=2).path
    assert outputs(here) == outputs(there)


@pytest.mark.slow
def test_the_deterministic_arm_learns_the_adding_problem(tmp_path):
    """Steps 20: the standard LSTM leaves the 0.167 plateau (predicting 1) after ~500
    iterations at this size and learning rate; test MSE < 0.05."""
    text = """
name: learn
seeds: 500
dtype: float32
model: {input_size: 2, hidden_size: 16, weights: {init: uniform, seed: 0}}
conditions: {deterministic: {}}
train:
  task: {kind: adding, steps: 20}
  seeds: 1
  iterations: 700
  batch_size: 64
  optimizer: {kind: adam, lr: 0.01}
  validation_examples: 64
  validate_every: 350
  checkpoint_every: 700
  evaluate: {under: [deterministic], examples: 500}
output: {figures: false}
"""
    run_dir = train_experiment(write(tmp_path, text, "learn.yaml"), out=tmp_path).path
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    assert evaluation["loss_mean"].iloc[0] < 0.05


def test_saved_weights_load_in_run_and_give_the_evaluation_loss(tmp_path):
    from stochlstm.experiment.schema import ModelSpec

    if "readout" not in ModelSpec.model_fields:
        pytest.skip(
            "model.readout (linear heads) is not in the schema yet: the model branch adds it"
        )
    pytest.skip("enable with the targets branch: run's per-seed loss on the adding task's test set")
