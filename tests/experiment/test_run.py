"""run_experiment: reproducible, batch- and executor-independent, resumable,
never overwriting, and its streaming summary equal to the full-array one."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from stochlstm import run_experiment
from stochlstm.core.names import DERIVED_QUANTITIES, LOSS_QUANTITIES
from stochlstm.engine import recorder
from stochlstm.engine.simulate import simulate
from stochlstm.experiment import run as runner
from stochlstm.experiment.load import load_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.problems import ConfigError
from stochlstm.experiment.run import RunInterrupted
from stochlstm.experiment.rundir import RunDirectoryError

EXPERIMENT = """\
name: tiny
seeds: 600
root_seed: 3
dtype: {dtype}
model:
  input_size: 2
  hidden_size: 3
  weights: {{init: uniform, seed: 1}}
inputs: {{kind: sine, period: 8, steps: 12}}
conditions:
  deterministic: {{}}
  stochastic: {{gates: bernoulli}}
  zoneout: {{zoneout: {{c: 0.2, h: 0.1}}}}
record: {{seeds: 3, every: 1}}
output: {{figures: false}}
execution: {{batch_size: {batch}}}
"""


def write(tmp_path, dtype="float64", batch=256, name="experiment.yaml", extra=""):
    path = tmp_path / name
    path.write_text(EXPERIMENT.format(dtype=dtype, batch=batch) + extra)
    return path


def read_outputs(run_dir):
    return {name: (run_dir / name).read_bytes() for name in ("summary.csv", "trajectories.csv")}


def test_same_experiment_twice_gives_identical_files(tmp_path):
    experiment = write(tmp_path)
    first = run_experiment(experiment, out=tmp_path / "a")
    second = run_experiment(experiment, out=tmp_path / "b")
    assert first.status == second.status == "complete"
    assert read_outputs(first.path) == read_outputs(second.path)
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert (
        manifest["rows"]["trajectories.csv"] == 3 * 3 * 12 * 3
    )  # conditions x seeds x steps x units
    assert manifest["checksums"]["summary.csv"] == second.manifest["checksums"]["summary.csv"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_size_and_jobs_do_not_change_any_output(tmp_path, dtype):
    experiment = write(tmp_path, dtype=dtype, batch=256)
    reference = read_outputs(run_experiment(experiment, out=tmp_path / "ref").path)
    wide = write(tmp_path, dtype=dtype, batch=1024, name="wide.yaml")
    assert read_outputs(run_experiment(wide, out=tmp_path / "wide").path) == reference
    two_jobs = run_experiment(experiment, out=tmp_path / "jobs", jobs=2)
    assert read_outputs(two_jobs.path) == reference


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_threads_do_not_change_any_output(tmp_path, dtype):
    """One batch of 600 seeds in 1, 2 or 3 threads (groups of 256, 256, 88),
    with recorded seeds in every group, gives the same files."""
    experiment = write(tmp_path, dtype=dtype, batch=1024)
    record = ["record.seeds=[599, 0, 300, 1]"]
    outputs = [
        read_outputs(
            run_experiment(
                experiment, out=tmp_path / str(threads), overrides=record, threads=threads
            ).path
        )
        for threads in (1, 2, 3)
    ]
    assert outputs[0] == outputs[1] == outputs[2]
    trajectories = pd.read_csv(tmp_path / "3" / "tiny" / "trajectories.csv")
    assert sorted(trajectories["seed"].unique()) == [0, 1, 300, 599]
    manifest = json.loads((tmp_path / "3" / "tiny" / "manifest.json").read_text())
    assert manifest["threads"] == 3


def test_a_failing_group_stops_the_task_with_its_own_error(tmp_path, monkeypatch):
    """An error in one thread's group is the error the run reports (not the
    cancellation it sets off in the other groups), and nothing is written."""
    experiment = write(tmp_path, batch=1024)
    original = recorder.BatchRecorder.__call__

    def fail_in_second_group(self, index, t, values):
        if self.seeds[0] == 256 and t == 5:
            raise FloatingPointError("boom in the second group")
        return original(self, index, t, values)

    monkeypatch.setattr(recorder.BatchRecorder, "__call__", fail_in_second_group)
    with pytest.raises(FloatingPointError, match="second group"):
        run_experiment(experiment, out=tmp_path, threads=3)
    assert not (tmp_path / "tiny" / "summary.csv").exists()


@pytest.mark.parametrize("units", ["all", "[2, 0]"])
def test_stacked_statistics_give_the_same_bits(tmp_path, monkeypatch, units):
    """Small batches compute the statistics of a step's quantities stacked, wide
    ones each on its own: every row comes out the same either way."""
    outputs = []
    for stack_bytes, batch in [(0, 256), (1 << 30, 1024)]:
        monkeypatch.setattr(recorder, "STACK_BYTES", stack_bytes)
        experiment = write(tmp_path, dtype="float32", batch=batch, name=f"b{batch}.yaml")
        run = run_experiment(
            experiment, out=tmp_path / str(batch), overrides=[f"record.units={units}"]
        )
        outputs.append(read_outputs(run.path))
    assert outputs[0] == outputs[1]


def test_streaming_summary_equals_statistics_of_all_seeds(tmp_path):
    experiment = write(tmp_path)
    outcome = run_experiment(experiment, out=tmp_path)
    summary = pd.read_csv(outcome.path / "summary.csv")
    config = load_experiment(experiment)
    point = plan_run(config).points[0]
    sim = simulate(
        point.weights,
        point.shared_inputs,
        config.build_conditions(),
        config.seed_list(),
        root_seed=3,
    )
    for condition in ("stochastic", "zoneout"):
        for quantity in ("c", "h", "f"):
            values = sim[condition][quantity]  # (T, B, H)
            rows = summary.query("condition == @condition and quantity == @quantity").sort_values(
                ["t", "unit"]
            )
            np.testing.assert_allclose(
                rows["mean"], values.mean(axis=1).ravel(), rtol=1e-12, atol=1e-15
            )
            np.testing.assert_allclose(
                rows["sd"], values.std(axis=1, ddof=1).ravel(), rtol=1e-10, atol=1e-13
            )
            np.testing.assert_array_equal(rows["min"], values.min(axis=1).ravel())
            np.testing.assert_array_equal(rows["max"], values.max(axis=1).ravel())
            assert (rows["n"] == 600).all()
        # derived: deviation from the deterministic path and its RMS over units
        dev = sim[condition]["h"] - sim["deterministic"]["h"]
        rows = summary.query("condition == @condition and quantity == 'dev_h'").sort_values(
            ["t", "unit"]
        )
        np.testing.assert_allclose(rows["mean"], dev.mean(axis=1).ravel(), rtol=1e-10, atol=1e-15)
        rows = summary.query("condition == @condition and quantity == 'div_h'").sort_values("t")
        np.testing.assert_allclose(
            rows["mean"], np.sqrt((dev**2).mean(axis=2)).mean(axis=1), rtol=1e-10
        )
        assert (rows["unit"] == -1).all()
    # retention of the deterministic cell is the product of forget probabilities
    forget = sim["deterministic"]["p_f"][:, 0, :]
    rows = summary.query("condition == 'deterministic' and quantity == 'retention'").sort_values(
        ["t", "unit"]
    )
    np.testing.assert_allclose(rows["mean"], np.cumprod(forget, axis=0).ravel(), rtol=1e-12)


def test_trajectories_hold_the_recorded_seeds(tmp_path):
    outcome = run_experiment(write(tmp_path), out=tmp_path)
    frame = pd.read_csv(outcome.path / "trajectories.csv")
    assert list(frame.columns) == [
        "condition",
        "seed",
        "t",
        "unit",
        "p_i",
        "i",
        "p_f",
        "f",
        "g",
        "p_o",
        "o",
        "c",
        "h",
    ]
    assert sorted(frame["seed"].unique()) == [0, 1, 2]
    config = load_experiment(write(tmp_path))
    point = plan_run(config).points[0]
    sim = simulate(point.weights, point.shared_inputs, config.build_conditions(), [1], root_seed=3)
    rows = frame.query("condition == 'stochastic' and seed == 1").sort_values(["t", "unit"])
    np.testing.assert_array_equal(rows["c"], sim["stochastic"]["c"][:, 0, :].ravel())


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    experiment = write(tmp_path)
    reference = read_outputs(run_experiment(experiment, out=tmp_path / "ref").path)
    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", 0.0)

    def stop_after_one_task(event):
        if event.tasks_done == 1:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="--resume"):
        run_experiment(experiment, out=tmp_path / "run", progress=stop_after_one_task)
    run_dir = tmp_path / "run" / "tiny"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert not (run_dir / "summary.csv").exists()
    with pytest.raises(RunDirectoryError, match="interrupted run; pass --resume"):
        run_experiment(experiment, out=tmp_path / "run")
    resumed = run_experiment(experiment, out=tmp_path / "run", resume=True)
    assert resumed.status == "complete"
    assert resumed.manifest["attempts"] == 2
    assert read_outputs(run_dir) == reference


def test_complete_run_is_not_overwritten_without_force(tmp_path):
    experiment = write(tmp_path)
    outcome = run_experiment(experiment, out=tmp_path)
    before = read_outputs(outcome.path)
    with pytest.raises(RunDirectoryError, match="already holds a complete run.*--force"):
        run_experiment(experiment, out=tmp_path, overrides=["seeds=300"])
    assert read_outputs(outcome.path) == before
    replaced = run_experiment(experiment, out=tmp_path, overrides=["seeds=300"], force=True)
    assert replaced.manifest["seeds"]["count"] == 300
    assert read_outputs(outcome.path) != before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".tiny")]
    assert leftovers == [".tiny.lock"]  # the lock file stays; no replacement is left


def test_bad_experiment_leaves_an_existing_run_untouched(tmp_path):
    experiment = write(tmp_path)
    outcome = run_experiment(experiment, out=tmp_path)
    before = {p.name: p.read_bytes() for p in outcome.path.iterdir() if p.is_file()}
    broken = write(tmp_path, name="broken.yaml", extra="unknown_key: 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        run_experiment(broken, out=tmp_path, force=True)
    assert {p.name: p.read_bytes() for p in outcome.path.iterdir() if p.is_file()} == before


def test_resume_refuses_a_changed_experiment(tmp_path, monkeypatch):
    experiment = write(tmp_path)
    with pytest.raises(RunInterrupted):
        run_experiment(
            experiment,
            out=tmp_path,
            progress=lambda event: (
                (_ for _ in ()).throw(KeyboardInterrupt) if event.tasks_done == 1 else None
            ),
        )
    with pytest.raises(RunDirectoryError, match="differs from the one this run started with"):
        run_experiment(experiment, out=tmp_path, resume=True, overrides=["root_seed=4"])


def test_sweep_values_become_columns(tmp_path):
    experiment = write(
        tmp_path, extra="sweep:\n  conditions.stochastic.gates: [bernoulli, threshold]\n"
    )
    outcome = run_experiment(experiment, out=tmp_path, overrides=["seeds=50"])
    summary = pd.read_csv(outcome.path / "summary.csv")
    assert list(summary.columns[:2]) == ["gates", "condition"]
    assert set(summary["gates"]) == {"bernoulli", "threshold"}
    flips = summary.query(
        "gates == 'threshold' and quantity == 'flip_i' and condition == 'stochastic'"
    )
    assert (flips["mean"] == 0).all()  # threshold gates always agree with rounding


MIXED = """\
name: mixed
seeds: 600
root_seed: 5
model:
  input_size: 2
  hidden_size: 4
  weights: {init: uniform, seed: 2}
inputs: {kind: gaussian, steps: 9, seed: 3}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
  erase: {gates: bernoulli, forget_semantics: erase}
  threshold: {input: threshold, forget: threshold, output: bernoulli}
  concrete: {gates: concrete, temperature: 0.4}
  zoneout: {zoneout: {c: 0.3, h: 0.2}}
record: {seeds: 2}
output: {figures: false}
execution: {batch_size: 512}
"""


def test_every_summary_row_equals_the_full_array_reference(tmp_path):
    """Cell quantities, and derived ones on both the one-pass (0/1 values) and the
    two-pass paths, against plain numpy over all seeds (tests/summary_reference.py)."""
    from tests.summary_reference import summary_frame as reference_summary

    experiment = tmp_path / "mixed.yaml"
    experiment.write_text(MIXED)
    outcome = run_experiment(experiment, out=tmp_path)
    summary = pd.read_csv(outcome.path / "summary.csv")
    config = load_experiment(experiment)
    conditions = config.build_conditions()
    point = plan_run(config).points[0]
    sim = simulate(point.weights, point.shared_inputs, conditions, config.seed_list(), root_seed=5)
    reference = reference_summary(sim, conditions, baseline="deterministic")
    keys = ["condition", "quantity", "t", "unit"]
    merged = summary.merge(reference, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", keys]
    assert set(summary["quantity"]) >= set(DERIVED_QUANTITIES) - set(LOSS_QUANTITIES)  # no targets
    assert (merged["n"] == merged["n_ref"]).all()
    for stat in ("mean", "ci_low", "ci_high"):
        np.testing.assert_allclose(
            merged[stat], merged[f"{stat}_ref"], rtol=1e-12, atol=1e-14, err_msg=stat
        )
    for stat in ("sd", "se"):
        np.testing.assert_allclose(
            merged[stat], merged[f"{stat}_ref"], rtol=1e-10, atol=1e-14, err_msg=stat
        )
    for stat in ("min", "max"):
        np.testing.assert_array_equal(merged[stat], merged[f"{stat}_ref"], err_msg=stat)
    constant = merged["min"] == merged["max"]
    assert constant.any() and (merged.loc[constant, "sd"] == 0).all()
    assert (merged.loc[constant, "mean"] == merged.loc[constant, "min"]).all()


def test_derived_quantities_can_be_turned_off_or_chosen(tmp_path):
    experiment = write(tmp_path)
    full = pd.read_csv(run_experiment(experiment, out=tmp_path / "all").path / "summary.csv")
    cells = ["p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h"]

    none = run_experiment(experiment, out=tmp_path / "none", overrides=["record.derived=none"])
    summary = pd.read_csv(none.path / "summary.csv")
    assert sorted(summary["quantity"].unique()) == sorted(cells)
    pd.testing.assert_frame_equal(
        summary, full[full["quantity"].isin(cells)].reset_index(drop=True)
    )

    chosen = ["flip_f", "div_h", "retention"]
    some = run_experiment(
        experiment, out=tmp_path / "some", overrides=[f"record.derived=[{', '.join(chosen)}]"]
    )
    summary = pd.read_csv(some.path / "summary.csv")
    expected = full[full["quantity"].isin(cells + chosen)].reset_index(drop=True)
    pd.testing.assert_frame_equal(summary, expected)
    # each only where it applies: flips for binary gates, divergence away from the baseline
    assert set(summary.query("quantity == 'flip_f'")["condition"]) == {"stochastic"}
    assert set(summary.query("quantity == 'div_h'")["condition"]) == {"stochastic", "zoneout"}
    assert set(summary.query("quantity == 'retention'")["condition"]) == {
        "deterministic",
        "stochastic",
        "zoneout",
    }


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_and_resume_finishes_it(tmp_path):
    """A real process stopped by SIGTERM mid-run, then resumed from the CLI."""
    experiment = tmp_path / "long.yaml"
    experiment.write_text(
        textwrap.dedent("""\
        name: long
        seeds: 20000
        model: {input_size: 2, hidden_size: 16, weights: {init: uniform, seed: 1}}
        inputs: {kind: sine, period: 8, steps: 300}
        conditions: {deterministic: {}, stochastic: {gates: bernoulli}}
        record: {seeds: 2, every: 50}
        output: {figures: false}
        execution: {batch_size: 512}
    """)
    )
    env = {**os.environ, "STOCHLSTM_CHECKPOINT_SECONDS": "0"}
    command = [
        sys.executable,
        "-m",
        "stochlstm.cli",
        "run",
        str(experiment),
        "--out",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    checkpoint = tmp_path / "long" / runner.CHECKPOINT
    deadline = time.time() + 60
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    assert json.loads((tmp_path / "long" / "manifest.json").read_text())["status"] == "interrupted"
    finished = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads((tmp_path / "long" / "manifest.json").read_text())["status"] == "complete"


def test_a_run_outcome_reads_as_one_line(tmp_path):
    outcome = run_experiment(write(tmp_path), out=tmp_path)
    text = repr(outcome)
    assert "\n" not in text and len(text) < 200
    assert text == f"RunOutcome({str(tmp_path / 'tiny')!r}, complete, 600 seeds, 3 conditions)"
