"""stochlstm train end to end: tasks, learning, reruns, resume, loading in run."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from stochlstm.train.run import train_experiment  # noqa: E402

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
  evaluate: {under: [deterministic]}
output: {figures: false}
"""
    run_dir = train_experiment(write(tmp_path, text, "learn.yaml"), out=tmp_path).path
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    assert evaluation["loss_mean"].iloc[0] < 0.05


def _summary_loss(run_dir, rule):
    summary = pd.read_csv(run_dir / "summary.csv")
    rows = summary[(summary["quantity"] == "loss_window") & (summary["condition"] == rule)]
    assert len(rows) == 1
    return rows.iloc[0]


SHORT = TINY.replace("iterations: 12", "iterations: 5").replace("seeds: 50", "seeds: 300")


@pytest.mark.slow
def test_saved_weights_load_in_run_and_give_the_evaluation_loss(tmp_path):
    """evaluate.yaml in stochlstm run, as the header tells a user: the numbers of
    evaluation.csv, to the bit (300 noise seeds: two blocks of 256 merged)."""
    from stochlstm.experiment.run import run_simulation

    run_dir = train_experiment(write(tmp_path, SHORT), out=tmp_path / "results").path
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    header = (run_dir / "evaluate.yaml").read_text()
    assert "evaluate.yaml --set model.weights.file=weights/<arm>/seed-<k>.npz" in header
    for condition, seed in [("deterministic", 0), ("bernoulli", 1)]:
        overrides = [
            f"model.weights.file=weights/{condition}/seed-{seed}.npz",
            f"inputs.seed={seed}",
        ]
        out = tmp_path / f"run-{condition}"
        evaluated = run_simulation(run_dir / "evaluate.yaml", overrides=overrides, out=out).path
        for rule in ("deterministic", "bernoulli", "threshold"):
            row = evaluation[
                (evaluation["train_condition"] == condition)
                & (evaluation["train_seed"] == seed)
                & (evaluation["eval_rule"] == rule)
            ].iloc[0]
            summary = _summary_loss(evaluated, rule)
            assert summary["n"] == row["n"] == 300
            for column in ("mean", "sd", "ci_low", "ci_high"):
                assert summary[column] == row[f"loss_{column}"], (condition, rule, column)


def test_evaluate_yaml_scores_the_adding_test_set_by_hand(tmp_path):
    """Independent of the run machinery: the squared error of each seed's
    example, with the numpy reference step (float64), averaged over the seeds."""
    from stochlstm.core.cell import unroll
    from stochlstm.core.weights import init_uniform
    from stochlstm.experiment.inputs import input_generator
    from stochlstm.experiment.learning_tasks import task_example
    from stochlstm.experiment.load import load_experiment
    from stochlstm.train.evaluate import evaluate_model

    weights = init_uniform(2, 3, seed=4, output_size=1)
    np.savez(
        tmp_path / "model.npz",
        **{
            "lstm.weight_ih_l0": weights.weight_ih,
            "lstm.weight_hh_l0": weights.weight_hh,
            "lstm.bias_ih_l0": weights.bias_ih,
            "lstm.bias_hh_l0": weights.bias_hh,
            "head.weight": weights.readout_weight,
            "head.bias": weights.readout_bias,
        },
    )
    (tmp_path / "evaluate.yaml").write_text(
        """
name: by-hand
seeds: 40
model: {input_size: 2, hidden_size: 3, output_size: 1, readout: linear, weights: {file: model.npz}}
inputs: {kind: adding, steps: 7, seed: 5, per_seed: true}
targets: {kind: task, loss: mse}
conditions: {deterministic: {}}
"""
    )
    rows, _ = evaluate_model(tmp_path / "evaluate.yaml", [], ["deterministic"])
    config = load_experiment(tmp_path / "evaluate.yaml")
    examples = [task_example(config.inputs, input_generator(5, seed)) for seed in range(40)]
    inputs = np.concatenate([e.inputs for e in examples], axis=1)  # (7, 40, 2)
    answers = np.array([e.targets[0, 0, 0] for e in examples])
    last_h = unroll(weights, inputs, np.zeros((40, 3)), np.zeros((40, 3)))["h"][-1]
    predictions = last_h @ weights.readout_weight[0] + weights.readout_bias[0]
    errors = (predictions - answers) ** 2
    assert rows[0]["n"] == 40
    np.testing.assert_allclose(rows[0]["loss_mean"], np.mean(errors), rtol=1e-12)
    np.testing.assert_allclose(rows[0]["loss_sd"], np.std(errors, ddof=1), rtol=1e-10)


def test_the_train_command_names_evaluate_yaml_and_refuses_a_wrong_size_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from stochlstm.cli import EXIT_BAD_INPUT, app

    runner = CliRunner()
    short = TINY.replace("iterations: 12", "iterations: 2").replace("seeds: 2\n", "seeds: 1\n")
    result = runner.invoke(app, ["train", str(write(tmp_path, short)), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "stochlstm run" in result.output and "evaluate.yaml" in result.output
    wrong = write(tmp_path, short.replace("input_size: 2", "input_size: 3"), "wrong.yaml")
    result = runner.invoke(app, ["train", str(wrong), "--out", str(tmp_path / "w")])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "model.input_size" in result.output and "must be 2 for the adding task" in result.output
