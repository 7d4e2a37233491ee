"""Figures and report.html are a function of the run's tables: drawn twice, into
two copies of a run directory, every file has the same bytes (no dates, no
random jitter, no random ids)."""

import json

from stochlstm.analysis.pipeline import analyze_and_draw
from tests.summary_reference import copy_run


def test_two_drawings_of_a_run_give_the_same_bytes(tmp_path, run_dir):
    formats = ("png", "pdf", "svg")
    first = analyze_and_draw(copy_run(run_dir, tmp_path / "first"), formats=formats)
    later = copy_run(run_dir, tmp_path / "second")  # the same run, made at another time
    manifest = json.loads((later / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(started="2031-01-01T00:00:00+00:00", finished="2031-01-01T00:01:00+00:00")
    (later / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    second = analyze_and_draw(later, formats=formats)
    assert list(first) == list(second)
    assert {name.rsplit(".", 1)[-1] for name in first} == {"csv", "png", "pdf", "svg", "html"}
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name
