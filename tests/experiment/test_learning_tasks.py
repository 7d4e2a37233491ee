"""The learning tasks in the experiment layer (numpy only): the adding and copy
examples, the inputs kinds adding / copy with targets {kind: task}, and the
forecasting tasks' data."""

import numpy as np
import pytest

from stochlstm.experiment.forecasts import SeriesForecast, series_of, sir_outbreaks
from stochlstm.experiment.inputs import input_generator, make_inputs, simulate_sir
from stochlstm.experiment.learning_tasks import AddingProblem, CopyProblem, task_example
from stochlstm.experiment.load import parse_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.problems import ConfigError
from stochlstm.experiment.task_forms import AddingTask, CopyTask, ForecastTask

SUNSPOTS = "experiments/data/sunspots.csv"


def rng(seed=0):
    return np.random.Generator(np.random.PCG64(seed))


def test_predicting_one_scores_mse_one_sixth():
    """E[(1 - (u1 + u2))^2] = Var(u1 + u2) = 1/6. The squared error's sd is 0.197, so
    the mean of 200,000 has se 0.00044; 5 se (0.0022) is a false alarm once in 1.7 million."""
    batch = AddingProblem(AddingTask(kind="adding", steps=30)).batch(rng(), 200_000)
    assert batch.scored == slice(29, 30)
    assert abs(np.mean((1.0 - batch.targets) ** 2) - 1 / 6) < 0.0022
    assert (batch.inputs[:, :, 1].sum(axis=0) == 2).all()
    marked = (batch.inputs[:, :, 0] * batch.inputs[:, :, 1]).sum(axis=0)
    np.testing.assert_allclose(marked, batch.targets[0, :, 0])
    half = batch.inputs[:15, :, 1].sum(axis=0)
    assert (half == 1).all()  # one marker in each half


def test_copy_answers_are_the_symbols_shown_first():
    spec = CopyTask(kind="copy", symbols=4, length=3, delay=5)
    batch = CopyProblem(spec).batch(rng(), 50)
    assert batch.inputs.shape == (11, 50, 6) and batch.scored == slice(8, 11)
    shown = batch.inputs[:3].argmax(axis=-1)  # (3, 50)
    np.testing.assert_array_equal(batch.targets, shown)
    assert (batch.inputs[3 + 5, :, 5] == 1).all()  # the delimiter after the delay
    assert (batch.inputs[3:8, :, 4] == 1).all()  # blanks


def _adding_file(extra: str = "", targets: str = "targets: {kind: task}") -> str:
    return f"""
name: adding-inputs
seeds: 20
model: {{input_size: 2, hidden_size: 3, output_size: 1, readout: linear}}
inputs: {{kind: adding, steps: 8, seed: 3, per_seed: true{extra}}}
{targets}
conditions: {{deterministic: {{}}}}
"""


def test_a_seed_alone_gets_its_example_as_in_any_list():
    config = parse_experiment(_adding_file())
    alone = make_inputs(config.inputs, input_size=2, seeds=[7])
    within = make_inputs(config.inputs, input_size=2, seeds=[0, 7, 12])
    np.testing.assert_array_equal(alone[:, 0], within[:, 1])
    expected = task_example(config.inputs, input_generator(3, 7))
    np.testing.assert_array_equal(alone[:, 0], expected.inputs[:, 0])


def test_task_targets_score_the_last_step_of_adding():
    config = parse_experiment(_adding_file())
    point = plan_run(config).points[0]
    assert point.record.loss.window == (7, 7) and point.record.loss.kind == "mse"
    inputs, targets = point.inputs([4, 5]), point.targets([4, 5])
    assert targets.shape == (8, 2, 1)
    marked = (inputs[:, :, 0] * inputs[:, :, 1]).sum(axis=0)
    np.testing.assert_array_equal(targets[-1, :, 0], marked)


def test_task_targets_of_copy_are_class_indices_over_the_answer():
    config = parse_experiment(
        """
name: copy-inputs
seeds: 5
model: {input_size: 5, hidden_size: 3, output_size: 3, readout: softmax}
inputs: {kind: copy, symbols: 3, length: 2, delay: 4, per_seed: true}
targets: {kind: task, loss: cross_entropy}
conditions: {deterministic: {}}
"""
    )
    point = plan_run(config).points[0]
    assert point.record.loss.window == (6, 7) and point.record.loss.encoding == "classes"
    inputs, targets = point.inputs([0, 1, 2]), point.targets([0, 1, 2])
    np.testing.assert_array_equal(targets[6:, :, 0], inputs[:2].argmax(axis=-1))


def test_task_targets_need_task_inputs():
    text = _adding_file().replace(
        "inputs: {kind: adding, steps: 8, seed: 3, per_seed: true}",
        "inputs: {kind: gaussian, steps: 8}",
    )
    with pytest.raises(ConfigError, match=r"targets.kind.*adding or copy inputs"):
        parse_experiment(text)


def test_the_loss_window_of_task_targets_can_be_set():
    text = _adding_file(targets="targets: {kind: task, loss_from: 2, loss_to: 5}")
    assert plan_run(parse_experiment(text)).points[0].record.loss.window == (2, 5)


def test_outbreaks_drawn_together_are_those_of_simulate_sir_one_by_one():
    """A batch of one draws what simulate_sir draws from the same generator."""
    kwargs = dict(population=500, infected=3, beta=0.5, gamma=0.2)
    batch = sir_outbreaks(40, 1, **kwargs, generator=rng(11))
    path = simulate_sir(40, **kwargs, generator=rng(11))
    np.testing.assert_array_equal(batch["new_cases"][:, 0], path.new_cases)
    np.testing.assert_array_equal(batch["infected"][:, 0], path.infected)


def test_outbreaks_together_have_the_mean_of_outbreaks_one_by_one():
    """Total cases of 2,000 outbreaks drawn together vs 2,000 drawn one by one:
    a two-sample z test at |z| < 4.5 (false alarm ~ 7e-6)."""
    kwargs = dict(population=300, infected=2, beta=0.4, gamma=0.2)
    together = sir_outbreaks(30, 2000, **kwargs, generator=rng(1))["new_cases"].sum(axis=0)
    generator = rng(2)
    alone = np.array(
        [simulate_sir(30, **kwargs, generator=generator).new_cases.sum() for _ in range(2000)]
    )
    se = np.sqrt(together.var(ddof=1) / 2000 + alone.var(ddof=1) / 2000)
    assert abs(together.mean() - alone.mean()) / se < 4.5


def test_a_csv_forecast_splits_the_predicted_rows_as_the_sunspot_experiment():
    """validation 200 and test 250 are experiments/sunspot-forecast.yaml's years:
    training predicts 1701-1899 (steps 0..198), validation 1900-1949, the test 1950-2008."""
    task = ForecastTask(
        kind="forecast",
        csv={"file": SUNSPOTS, "column": "SUNACTIVITY", "validation": 200, "test": 250},
    )
    series = series_of(task.csv)
    raw = np.loadtxt(SUNSPOTS, delimiter=",", skiprows=1)[:, 1]
    fit = raw[:250]
    np.testing.assert_allclose(series, (raw - fit.mean()) / fit.std(), rtol=1e-12)
    problem = SeriesForecast(task, series)
    splits = {split: problem.batch(rng(), 2, split) for split in ("train", "validation", "test")}
    assert splits["train"].scored == slice(0, 199)
    assert splits["validation"].scored == slice(199, 249)
    assert splits["test"].scored == slice(249, 308)
    for batch in splits.values():
        steps = range(len(batch.inputs))[batch.scored]
        np.testing.assert_array_equal(
            batch.targets[:, 1, 0], series[steps.start + 1 : steps.stop + 1]
        )
        np.testing.assert_array_equal(batch.inputs[:, 0, 0], series[: len(batch.inputs)])
