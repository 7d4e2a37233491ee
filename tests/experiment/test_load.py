"""The experiment file: DESIGN.md's example loads into the right objects; every
class of mistake is reported with its file, line, path and message, all at
once; overrides, sweeps and the resolved file."""

import textwrap
import time

import numpy as np
import pytest

from stochlstm.core.conditions import Condition
from stochlstm.core.gates import Bernoulli, Concrete, Deterministic
from stochlstm.core.names import CELL_QUANTITIES, DERIVED_QUANTITIES, LOSS_QUANTITIES
from stochlstm.core.weights import init_uniform
from stochlstm.experiment.forms import FileWeights
from stochlstm.experiment.inputs import gaussian, make_inputs
from stochlstm.experiment.load import (
    load_experiment,
    parse_experiment,
    sweep_columns,
    sweep_points,
)
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.problems import ConfigError, Problem
from stochlstm.experiment.schema import ExperimentConfig
from stochlstm.experiment.weight_files import build_weights, save_weights

EXAMPLE = """\
name: answer-example        # run directory: results/<name>/
description: The worked example from the answer.
seeds: 200                  # a count (0..N-1), a list [0, 5, 7], or {start: 100, count: 50}
root_seed: 0
dtype: float64
model:
  input_size: 3
  hidden_size: 3
  weights:                  # the answer's form, on [x_t, h_{t-1}]
    W_i: [[1,1,1,1,1,1], [2,2,2,2,2,2], [3,3,3,3,3,3]]
    b_i: [1, 1, 1]
    W_f: [[1,0,0,0,0,0], [0,1,0,0,0,0], [0,0,1,0,0,0]]
    b_f: [0, 0, 0]
    W_C: [[0,0,0,1,0,0], [0,0,0,0,1,0], [0,0,0,0,0,1]]
    b_C: [0, 0, 0]
    W_o: [[1,1,0,0,0,0], [0,1,1,0,0,0], [0,0,1,1,0,0]]
    b_o: [0, 0, 0]
initial_state: {h: [4, 5, 6], c: [0, 0, 0]}
inputs:
  kind: constant
  value: [1, 2, 3]
  steps: 20
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
  stochastic-forget: {forget: bernoulli}
  concrete: {gates: concrete, temperature: 0.5}
  zoneout: {zoneout: {c: 0.1, h: 0.05}}
  literal: {gates: bernoulli, forget_semantics: erase}
record:
  quantities: [p_i, i, p_f, f, g, p_o, o, c, h]
  seeds: 20
  every: 1
output: {dir: results, format: csv}
"""

MINIMAL = """\
name: minimal
model: {input_size: 2, hidden_size: 3}
inputs: {kind: constant, value: [1, 2], steps: 5}
conditions:
  deterministic: {}
  concrete: {gates: concrete, temperature: 0.5}
"""


def write(tmp_path, text, name="experiment.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def line_of(text, fragment, occurrence=0):
    """1-based line of the ``occurrence``-th line containing ``fragment``."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence]


def problems_of(tmp_path, text, overrides=()):
    """Every problem of the file, as ``stochlstm validate`` reports them: the
    file's own, then those of building its weights and inputs."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        plan_run(load_experiment(path, overrides))
    return error.value.problems


def weights_of(config):
    model = config.model
    return build_weights(
        model.weights,
        input_size=model.input_size,
        hidden_size=model.hidden_size,
        output_size=model.output_size,
    )


def inputs_of(config, seeds=None):
    return make_inputs(config.inputs, input_size=config.model.input_size, seeds=seeds)


def only(problems, path) -> Problem:
    found = [p for p in problems if p.path == path]
    assert len(found) == 1, f"expected one problem at {path!r}, got {problems}"
    return found[0]


def replace(text, old, new):
    assert old in text
    return text.replace(old, new)


# ---------------------------------------------------------------- the example


@pytest.fixture
def example(tmp_path):
    return load_experiment(write(tmp_path, EXAMPLE))


def test_design_example_loads(example, tmp_path):
    assert example.name == "answer-example"
    assert example.seed_list() == list(range(200))
    assert example.recorded_seeds() == list(range(20))
    assert example.baseline == "deterministic"
    assert example.source_path == (tmp_path / "experiment.yaml").resolve()
    assert example.source_text == EXAMPLE
    assert example.recorded_quantities() == ["p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h"]


def test_design_example_builds_the_conditions(example):
    conditions = example.build_conditions()
    assert list(conditions) == [
        "deterministic",
        "stochastic",
        "stochastic-forget",
        "concrete",
        "zoneout",
        "literal",
    ]
    assert conditions["deterministic"] == Condition()
    assert conditions["stochastic"] == Condition("bernoulli")
    assert conditions["stochastic-forget"] == Condition(forget="bernoulli")
    assert conditions["concrete"] == Condition("concrete", temperature=0.5)
    assert conditions["zoneout"] == Condition(zoneout={"c": 0.1, "h": 0.05})
    assert conditions["literal"] == Condition("bernoulli", forget_semantics="erase")


def test_design_example_weights_act_on_x_then_h(example):
    # W_i . [x, h] = W_i . [1, 2, 3, 4, 5, 6] = [21, 42, 63], plus b_i = [1, 1, 1]
    weights = weights_of(example)
    x, h = inputs_of(example)[0], example.build_initial_state()["h"]
    preact = weights.weight_ih @ x + weights.bias_ih + weights.weight_hh @ h + weights.bias_hh
    np.testing.assert_array_equal(preact[:3], [22, 43, 64])
    np.testing.assert_array_equal(preact[3:6], [1, 2, 3])  # W_f picks x
    np.testing.assert_array_equal(preact[6:9], [4, 5, 6])  # W_C picks h


def test_design_example_inputs_and_state(example):
    np.testing.assert_array_equal(inputs_of(example), np.tile([1.0, 2.0, 3.0], (20, 1)))
    state = example.build_initial_state()
    np.testing.assert_array_equal(state["h"], [4, 5, 6])
    np.testing.assert_array_equal(state["c"], [0, 0, 0])


def test_defaults(tmp_path):
    config = load_experiment(write(tmp_path, MINIMAL))
    assert config.seed_list() == list(range(100))
    assert config.dtype == "float64" and config.root_seed == 0
    assert config.model.output_size == 0
    assert config.record.every == 1 and config.record.initial_state is False
    assert config.recorded_quantities() == [q for q in CELL_QUANTITIES if q != "y"]
    assert config.recorded_units() == [0, 1, 2]
    assert config.output.figure_formats == ["png", "pdf"]
    assert config.execution.batch_size == "auto" and config.execution.jobs == 1
    assert weights_of(config) == init_uniform(2, 3, seed=0)
    np.testing.assert_array_equal(config.build_initial_state()["c"], np.zeros(3))


@pytest.mark.parametrize(
    "seeds,expected",
    [("3", [0, 1, 2]), ("[0, 5, 7]", [0, 5, 7]), ("{start: 100, count: 3}", [100, 101, 102])],
)
def test_seed_forms(tmp_path, seeds, expected):
    config = load_experiment(write(tmp_path, MINIMAL + f"seeds: {seeds}\n"))
    assert config.seed_list() == expected


def test_baseline_defaults_to_the_first_deterministic_condition(tmp_path):
    text = replace(MINIMAL, "  deterministic: {}\n", "") + "  plain: {}\n"
    assert load_experiment(write(tmp_path, text)).baseline == "plain"
    text = replace(MINIMAL, "  deterministic: {}\n", "")
    config = load_experiment(write(tmp_path, text))
    # without a deterministic condition one is added, last, to be the baseline
    assert config.baseline == "deterministic"
    assert list(config.build_conditions()) == ["concrete", "deterministic"]
    assert config.build_conditions()["deterministic"] == Condition()


def test_per_gate_rules_and_temperatures(tmp_path):
    text = MINIMAL + textwrap.indent(
        "mixed: {gates: bernoulli, output: {rule: concrete, temperature: 0.3}}\n"
        "warm: {input: concrete, temperature: 2}\n"  # an int where a float is expected is fine
        "binary: {candidate: binary, cell_output: binary, noise: fixed}\n",
        "  ",
    )
    conditions = load_experiment(write(tmp_path, text)).build_conditions()
    assert conditions["mixed"] == Condition(
        input=Bernoulli(), forget=Bernoulli(), output=Concrete(0.3)
    )
    assert (
        conditions["warm"].input == Concrete(2.0) and conditions["warm"].forget == Deterministic()
    )
    assert conditions["binary"] == Condition(
        candidate="binary", cell_output="binary", noise="fixed"
    )


def test_per_seed_inputs(tmp_path):
    text = replace(
        MINIMAL,
        "{kind: constant, value: [1, 2], steps: 5}",
        "{kind: gaussian, steps: 5, seed: 3, per_seed: true}",
    )
    config = load_experiment(write(tmp_path, text + "seeds: [2, 7]\n"))
    x = inputs_of(config, config.seed_list())
    assert x.shape == (5, 2, 2)
    np.testing.assert_array_equal(x, gaussian(5, 2, seed=3, run_seeds=[2, 7]))
    np.testing.assert_array_equal(inputs_of(config, [7])[:, 0], x[:, 1])


def test_csv_input_relative_to_the_experiment_folder(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "cases.csv").write_text("a,b\n1,2\n3,4\n")
    text = replace(
        MINIMAL,
        "{kind: constant, value: [1, 2], steps: 5}",
        "{kind: csv, file: cases.csv, columns: [b, a]}",
    )
    config = load_experiment(write(folder, text))
    np.testing.assert_array_equal(inputs_of(config), [[2, 1], [4, 3]])
    assert config.inputs.file == str((folder / "cases.csv").resolve())


def test_weights_file_relative_to_the_experiment_folder(tmp_path):
    weights = init_uniform(2, 3, seed=5)
    save_weights(weights, tmp_path / "w.npz")
    text = replace(MINIMAL, "hidden_size: 3}", "hidden_size: 3, weights: {file: w.npz}}")
    config = load_experiment(write(tmp_path, text))
    assert weights_of(config) == weights
    assert config.model.weights == FileWeights(file=str((tmp_path / "w.npz").resolve()))


def test_readout(tmp_path):
    config = load_experiment(write(tmp_path, MINIMAL), ["model.output_size=2"])
    assert config.recorded_quantities() == list(CELL_QUANTITIES)
    assert weights_of(config).output_size == 2


def test_float32_and_execution(tmp_path):
    text = MINIMAL + "dtype: float32\nexecution: {batch_size: 64, jobs: 4}\n"
    config = load_experiment(write(tmp_path, text))
    assert config.dtype == "float32"
    assert config.execution.batch_size == 64 and config.execution.memory_budget_mb == 512


# ---------------------------------------------------------------- problems


def test_problem_renders_file_line_path_message():
    problem = Problem("experiment.yaml", 14, "conditions.stochastic.gates", "unknown")
    assert str(problem) == "experiment.yaml:14: conditions.stochastic.gates: unknown"
    assert str(Problem("e.yaml", None, "seeds", "bad")) == "e.yaml: seeds: bad"


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_experiment(tmp_path / "nothere.yaml")
    (problem,) = error.value.problems
    assert problem.file.endswith("nothere.yaml") and "not found" in problem.message


def test_malformed_yaml_gives_its_line(tmp_path):
    text = "name: x\nmodel:\n  input_size: 3\n  hidden_size: [1, 2\ninputs: {}\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.line in (4, 5) and problem.path == ""
    assert problem.message.startswith("malformed YAML")


def test_empty_file(tmp_path):
    (problem,) = problems_of(tmp_path, "# nothing here\n")
    assert "empty" in problem.message and "name" in problem.message


def test_unknown_key_with_its_line_and_the_allowed_keys(tmp_path):
    text = replace(EXAMPLE, "  hidden_size: 3\n", "  hidden_size: 3\n  hiden_size: 4\n")
    problem = only(problems_of(tmp_path, text), "model.hiden_size")
    assert problem.line == line_of(text, "hiden_size")
    assert problem.file.endswith("experiment.yaml")
    assert problem.message == (
        "unknown key 'hiden_size' (did you mean hidden_size?); "
        "allowed keys: input_size, hidden_size, num_layers, output_size, readout, weights"
    )


def test_unknown_top_level_key(tmp_path):
    text = EXAMPLE + "sedes: 3\n"
    problem = only(problems_of(tmp_path, text), "sedes")
    assert problem.line == line_of(text, "sedes")
    assert "allowed keys: name, description, seeds" in problem.message


@pytest.mark.parametrize(
    "old,new,path,message",
    [
        (
            "  hidden_size: 3\n",
            "  hidden_size: three\n",
            "model.hidden_size",
            "expected an integer, got the string 'three'",
        ),
        (
            "seeds: 200 ",
            "seeds: '200' ",
            "seeds",
            "expected a count of seeds (0..N-1), a list of seeds, or {start, count}, "
            "got the string '200' (write numbers without quotes)",
        ),
        (
            "temperature: 0.5",
            "temperature: 1:20",
            "conditions.concrete.temperature",
            "expected a number, got the string '1:20'",
        ),
        (
            "dtype: float64",
            "dtype: float16",
            "dtype",
            "expected 'float64' or 'float32', got the string 'float16'",
        ),
        (
            "  every: 1",
            "  every: true",
            "record.every",
            "expected an integer, got true (a boolean)",
        ),
        (
            "{c: 0.1, h: 0.05}",
            "{c: 1.5, h: 0.05}",
            "conditions.zoneout.zoneout.c",
            "must be <= 1, got 1.5",
        ),
        ("  steps: 20", "  steps: -5", "inputs.steps", "must be >= 1, got -5"),
        (
            "kind: constant",
            "kind: constnt",
            "inputs.kind",
            "unknown input kind 'constnt'; expected one of: constant, sequence, gaussian, sine, "
            "epidemic, csv, adding, copy",
        ),
    ],
)
def test_wrong_values(tmp_path, old, new, path, message):
    text = replace(EXAMPLE, old, new)
    problem = only(problems_of(tmp_path, text), path)
    assert problem.message == message
    assert problem.line == line_of(text, new.strip().split(":")[0] + ":")


def test_unknown_gate_rule(tmp_path):
    text = replace(EXAMPLE, "stochastic: {gates: bernoulli}", "stochastic: {gates: bernouli}")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_experiment(path)
    line = line_of(text, "bernouli")
    assert str(error.value) == (
        f"{path}:{line}: conditions.stochastic.gates: unknown gate rule 'bernouli'; "
        "expected one of: deterministic, bernoulli, threshold, concrete"
    )


def test_wrong_matrix_shape(tmp_path):
    text = replace(
        EXAMPLE,
        "W_o: [[1,1,0,0,0,0], [0,1,1,0,0,0], [0,0,1,1,0,0]]",
        "W_o: [[1,1,0,0,0,0], [0,1,1,0,0,0]]",
    )
    problem = only(problems_of(tmp_path, text), "model.weights.W_o")
    assert problem.line == line_of(text, "W_o:")
    assert "expected shape (3, 6)" in problem.message and "got (2, 6)" in problem.message


def test_nan_in_weights_points_at_the_number(tmp_path):
    text = replace(EXAMPLE, "[3,3,3,3,3,3]]", "[3,3,3,3,3,.nan]]")
    problem = only(problems_of(tmp_path, text), "model.weights.W_i[2][5]")
    assert problem.line == line_of(text, ".nan")
    assert problem.message == "expected a finite number, got nan"


def test_missing_csv_file(tmp_path):
    text = replace(
        EXAMPLE,
        "  kind: constant\n  value: [1, 2, 3]\n  steps: 20\n",
        "  kind: csv\n  file: missing.csv\n  columns: [a, b, c]\n",
    )
    problem = only(problems_of(tmp_path, text), "inputs.file")
    assert problem.line == line_of(text, "missing.csv")
    assert "missing.csv" in problem.message and "not found" in problem.message


def test_bad_csv_value_names_column_and_row(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,3\n4,x,6\n")
    text = replace(
        EXAMPLE,
        "  kind: constant\n  value: [1, 2, 3]\n  steps: 20\n",
        "  kind: csv\n  file: data.csv\n  columns: [a, b, c]\n",
    )
    problem = only(problems_of(tmp_path, text), "inputs.columns")
    assert "data.csv, column 'b'" in problem.message and "row 1 (line 3): 'x'" in problem.message


@pytest.mark.parametrize(
    "old,new,path,message,marker",
    [
        (
            "{h: [4, 5, 6], c: [0, 0, 0]}",
            "{h: [4, 5], c: [0, 0, 0]}",
            "initial_state.h",
            "expected 3 values (model.hidden_size), got 2",
            "initial_state:",
        ),
        (
            "  value: [1, 2, 3]",
            "  value: [1, 2]",
            "inputs.value",
            "expected 3 values (model.input_size), got 2",
            "value:",
        ),
        (
            "  every: 1",
            "  every: 1\n  units: [0, 3]",
            "record.units[1]",
            "unit 3 does not exist: the units are 0..2",
            "units:",
        ),
        (
            "  seeds: 20\n",
            "  seeds: [3, 250]\n",
            "record.seeds[1]",
            "seed 250 is not one of the run's seeds",
            "[3, 250]",
        ),
        (
            "p_o, o, c, h]",
            "p_o, o, c, h, y]",
            "record.quantities[9]",
            "y needs a readout: set model.output_size >= 1",
            "quantities:",
        ),
        ("seeds: 200 ", "seeds: [1, 2, 1] ", "seeds", "listed more than once: 1", "seeds: [1"),
        (
            "output: {dir",
            "baseline: nope\noutput: {dir",
            "baseline",
            "unknown condition 'nope'; the conditions are: deterministic, stochastic, "
            "stochastic-forget, concrete, zoneout, literal",
            "baseline:",
        ),
        (
            "stochastic: {gates: bernoulli}",
            "stochastic: {gates: bernoulli, temperature: 0.2}",
            "conditions.stochastic.temperature",
            "applies to concrete gates only, and this condition has none",
            "temperature: 0.2",
        ),
        (
            "  literal:",
            "  two words:",
            "conditions.two words",
            "condition name 'two words' cannot be a CSV value: use a letter, then letters, digits, "
            "'_' or '-' (at most 64), and not na/nan/null/none/inf/true/false",
            "two words",
        ),
        (
            "name: answer-example",
            "name: answer/example",
            "name",
            "'answer/example' cannot name a folder: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 100)",
            "name:",
        ),
    ],
)
def test_checks_across_keys(tmp_path, old, new, path, message, marker):
    text = replace(EXAMPLE, old, new)
    problem = only(problems_of(tmp_path, text), path)
    assert problem.message == message
    assert problem.line == line_of(text, marker)


def test_epidemic_needs_one_input_column(tmp_path):
    text = replace(
        EXAMPLE,
        "  kind: constant\n  value: [1, 2, 3]\n  steps: 20\n",
        "  kind: epidemic\n  population: 1000\n  beta: 0.3\n  gamma: 0.1\n  steps: 50\n",
    )
    problem = only(problems_of(tmp_path, text), "model.input_size")
    assert problem.line == line_of(text, "input_size")
    assert "must be 1 for inputs of kind epidemic" in problem.message


def test_duplicate_key(tmp_path):
    text = EXAMPLE + "root_seed: 4\n"
    problem = only(problems_of(tmp_path, text), "root_seed")
    assert problem.line == line_of(text, "root_seed", 1)
    assert problem.message.startswith(f"duplicate key (also on line {line_of(text, 'root_seed')})")


def test_missing_required_keys(tmp_path):
    problems = problems_of(tmp_path, "name: x\nmodel: {input_size: 2}\n")
    assert {p.path for p in problems} == {"model.hidden_size", "inputs", "conditions"}
    assert only(problems, "model.hidden_size").line == 2  # the line of the mapping missing it
    assert all(p.message == "missing (required)" for p in problems)


def test_every_problem_in_a_file_is_reported(tmp_path):
    text = EXAMPLE
    for old, new in [
        ("  hidden_size: 3\n", "  hidden_size: 3\n  hiden_size: 4\n"),  # unknown key
        ("dtype: float64", "dtype: float16"),  # wrong value
        ("[3,3,3,3,3,3]]", "[3,3,3,3,3,.nan]]"),  # NaN in the weights
        ("{h: [4, 5, 6]", "{h: [4, 5]"),  # wrong length
        ("  steps: 20", "  steps: -5"),  # negative steps
        ("{gates: bernoulli}", "{gates: bernouli}"),  # unknown rule
        ("  every: 1", "  every: 1\n  units: [7]"),  # no such unit
    ]:
        text = replace(text, old, new)
    problems = problems_of(tmp_path, text)
    assert [p.path for p in problems] == [
        "dtype",
        "model.hiden_size",
        "model.weights.W_i[2][5]",
        "initial_state.h",
        "inputs.steps",
        "conditions.stochastic.gates",
        "record.units[0]",
    ]
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert len(str(ConfigError(problems)).splitlines()) == 7


# ---------------------------------------------------------------- overrides


def test_overrides_apply(tmp_path):
    path = write(tmp_path, EXAMPLE)
    config = load_experiment(
        path,
        [
            "seeds=50",
            "conditions.concrete.temperature=0.1",
            "model.weights={init: uniform, seed: 3}",
            "inputs.value[1]=9",
            "record.seeds=[0, 5]",
        ],
    )
    assert config.seed_list() == list(range(50))
    assert config.build_conditions()["concrete"] == Condition("concrete", temperature=0.1)
    assert weights_of(config) == init_uniform(3, 3, seed=3)
    np.testing.assert_array_equal(inputs_of(config)[0], [1, 9, 3])
    assert config.recorded_seeds() == [0, 5]
    assert config.source_text == EXAMPLE  # the file as given


def test_override_inside_a_default_mapping_starts_from_the_default(tmp_path):
    # MINIMAL has no model.weights: the default {init: uniform, seed: 0} is updated
    config = load_experiment(write(tmp_path, MINIMAL), ["model.weights.seed=4"])
    assert config.model.weights.model_dump(exclude_none=True) == {"init": "uniform", "seed": 4}
    assert weights_of(config) == init_uniform(2, 3, seed=4)


def test_override_of_a_path_not_in_the_schema(tmp_path):
    problems = problems_of(tmp_path, EXAMPLE, ["model.hiden_size=4", "conditions.concrete.temp=1"])
    first = only(problems, "model.hiden_size")
    assert first.line is None
    assert first.message == (
        "--set model.hiden_size=4: not a key of the experiment file: unknown key 'hiden_size' "
        "(did you mean hidden_size?); allowed keys: input_size, hidden_size, num_layers, "
        "output_size, readout, weights (in model)"
    )
    assert "unknown key 'temp'" in only(problems, "conditions.concrete.temp").message


def test_missing_weights_file(tmp_path):
    text = replace(MINIMAL, "hidden_size: 3}", "hidden_size: 3, weights: {file: nothere.npz}}")
    problem = only(problems_of(tmp_path, text), "model.weights.file")
    assert problem.line == line_of(text, "nothere.npz")
    assert "nothere.npz" in problem.message


def test_override_with_a_bad_value(tmp_path):
    problems = problems_of(tmp_path, EXAMPLE, ["seeds=abc", "nokey"])
    seeds = only(problems, "seeds")
    assert seeds.line is None and seeds.message.endswith("(from --set seeds=abc)")
    assert only(problems, "").message == "--set nokey: expected key.path=value"


def test_override_new_condition(tmp_path):
    config = load_experiment(write(tmp_path, MINIMAL), ["conditions.threshold.gates=threshold"])
    assert list(config.build_conditions()) == ["deterministic", "concrete", "threshold"]


# ---------------------------------------------------------------- sweeps

SWEEP = (
    MINIMAL
    + """\
sweep:
  conditions.concrete.temperature: [0.1, 1.0]
  model.hidden_size: [2, 3, 8]
"""
)


def test_sweep_points_expand_in_order(tmp_path):
    config = load_experiment(write(tmp_path, SWEEP))
    points = sweep_points(config)
    assert [columns for columns, _ in points] == [
        {"temperature": t, "hidden_size": h} for t in (0.1, 1.0) for h in (2, 3, 8)
    ]
    for columns, point in points:
        assert isinstance(point, ExperimentConfig) and point.sweep is None
        assert point.model.hidden_size == columns["hidden_size"]
        assert point.build_conditions()["concrete"].input == Concrete(columns["temperature"])
        assert weights_of(point).hidden_size == columns["hidden_size"]
    assert config.model.hidden_size == 3  # the base is untouched


def test_no_sweep_is_one_point(tmp_path):
    config = load_experiment(write(tmp_path, MINIMAL))
    assert sweep_points(config) == [({}, config)]


def test_sweep_column_names_when_last_components_collide(tmp_path):
    text = MINIMAL + textwrap.dedent("""\
          warm: {gates: concrete, temperature: 2.0}
        sweep:
          conditions.concrete.temperature: [0.1]
          conditions.warm.temperature: [1.0]
          model.weights.seed: [0, 1]
        """)
    config = load_experiment(write(tmp_path, text))
    assert sweep_columns(config) == {
        "conditions.concrete.temperature": "conditions_concrete_temperature",
        "conditions.warm.temperature": "conditions_warm_temperature",
        "model.weights.seed": "model_weights_seed",  # "seed" is a column of the run's tables
    }
    columns, point = sweep_points(config)[1]
    assert columns == {
        "conditions_concrete_temperature": 0.1,
        "conditions_warm_temperature": 1.0,
        "model_weights_seed": 1,
    }
    assert weights_of(point) == init_uniform(2, 3, seed=1)


def test_sweep_of_an_unknown_path(tmp_path):
    text = MINIMAL + "sweep:\n  model.hiden_size: [2, 3]\n"
    problem = only(problems_of(tmp_path, text), "sweep.model.hiden_size")
    assert problem.line == line_of(text, "hiden_size")
    assert "unknown key 'hiden_size'" in problem.message


def test_sweep_value_errors_point_at_the_sweep(tmp_path):
    text = MINIMAL + "sweep:\n  conditions.concrete.temperature: [0.5, -1]\n"
    problem = only(problems_of(tmp_path, text), "conditions.concrete.temperature")
    assert problem.line == line_of(text, "[0.5, -1]")
    assert problem.message == "must be > 0, got -1 (at sweep point temperature=-1)"


def test_sweep_points_are_checked_across_keys(tmp_path):
    text = replace(
        SWEEP,
        "model: {input_size: 2, hidden_size: 3}",
        "model: {input_size: 2, hidden_size: 3}\ninitial_state: {h: [1, 2, 3]}",
    )
    problems = problems_of(tmp_path, text)
    assert [p.path for p in problems] == ["initial_state.h"] * 2  # hidden_size 2 and 8
    assert problems[0].line == line_of(text, "initial_state")
    assert problems[0].message == (
        "expected 2 values (model.hidden_size), got 3 "
        "(at sweep point temperature=0.1, hidden_size=2)"
    )


def test_sweep_through_a_value_that_is_not_a_mapping(tmp_path):
    text = MINIMAL + "sweep:\n  inputs.value[5]: [1.0]\n"
    problem = only(problems_of(tmp_path, text), "sweep.inputs.value[5]")
    assert problem.line == line_of(text, "inputs.value[5]")
    assert (
        problem.message
        == "cannot set inputs.value[5]: inputs.value is a list of 2, so it has no item [5]"
    )


# ---------------------------------------------------------------- resolved YAML


@pytest.mark.parametrize("text", [EXAMPLE, MINIMAL, SWEEP])
def test_resolved_yaml_round_trips(tmp_path, text):
    config = load_experiment(write(tmp_path, text), ["root_seed=4"])
    resolved = config.to_resolved_yaml()
    again = parse_experiment(resolved)
    assert again == config
    assert again.root_seed == 4 and again.baseline == config.baseline
    assert again.to_resolved_yaml().split("\n", 1)[1] == resolved.split("\n", 1)[1]
    assert [c for c, _ in sweep_points(again)] == [c for c, _ in sweep_points(config)]


def test_equality_ignores_where_a_config_came_from(tmp_path):
    a = load_experiment(write(tmp_path, MINIMAL))
    b = parse_experiment(MINIMAL, base_dir=tmp_path)
    assert a == b and a.source_path is not None and b.source_path is None
    assert a != parse_experiment(MINIMAL, overrides=["root_seed=1"])


def test_resolved_yaml_fills_defaults_and_loads_from_elsewhere(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "cases.csv").write_text("a,b\n1,2\n3,4\n")
    text = replace(
        MINIMAL,
        "{kind: constant, value: [1, 2], steps: 5}",
        "{kind: csv, file: cases.csv, columns: [a, b]}",
    )
    config = load_experiment(write(folder, text))
    resolved = config.to_resolved_yaml()
    for key in (
        "execution:",
        "memory_budget_mb: 512",
        "figure_formats: [png, pdf]",
        "h: zeros",
        "quantities: all",
        "baseline: deterministic",
    ):
        assert key in resolved
    run_dir = tmp_path / "results" / "minimal"
    run_dir.mkdir(parents=True)
    copy = load_experiment(write(run_dir, resolved, "resolved.yaml"))
    assert copy == config
    np.testing.assert_array_equal(inputs_of(copy), inputs_of(config))


# ---------------------------------------------------------------- record.derived


def test_record_derived_auto_adds_the_loss_with_targets(tmp_path):
    text = MINIMAL.replace("hidden_size: 3}", "hidden_size: 3, output_size: 1}") + (
        "targets: {kind: inputs, columns: [0], shift: 1, loss: mse}\n"
    )
    config = load_experiment(write(tmp_path, text))
    assert config.recorded_derived()[-3:] == list(LOSS_QUANTITIES)
    only_c = load_experiment(write(tmp_path, text), ["record.quantities=[c]"])
    assert only_c.recorded_derived() == ["dev_c", "div_c", *LOSS_QUANTITIES]


def test_record_derived_auto_all_none_or_a_list(tmp_path):
    config = load_experiment(write(tmp_path, MINIMAL))
    assert config.record.derived == "auto"
    # every cell quantity recorded: every derived quantity but the loss, which needs targets
    assert config.recorded_derived() == [q for q in DERIVED_QUANTITIES if q not in LOSS_QUANTITIES]
    assert "derived: auto" in config.to_resolved_yaml()
    every = load_experiment(write(tmp_path, MINIMAL), ["record.derived=all"])
    assert every.recorded_derived() == list(DERIVED_QUANTITIES)
    none = load_experiment(write(tmp_path, MINIMAL), ["record.derived=none"])
    assert none.recorded_derived() == []
    text = MINIMAL + "record:\n  derived: [sat_o, dev_c, div_h]\n"
    chosen = load_experiment(write(tmp_path, text))
    assert chosen.recorded_derived() == ["dev_c", "div_h", "sat_o"]  # in the summary's order
    assert parse_experiment(chosen.to_resolved_yaml()) == chosen


@pytest.mark.parametrize(
    "quantities,derived",
    [
        ("[c, h]", ["dev_c", "dev_h", "div_c", "div_h"]),
        ("[h]", ["dev_h", "div_h"]),
        ("[p_f, f, c]", ["dev_c", "div_c", "retention", "retention_theory", "sat_f", "flip_f"]),
        ("[i, p_o]", ["sat_o"]),  # flip_i needs p_i too, flip_o needs o
        ("[g]", []),
    ],
)
def test_record_derived_auto_keeps_those_formed_from_recorded_quantities(
    tmp_path, quantities, derived
):
    config = load_experiment(write(tmp_path, MINIMAL), [f"record.quantities={quantities}"])
    assert config.recorded_derived() == derived


@pytest.mark.parametrize(
    "value,path,message",
    [
        (
            "[dev_c, flip]",
            "record.derived[1]",
            "unknown derived quantity 'flip'; expected one of: dev_c, dev_h, div_c, div_h, "
            "retention, retention_theory, sat_i, sat_f, sat_o, flip_i, flip_f, flip_o, "
            "loss, loss_window, dev_loss_window",
        ),
        ("[sat_i, sat_i]", "record.derived", "listed more than once: sat_i"),
        ("some", "record.derived", "expected 'auto', 'all' or 'none', got the string 'some'"),
        ("[]", "record.derived", "expected at least 1 item(s), got 0"),
    ],
)
def test_bad_record_derived_names_the_quantity(tmp_path, value, path, message):
    text = MINIMAL + f"record:\n  seeds: 2\n  derived: {value}\n"
    problem = only(problems_of(tmp_path, text), path)
    assert problem.message == message
    assert problem.line == line_of(text, "derived:")


# ---------------------------------------------------------------- input that must be refused


def test_an_alias_bomb_in_the_weights_is_one_short_line_at_its_alias(tmp_path):
    """Nine levels of nine aliases stand for 9**9 numbers (hours, and an error
    line of hundreds of megabytes, before the aliases were bounded)."""
    levels = [f"a0: &a0 [{', '.join(['1'] * 9)}]"]
    levels += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 9)]
    text = replace(MINIMAL, "model: {input_size: 2, hidden_size: 3}\n", "")
    text += "model:\n  input_size: 2\n  hidden_size: 3\n  weights:\n"
    text += "".join(f"    {level}\n" for level in levels)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as error:
        load_experiment(write(tmp_path, text))
    assert time.perf_counter() - start < 1.0
    (problem,) = error.value.problems
    assert problem.line == line_of(text, "a5: &a5")
    assert problem.path == "model.weights.a5[0]"
    assert problem.message == (
        "the aliases up to *a4 stand for more than 100,000 values; write such data out, or in a file"
    )


def test_small_aliases_are_copies_that_overrides_change_one_at_a_time(tmp_path):
    text = replace(EXAMPLE, "{h: [4, 5, 6], c: [0, 0, 0]}", "{h: &v [4, 5, 6], c: *v}")
    config = load_experiment(write(tmp_path, text), ["initial_state.h[0]=9"])
    assert config.initial_state.h == [9, 5, 6] and config.initial_state.c == [4, 5, 6]


@pytest.mark.parametrize("where", ["file", "--set"])
def test_base_60_numbers_are_strings(tmp_path, where):
    """YAML 1.1 reads 1:20 as 80; the YAML 1.2 core schema as a string."""
    text, overrides = (
        (MINIMAL + "seeds: 1:20\n", []) if where == "file" else (MINIMAL, ["seeds=1:20"])
    )
    problem = only(problems_of(tmp_path, text, overrides), "seeds")
    assert "got the string '1:20'" in problem.message


def test_a_leading_zero_is_decimal(tmp_path):
    """YAML 1.1 reads 010 as the octal 8."""
    config = load_experiment(write(tmp_path, MINIMAL + "seeds: [007, 010]\n"))
    assert config.seed_list() == [7, 10]


SEED_LIMIT = "below 2**63 = 9223372036854775808 (the tables store 64-bit integers)"


@pytest.mark.parametrize(
    "seeds,record,path,message",
    [
        (
            "1000000000000000000000000",
            "",
            "seeds",
            "expected at most 2**63 seeds, as a seed must be",
        ),
        ("[3, 9223372036854775808]", "", "seeds[1]", "a seed must be"),
        ("{start: 1000000000000000000000000, count: 2}", "", "seeds.start", "a seed must be"),
        (
            "{start: 9223372036854775807, count: 2}",
            "",
            "seeds.count",
            "the last seed, start + count - 1 = 9223372036854775808, must be",
        ),
        ("3", "record: {seeds: [9223372036854775808]}\n", "record.seeds[0]", "a seed must be"),
        (f"[{'9' * 900}]", "", "seeds[0]", "a seed must be"),
    ],
)
def test_seeds_are_below_2_63(tmp_path, seeds, record, path, message):
    text = MINIMAL + f"seeds: {seeds}\n" + record
    problem = only(problems_of(tmp_path, text), path)
    assert problem.message.startswith(message) and SEED_LIMIT in problem.message
    assert len(problem.message) < 200  # "got an integer of 900 digits"
    assert problem.line == line_of(text, "seeds:", -1)


@pytest.mark.parametrize(
    "seeds,first",
    [("{start: 9223372036854775807, count: 1}", 2**63 - 1), ("[9223372036854775807]", 2**63 - 1)],
)
def test_the_largest_seed_runs_through_the_plan(tmp_path, seeds, first):
    plan = plan_run(load_experiment(write(tmp_path, MINIMAL + f"seeds: {seeds}\n")))
    assert plan.seeds == (first,)


@pytest.mark.parametrize(
    "content,message",
    [
        (
            "a,b\n1,2,3\n4,5,6\n",
            "data.csv: line 2 has 3 fields but the header has 2 (and 1 more rows)",
        ),
        (
            "a,b\n1,2,3,4\n3\n",
            "data.csv: line 2 has 4 fields but the header has 2 (and 1 more rows)",
        ),
        ("a,b\n1,2\n\n3,4\n", "data.csv: line 3 is blank; blank lines are allowed only at the end"),
        ("", "data.csv: is empty; expected a header row"),
    ],
)
def test_a_malformed_csv_is_one_line_naming_the_file_and_its_line(tmp_path, content, message):
    (tmp_path / "data.csv").write_text(content)
    text = replace(
        MINIMAL,
        "{kind: constant, value: [1, 2], steps: 5}",
        "{kind: csv, file: data.csv, columns: [a, b]}",
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem.path == "inputs.file" and problem.line == line_of(text, "data.csv")
    assert problem.message.startswith(message)
    assert "\n" not in str(problem)


def test_the_shared_range_and_population_checks_name_their_field(tmp_path):
    (tmp_path / "s.csv").write_text("x\n1\n2\n3\n")
    text = (
        "name: a\nmodel: {input_size: 1, hidden_size: 2, output_size: 1}\n"
        "inputs: {kind: csv, file: s.csv, columns: [x], start: 2, stop: 1}\n"
        "targets: {kind: csv, columns: [x], start: 2, stop: 2, loss: mse}\n"
        "conditions: {deterministic: {}}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_experiment(write(tmp_path, text))
    assert "inputs.stop: must be greater than start (2), got 1" in str(error.value)
    assert "targets.stop: must be greater than start (2), got 2" in str(error.value)
    text = MINIMAL.replace(
        "inputs: {kind: constant, value: [1, 2], steps: 5}",
        "inputs: {kind: epidemic, population: 10, infected: 11, beta: 0.3, gamma: 0.1, steps: 5}",
    ).replace("input_size: 2", "input_size: 1")
    with pytest.raises(
        ConfigError, match=r"inputs\.infected: must be at most the population \(10\), got 11"
    ):
        load_experiment(write(tmp_path, text))
