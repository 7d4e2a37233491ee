"""Figures of the metrics, every condition and sweep point in one panel:
divergence from the deterministic path (:func:`plot_divergence`) and memory
survival against theory (:func:`plot_survival`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._style import (
    BASELINE_COLOR,
    MAX_ARMS,
    STATE_NAMES,
    arm_rows,
    arms,
    ci_band,
    figure,
    integer_steps,
    legend,
    style,
)

__all__ = ["plot_divergence", "plot_survival"]


def plot_divergence(
    metrics: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("c", "h"),
    conditions: Sequence[str] | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Divergence from the deterministic path over time (metric ``divergence``),
    one line and 95% band per condition (and point of the ``sweep`` columns),
    one panel per quantity."""
    rows = metrics[metrics["metric"] == "divergence"]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    quantities = [q for q in quantities if (rows["quantity"] == q).any()]
    if not quantities:
        raise ValueError("plot_divergence: the metrics have no divergence rows")
    found = arms(rows, sweep)
    shown = found[:max_arms]
    palette = sns.color_palette("colorblind", max(1, len(shown)))
    with style():
        fig, axes = figure(1, len(quantities), (4.8 * len(quantities) + 0.4, 3.9), sharex=True)
        for col, quantity in enumerate(quantities):
            ax = axes[0, col]
            for (point, condition, label), color in zip(shown, palette, strict=False):
                mine = arm_rows(rows[rows["quantity"] == quantity], point, condition).sort_values(
                    "t"
                )
                t = mine["t"].to_numpy(dtype=float)
                ci_band(ax, t, mine["ci_low"], mine["ci_high"], color, f"_band {label}")
                ax.plot(t, mine["value"], color=color, linewidth=1.8, label=label)
            ax.set_title(STATE_NAMES.get(quantity, quantity))
            ax.set_xlabel("step t")
            integer_steps(ax)
            ax.set_ylabel(f"RMS over units of {quantity} − {quantity}_det")
            ax.set_ylim(bottom=0)
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles.append(Patch(color="grey", alpha=0.3, label="95% CI of the mean"))
        legend(fig, handles, ncol=min(4, len(handles)))
        note = f" ({len(shown)} of {len(found)} shown)" if len(shown) < len(found) else ""
        fig.suptitle(f"Divergence from the deterministic path, mean over seeds ± 95% CI{note}")
    return fig


def plot_survival(
    metrics: pd.DataFrame,
    *,
    conditions: Sequence[str] | None = None,
    baseline: str | None = None,
    sweep: Sequence[str] = (),
    max_arms: int = MAX_ARMS,
) -> Figure:
    """Memory survival over time, mean over units: the realised retention
    (solid, 95% band) and the theoretical product of keep probabilities (dashed)
    per condition (and sweep point)."""
    rows = metrics[metrics["metric"].isin(["retention", "retention_theory"]) & metrics["t"].notna()]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    if rows.empty:
        raise ValueError("plot_survival: the metrics have no retention rows")
    found = arms(rows, sweep)
    shown = found[:max_arms]
    stochastic_arms = [a for a in shown if a[1] != baseline]
    palette = dict(
        zip(
            [a[2] for a in stochastic_arms],
            sns.color_palette("colorblind", max(1, len(stochastic_arms))),
            strict=False,
        )
    )
    with style():
        fig, axes = figure(1, 2, (11.0, 4.4), sharex=True)
        positive = rows.loc[rows["value"] > 0, "value"]
        floor = max(1e-6, 0.5 * float(positive.min())) if len(positive) else 1e-6
        for ax, log in zip(axes[0], (False, True), strict=True):
            ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="_half")
            for point, condition, label in shown:
                color = BASELINE_COLOR if condition == baseline else palette[label]
                mine = arm_rows(rows, point, condition).sort_values("t")
                empirical = mine[mine["metric"] == "retention"]
                theory = mine[mine["metric"] == "retention_theory"]
                if not empirical.empty:
                    t, value = empirical["t"].to_numpy(dtype=float), empirical["value"].to_numpy()
                    if log:  # lines only; zero retention (every seed forgot) is off the scale
                        value = np.where(value > 0, value, np.nan)
                    else:
                        ci_band(
                            ax,
                            t,
                            empirical["ci_low"],
                            empirical["ci_high"],
                            color,
                            f"_band {label}",
                        )
                    ax.plot(t, value, color=color, linewidth=1.8, label=label)
                if not theory.empty:
                    value = theory["value"].to_numpy()
                    if log:
                        value = np.where(value > 0, value, np.nan)
                    ax.plot(
                        theory["t"].to_numpy(dtype=float),
                        value,
                        color=color,
                        linewidth=1.4,
                        linestyle="--",
                        label=f"_theory {label}",
                    )
            ax.set_xlabel("step t")
            integer_steps(ax)
            if log:
                ax.set_yscale("log")
                ax.set_ylim(floor, 1.5)
                ax.set_title("log scale (no bands)")
            else:
                ax.set_ylim(-0.02, 1.02)
                ax.set_title("linear scale, 95% CI bands")
                ax.set_ylabel("retention of c since t = 0 (mean over units)")
        handles, _ = axes[0, 0].get_legend_handles_labels()
        handles += [
            Line2D([], [], color="grey", linewidth=1.8, label="realised: product of keep factors"),
            Line2D(
                [],
                [],
                color="grey",
                linewidth=1.4,
                linestyle="--",
                label="theory: product of keep probabilities",
            ),
        ]
        legend(fig, handles, ncol=min(4, max(2, len(shown))))
        note = f" ({len(shown)} of {len(found)} shown)" if len(shown) < len(found) else ""
        fig.suptitle(f"Memory survival: realised vs theoretical retention of the cell state{note}")
    return fig
