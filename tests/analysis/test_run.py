"""Reading run directories back: the typed config, the tables, and the errors."""

import json

import numpy as np
import pandas as pd
import pytest

from stochlstm import Condition
from stochlstm.analysis.pipeline import analyze
from stochlstm.analysis.run import Run, RunError, load_run
from stochlstm.experiment.schema import ExperimentConfig
from tests.summary_reference import copy_run, small_run

# ---------------------------------------------------------------- load_run


def test_load_run_reads_config_and_manifest_and_tables_lazily(run_dir):
    run = load_run(run_dir)
    assert isinstance(run, Run)
    assert (run.name, run.status, run.baseline) == ("small", "complete", "deterministic")
    assert isinstance(run.config, ExperimentConfig) and run.config.model.hidden_size == 3
    assert run.config.build_conditions()["bernoulli"] == Condition("bernoulli")
    assert run.sweep_columns == []
    assert "summary" not in run.__dict__ and "trajectories" not in run.__dict__
    summary = run.summary
    assert list(summary.columns) == [
        "condition",
        "quantity",
        "t",
        "unit",
        "n",
        "mean",
        "sd",
        "se",
        "ci_low",
        "ci_high",
        "min",
        "max",
    ]
    assert summary["t"].dtype == np.int64 and summary["n"].dtype == np.int64
    assert list(pd.unique(run.trajectories["seed"])) == [0, 1, 2, 3, 4]
    assert not (run_dir / "metrics.csv").exists()
    metrics = run.metrics  # computed, not written
    assert not (run_dir / "metrics.csv").exists()
    assert len(metrics) > 0


def test_load_run_prefers_parquet_trajectories(tmp_path):
    pytest.importorskip("pyarrow")
    run_dir = small_run(
        tmp_path / "run", seeds=10, hidden_size=2, steps=5, trajectories_format="parquet"
    )
    assert not (run_dir / "trajectories.csv").exists()
    run = load_run(run_dir)
    assert len(run.trajectories) == 3 * 5 * 5 * 2  # conditions x seeds x steps x units


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing", "no such directory"),
        ("empty", r"not a run directory \(no manifest.json\)"),
        ("bad-json", "manifest.json: not valid JSON"),
        ("no-summary", "no summary.csv"),
        ("running", r"the run is not complete \(status: running\); finish it with .*--resume"),
    ],
)
def test_load_run_errors_name_the_folder_and_the_problem(tmp_path, run_dir, problem, message):
    target = tmp_path / problem
    if problem == "empty":
        target.mkdir()
    elif problem != "missing":
        copy_run(run_dir, target)
    if problem == "bad-json":
        (target / "manifest.json").write_text("{status: complete", encoding="utf-8")
    if problem == "no-summary":
        (target / "summary.csv").unlink()
    if problem == "running":
        (target / "manifest.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    with pytest.raises(RunError, match=message) as error:
        load_run(target)
    assert str(target) in str(error.value) and "\n" not in str(error.value)


def test_an_incomplete_run_can_be_analysed_when_asked(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "partial")
    (target / "manifest.json").write_text(json.dumps({"status": "interrupted"}), encoding="utf-8")
    with pytest.raises(RunError):
        analyze(target)
    metrics = analyze(target, allow_incomplete=True)
    assert (target / "metrics.csv").exists() and len(metrics)
    assert load_run(target, allow_incomplete=True).status == "interrupted"


def test_an_empty_trajectories_file_means_no_sample_paths(tmp_path, run_dir):
    target = copy_run(run_dir, tmp_path / "no-paths")
    pd.DataFrame().to_csv(target / "trajectories.csv", index=False)
    assert load_run(target).trajectories is None
