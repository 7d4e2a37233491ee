"""Comparison figures, drawn from the toolkit's own summaries.

Every band is the summary's 95% CI (``ci_low``/``ci_high``, via
``fill_between``), never a seaborn bootstrap over raw rows. Each function
takes DataFrames and returns a :class:`matplotlib.figure.Figure` made without
pyplot (no global figure state, no display backend needed; in a notebook the
returned figure displays itself). :func:`draw_figures` writes every figure that
applies to a run into its ``figures/`` folder.

==========================  ==========================================================
function                    figure
==========================  ==========================================================
:func:`plot_trajectories`   c and h per unit over time: stochastic means with their
                            95% bands and faint sample paths, the deterministic path
                            on top; by default the units farthest from it
:func:`plot_divergence`     divergence from the deterministic path over time
:func:`plot_final_states`   the state at the last step over all seeds (mean, sd, 95%
                            CI), the recorded paths beside it, deterministic value marked
:func:`plot_gate_heatmaps`  mean gate probability vs mean realised gate per (t, unit),
                            for the gates a condition samples
:func:`plot_survival`       memory survival per condition against the deterministic
                            one, realised vs theory; log axis where it decays
==========================  ==========================================================

In a sweep, a condition whose values do not change with the swept parameter
is drawn once, and the sweep's points are an ordered (light to dark) scale of
the condition's colour.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ...core.names import GATES, SUMMARY_KEYS
from ..run import Run, load_run
from ..selection import Selection
from ._arms import varying_columns
from ._style import MAX_SWEEP_POINTS, save, select
from .gates import plot_gate_heatmaps, sampled_gates
from .loss import plot_loss
from .metrics import plot_divergence, plot_survival
from .states import plot_final_states, plot_trajectories

__all__ = [
    "Selection",
    "draw_figures",
    "plot_divergence",
    "plot_final_states",
    "plot_gate_heatmaps",
    "plot_loss",
    "plot_survival",
    "plot_trajectories",
]


def draw_figures(
    run: Run | str | os.PathLike,
    formats: Sequence[str] = ("png", "pdf"),
    *,
    out_dir: str | os.PathLike | None = None,
    allow_incomplete: bool = False,
    max_sweep_points: int = MAX_SWEEP_POINTS,
    units: Sequence[int] | None = None,
    conditions: Sequence[str] | None = None,
    steps: tuple[int | None, int | None] | None = None,
) -> list[Path]:
    """Write every figure that applies to a run into ``figures/`` (or ``out_dir``),
    in each of ``formats``; return the files written.

    ``units``, ``conditions`` and ``steps`` (``(start, stop)``, both inclusive,
    None for open) choose what is drawn (default: every condition and step, and
    the units :func:`~stochlstm.analysis.selection.contrast_units` picks); a choice the run
    cannot honour is a ``ValueError`` raised before anything is written.
    Figures whose quantities were not recorded are skipped. Files are written
    to a temporary name and renamed into place. With a sweep, the per-point
    figures (trajectories, final states, gates) are drawn for the first
    ``max_sweep_points`` sweep points, named ``<figure>__<param>=<value>``
    (a condition's gate figure once, unsuffixed, if it is the same at every
    point); the divergence and survival figures show every point.
    """
    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    choice = Selection.of(units, conditions, steps)
    sizes = [config.model.hidden_size for _, config in run.points]
    choice.check(run.summary, sizes)
    folder = Path(out_dir) if out_dir is not None else run.figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    summary, trajectories = choice.rows(run.summary), choice.rows(run.trajectories)
    baseline, sweep = run.baseline, run.sweep_columns
    drawn = choice.conditions
    rows = summary[sweep].drop_duplicates().itertuples(index=False)
    points = [dict(zip(sweep, row, strict=True)) for row in rows][:max_sweep_points] or [{}]
    gate_keys = [c for c in SUMMARY_KEYS if c != "condition"]
    changes = varying_columns(summary, sweep, gate_keys, ["mean"]) if sweep else {}
    written: list[Path] = []
    for k, (point, (_, config)) in enumerate(zip(points, run.points, strict=False)):
        suffix = "__" + "_".join(f"{key}={v}" for key, v in point.items()) if point else ""
        shared = dict(baseline=baseline, units=units, hidden_size=config.model.hidden_size)
        part = select(summary, point, SUMMARY_KEYS, "draw_figures")
        if units is not None and not part["unit"].isin(units).any():
            continue  # a point without the units chosen (a smaller hidden size)
        if part["quantity"].isin(["c", "h"]).any():
            fig = plot_trajectories(part, trajectories, conditions=drawn, sweep=point, **shared)
            written += save(fig, folder, f"trajectories{suffix}", formats)
            fig = plot_final_states(part, trajectories, conditions=drawn, sweep=point, **shared)
            written += save(fig, folder, f"final_states{suffix}", formats)
        for condition in pd.unique(part["condition"]):
            if condition == baseline or (drawn is not None and condition not in drawn):
                continue
            once = bool(sweep) and not changes.get(condition)  # the same at every point
            if (once and k > 0) or not sampled_gates(part, condition, GATES):
                continue
            fig = plot_gate_heatmaps(part, condition, sweep=None if once else point, **shared)
            if once:
                swept = ", ".join(sweep)
                fig.suptitle(f"{fig.get_suptitle()}\n(the same at every {swept} of the sweep)")
            written += save(fig, folder, f"gates_{condition}{'' if once else suffix}", formats)

    metrics = choice.rows(run.metrics)
    present = set(metrics["metric"]) if "metric" in metrics.columns else set()
    chosen = dict(conditions=drawn, baseline=baseline, sweep=sweep)
    if "divergence" in present and _has(metrics, ["divergence"], drawn):
        written += save(plot_divergence(metrics, **chosen), folder, "divergence", formats)
    if {"retention", "retention_theory"} & present and _has(
        metrics, ["retention", "retention_theory"], drawn
    ):
        written += save(plot_survival(metrics, **chosen), folder, "survival", formats)
    if "loss_window" in present and not sweep:
        fig = plot_loss(metrics, summary, run.targets, baseline=baseline, conditions=drawn)
        written += save(fig, folder, "loss", formats)
    return written


def _has(metrics: pd.DataFrame, names: list[str], conditions: Sequence[str] | None) -> bool:
    """Whether ``metrics`` has rows over time of ``names`` for one of ``conditions``."""
    rows = metrics[metrics["metric"].isin(names) & metrics["t"].notna()]
    return bool(len(rows)) and (conditions is None or rows["condition"].isin(conditions).any())
