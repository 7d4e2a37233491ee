"""The command line through Typer's runner, on tiny experiment files in tmp_path."""

import json

import pytest
from typer.testing import CliRunner

from stochlstm.cli import EXIT_BAD_INPUT, EXIT_RUN_DIRECTORY, app

GOOD = """\
name: tiny
seeds: 40
model:
  input_size: 3
  hidden_size: 3
  weights:
    W_i: [[1,1,1,1,1,1], [2,2,2,2,2,2], [3,3,3,3,3,3]]
    b_i: [1, 1, 1]
    W_f: [[0,0,0,0,0,0], [0,0,0,0,0,0], [0,0,0,0,0,0]]
    b_f: [0.0, 1.3862943611198906, 2.1972245773362196]
    W_C: [[0.1,0.1,0.1,0.1,0.1,0.1], [0.1,0.1,0.1,0.1,0.1,0.1], [0.1,0.1,0.1,0.1,0.1,0.1]]
    b_C: [0, 0, 0]
    W_o: [[0,0,0,0,0,0], [0,0,0,0,0,0], [0,0,0,0,0,0]]
    b_o: [0, 0, 0]
initial_state: {h: [4, 5, 6], c: [0, 0, 0]}
inputs: {kind: constant, value: [1, 2, 3], steps: 6}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
record: {seeds: 2}
output: {figures: false}
"""

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD)
    return path


def test_run_writes_the_run_directory_and_says_where(tmp_path, experiment):
    result = invoke("run", experiment, "--out", tmp_path / "results")
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "results" / "tiny"
    assert f"complete: {run_dir}" in result.output
    assert "summary.csv" in result.output and "trajectories.csv" in result.output
    for name in (
        "experiment.yaml",
        "resolved.yaml",
        "manifest.json",
        "summary.csv",
        "trajectories.csv",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "experiment.yaml").read_text() == GOOD
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"


def test_run_with_overrides(tmp_path, experiment):
    result = invoke("run", experiment, "--out", tmp_path, "--set", "seeds=7", "--set", "name=other")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "other" / "manifest.json").read_text())
    assert manifest["seeds"]["count"] == 7


def test_threads_option_and_setting(tmp_path, experiment):
    result = invoke("run", experiment, "--out", tmp_path / "a", "--threads", "3")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "a" / "tiny" / "manifest.json").read_text())["threads"] == 3
    result = invoke("run", experiment, "--out", tmp_path / "b", "--set", "execution.threads=2")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "tiny" / "manifest.json").read_text())["threads"] == 2
    result = invoke("run", experiment, "--plan", "--threads", "3")
    assert "execution: in this process, 3 thread(s)" in result.output, result.output
    result = invoke("run", experiment, "--plan", "--jobs", "2")
    assert "execution: in 2 worker processes, 1 thread(s)" in result.output, result.output
    result = invoke("validate", experiment, "--set", "execution.threads=0")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "execution.threads: must be >= 1, got 0" in result.output


def test_plan_says_when_worker_processes_would_idle_and_what_to_change(experiment):
    """40 seeds is one task: with 2 processes one idles; 600 seeds can be split
    into 2 tasks with the batch size the note names (checked by planning it)."""
    result = invoke("run", experiment, "--plan", "--jobs", "2")
    assert "1 task(s) for 2 worker processes: 1 would idle" in result.output, result.output
    assert "--jobs 1" in result.output and "batch_size" not in result.output  # 40 < 256 seeds
    result = invoke("run", experiment, "--plan", "--jobs", "2", "--set", "seeds=600")
    note = result.output.split("--set execution.batch_size=")[1].split()[0]
    split = invoke(
        "run", experiment, "--plan", "--jobs", "2", "--set", "seeds=600",
        "--set", f"execution.batch_size={note}",
    )  # fmt: skip
    assert "= 2 task(s)" in split.output and "would idle" not in split.output, split.output
    validated = invoke("validate", experiment, "--plan", "--set", "execution.jobs=3")
    assert "1 task(s) for 3 worker processes: 2 would idle" in validated.output
    assert "would idle" not in invoke("run", experiment, "--plan").output  # one process


def test_run_output_off_a_terminal_has_no_progress_display(tmp_path, experiment):
    result = invoke("run", experiment, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "━" not in result.output and "simulate" not in result.output


def test_second_run_refuses_then_force_replaces(tmp_path, experiment):
    assert invoke("run", experiment, "--out", tmp_path).exit_code == 0
    again = invoke("run", experiment, "--out", tmp_path)
    assert again.exit_code == EXIT_RUN_DIRECTORY
    assert "already holds a complete run" in again.output and "--force" in again.output
    assert invoke("run", experiment, "--out", tmp_path, "--force").exit_code == 0


def test_validate_and_plan(experiment):
    result = invoke("validate", experiment, "--plan")
    assert result.exit_code == 0, result.output
    assert (
        "is valid" in result.output and "40 seeds" in result.output and "task(s)" in result.output
    )


BAD_INPUTS = {
    "malformed YAML": ("seeds: [1, 2\n", None, "malformed YAML"),
    "unknown key": ("seeds: 40\n", "seedz: 40\n", "tiny.yaml:2: seedz: unknown key 'seedz'"),
    "wrong type": ("hidden_size: 3\n", "hidden_size: three\n", "tiny.yaml:5: model.hidden_size"),
    "wrong matrix shape": ("b_i: [1, 1, 1]", "b_i: [1, 1]", "model.weights.b_i"),
    "NaN in weights": (
        "b_o: [0, 0, 0]",
        "b_o: [0, .nan, 0]",
        "tiny.yaml:14: model.weights.b_o[1]: expected a finite number, got nan",
    ),
    "missing CSV file": (
        "inputs: {kind: constant, value: [1, 2, 3], steps: 6}",
        "inputs: {kind: csv, file: missing.csv, columns: [a, b, c]}",
        "missing.csv",
    ),
    "negative steps": ("steps: 6}", "steps: -6}", "inputs.steps"),
    "unknown gate rule": (
        "{gates: bernoulli}",
        "{gates: bernouli}",
        "unknown gate rule 'bernouli'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_reported_and_leaves_an_existing_run_untouched(tmp_path, experiment, case):
    assert invoke("run", experiment, "--out", tmp_path).exit_code == 0
    run_dir = tmp_path / "tiny"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    old, new, message = BAD_INPUTS[case]
    text = GOOD.replace(old, new) if new is not None else GOOD + old
    assert text != GOOD
    experiment.write_text(text)
    for command in ("validate", "run"):
        args = [command, experiment] + (["--out", tmp_path, "--force"] if command == "run" else [])
        result = invoke(*args)
        assert result.exit_code == EXIT_BAD_INPUT, result.output
        assert message in result.output, result.output
        assert "Traceback" not in result.output
        assert result.output.startswith("error: ")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_resume_and_force_together_is_an_error(experiment):
    result = invoke("run", experiment, "--resume", "--force")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "cannot be used together" in result.output


def test_example_prints_the_worked_example():
    result = invoke("example")
    assert result.exit_code == 0
    assert "[21, 42, 63]" in result.output and "[22, 43, 64]" in result.output
    assert "[1, 2, 3] * [3, 2, 1] = [3, 4, 3]" in result.output
    assert "p_f                        = [0.5, 0.8, 0.9]" in result.output


def test_analyze_and_plot_on_a_run_made_by_run(tmp_path, experiment):
    assert invoke("run", experiment, "--out", tmp_path, "--no-figures").exit_code == 0
    run_dir = tmp_path / "tiny"
    assert not (run_dir / "figures").exists()
    assert (run_dir / "metrics.csv").is_file()  # metrics and the report, whatever the figures
    assert "stochlstm plot RUN_DIR" in (run_dir / "report.html").read_text()

    analyzed = invoke("analyze", run_dir)
    assert analyzed.exit_code == 0, analyzed.output
    lines = analyzed.output.splitlines()
    assert "stochastic" in lines[0] and "metric" in lines[1] and "quantity" in lines[1]
    final_h = next(line for line in lines if line.split()[:1] == ["h"])  # divergence_final, h
    assert "[" in final_h and "]" in final_h  # the value and its CI
    metrics = (run_dir / "metrics.csv").read_text()
    assert metrics.startswith("condition,metric,quantity")

    plotted = invoke("plot", run_dir, "--format", "png", "--format", "svg")
    assert plotted.exit_code == 0, plotted.output
    for name in ("trajectories", "divergence", "final_states", "survival", "gates_stochastic"):
        for suffix in ("png", "svg"):
            path = run_dir / "figures" / f"{name}.{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path
    page = (run_dir / "report.html").read_text()  # brought up to date by plot
    assert 'src="figures/divergence.png"' in page and "stochlstm plot RUN_DIR" not in page


def test_report_rebuilds_the_page_and_records_it(tmp_path, experiment):
    assert invoke("run", experiment, "--out", tmp_path).exit_code == 0
    run_dir = tmp_path / "tiny"
    page = run_dir / "report.html"
    before = page.read_bytes()
    page.unlink()
    result = invoke("report", run_dir)
    assert result.exit_code == 0, result.output
    assert f"wrote {page}" in result.output
    assert page.read_bytes() == before
    manifest = json.loads((run_dir / "manifest.json").read_text())
    from stochlstm.experiment.rundir import file_sha256

    assert manifest["checksums"]["report.html"] == file_sha256(page)

    summary = run_dir / "summary.csv"
    summary.write_text(summary.read_text().replace(",40,", ",41,", 1))
    refused = invoke("report", run_dir)
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "changed since the run wrote it" in refused.output
    assert invoke("report", run_dir, "--no-verify").exit_code == 0


def test_report_is_refused_while_another_process_writes_the_run(tmp_path, experiment):
    from stochlstm.experiment.lock import RunLock

    assert invoke("run", experiment, "--out", tmp_path).exit_code == 0
    with RunLock(tmp_path / "tiny"):
        result = invoke("report", tmp_path / "tiny")
    assert result.exit_code == EXIT_RUN_DIRECTORY, result.output


def test_analyze_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = invoke("analyze", tmp_path)
    assert result.exit_code == EXIT_BAD_INPUT
    assert str(tmp_path) in result.output and result.output.startswith("error: ")


def test_version_and_python_dash_m():
    import subprocess
    import sys

    from stochlstm import __version__

    assert invoke("--version").output.strip() == f"stochlstm {__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "stochlstm", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == f"stochlstm {__version__}"
