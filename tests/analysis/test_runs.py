"""`list_runs` and `stochlstm runs`: every run in a folder, its status from
its manifest and its lock, nothing else listed and nothing written."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from stochlstm import list_runs
from stochlstm.analysis.run import RunError
from stochlstm.analysis.runs import RUN_COLUMNS
from stochlstm.cli import EXIT_BAD_INPUT, app
from stochlstm.experiment.lock import RunLock
from tests.analysis.tiny_runs import tiny_run, tree_checksums

runner = CliRunner()


def _copy_with(source, target, **manifest_fields):
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.update(manifest_fields)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder: two real runs (one nested a level down), copies of
    one made interrupted or running, a damaged manifest, and folders that are
    not runs."""
    root = tmp_path_factory.mktemp("listing") / "results"
    tiny = tiny_run(root)
    tiny_run(root / "hidden-4", "model.hidden_size=4", "seeds=30")
    phases = {"simulate": "done", "tables": "pending"}
    _copy_with(tiny, root / "interrupted", status="interrupted", phases=phases, stopped="x")
    _copy_with(tiny, root / "died", status="running", phases=phases)
    _copy_with(tiny, root / "busy", status="running", phases=phases)
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a run")
    _copy_with(tiny, root / ".tiny.new")  # a --force replacement in progress: hidden
    return root


def test_lists_every_run_sorted_by_name_with_its_manifest_fields(results):
    runs = list_runs(results)
    assert list(runs.columns) == list(RUN_COLUMNS)
    assert list(runs["name"]) == [
        "broken",
        "busy",
        "died",
        "hidden-4/tiny",
        "interrupted",
        "tiny",
    ]
    row = runs.set_index("name").loc["tiny"]
    manifest = json.loads((results / "tiny" / "manifest.json").read_text())
    assert row["status"] == "complete"
    assert row["seeds"] == manifest["seeds"]["count"] == 60
    assert row["sweep_points"] == 1 and row["sweep"] == ""
    assert row["conditions"] == "deterministic, bernoulli, forget-only"
    assert row["started"] == manifest["started"] and row["finished"] == manifest["finished"]
    assert row["missing"] == ""
    assert runs.set_index("name").loc["hidden-4/tiny", "seeds"] == 30


def test_status_running_with_a_free_lock_is_unfinished_and_with_a_held_lock_running(results):
    with RunLock(results / "busy", command="stochlstm run busy.yaml"):
        runs = list_runs(results).set_index("name")
    assert runs.loc["busy", "status"] == "running"
    assert runs.loc["died", "status"] == "unfinished"
    assert runs.loc["died", "missing"] == "tables"
    assert runs.loc["interrupted", "status"] == "interrupted"
    assert runs.loc["interrupted", "finished"] == "x"  # the time it stopped
    assert runs.loc["broken", "status"] == "unreadable"
    assert list_runs(results).set_index("name").loc["busy", "status"] == "unfinished"


def test_a_run_directory_itself_lists_as_one_run(results):
    runs = list_runs(results / "tiny")
    assert list(runs["name"]) == ["tiny"] and list(runs["status"]) == ["complete"]


def test_a_missing_folder_or_a_file_is_an_error_and_an_empty_one_no_runs(tmp_path):
    with pytest.raises(RunError, match="no such directory"):
        list_runs(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunError, match="not a directory"):
        list_runs(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    assert list_runs(tmp_path / "empty").empty


def test_cli_prints_one_line_per_run_and_writes_nothing(results):
    before = tree_checksums(results.parent)
    result = runner.invoke(app, ["runs", str(results)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["name", "status", "seeds", "points"]
    body = [line.split() for line in lines[1:7]]
    assert [(words[0], words[1]) for words in body] == [
        ("broken", "unreadable"),
        ("busy", "unfinished"),
        ("died", "unfinished"),
        ("hidden-4/tiny", "complete"),
        ("interrupted", "interrupted"),
        ("tiny", "complete"),
    ]
    assert body[5][2] == "60" and "deterministic," in body[5]
    assert "--resume" in result.output  # what to do with the unfinished and interrupted ones
    assert tree_checksums(results.parent) == before


def test_cli_default_folder_is_results(results, monkeypatch):
    monkeypatch.chdir(results.parent)
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    assert "hidden-4/tiny" in result.output


def test_cli_missing_folder_exits_2_and_empty_folder_says_so(tmp_path):
    result = runner.invoke(app, ["runs", str(tmp_path / "nope")])
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.output.strip() == f"error: {tmp_path / 'nope'}: no such directory"
    result = runner.invoke(app, ["runs", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.startswith(f"no runs in {tmp_path}")
