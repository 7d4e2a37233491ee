"""The plan: a sweep validated once per combination of linked keys gives the
points, and the problems, that validating every point does; large sweeps are
described in a few lines; the memory of every phase is estimated from the
config and what cannot fit is refused before anything is built."""

import copy
import itertools
import textwrap

import pytest

from stochlstm.experiment import sweep as sweeps
from stochlstm.experiment import validation
from stochlstm.experiment.load import load_experiment, parse_experiment, sweep_points
from stochlstm.experiment.memory import recorded_cells
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.problems import ConfigError, split_path
from stochlstm.experiment.run import run_simulation

BASE = """\
name: sweep
seeds: 4
model: {input_size: 2, hidden_size: 3, weights: {init: uniform, seed: 1}}
initial_state: {h: [0.1, 0.2, 0.3]}
inputs: {kind: sine, amplitude: 1.5, period: [12, 20], steps: 6}
conditions:
  deterministic: {}
  concrete: {gates: concrete, temperature: 0.5}
record: {seeds: 1}
"""


def reference_points(config):
    """Every sweep point validated whole, one by one (the plain definition)."""
    base = config.model_dump(mode="json", exclude_none=True)
    base.pop("sweep")
    paths, columns = list(config.sweep), sweeps.sweep_columns(config)
    points, problems, seen = [], [], set()
    for choice in itertools.product(*(range(len(config.sweep[p])) for p in paths)):
        raw, values = copy.deepcopy(base), {}
        for path, index in zip(paths, choice, strict=True):
            validation.set_path(raw, split_path(path), copy.deepcopy(config.sweep[path][index]))
            values[columns[path]] = config.sweep[path][index]
        source = sweeps._point_source(config._source, config, list(choice))
        point, found = validation.validate_tree(raw, source)
        for problem in found:
            key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
            if key not in seen:
                seen.add(key)
                problems.append(problem)
        if point is not None:
            points.append((values, point))
    return points, sorted(problems, key=lambda p: (p.line is None, p.line or 0))


SWEEPS = {
    "across groups": """\
        conditions.concrete.temperature: [0.1, 1.0, 3.0]
        model.weights.seed: [0, 1]
        root_seed: [0, 5]
    """,
    "within a group": """\
        model.weights.seed: [0, 1, 2]
        inputs.steps: [4, 7]
        conditions.concrete.zoneout.c: [0.0, 0.5]
    """,
    "interleaved": """\
        inputs.steps: [4, 7]
        conditions.concrete.temperature: [0.1, 1.0]
        model.weights.seed: [0, 1]
    """,
}


@pytest.mark.parametrize("sweep", SWEEPS.values(), ids=SWEEPS)
def test_sweep_points_equal_validating_every_point(sweep):
    config = parse_experiment(BASE + "sweep:\n" + textwrap.indent(textwrap.dedent(sweep), "  "))
    expected, problems = reference_points(config)
    points = sweep_points(config)
    assert not problems and len(points) == len(expected)
    for (columns, point), (want_columns, want) in zip(points, expected, strict=True):
        assert columns == want_columns
        assert point == want and point.sweep is None


def test_sweep_problems_equal_validating_every_point():
    sweep = """\
        conditions.concrete.temperature: [0.5, -1, 2]
        model.hidden_size: [3, 2, 8]
        model.weights.seed: [0, 1]
    """
    text = BASE + "sweep:\n" + textwrap.indent(textwrap.dedent(sweep), "  ")
    with pytest.raises(ConfigError) as error:
        parse_experiment(text)
    config = parse_experiment(text.replace("[0.5, -1, 2]", "[0.5]").replace("[3, 2, 8]", "[3]"))
    config_sweep = dict(config.sweep)
    config_sweep.update(
        {"conditions.concrete.temperature": [0.5, -1, 2], "model.hidden_size": [3, 2, 8]}
    )
    object.__setattr__(config, "sweep", config_sweep)
    config._source.points = None
    _, expected = reference_points(config)
    assert [str(p) for p in error.value.problems] == [str(p) for p in expected]
    assert "(at sweep point temperature=-1, hidden_size=3, model_weights_seed=0)" in str(
        error.value
    )
    assert "(at sweep point temperature=0.5, hidden_size=2, model_weights_seed=0)" in str(
        error.value
    )


def test_plan_of_a_sweep_builds_each_point_as_its_config_says():
    sweep = SWEEPS["interleaved"]
    config = parse_experiment(BASE + "sweep:\n" + textwrap.indent(textwrap.dedent(sweep), "  "))
    plan = plan_run(config)
    assert len(plan.points) == 8 and len(plan.tasks) == 8
    for (columns, point_config), point in zip(sweep_points(config), plan.points, strict=True):
        assert point.columns == columns
        assert point.n_steps == point_config.inputs.steps
        concrete = point.conditions["concrete"].input
        assert concrete.temperature == point_config.conditions["concrete"].temperature
        assert (
            point.weights.weight_hh.tolist()
            == plan_run(point_config).points[0].weights.weight_hh.tolist()
        )


def test_a_large_sweep_is_described_in_a_few_lines():
    values = [round(0.01 * (k + 1), 2) for k in range(200)]
    sweep = f"  conditions.concrete.temperature: {values}\n  model.weights.seed: [0, 1, 2, 3, 4]\n"
    plan = plan_run(parse_experiment(BASE + "sweep:\n" + sweep))
    lines = plan.describe().splitlines()
    assert len(plan.points) == 1000 and len(lines) == 9
    assert lines[2].startswith("  point 0: temperature=0.01, model_weights_seed=0;")
    assert lines[5] == "  ... 994 more point(s) ..."
    assert lines[-1].startswith("  point 999: temperature=2.0, model_weights_seed=4;")


# ---------------------------------------------------------------- memory


def test_recorded_cells_count_the_summary_rows(tmp_path):
    text = BASE.replace(
        "record: {seeds: 1}", "record: {seeds: 1, quantities: [c, h, i], derived: none, every: 2}"
    )
    (tmp_path / "e.yaml").write_text(text)
    config = load_experiment(tmp_path / "e.yaml")
    cells, conditions, quantities, steps, units = recorded_cells(config, config, 6)
    assert (conditions, quantities, steps, units) == (2, 3, 4, 3)  # steps 0, 2, 4 and 5
    outcome = run_simulation(tmp_path / "e.yaml", out=tmp_path / "runs")
    assert outcome.manifest["rows"]["summary.csv"] == cells == 2 * 3 * 4 * 3


def test_an_absurd_model_is_refused_before_anything_is_built():
    text = BASE.replace("hidden_size: 3", "hidden_size: 10000000").replace(
        "initial_state: {h: [0.1, 0.2, 0.3]}\n", ""
    )
    with pytest.raises(ConfigError) as error:
        plan_run(parse_experiment(text, file="big.yaml"))
    (problem,) = error.value.problems
    assert problem.path == "execution.memory_budget_mb"
    assert "(weights " in problem.message and "hidden_size" in problem.message
    assert problem.message.endswith("or raise memory_budget_mb")


def test_statistics_over_the_budget_are_refused_naming_their_shape():
    text = BASE.replace("hidden_size: 3", "hidden_size: 24").replace(
        "initial_state: {h: [0.1, 0.2, 0.3]}\n", ""
    )
    text = text.replace("steps: 6", "steps: 30000") + "execution: {memory_budget_mb: 64}\n"
    with pytest.raises(ConfigError) as error:
        plan_run(parse_experiment(text, file="long.yaml"))
    message = error.value.problems[0].message
    assert message.startswith("the run needs about ")
    # the largest part: a block of 256 seeds holds its statistics of every cell twice
    assert "(seeds in flight " in message
    assert "256 seeds at once, with block statistics of 2 conditions x 18 quantities x" in message
    assert "30000 steps x 24 units" in message
    assert "record fewer steps (record.every)" in message


def test_the_batch_fits_what_the_run_long_parts_leave():
    text = BASE + "seeds: 100000\n"
    text = text.replace("seeds: 4\n", "")
    small = plan_run(parse_experiment(text + "execution: {memory_budget_mb: 8}\n"))
    large = plan_run(parse_experiment(text + "execution: {memory_budget_mb: 512}\n"))
    assert small.batch_size < large.batch_size
    for plan in (small, large):
        assert plan.memory.peak <= plan.memory.budget


def test_every_layer_counts_in_the_memory_estimate():
    """A layer above the first holds (4H, H) input weights: at hidden 64 and input 2,
    three layers hold 4.8 times the weights of one (which the estimate would miss
    if it counted one layer), and a seed in flight runs a kernel per layer."""
    text = BASE.replace("hidden_size: 3", "hidden_size: 64").replace(
        "initial_state: {h: [0.1, 0.2, 0.3]}\n", ""
    )
    shallow = plan_run(parse_experiment(text)).memory
    deep = plan_run(
        parse_experiment(text.replace("hidden_size: 64", "hidden_size: 64, num_layers: 3"))
    ).memory
    assert deep.parts["weights"] > 4.5 * shallow.parts["weights"]
    assert deep.batch > shallow.batch
