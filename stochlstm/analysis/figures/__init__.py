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
:func:`plot_trajectories`   c and h per unit over time: deterministic line, stochastic
                            mean with its 95% band, a few sample paths
:func:`plot_divergence`     divergence from the deterministic path over time
:func:`plot_final_states`   distributions of the final state over the sample paths,
                            deterministic value marked
:func:`plot_gate_heatmaps`  mean gate probability vs mean realised gate per (t, unit)
:func:`plot_survival`       memory survival, empirical (solid) vs theory (dashed)
==========================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ...core.names import GATES, SUMMARY_KEYS, TRAJECTORY_KEYS
from ..run import Run, load_run
from ._style import MAX_SWEEP_POINTS, save, select
from .gates import gate_pairs, plot_gate_heatmaps
from .metrics import plot_divergence, plot_survival
from .states import plot_final_states, plot_trajectories

__all__ = [
    "draw_figures",
    "plot_divergence",
    "plot_final_states",
    "plot_gate_heatmaps",
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
) -> list[Path]:
    """Write every figure that applies to a run into ``figures/`` (or ``out_dir``),
    in each of ``formats``; return the files written.

    Figures whose quantities were not recorded are skipped. Files are written to
    a temporary name and renamed into place. With a sweep, the per-point
    figures (trajectories, final states, gates) are drawn for the first
    ``max_sweep_points`` sweep points, named ``<figure>__<param>=<value>``; the
    divergence and survival figures show every point.
    """
    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    folder = Path(out_dir) if out_dir is not None else run.figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    summary, trajectories, baseline = run.summary, run.trajectories, run.baseline
    sweep = run.sweep_columns
    rows = summary[sweep].drop_duplicates().itertuples(index=False)
    points = [dict(zip(sweep, row, strict=True)) for row in rows][:max_sweep_points] or [{}]
    written: list[Path] = []
    for point, (_, config) in zip(points, run.points, strict=False):
        suffix = "__" + "_".join(f"{k}={v}" for k, v in point.items()) if point else ""
        shared = dict(baseline=baseline, sweep=point, hidden_size=config.model.hidden_size)
        part = select(summary, point, SUMMARY_KEYS, "draw_figures")
        if set(part["quantity"]) & {"c", "h"}:
            fig = plot_trajectories(part, trajectories, **shared)
            written += save(fig, folder, f"trajectories{suffix}", formats)
        if trajectories is not None and {"c", "h"} & set(trajectories.columns):
            sample = select(trajectories, point, TRAJECTORY_KEYS, "draw_figures")
            if not sample.empty:
                fig = plot_final_states(sample, **shared)
                written += save(fig, folder, f"final_states{suffix}", formats)
        for condition in pd.unique(part["condition"]):
            if condition != baseline and gate_pairs(part, condition, GATES):
                fig = plot_gate_heatmaps(part, condition, **shared)
                written += save(fig, folder, f"gates_{condition}{suffix}", formats)

    metrics = run.metrics
    if (metrics["metric"] == "divergence").any():
        written += save(plot_divergence(metrics, sweep=sweep), folder, "divergence", formats)
    if metrics["metric"].isin(["retention", "retention_theory"]).any():
        fig = plot_survival(metrics, baseline=baseline, sweep=sweep)
        written += save(fig, folder, "survival", formats)
    return written
