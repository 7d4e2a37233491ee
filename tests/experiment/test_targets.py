"""Targets and normalisation: alignment with the inputs (shift, CSV rows,
the outbreak behind epidemic inputs), normalize against manual z-scoring,
and every bad targets block refused with one line, exit 2."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stochlstm import run_experiment
from stochlstm.cli import EXIT_BAD_INPUT, app
from stochlstm.experiment.inputs import from_csv, input_generator, make_inputs, simulate_sir
from stochlstm.experiment.load import load_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.targets import TargetError, target_encoding

SERIES = [3.0, 5.0, 4.0, 8.0, 6.0, 9.0, 7.0, 12.0, 10.0, 11.0]


@pytest.fixture
def series_csv(tmp_path):
    frame = pd.DataFrame({"year": range(1900, 1910), "v": SERIES, "w": np.arange(10) % 2})
    frame.to_csv(tmp_path / "series.csv", index=False)
    return tmp_path / "series.csv"


def experiment(tmp_path, targets: str, inputs: str = "", model: str = "", record: str = ""):
    inputs = inputs or "{kind: csv, file: series.csv, columns: [v]}"
    model = model or "{input_size: 1, hidden_size: 3, output_size: 1}"
    path = tmp_path / "e.yaml"
    path.write_text(
        f"name: e\nseeds: 40\nmodel: {model}\ninputs: {inputs}\ntargets: {targets}\n"
        "conditions: {det: {}, bern: {gates: bernoulli}}\n"
        f"record: {record or '{seeds: 40}'}\noutput: {{figures: false}}\n"
    )
    return path


def point(path):
    return plan_run(load_experiment(path)).points[0]


# ---------------------------------------------------------------- alignment


def test_shift_1_targets_the_next_input_and_the_last_step_has_none(tmp_path, series_csv):
    path = experiment(tmp_path, "{kind: inputs, shift: 1}")
    spec = point(path)
    np.testing.assert_array_equal(spec.shared_targets[:, 0], SERIES[1:])
    assert spec.record.loss.n_steps == 9 and spec.record.loss.window == (0, 8)
    outcome = run_experiment(path, out=tmp_path / "runs", figures=False)
    summary = pd.read_csv(outcome.path / "summary.csv")
    loss = summary[summary["quantity"] == "loss"]
    assert sorted(set(loss["t"])) == list(range(9))  # step 9 has no target, no loss
    assert set(summary.loc[summary["quantity"] == "loss_window", "t"]) == {8}
    targets = pd.read_csv(outcome.path / "targets.csv")
    assert list(targets.columns) == ["loss", "t", "unit", "target", "in_window"]
    np.testing.assert_array_equal(targets["target"], SERIES[1:])
    assert (targets["loss"] == "mse").all() and (targets["in_window"] == 1).all()
    manifest = (outcome.path / "manifest.json").read_text()
    assert '"targets.csv"' in manifest  # rows and checksum


def test_shift_picks_input_columns_by_name_or_index(tmp_path, series_csv):
    inputs = "{kind: csv, file: series.csv, columns: [v, w]}"
    model = "{input_size: 2, hidden_size: 3, output_size: 1}"
    by_name = point(experiment(tmp_path, "{kind: inputs, shift: 2, columns: [w]}", inputs, model))
    np.testing.assert_array_equal(by_name.shared_targets[:, 0], (np.arange(10) % 2)[2:])
    by_index = point(experiment(tmp_path, "{kind: inputs, shift: 2, columns: [1]}", inputs, model))
    np.testing.assert_array_equal(by_index.shared_targets, by_name.shared_targets)


def test_csv_targets_default_to_the_inputs_file_and_rows(tmp_path, series_csv):
    inputs = "{kind: csv, file: series.csv, columns: [v], start: 2, stop: 8}"
    spec = point(experiment(tmp_path, "{kind: csv, columns: [w], loss_from: 1}", inputs))
    np.testing.assert_array_equal(spec.shared_targets[:, 0], (np.arange(10) % 2)[2:8])
    np.testing.assert_array_equal(spec.shared_inputs[:, 0], SERIES[2:8])
    assert spec.record.loss.window == (1, 5)


def test_sequence_targets_are_the_given_rows(tmp_path, series_csv):
    values = [0.1 * k for k in range(10)]
    spec = point(experiment(tmp_path, f"{{kind: sequence, values: {values}, shift: 3}}"))
    np.testing.assert_array_equal(spec.shared_targets[:, 0], values[3:])


EPIDEMIC = (
    "{kind: epidemic, population: 500, infected: 5, beta: 0.4, gamma: 0.1, steps: 30, seed: 9"
)


def test_epidemic_targets_observe_the_outbreak_behind_the_inputs(tmp_path):
    spec = point(experiment(tmp_path, "{kind: epidemic, observe: infected}", EPIDEMIC + "}"))
    outbreak = simulate_sir(
        30, population=500, infected=5, beta=0.4, gamma=0.1, generator=input_generator(9)
    )
    np.testing.assert_array_equal(spec.shared_inputs[:, 0], outbreak.new_cases / 500)
    np.testing.assert_array_equal(spec.shared_targets[:, 0], outbreak.infected / 500)


def test_per_seed_epidemic_targets_follow_each_seeds_outbreak(tmp_path):
    path = experiment(
        tmp_path, "{kind: epidemic, observe: new_cases, shift: 1}", EPIDEMIC + ", per_seed: true}"
    )
    spec = point(path)
    assert spec.shared_targets is None
    seeds = [3, 17]
    inputs = spec.inputs(seeds)
    targets = spec.targets(seeds)
    assert targets.shape == (29, 2, 1)
    np.testing.assert_array_equal(targets, inputs[1:])  # new cases, one day ahead, per seed
    assert not np.array_equal(targets[:, 0], targets[:, 1])


# ---------------------------------------------------------------- normalize


def test_normalize_fit_rows_equals_manual_z_scoring(series_csv):
    values = np.array(SERIES)
    fit = values[1:6]
    manual = (values[4:] - fit.mean()) / fit.std()  # population sd, ddof 0
    scaled = from_csv(series_csv, ["v"], start=4, normalize={"fit_rows": {"start": 1, "stop": 6}})
    np.testing.assert_allclose(scaled[:, 0], manual, rtol=1e-15, atol=1e-15)
    spec = {
        "kind": "csv",
        "file": str(series_csv),
        "columns": ["v"],
        "start": 4,
        "normalize": {"fit_rows": {"start": 1, "stop": 6}},
    }
    np.testing.assert_array_equal(make_inputs(spec, input_size=1), scaled)


def test_normalize_constants_scale_each_column(series_csv):
    scaled = from_csv(series_csv, ["v", "w"], normalize={"mean": [5, 0.5], "sd": [2, 0.5]})
    manual = (np.column_stack([SERIES, np.arange(10) % 2]) - [5, 0.5]) / [2, 0.5]
    np.testing.assert_allclose(scaled, manual, rtol=1e-15)


def test_targets_of_normalized_inputs_are_on_the_models_scale(tmp_path, series_csv):
    inputs = "{kind: csv, file: series.csv, columns: [v], normalize: {fit_rows: {stop: 5}}}"
    spec = point(experiment(tmp_path, "{kind: inputs, shift: 1}", inputs))
    fit = np.array(SERIES[:5])
    np.testing.assert_allclose(
        spec.shared_targets[:, 0], (np.array(SERIES[1:]) - fit.mean()) / fit.std(), rtol=1e-15
    )


# ---------------------------------------------------------------- user mistakes

MISTAKES = {
    "no readout": (
        "{kind: inputs, shift: 1}",
        {"model": "{input_size: 1, hidden_size: 3}"},
        "e.yaml:5: targets: targets need a readout to compare with: set model.output_size >= 1",
    ),
    "too many target columns": (
        "{kind: csv, columns: [v, w]}",
        {},
        "targets.columns: expected 1 target column(s) (one per output, model.output_size = 1), got 2",
    ),
    "unknown kind": ("{kind: labels}", {}, "targets.kind: unknown target kind 'labels'"),
    "window end without a target": (
        "{kind: inputs, shift: 1, loss_to: 9}",
        {},
        "targets.loss_to: step 9 has no target: the targets cover steps 0..8 "
        "(with shift 1, the last 1 step(s) have none)",
    ),
    "window backwards": (
        "{kind: inputs, shift: 1, loss_from: 5, loss_to: 2}",
        {},
        "targets.loss_to: must be >= loss_from (5), got 2",
    ),
    "shift past the end": (
        "{kind: inputs, shift: 10}",
        {},
        "targets.shift: 10 leaves no step with a target (the inputs have 10 steps)",
    ),
    "binary targets not 0/1": (
        "{kind: csv, columns: [v], loss: cross_entropy}",
        {},
        "targets.columns: expected targets 0 or 1 (one per output, for a sigmoid readout), "
        "got 3 at step 0",
    ),
    "no file to read": (
        "{kind: csv, columns: [v]}",
        {"inputs": "{kind: sine, period: 4, steps: 10}"},
        "targets.file: missing: the inputs (sine) are not read from a file",
    ),
    "epidemic targets of other inputs": (
        "{kind: epidemic, observe: infected}",
        {},
        "targets.kind: epidemic targets observe the outbreak of epidemic inputs; the inputs are csv",
    ),
    "input column name of sine inputs": (
        "{kind: inputs, shift: 1, columns: [v]}",
        {"inputs": "{kind: sine, period: 4, steps: 10}"},
        "targets.columns[0]: not an input column (give indices)",
    ),
    "loss without targets": (
        None,
        {"record": "{derived: [loss]}"},
        "record.derived[0]: loss needs targets",
    ),
    "fit rows past the file": (
        "{kind: inputs, shift: 1}",
        {
            "inputs": "{kind: csv, file: series.csv, columns: [v], normalize: {fit_rows: {stop: 50}}}"
        },
        "inputs.normalize: fit_rows: stop 50 is past the end of series.csv (10 data rows)",
    ),
    "constant column over the fit rows": (
        "{kind: csv, columns: [w], normalize: {fit_rows: {start: 0, stop: 1}}}",
        {},
        "targets.normalize: column 0 is constant over fit_rows",
    ),
    "normalize constants of the wrong length": (
        "{kind: inputs, shift: 1}",
        {"inputs": "{kind: csv, file: series.csv, columns: [v], normalize: {mean: [1, 2], sd: 1}}"},
        "inputs.normalize.mean: expected 1 values (one per column), got 2",
    ),
    "sd of zero": (
        "{kind: inputs, shift: 1}",
        {"inputs": "{kind: csv, file: series.csv, columns: [v], normalize: {mean: 1, sd: 0}}"},
        "inputs.normalize.sd: must be > 0, got 0",
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_a_bad_targets_block_is_one_line_and_exit_2(tmp_path, series_csv, mistake):
    targets, changes, expected = MISTAKES[mistake]
    path = experiment(tmp_path, targets or "null", **changes)
    if targets is None:  # no targets block at all
        path.write_text(path.read_text().replace("targets: null\n", ""))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expected in lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_linear_readout_takes_mse_only():
    assert target_encoding("mse", "linear") == "values"
    assert target_encoding("accuracy", "softmax") == "classes"
    assert target_encoding("cross_entropy", "sigmoid") == "binary"
    with pytest.raises(TargetError, match="cross_entropy compares probabilities") as error:
        target_encoding("cross_entropy", "linear")
    assert error.value.field == "loss"
