"""Run directory integrity (DESIGN.md): an interrupt injected at every kind of
point, then ``--resume``, gives the bytes of an uninterrupted run; one writer
at a time; changed inputs, tampered outputs and pickled checkpoints refused.

Signals are real: the test sends SIGINT or SIGTERM to its own process from
inside the run (a progress callback, a merge of statistics, a table write, a
figure), which is where a user's Ctrl-C lands.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from stochlstm import run_experiment
from stochlstm.analysis import figures, pipeline
from stochlstm.analysis.run import RunError, load_run
from stochlstm.engine import statistics
from stochlstm.experiment import run as runner
from stochlstm.experiment import tables
from stochlstm.experiment.checkpoint import CHECKPOINT, CheckpointError
from stochlstm.experiment.lock import RunLock
from stochlstm.experiment.run import RunInterrupted
from stochlstm.experiment.rundir import OutputError, RunDirectoryError, file_sha256

EXPERIMENT = """\
name: tiny
seeds: 700
root_seed: 3
model:
  input_size: 2
  hidden_size: 3
  weights: {weights}
inputs: {{kind: sine, period: 8, steps: 12}}
conditions:
  deterministic: {{}}
  stochastic: {{gates: bernoulli}}
record: {{seeds: 2, every: 1}}
output: {{figures: {figures}, figure_formats: [png]}}
execution: {{batch_size: 256}}
"""
TABLES = ("summary.csv", "trajectories.csv")


def write(tmp_path, *, figures=False, weights="{init: uniform, seed: 1}", name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(EXPERIMENT.format(weights=weights, figures=str(figures).lower()))
    return path


def outputs(run_dir, names=TABLES):
    return {name: (run_dir / name).read_bytes() for name in names}


def manifest(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.fixture
def experiment(tmp_path):
    return write(tmp_path)


@pytest.fixture
def reference(tmp_path, experiment):
    """The tables of the same experiment, run without interruption."""
    return outputs(run_experiment(experiment, out=tmp_path / "reference").path)


@pytest.fixture
def save_often(monkeypatch):
    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", 0.0)


def signal_self(signum=signal.SIGINT, times=1):
    for _ in range(times):
        os.kill(os.getpid(), signum)


def interrupted(experiment, out, **kwargs):
    with pytest.raises(RunInterrupted, match="--resume") as error:
        run_experiment(experiment, out=out, **kwargs)
    return str(error.value)


# ---------------------------------------------------------------- interrupt anywhere, then resume


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_between_tasks_then_resume_gives_the_same_bytes(
    tmp_path, experiment, reference, save_often, signum
):
    def stop(event):
        if event.tasks_done == 1:
            signal_self(signum)

    message = interrupted(experiment, tmp_path, progress=stop)
    run_dir = tmp_path / "tiny"
    assert "while simulating" in message
    assert manifest(run_dir)["status"] == "interrupted"
    assert (run_dir / CHECKPOINT).exists() and not (run_dir / "summary.csv").exists()
    resumed = run_experiment(experiment, out=tmp_path, resume=True)
    assert resumed.status == "complete" and resumed.manifest["attempts"] == 2
    assert outputs(run_dir) == reference
    assert not (run_dir / CHECKPOINT).exists()


@pytest.mark.parametrize("times", [1, 2])
def test_interrupt_inside_a_fold_counts_the_task_once(
    tmp_path, experiment, reference, save_often, monkeypatch, times
):
    """The failure seen before: a signal while a finished task was being added
    to the totals left it half added and not marked done, so --resume added it
    again (n > seeds). Here it arrives at the 5th merge of the 2nd task, once
    or twice 0 ms apart."""
    merge, calls = statistics.RunningStats.merge, []

    def merge_then_signal(self, other):
        calls.append(1)
        if len(calls) == 5:  # the first task's fold copies; this is inside the second's
            signal_self(times=times)
        return merge(self, other)

    monkeypatch.setattr(statistics.RunningStats, "merge", merge_then_signal)
    interrupted(experiment, tmp_path)
    monkeypatch.setattr(statistics.RunningStats, "merge", merge)
    run_experiment(experiment, out=tmp_path, resume=True)
    summary = outputs(tmp_path / "tiny")
    assert summary == reference
    n = load_run(tmp_path / "tiny").summary["n"]
    assert set(n) == {700}


def test_interrupt_while_the_checkpoint_is_written_keeps_a_whole_one(
    tmp_path, experiment, reference, save_often, monkeypatch
):
    save, calls = runner.save_checkpoint, []

    def save_with_signal(*args):
        calls.append(1)
        if len(calls) == 2:
            signal_self(times=2)
        return save(*args)

    monkeypatch.setattr(runner, "save_checkpoint", save_with_signal)
    interrupted(experiment, tmp_path)
    monkeypatch.setattr(runner, "save_checkpoint", save)
    run_experiment(experiment, out=tmp_path, resume=True)
    assert outputs(tmp_path / "tiny") == reference


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_the_tables_are_written(
    tmp_path, experiment, reference, monkeypatch, signum
):
    write_csv, calls = tables.write_csv, []

    def write_then_signal(path, parts, names=None):
        calls.append(1)
        rows = write_csv(path, parts, names)
        if len(calls) == 1:  # summary.csv's temporary file is written, not yet renamed
            signal_self(signum)
        return rows

    monkeypatch.setattr(tables, "write_csv", write_then_signal)
    message = interrupted(experiment, tmp_path)
    run_dir = tmp_path / "tiny"
    assert "while writing the tables" in message
    state = manifest(run_dir)
    assert state["status"] == "interrupted" and state["phases"]["simulate"] == "done"
    assert [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(tables, "write_csv", write_csv)
    resumed = run_experiment(experiment, out=tmp_path, resume=True)
    assert resumed.status == "complete"
    assert outputs(run_dir) == reference


def test_interrupt_while_drawing_figures_then_resume_draws_them(tmp_path, monkeypatch):
    experiment = write(tmp_path, figures=True)
    reference = run_experiment(experiment, out=tmp_path / "reference").path
    expected_files = sorted(p.name for p in (reference / "figures").iterdir())
    draw = figures.draw_figures

    def draw_then_signal(run, formats):
        written = draw(run, formats)
        written[0].unlink()  # half the figures
        signal_self()
        return written

    monkeypatch.setattr(figures, "draw_figures", draw_then_signal)
    message = interrupted(experiment, tmp_path)
    run_dir = tmp_path / "tiny"
    assert "while drawing the figures" in message
    state = manifest(run_dir)
    assert state["status"] == "interrupted"
    assert state["phases"] == {
        "simulate": "done",
        "tables": "done",
        "metrics": "done",
        "figures": "pending",
        "report": "pending",
    }
    assert not (run_dir / "report.html").exists()
    monkeypatch.setattr(figures, "draw_figures", draw)
    resumed = run_experiment(experiment, out=tmp_path, resume=True)
    assert resumed.status == "complete" and set(resumed.manifest["phases"].values()) == {"done"}
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == expected_files
    assert (run_dir / "report.html").exists()
    assert outputs(run_dir, (*TABLES, "metrics.csv")) == outputs(
        reference, (*TABLES, "metrics.csv")
    )
    load_run(run_dir)  # every checksum matches


def test_a_failing_figure_phase_keeps_the_tables_and_resume_retries_it(tmp_path, monkeypatch):
    experiment = write(tmp_path, figures=True)

    def broken(run, formats):
        raise RuntimeError("no display")

    monkeypatch.setattr(figures, "draw_figures", broken)
    outcome = run_experiment(experiment, out=tmp_path)
    assert outcome.status == "complete"
    assert outcome.manifest["phases"]["figures"] == "failed"
    assert "no display" in outcome.manifest["warnings"][0]
    monkeypatch.undo()
    again = run_experiment(experiment, out=tmp_path, resume=True)
    assert set(again.manifest["phases"].values()) == {"done"}
    assert "warnings" not in again.manifest
    assert (tmp_path / "tiny" / "report.html").exists()


def test_resume_of_a_complete_run_has_nothing_to_do(tmp_path, experiment):
    first = run_experiment(experiment, out=tmp_path)
    again = run_experiment(experiment, out=tmp_path, resume=True)
    assert again.plan is None and again.manifest == first.manifest


def test_resume_with_figures_after_a_run_without_them_draws_them(tmp_path, experiment):
    first = run_experiment(experiment, out=tmp_path)
    run_dir = tmp_path / "tiny"
    assert first.manifest["phases"] == {
        "simulate": "done",
        "tables": "done",
        "metrics": "done",
        "report": "done",
    }
    assert "No figures were drawn" in (run_dir / "report.html").read_text()
    metrics = (run_dir / "metrics.csv").read_bytes()
    outcome = run_experiment(experiment, out=tmp_path, resume=True, figures=True)
    assert outcome.manifest["phases"]["figures"] == "done"
    assert outcome.manifest["phases"]["report"] == "done"
    page = (run_dir / "report.html").read_text()  # brought up to date with the figures
    assert "No figures were drawn" not in page and 'src="figures/divergence.png"' in page
    assert (run_dir / "metrics.csv").read_bytes() == metrics
    assert outcome.manifest["checksums"]["report.html"] == file_sha256(run_dir / "report.html")
    load_run(run_dir)  # every checksum matches


# ---------------------------------------------------------------- --force, interrupted


def test_interrupted_force_is_resumed_as_the_replacement(tmp_path, experiment, save_often):
    first = run_experiment(experiment, out=tmp_path)
    old = outputs(first.path)

    def stop(event):
        if event.tasks_done == 1:
            signal_self()

    experiment.write_text(experiment.read_text().replace("root_seed: 3", "root_seed: 4"))
    message = interrupted(experiment, tmp_path, force=True, progress=stop)
    assert ".tiny.new" in message
    assert outputs(first.path) == old  # the old run is whole until the new one completes
    with pytest.raises(RunDirectoryError, match="interrupted --force replacement is waiting"):
        run_experiment(experiment, out=tmp_path)
    experiment.write_text(experiment.read_text().replace("root_seed: 4", "root_seed: 5"))
    with pytest.raises(RunDirectoryError, match="experiment differs"):
        run_experiment(experiment, out=tmp_path, resume=True)
    experiment.write_text(experiment.read_text().replace("root_seed: 5", "root_seed: 4"))
    resumed = run_experiment(experiment, out=tmp_path, resume=True)
    assert resumed.status == "complete" and resumed.path == tmp_path / "tiny"
    reference = run_experiment(experiment, out=tmp_path / "reference").path
    assert outputs(tmp_path / "tiny") == outputs(reference)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tiny")) == [
        ".tiny.lock"
    ]


def test_force_never_deletes_a_folder_that_holds_no_run(tmp_path, experiment):
    precious = tmp_path / "tiny"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirectoryError, match="not a stochlstm run directory"):
        run_experiment(experiment, out=tmp_path, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"


# ---------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_and_told_who_writes(tmp_path, experiment):
    run_experiment(experiment, out=tmp_path)
    before = outputs(tmp_path / "tiny")
    with RunLock(tmp_path / "tiny", command="stochlstm run tiny.yaml"):
        for kwargs in ({}, {"force": True}, {"resume": True}):
            with pytest.raises(RunDirectoryError, match=rf"being written by process {os.getpid()}"):
                run_experiment(experiment, out=tmp_path, overrides=["seeds=300"], **kwargs)
        with pytest.raises(RunDirectoryError, match="being written by"):
            pipeline.analyze(tmp_path / "tiny")
    assert outputs(tmp_path / "tiny") == before


def test_the_lock_dies_with_its_process(tmp_path, experiment):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from stochlstm.experiment.lock import RunLock\n"
            f"with RunLock({str(tmp_path / 'tiny')!r}):\n"
            "    print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryError, match=f"process {holder.pid}"):
            run_experiment(experiment, out=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert run_experiment(experiment, out=tmp_path).status == "complete"


# ---------------------------------------------------------------- changed inputs, tampered files


def test_resume_refuses_changed_weights_file(tmp_path, save_often):
    from stochlstm.core.weights import init_uniform
    from stochlstm.experiment.weight_files import save_weights

    weights_file = tmp_path / "w.npz"
    save_weights(init_uniform(2, 3, seed=1), weights_file)
    experiment = write(tmp_path, weights=f"{{file: {weights_file}}}")

    def stop(event):
        if event.tasks_done == 1:
            signal_self()

    interrupted(experiment, tmp_path, progress=stop)
    save_weights(init_uniform(2, 3, seed=2), weights_file)
    with pytest.raises(
        RunDirectoryError, match=r"input file .*w\.npz changed since the run started"
    ):
        run_experiment(experiment, out=tmp_path, resume=True)
    assert manifest(tmp_path / "tiny")["status"] == "interrupted"


@pytest.mark.parametrize(
    "tamper",
    ["edit", "truncate", "delete"],
)
def test_analysis_refuses_tables_changed_since_the_run(tmp_path, experiment, tamper):
    run_dir = run_experiment(experiment, out=tmp_path).path
    summary = run_dir / "summary.csv"
    text = summary.read_text()
    if tamper == "edit":
        summary.write_text(text.replace(",700,", ",701,", 1))
    elif tamper == "truncate":
        summary.write_text(text[: len(text) // 2])
    else:
        summary.unlink()
    message = "changed since the run wrote it" if tamper != "delete" else "no summary.csv"
    for call in (load_run, pipeline.analyze, pipeline.draw_run_figures):
        with pytest.raises(RunError, match=message):
            call(run_dir)
    if tamper == "edit":
        assert load_run(run_dir, verify=False).summary["n"].max() == 701


def test_analyze_and_plot_keep_the_checksums_true(tmp_path, experiment):
    run_dir = run_experiment(experiment, out=tmp_path).path
    pipeline.analyze(run_dir)
    written = pipeline.draw_run_figures(run_dir, formats=("png",))
    checksums = manifest(run_dir)["checksums"]
    for path in [run_dir / "metrics.csv", *written]:
        name = str(path.relative_to(run_dir))
        assert checksums[name] == file_sha256(path)
    load_run(run_dir)


@pytest.mark.parametrize("kind", ["pickle", "truncated", "object-array", "other-run"])
def test_a_checkpoint_that_is_not_data_of_this_run_is_refused(
    tmp_path, experiment, save_often, kind
):
    def stop(event):
        if event.tasks_done == 1:
            signal_self()

    interrupted(experiment, tmp_path, progress=stop)
    checkpoint = tmp_path / "tiny" / CHECKPOINT
    marker = tmp_path / "code-ran"
    if kind == "pickle":

        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        checkpoint.write_bytes(pickle.dumps(Payload()))
    elif kind == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    elif kind == "object-array":
        with checkpoint.open("wb") as handle:
            np.savez(handle, meta=np.array([Payload2()], dtype=object))
    else:
        data = dict(np.load(checkpoint))
        meta = json.loads(str(data["meta"][()]))
        meta["fingerprint"] = "0" * 64
        data["meta"] = np.array(json.dumps(meta))
        with checkpoint.open("wb") as handle:
            np.savez(handle, **data)
    with pytest.raises(CheckpointError, match=r"checkpoint") as error:
        run_experiment(experiment, out=tmp_path, resume=True)
    assert "\n" not in str(error.value) and len(str(error.value)) < 400
    assert not marker.exists()


class Payload2:
    pass


# ---------------------------------------------------------------- where the run is written


def test_output_locations_that_cannot_hold_a_run(tmp_path, experiment):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        run_experiment(experiment, out=a_file)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        run_experiment(experiment, out=tmp_path / "out")
    with pytest.raises(OutputError, match="cannot"):
        run_experiment(experiment, out="/proc/stochlstm-test")


def test_a_full_disk_fails_the_run_in_one_line_and_resume_finishes_it(
    tmp_path, experiment, reference, monkeypatch
):
    import errno

    write_csv = tables.write_csv

    def disk_full(path, parts, names=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(tables, "write_csv", disk_full)
    with pytest.raises(OutputError, match="No space left on device"):
        run_experiment(experiment, out=tmp_path)
    state = manifest(tmp_path / "tiny")
    assert state["status"] == "failed" and state["phases"]["simulate"] == "done"
    monkeypatch.setattr(tables, "write_csv", write_csv)
    run_experiment(experiment, out=tmp_path, resume=True)
    assert outputs(tmp_path / "tiny") == reference


# ---------------------------------------------------------------- real processes


def _cli(*args):
    return [sys.executable, "-m", "stochlstm.cli", *map(str, args)]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM twice"])
def test_a_killed_process_then_resume_gives_the_same_bytes(tmp_path, how):
    experiment = tmp_path / "long.yaml"
    experiment.write_text(
        textwrap.dedent("""\
        name: long
        seeds: 3000
        model: {input_size: 2, hidden_size: 16, weights: {init: uniform, seed: 1}}
        inputs: {kind: sine, period: 8, steps: 200}
        conditions: {deterministic: {}, stochastic: {gates: bernoulli}}
        record: {seeds: 2, every: 50}
        output: {figures: false}
        execution: {batch_size: 512, jobs: 2}
    """)
    )
    reference = subprocess.run(
        _cli("run", experiment, "--out", tmp_path / "reference"), capture_output=True, timeout=600
    )
    assert reference.returncode == 0, reference.stderr
    env = {**os.environ, "STOCHLSTM_CHECKPOINT_SECONDS": "0"}
    process = subprocess.Popen(
        _cli("run", experiment, "--out", tmp_path), env=env, stderr=subprocess.PIPE, text=True
    )
    checkpoint = tmp_path / "long" / CHECKPOINT
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    children = _children(process.pid)
    if how == "SIGKILL":
        process.kill()
    else:
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    if how == "SIGKILL":
        deadline = time.time() + 10
        while any(_alive(pid) for pid in children) and time.time() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)], "worker processes outlived the run"
    else:
        assert process.returncode == 130, stderr
        assert "--resume" in stderr and "Traceback" not in stderr
    finished = subprocess.run(
        _cli("run", experiment, "--out", tmp_path, "--resume"), capture_output=True, timeout=600
    )
    assert finished.returncode == 0, finished.stderr
    assert outputs(tmp_path / "long") == outputs(tmp_path / "reference" / "long")


def _children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(p) for p in out.split()]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
