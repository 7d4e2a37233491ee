"""write_tables: the CSV files read back with pandas to exactly the tables
their parts make as DataFrames, values and dtypes."""

import pandas as pd

from stochlstm.experiment.load import load_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.run import run_task
from stochlstm.experiment.tables import (
    Accumulator,
    summary_parts,
    trajectories_frame,
    write_tables,
)

# Float and integer sweep columns, a readout of one output in some points and
# two in others (columns y, y_0, y_1), and initial-state rows (NaN, -0.0).
EXPERIMENT = """\
name: tables
seeds: 300
root_seed: 2
model:
  input_size: 2
  hidden_size: 3
  output_size: 1
  weights: {init: uniform, seed: 1}
initial_state: {c: [0.5, -0.0, 1.0], h: [0.0, 0.25, -1.5]}
inputs: {kind: sine, period: 8, steps: 12}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
  concrete: {gates: concrete, temperature: 0.5}
sweep:
  conditions.concrete.temperature: [0.03, 1.0]
  model.output_size: [1, 2]
record: {seeds: 3, initial_state: true}
output: {figures: false}
"""


def test_written_tables_read_back_exactly_as_the_frames(tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(EXPERIMENT)
    plan = plan_run(load_experiment(path))
    accumulator = Accumulator()
    for task in plan.tasks:
        accumulator.fold(task, run_task(plan.points[task.point], task.seeds))
    outputs = write_tables(tmp_path, plan, accumulator)

    summary = pd.concat(map(pd.DataFrame, summary_parts(plan, accumulator)), ignore_index=True)
    trajectories = trajectories_frame(plan, accumulator)
    assert {"y", "y_0", "y_1"} <= set(trajectories.columns)
    assert trajectories["c"].isna().sum() == 0 and trajectories["p_i"].isna().any()
    assert outputs["summary.csv"][1] == len(summary)
    assert outputs["trajectories.csv"][1] == len(trajectories)
    read = pd.read_csv(tmp_path / "summary.csv")
    pd.testing.assert_frame_equal(read, summary, check_exact=True)
    read = pd.read_csv(tmp_path / "trajectories.csv")
    pd.testing.assert_frame_equal(read, trajectories, check_exact=True)
    initial_c = read.loc[read["t"] == -1, "c"].to_numpy()
    assert str(initial_c[1]) == "-0.0"  # the sign of zero survives
