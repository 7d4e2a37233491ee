"""Choosing what the figures draw: ``stochlstm plot --units --conditions --steps``
and the same keywords of ``draw_figures``. The figures drawn (captured before
they are saved) hold what was chosen and nothing else; a choice the run
cannot honour is one line, exit 2, and nothing written."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from stochlstm import Condition
from stochlstm.analysis import figures
from stochlstm.analysis.figures import draw_figures
from stochlstm.analysis.selection import Selection, parse_conditions, parse_steps, parse_units
from stochlstm.cli import EXIT_BAD_INPUT, app
from tests.summary_reference import (
    copy_run,
    small_simulation,
    summary_frame,
    write_run_dir,
)


@pytest.fixture
def drawn(monkeypatch):
    """The figures draw_figures saves, by file stem, instead of saving them."""
    captured = {}

    def keep(fig, folder, stem, formats):
        captured[stem] = fig
        return [folder / f"{stem}.{fmt}" for fmt in formats]

    monkeypatch.setattr(figures, "save", keep)
    return captured


def line_labels(fig):
    return {line.get_label() for ax in fig.axes for line in ax.lines}


def test_parsing_the_options():
    assert parse_units("0,3, 5,3") == (0, 3, 5)
    assert parse_conditions("deterministic, bernoulli") == ("deterministic", "bernoulli")
    assert parse_steps("0:50") == (0, 50)
    assert parse_steps("100:") == (100, None) and parse_steps(":50") == (None, 50)
    assert parse_steps("-1:5") == (-1, 5)
    for bad, parse in (
        ("0,x", parse_units),
        ("-1", parse_units),
        ("", parse_units),
        ("a,,b", parse_conditions),
        ("5", parse_steps),
        ("a:b", parse_steps),
        ("1:2:3", parse_steps),
        ("50:10", parse_steps),
    ):
        with pytest.raises(ValueError, match="expected|before START"):
            parse(bad)


def test_a_choice_the_run_cannot_honour_names_what_it_has(run_dir):
    from stochlstm.analysis.run import load_run

    summary = load_run(run_dir).summary
    cases = {
        Selection(
            conditions=("bernoulli", "nope")
        ): "no condition 'nope'.*deterministic, bernoulli",
        Selection(units=(3,)): "unit 3 is out of range; the model has 3 hidden units",
        Selection(steps=(40, 50)): "no recorded step.*0 to 29",
    }
    for choice, message in cases.items():
        with pytest.raises(ValueError, match=message):
            choice.check(summary, [3])
    recorded = summary[summary["unit"] != 1]  # a run that recorded units 0 and 2
    with pytest.raises(ValueError, match="unit 1 was not recorded; the run recorded units 0, 2"):
        Selection(units=(1,)).check(recorded, [3])
    Selection(units=(0, 2), conditions=("bernoulli",), steps=(None, 5)).check(summary, [3])


def test_draw_figures_draws_the_units_conditions_and_steps_chosen(run_dir, drawn):
    draw_figures(
        run_dir,
        formats=("png",),
        units=[2, 0],
        conditions=["deterministic", "bernoulli"],
        steps=(5, 20),
    )
    assert list(drawn) == [
        "trajectories",
        "final_states",
        "gates_bernoulli",
        "divergence",
        "survival",
    ]
    trajectories = drawn["trajectories"]
    assert [ax.get_ylabel() for ax in trajectories.axes] == [
        "c, unit 2",
        "h, unit 2",
        "c, unit 0",
        "h, unit 0",
    ]
    assert "units 2, 0 of 3 shown" in trajectories.get_suptitle()
    labels = line_labels(trajectories)
    assert {"deterministic", "bernoulli: mean"} <= labels
    assert not [label for label in labels if "forget-bernoulli" in label]
    for ax in trajectories.axes:
        steps = pd.Series([t for line in ax.lines for t in line.get_xdata()])
        assert steps.min() == 5 and steps.max() == 20
    final = drawn["final_states"]
    assert final.axes[0].get_ylabel() == "c at t = 20"  # the last step drawn
    assert [t.get_text() for t in final.axes[0].get_xticklabels()] == ["2", "0"]
    gates = [ax for ax in drawn["gates_bernoulli"].axes if ax.collections]
    assert [t.get_text() for t in gates[0].get_yticklabels()] == ["2", "0"]
    assert {line.get_label() for line in drawn["divergence"].axes[0].lines} == {"bernoulli"}
    assert [ax.get_title() for ax in drawn["survival"].axes] == ["bernoulli vs deterministic"]


def test_choosing_only_the_deterministic_condition_skips_the_comparisons(run_dir, drawn):
    draw_figures(run_dir, formats=("png",), conditions=["deterministic"])
    assert list(drawn) == ["trajectories", "final_states", "survival"]
    assert line_labels(drawn["trajectories"]) == {"deterministic"}


def test_leaving_the_deterministic_condition_out_leaves_its_line_out(run_dir, drawn):
    draw_figures(run_dir, formats=("png",), conditions=["bernoulli"])
    assert "deterministic" not in line_labels(drawn["trajectories"])
    assert [ax.get_title() for ax in drawn["survival"].axes] == ["bernoulli"]
    assert "deterministic" not in line_labels(drawn["survival"])


def test_a_condition_whose_gates_are_not_sampled_gets_no_gate_figure(tmp_path, drawn):
    conditions = {
        "deterministic": Condition(),
        "zoneout": Condition(zoneout={"c": 0.2, "h": 0.1}),
        "bernoulli": Condition("bernoulli"),
    }
    sim = small_simulation(seeds=20, hidden_size=2, steps=6, conditions=conditions)
    summary = summary_frame(sim, conditions)
    run_dir = write_run_dir(tmp_path / "run", summary, None, conditions=conditions, seeds=20)
    draw_figures(run_dir, formats=("png",))
    assert [stem for stem in drawn if stem.startswith("gates_")] == ["gates_bernoulli"]


# ------------------------------------------------------------------ the command line


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_plot_honours_the_options(tmp_path, run_dir, drawn):
    run = copy_run(run_dir, tmp_path / "run")
    result = invoke(
        "plot", run, "--units", "1", "--conditions", "bernoulli,deterministic", "--steps", ":10"
    )
    assert result.exit_code == 0, result.output
    assert [ax.get_ylabel() for ax in drawn["trajectories"].axes] == ["c, unit 1", "h, unit 1"]
    assert drawn["final_states"].axes[0].get_ylabel() == "c at t = 10"
    assert "gates_forget-bernoulli" not in drawn


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--units", "7", "unit 7 is out of range; the model has 3 hidden units (0–2)"),
        ("--units", "0,one", "--units '0,one': expected unit numbers separated by commas"),
        ("--conditions", "bernouli", "no condition 'bernouli' in the run"),
        ("--conditions", ",", "--conditions ',': expected condition names"),
        ("--steps", "10", "--steps '10': expected START:STOP"),
        ("--steps", "20:10", "STOP (10) is before START (20)"),
        ("--steps", "100:200", "no recorded step in the range; the run recorded steps 0 to 29"),
    ],
)
def test_plot_refuses_a_bad_choice_in_one_line_and_writes_nothing(
    tmp_path, run_dir, option, value, message
):
    run = copy_run(run_dir, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = invoke("plot", run, option, value)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (run / "figures").exists()
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before
    assert json.loads(after["manifest.json"]) == json.loads(before["manifest.json"])
