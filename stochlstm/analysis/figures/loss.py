"""The figure of a run with targets: how much each gating costs the readout.

Left, each condition's loss over the loss window (the mean over seeds of each
seed's loss, with its 95% CI), beside the loss of its seed-averaged
prediction, against the baseline's as a vertical line. Right, the forecasts
over the window: the targets, the baseline's prediction, and the mean
prediction (with its 95% band) of the condition that costs most and of the one
that costs least.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._style import BAND, BASELINE_LINE, MEAN_LINE, condition_colors, figure, legend, title

__all__ = ["plot_loss"]

PER_SEED = dict(marker="o", markersize=6, linestyle="none", zorder=3)
OF_MEAN = dict(marker="D", markersize=6, linestyle="none", fillstyle="none", zorder=4)


def plot_loss(
    metrics: pd.DataFrame,
    summary: pd.DataFrame,
    targets: pd.DataFrame | None,
    *,
    baseline: str | None = None,
    conditions: Sequence[str] | None = None,
) -> Figure:
    """The loss figure of a run without a sweep (see the module docstring);
    ``conditions`` limits what is drawn."""
    window = metrics[metrics["metric"] == "loss_window"]
    if conditions is not None:
        window = window[window["condition"].isin(conditions)]
    window = window.sort_values("value", kind="stable")
    of_mean = metrics[metrics["metric"] == "loss_of_mean_prediction"].set_index("condition")
    names = list(pd.unique(metrics["condition"]))
    colors = condition_colors(names, baseline)
    loss_name = targets["loss"].iloc[0] if targets is not None and len(targets) else "loss"
    forecasts = targets is not None and (summary["quantity"] == "y").any()
    height = max(3.2, 0.45 * len(window) + 1.6)
    with figure(1, 2 if forecasts else 1, (13 if forecasts else 6.5, height)) as (fig, axes):
        ax = axes[0, 0]
        for k, row in enumerate(window.itertuples(index=False)):
            color = colors[row.condition]
            low, high = row.value - row.ci_low, row.ci_high - row.value
            ax.errorbar([row.value], [k], xerr=[[low], [high]], color=color, capsize=3, **PER_SEED)
            if row.condition in of_mean.index:
                ax.plot([of_mean.loc[row.condition, "value"]], [k], color=color, **OF_MEAN)
        ax.set_yticks(range(len(window)), list(window["condition"]))
        ax.invert_yaxis()
        reference = window[window["condition"] == baseline]
        if len(reference):
            ax.axvline(reference["value"].iloc[0], **{**BASELINE_LINE, "zorder": 2})
        ax.set_xlabel(f"{loss_name} over the loss window")
        ax.set_title("per seed (mean, 95% CI) and of the seed-averaged prediction")
        if forecasts:
            _draw_forecasts(axes[0, 1], summary, targets, window, baseline, colors)
        title(fig, f"What each gating costs the readout: {loss_name} over the loss window")
        handles = [
            Line2D([], [], color="grey", **PER_SEED),
            Line2D([], [], color="grey", **OF_MEAN),
        ]
        handles[0].set_label("mean over seeds of each seed's loss, 95% CI")
        handles[1].set_label("loss of the seed-averaged prediction")
        if len(reference):
            handles.append(Line2D([], [], label=f"{baseline} (baseline)", **BASELINE_LINE))
        if forecasts:
            handles.append(Line2D([], [], color="black", linewidth=1.2, label="target"))
        legend(fig, handles, ncol=2)
    return fig


def _draw_forecasts(ax, summary, targets, window, baseline, colors) -> None:
    """Targets, the baseline's prediction and the mean prediction of the
    conditions that cost most and least, over the loss window (first output)."""
    in_window = targets[targets["in_window"].astype(bool)]
    unit = in_window["unit"].iloc[0]  # the first output (-1: a class index)
    goal = in_window[in_window["unit"] == unit].sort_values("t")
    predictions = summary[
        (summary["quantity"] == "y")
        & (summary["unit"] == max(unit, 0))
        & summary["t"].isin(goal["t"])
    ]
    ax.plot(goal["t"], goal["target"], color="black", linewidth=1.2, zorder=5)
    others = window[window["condition"] != baseline]
    shown = list(dict.fromkeys([*others["condition"].iloc[[-1]], *others["condition"].iloc[[0]]]))
    for name in [baseline, *shown]:
        rows = predictions[predictions["condition"] == name].sort_values("t")
        if rows.empty:
            continue
        if name == baseline:
            ax.plot(rows["t"], rows["mean"], **BASELINE_LINE, label=f"{name} prediction")
            continue
        ax.fill_between(rows["t"], rows["ci_low"], rows["ci_high"], color=colors[name], **BAND)
        ax.plot(rows["t"], rows["mean"], color=colors[name], **MEAN_LINE, label=name)
    ax.set_xlabel("step t")
    ax.set_ylabel("y (first output)")
    ax.set_title("forecasts: mean over seeds ± 95% CI (most and least costly gating)")
    ax.legend(loc="best", fontsize="small", frameon=False)
