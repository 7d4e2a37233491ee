"""Executors do not change any output: local, processes, and a Dask local cluster."""

import pytest

from stochlstm import run_experiment
from stochlstm.experiment.executors import make_executor

EXPERIMENT = """\
name: sweep
seeds: {count: 700, start: 100}
model: {input_size: 2, hidden_size: 4, weights: {init: uniform, seed: 2}}
inputs: {kind: gaussian, steps: 15, seed: 4, per_seed: true}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
  concrete: {gates: concrete, temperature: 0.3}
sweep:
  model.hidden_size: [2, 4]
record: {seeds: 3}
output: {figures: false}
execution: {batch_size: 256}
"""


def outputs(run_dir):
    return {name: (run_dir / name).read_bytes() for name in ("summary.csv", "trajectories.csv")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("executors")
    experiment = tmp / "sweep.yaml"
    experiment.write_text(EXPERIMENT)
    return experiment, outputs(run_experiment(experiment, out=tmp / "local").path)


def test_processes_equal_local(local_run, tmp_path):
    experiment, reference = local_run
    outcome = run_experiment(experiment, out=tmp_path, jobs=2, executor="processes")
    assert outputs(outcome.path) == reference


def test_dask_local_cluster_equals_local(local_run, tmp_path):
    pytest.importorskip("dask.distributed")
    experiment, reference = local_run
    outcome = run_experiment(experiment, out=tmp_path, jobs=2, executor="dask")
    assert outputs(outcome.path) == reference


def test_dask_scheduler_address(local_run, tmp_path):
    """Connecting to a running scheduler by address gives the same files."""
    distributed = pytest.importorskip("dask.distributed")
    experiment, reference = local_run
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=40
    ) as cluster:
        outcome = run_experiment(
            experiment, out=tmp_path, jobs=1, executor=cluster.scheduler_address
        )
    assert outputs(outcome.path) == reference


def test_unknown_executor_is_named():
    with pytest.raises(
        ValueError, match="unknown executor 'spark'; expected one of: local, processes, dask"
    ):
        make_executor("spark", 2)
