"""Every user mistake of the run-integrity list gets one line, ``error: ...``,
and exit 2 (3 when the run directory is the problem); never a traceback, and
never a change to a run already written."""

import json

import pytest
from typer.testing import CliRunner

from stochlstm.cli import EXIT_BAD_INPUT, EXIT_RUN_DIRECTORY, app
from stochlstm.experiment.checkpoint import CHECKPOINT
from stochlstm.experiment.lock import RunLock

EXPERIMENT = """\
name: tiny
seeds: 600
model: {input_size: 2, hidden_size: 3, weights: {init: uniform, seed: 1}}
inputs: {kind: sine, period: 8, steps: 10}
conditions: {deterministic: {}, stochastic: {gates: bernoulli}}
record: {seeds: 2}
output: {figures: false}
execution: {batch_size: 256}
"""


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture
def finished(tmp_path, experiment):
    """A complete run in tmp_path/runs/tiny, and the bytes of its files."""
    assert invoke("run", experiment, "--out", tmp_path / "runs").exit_code == 0
    run_dir = tmp_path / "runs" / "tiny"
    return run_dir, {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


def _interrupted_run(tmp_path, experiment):
    """An interrupted run with a checkpoint, made through the Python API."""
    from stochlstm import run_experiment
    from stochlstm.experiment import run as runner
    from stochlstm.experiment.run import RunInterrupted

    def stop(event):
        if event.tasks_done == 1:
            raise KeyboardInterrupt

    saved, runner.CHECKPOINT_SECONDS = runner.CHECKPOINT_SECONDS, 0.0
    try:
        with pytest.raises(RunInterrupted):
            run_experiment(experiment, out=tmp_path / "runs", progress=stop)
    finally:
        runner.CHECKPOINT_SECONDS = saved
    return tmp_path / "runs" / "tiny"


def _truncate_checkpoint(tmp_path, experiment):
    run_dir = _interrupted_run(tmp_path, experiment)
    checkpoint = run_dir / CHECKPOINT
    checkpoint.write_bytes(checkpoint.read_bytes()[:64])
    return ["run", experiment, "--out", tmp_path / "runs", "--resume"]


def _edited_summary(tmp_path, experiment):
    invoke("run", experiment, "--out", tmp_path / "runs")
    summary = tmp_path / "runs" / "tiny" / "summary.csv"
    summary.write_text(summary.read_text().replace(",600,", ",601,", 1))
    return ["analyze", tmp_path / "runs" / "tiny"]


def _incomplete_run(tmp_path, experiment):
    return ["analyze", _interrupted_run(tmp_path, experiment)]


def _out_is_a_file(tmp_path, experiment):
    (tmp_path / "a-file").write_text("x")
    return ["run", experiment, "--out", tmp_path / "a-file"]


def _run_dir_is_a_file(tmp_path, experiment):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "tiny").write_text("x")
    return ["run", experiment, "--out", tmp_path / "runs"]


def _force_on_a_folder_without_a_run(tmp_path, experiment):
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    (tmp_path / "runs" / "tiny" / "notes.txt").write_text("mine")
    return ["run", experiment, "--out", tmp_path / "runs", "--force"]


def _edited(old, new):
    """An experiment file with ``old`` replaced by ``new``, run into tmp/runs."""

    def make(tmp_path, experiment):
        text = experiment.read_text()
        assert old in text
        experiment.write_text(text.replace(old, new))
        return ["run", experiment, "--out", tmp_path / "runs"]

    return make


def _alias_bomb(tmp_path, experiment):
    """Nine levels of ten aliases each: 10**9 values if expanded."""
    levels = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    levels += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 9)]
    bomb = "".join(f"    {line}\n" for line in levels)
    text = experiment.read_text().replace(
        "model: {input_size: 2, hidden_size: 3, weights: {init: uniform, seed: 1}}",
        "model:\n  input_size: 2\n  hidden_size: 3\n  weights:\n" + bomb,
    )
    experiment.write_text(text)
    return ["validate", experiment]


def _malformed_csv(tmp_path, experiment):
    (tmp_path / "x.csv").write_text("a,b\n1,2,3\n4,5,6\n")
    text = experiment.read_text().replace(
        "inputs: {kind: sine, period: 8, steps: 10}",
        f"inputs: {{kind: csv, file: {tmp_path / 'x.csv'}, columns: [a, b]}}",
    )
    experiment.write_text(text)
    return ["run", experiment, "--out", tmp_path / "runs"]


MISTAKES = {
    "YAML alias bomb": (_alias_bomb, EXIT_BAD_INPUT, "aliases"),
    "seeds: 1:20 (not 80)": (_edited("seeds: 600", "seeds: 1:20"), EXIT_BAD_INPUT, "seeds"),
    "seeds beyond 2**63": (
        _edited("seeds: 600", "seeds: {start: 1000000000000000000000000, count: 2}"),
        EXIT_BAD_INPUT,
        "seeds",
    ),
    "more seeds than memory": (
        _edited("seeds: 600", "seeds: 100000000000000"),
        EXIT_BAD_INPUT,
        "run fewer seeds",
    ),
    "hidden_size too large for memory": (
        _edited("hidden_size: 3", "hidden_size: 10000000"),
        EXIT_BAD_INPUT,
        "memory_budget_mb",
    ),
    "steps too many for memory": (
        _edited("steps: 10}", "steps: 100000000}"),
        EXIT_BAD_INPUT,
        "memory_budget_mb",
    ),
    "a CSV row with more fields than the header": (
        _malformed_csv,
        EXIT_BAD_INPUT,
        "line 2 has 3 fields but the header has 2",
    ),
    "--executor tcp:// to nothing (5 s)": (
        lambda tmp, exp: ["run", exp, "--out", tmp / "runs", "--executor", "tcp://127.0.0.1:9"],
        EXIT_BAD_INPUT,
        "127.0.0.1:9",
        pytest.mark.slow,
    ),
    "--executor bogus": (
        lambda tmp, exp: ["run", exp, "--out", tmp / "runs", "--executor", "bogus", "-j", "2"],
        EXIT_BAD_INPUT,
        "bogus",
    ),
    "--out is a file": (_out_is_a_file, EXIT_BAD_INPUT, "not a directory"),
    "out/<name> is a file": (_run_dir_is_a_file, EXIT_BAD_INPUT, "is not a directory"),
    "--out under /proc": (
        lambda tmp, exp: ["run", exp, "--out", "/proc/stochlstm-nowhere"],
        EXIT_BAD_INPUT,
        "cannot create the output folder",
    ),
    "truncated checkpoint": (_truncate_checkpoint, EXIT_BAD_INPUT, "damaged checkpoint"),
    "edited summary.csv": (_edited_summary, EXIT_BAD_INPUT, "changed since the run wrote it"),
    "analyze an incomplete run": (_incomplete_run, EXIT_BAD_INPUT, "--resume"),
    "plot --format jpg": (
        lambda tmp, exp: ["plot", tmp, "--format", "jpg"],
        EXIT_BAD_INPUT,
        "not a figure format",
    ),
    "--resume with nothing to resume": (
        lambda tmp, exp: ["run", exp, "--out", tmp / "runs", "--resume"],
        EXIT_RUN_DIRECTORY,
        "no run to resume",
    ),
    "--force on a folder that holds no run": (
        _force_on_a_folder_without_a_run,
        EXIT_RUN_DIRECTORY,
        "not a stochlstm run directory",
    ),
}


@pytest.mark.parametrize(
    "make_args, code, message",
    [pytest.param(*case[:3], marks=case[3:], id=name) for name, case in MISTAKES.items()],
)
def test_each_mistake_is_one_line_and_its_exit_code(tmp_path, experiment, make_args, code, message):
    result = invoke(*make_args(tmp_path, experiment))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]


def test_a_second_writer_is_refused_with_exit_3_and_the_run_untouched(
    tmp_path, experiment, finished
):
    run_dir, before = finished
    with RunLock(run_dir, command="stochlstm run other.yaml"):
        for extra in ([], ["--force"], ["--resume"]):
            result = invoke("run", experiment, "--out", tmp_path / "runs", *extra)
            assert result.exit_code == EXIT_RUN_DIRECTORY, result.output
            assert "being written by process" in result.output
            assert "stochlstm run other.yaml" in result.output
        result = invoke("plot", run_dir)
        assert result.exit_code == EXIT_RUN_DIRECTORY
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_no_verify_reads_an_edited_summary(tmp_path, experiment):
    args = _edited_summary(tmp_path, experiment)
    result = invoke(*args, "--no-verify")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "runs" / "tiny" / "manifest.json").read_text())
    assert "metrics.csv" in manifest["checksums"]
