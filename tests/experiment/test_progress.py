"""A run's progress: seeds counted step by step inside a single batch (in this
process and in worker processes), every phase reported, rich rendering, and
not one number of the run changed by counting."""

import io
import threading

import pytest
from rich.console import Console

from stochlstm import run_experiment
from stochlstm.experiment import progress as progress_module
from stochlstm.experiment.load import load_experiment
from stochlstm.experiment.plan import plan_run
from stochlstm.experiment.progress import ProgressEvent, advance
from stochlstm.experiment.progress_display import describe, show_progress
from stochlstm.experiment.run import RunInterrupted

SEEDS, STEPS, CONDITIONS = 512, 40, 3

EXPERIMENT = f"""\
name: counted
seeds: {SEEDS}
root_seed: 3
model:
  input_size: 2
  hidden_size: 3
  weights: {{init: uniform, seed: 1}}
inputs: {{kind: sine, period: 8, steps: {STEPS}}}
conditions:
  deterministic: {{}}
  stochastic: {{gates: bernoulli}}
  zoneout: {{zoneout: {{c: 0.2, h: 0.1}}}}
record: {{seeds: 3}}
output: {{figures: false, figure_formats: [png]}}
"""


def write(tmp_path, extra=""):
    path = tmp_path / "counted.yaml"
    path.write_text(EXPERIMENT + extra)
    return path


def outputs(run_dir):
    return {name: (run_dir / name).read_bytes() for name in ("summary.csv", "trajectories.csv")}


def simulate_events(events):
    return [e for e in events if e.phase == "simulate"]


@pytest.fixture
def report_every_call(monkeypatch):
    """Each step of each condition counted and reported at once (no throttle)."""
    monkeypatch.setattr(progress_module, "REPORT_SECONDS", 0.0)


def test_the_experiment_is_one_task(tmp_path):
    assert len(plan_run(load_experiment(write(tmp_path))).tasks) == 1


def test_seeds_advance_step_by_step_inside_a_single_batch(tmp_path, report_every_call):
    """On one thread, every step of every condition adds the batch's seeds
    divided by conditions x steps, in order, before the task ends."""
    events: list[ProgressEvent] = []
    run_experiment(write(tmp_path), out=tmp_path, threads=1, progress=events.append)
    simulate = simulate_events(events)
    inside = [e.done for e in simulate if e.tasks_done == 0]
    calls = CONDITIONS * STEPS
    assert inside == pytest.approx([SEEDS * k / calls for k in range(calls + 1)])
    assert all(e.total == SEEDS and e.unit == "seeds" for e in simulate)
    last = simulate[-1]
    assert last.finished and last.done == SEEDS and last.tasks_done == last.tasks_total == 1


def test_counting_changes_no_number(tmp_path, report_every_call):
    experiment = write(tmp_path)
    quiet = run_experiment(experiment, out=tmp_path / "quiet", threads=2)
    counted = run_experiment(experiment, out=tmp_path / "counted", threads=2, progress=print)
    assert outputs(counted.path) == outputs(quiet.path)


def test_threads_report_on_the_calling_thread_and_count_every_seed(tmp_path, report_every_call):
    """Two groups of 256 seeds on two threads: the count is exact at the end,
    never goes back, and the callback only ever runs on the caller's thread."""
    seen, threads = [], set()

    def record(event):
        seen.append(event)
        threads.add(threading.get_ident())

    run_experiment(write(tmp_path), out=tmp_path, threads=2, progress=record)
    done = [e.done for e in simulate_events(seen)]
    assert threads == {threading.get_ident()}
    assert done == sorted(done) and done[-1] == SEEDS
    assert any(0 < e.done < SEEDS for e in simulate_events(seen) if e.tasks_done == 0)


def test_sweep_points_are_shown_in_order(tmp_path, report_every_call):
    experiment = write(tmp_path, extra="sweep:\n  inputs.period: [4, 8, 16]\n")
    events = []
    run_experiment(experiment, out=tmp_path, threads=1, progress=events.append)
    simulate = simulate_events(events)
    assert {e.points for e in simulate} == {3} and simulate[-1].total == 3 * SEEDS
    points = [e.point for e in simulate]
    assert points == sorted(points) and set(points) == {1, 2, 3}
    # point k is shown while the seeds of points before it are done, not more
    for event in simulate:
        assert (event.point - 1) * SEEDS <= event.done <= event.point * SEEDS


def test_every_phase_is_reported_and_each_figure_counted(tmp_path):
    events = []
    outcome = run_experiment(write(tmp_path), out=tmp_path, figures=True, progress=events.append)
    phases = [e.phase for e in events]
    order = ["simulate", "tables", "metrics", "figures", "report"]
    assert sorted(set(phases), key=phases.index) == order
    finished = {e.phase: e for e in events if e.finished}
    assert set(finished) == set(order)
    drawn = len(list((outcome.path / "figures").glob("*.png")))
    assert drawn > 0
    assert finished["figures"].done == finished["figures"].total == drawn
    figures = [e.done for e in events if e.phase == "figures"]
    assert figures == sorted(figures) and figures[0] == 0


def test_an_interrupt_from_the_callback_inside_a_batch_resumes_to_the_same_bytes(
    tmp_path, report_every_call
):
    """Raising KeyboardInterrupt in the middle of the second batch (an event
    the task loop never saw before) stops the run like Ctrl-C."""
    experiment = write(tmp_path, extra="execution: {batch_size: 256}\n")
    reference = outputs(run_experiment(experiment, out=tmp_path / "reference").path)

    def stop(event):
        if event.tasks_done == 1 and 300 < event.done < 400:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="--resume"):
        run_experiment(experiment, out=tmp_path / "run", threads=1, progress=stop)
    resumed = run_experiment(experiment, out=tmp_path / "run", resume=True)
    assert resumed.status == "complete" and outputs(resumed.path) == reference


@pytest.mark.slow
def test_worker_processes_count_their_steps_before_a_task_ends(tmp_path, monkeypatch):
    """Two tasks on two worker processes: the shared counter moves before the
    first task is handed back, and the outputs equal a run in this process."""
    monkeypatch.setenv("STOCHLSTM_REPORT_SECONDS", "0.01")  # read by the workers
    monkeypatch.setattr(progress_module, "REPORT_SECONDS", 0.01)
    experiment = write(tmp_path, extra="execution: {batch_size: 256}\n")
    experiment.write_text(experiment.read_text().replace(f"steps: {STEPS}", "steps: 3000"))
    reference = outputs(run_experiment(experiment, out=tmp_path / "local").path)
    events = []
    outcome = run_experiment(
        experiment, out=tmp_path / "jobs", jobs=2, executor="processes", progress=events.append
    )
    assert outputs(outcome.path) == reference
    done = [e.done for e in simulate_events(events)]
    assert done == sorted(done) and done[-1] == SEEDS
    before_first = [e.done for e in simulate_events(events) if e.tasks_done == 0]
    assert any(0 < d < SEEDS for d in before_first)


# ---------------------------------------------------------------- showing it


def test_progress_true_shows_the_phases_even_off_a_terminal(tmp_path, capsys):
    """Off a terminal (a log, this test) the last state of every row is shown
    once, at the end (figures and later phases: see the events test above)."""
    run_experiment(write(tmp_path), out=tmp_path, progress=True)
    shown = capsys.readouterr().err
    assert f"{SEEDS}/{SEEDS} seeds" in shown and "tables" in shown and "done" in shown


def test_progress_false_shows_nothing(tmp_path, capsys):
    run_experiment(write(tmp_path), out=tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_must_be_a_flag_or_a_callable(tmp_path):
    with pytest.raises(TypeError, match="progress: expected True, False, None or a callable"):
        run_experiment(write(tmp_path), out=tmp_path, progress="yes")
    assert not (tmp_path / "counted").exists()  # refused before anything is written


def event(**fields):
    values = dict(phase="simulate", done=6141.7, total=10000, unit="seeds", elapsed=3.2)
    return ProgressEvent(**{**values, **fields})


def test_an_event_in_words():
    assert describe(event(rate=1893.4, point=2, points=5)) == (
        "point 2/5  6,141/10,000 seeds  1,893/s"
    )
    assert describe(event(rate=None)) == "6,141/10,000 seeds"
    assert describe(event(phase="figures", unit="figures", done=4, total=None)) == "4 figures"
    assert describe(event(phase="figures", unit="figures", done=4, total=9)) == "4/9 figures"
    assert describe(event(phase="tables", unit="", done=1, total=1, finished=True)) == "done"


def test_time_left_is_what_remains_at_the_rate_so_far():
    assert event(rate=1000.0).remaining_seconds == pytest.approx((10000 - 6141.7) / 1000)
    assert event(rate=None).remaining_seconds is None
    assert event(total=None, rate=5.0).remaining_seconds is None


def test_the_display_draws_rows_on_a_terminal():
    text = io.StringIO()
    console = Console(file=text, force_terminal=True, width=120)
    with show_progress(console) as show:
        show(event(rate=1000.0, point=2, points=5))
        show(event(phase="tables", unit="", done=1, total=1, finished=True))
    drawn = text.getvalue()
    assert "point 2/5" in drawn and "1,000/s" in drawn and "ETA 3.9 s" in drawn
    assert "tables" in drawn and "done" in drawn


def test_a_notebook_without_ipywidgets_gets_one_updated_html_output(monkeypatch):
    """rich's live display needs ipywidgets in a notebook; without it the rows
    go to one display handle, updated in place (IPython stands in here)."""
    import sys
    import types

    updates = []
    handle = types.SimpleNamespace(update=lambda html: updates.append(html.data))
    display = types.ModuleType("IPython.display")
    display.HTML = lambda data: types.SimpleNamespace(data=data)
    display.display = lambda obj, display_id=False: handle
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    notebook = Console(force_jupyter=True, file=io.StringIO())
    with show_progress(notebook) as show:
        show(event(rate=1000.0, point=2, points=5))
        show(event(phase="tables", unit="", done=1, total=1, finished=True))
    assert notebook.file.getvalue() == ""
    assert "point 2/5" in updates[0] and "<pre" in updates[0]
    assert "tables" in updates[-1] and "done" in updates[-1]


def test_advance_outside_a_run_does_nothing():
    advance()
    progress_module.expect(3)
