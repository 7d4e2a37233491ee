"""Figures of a training run, drawn from its tables (no torch):

- ``learning_curves``: validation loss over iterations, per arm: the median
  over training seeds as a line, their range (lowest to highest) as a band,
  and what a trivial prediction scores (adding: the target's mean, 1/6; copy:
  a uniform guess, log of the symbols) as a dashed line; with ``keep: best``,
  a dot where each model's kept weights were validated;
- ``evaluation_matrix``: train condition x test-time rule, the test loss
  (mean over training seeds of each model's mean over the noise seeds; the
  median over training seeds below it);
- ``gate_histograms``: the gate probabilities of the trained models under the
  deterministic rule on the test set, per arm and gate (all training seeds),
  with the saturated ranges (below 0.1, above 0.9) shaded and their share.

Saved with :func:`stochlstm.analysis.figures._style.save` (same data, same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from ..analysis.figures._style import BAND, DASHED_LINE, condition_colors, figure, legend, save
from ..engine.statistics import student_t_975
from .loop import SATURATION

__all__ = [
    "draw_training_figures",
    "plot_evaluation_matrix",
    "plot_gate_histograms",
    "plot_learning_curves",
    "seed_mean_ci",
]

GATE_LABELS = {"p_i": "input gate", "p_f": "forget gate", "p_o": "output gate"}


def seed_mean_ci(frame: pd.DataFrame, keys: Sequence[str], value: str) -> pd.DataFrame:
    """Per ``keys``: n, mean, sd and the 95% CI of the mean of ``value`` over its rows."""

    def stats(values: pd.Series) -> pd.Series:
        n = len(values)
        mean, sd = values.mean(), values.std(ddof=1) if n > 1 else np.nan
        half = student_t_975(n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        return pd.Series(
            {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}
        )

    grouped = frame.groupby(list(keys), sort=False)[value]
    return grouped.apply(stats).unstack().reset_index()


def trivial_loss(task: dict | None) -> tuple[float, str] | None:
    """What a trivial prediction scores on ``task`` (the manifest's), and its name."""
    kind = (task or {}).get("kind")
    if kind == "adding":
        return 1 / 6, "predicting the mean (1): MSE 1/6"
    if kind == "copy":
        symbols = task.get("symbols", 8)
        return float(np.log(symbols)), f"a uniform guess: log {symbols}"
    return None


def plot_learning_curves(
    training: pd.DataFrame, task: dict | None = None, kept: dict[str, int] | None = None
) -> Figure:
    """``kept`` (``{"<condition>/seed-<k>": iteration}``, with ``keep: best``) marks
    the validation record whose weights each model kept."""
    rows = training[training["split"] == "validation"]
    curves = (
        rows.groupby(["condition", "iteration"], sort=False)["loss"]
        .agg(["median", "min", "max"])
        .reset_index()
    )
    names = list(pd.unique(curves["condition"]))
    colors = condition_colors(names, names[0] if names else None)
    with figure(1, 1, (6.4, 4.2)) as (fig, axes):
        ax = axes[0, 0]
        handles = []
        for name in names:
            part = curves[curves["condition"] == name]
            x = part["iteration"].to_numpy(dtype=float)
            ax.fill_between(x, part["min"], part["max"], color=colors[name], **BAND)
            (line,) = ax.plot(x, part["median"], color=colors[name], linewidth=1.8, label=name)
            handles.append(line)
        if kept:
            marks = rows.assign(model=rows["condition"] + "/seed-" + rows["train_seed"].astype(str))
            marks = marks[marks["iteration"] == marks["model"].map(kept)]
            for name in names:
                part = marks[marks["condition"] == name]
                ax.plot(part["iteration"], part["loss"], "o", color=colors[name], markersize=4)
            handles.append(
                (ax.plot([], [], "o", color="grey", markersize=4)[0], "weights kept (lowest loss)")
            )
        trivial = trivial_loss(task)
        if trivial is not None:
            handles.append(ax.axhline(trivial[0], color="grey", label=trivial[1], **DASHED_LINE))
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("validation loss, under the arm's own gates")
        seeds = training["train_seed"].nunique()
        ax.set_title(f"Learning curves: median of {seeds} training seeds (band: their range)")
        legend(fig, handles, ncol=min(3, len(handles)))
    return fig


def matrix_table(evaluation: pd.DataFrame, statistic: str = "mean") -> pd.DataFrame:
    """Train condition x test rule: the mean (or ``statistic``) over training seeds
    of the test loss."""
    grouped = evaluation.groupby(["train_condition", "eval_rule"], sort=False)["loss_mean"]
    table = grouped.agg(statistic).rename(statistic).reset_index()
    matrix = table.pivot(index="train_condition", columns="eval_rule", values=statistic)
    return matrix.loc[pd.unique(evaluation["train_condition"]), pd.unique(evaluation["eval_rule"])]


def plot_evaluation_matrix(evaluation: pd.DataFrame) -> Figure:
    matrix = matrix_table(evaluation)
    medians = matrix_table(evaluation, "median")
    values = matrix.to_numpy(dtype=float)
    seeds = evaluation["train_seed"].nunique()
    noise = int(evaluation["n"].iloc[0])
    with figure(1, 1, (1.6 + 1.5 * values.shape[1], 1.6 + 0.7 * values.shape[0])) as (fig, axes):
        ax = axes[0, 0]
        image = ax.imshow(values, cmap="viridis_r", norm=LogNorm(), aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            color = "white" if image.norm(value) > 0.5 else "black"
            text = f"{value:.3g}\n(median {medians.iloc[row, col]:.2g})"
            ax.text(col, row, text, ha="center", va="center", color=color, fontsize=8.5)
        ax.set_xticks(range(values.shape[1]), matrix.columns)
        ax.set_yticks(range(values.shape[0]), matrix.index)
        ax.set_xlabel("gates at test time")
        ax.set_ylabel("gates while training")
        ax.grid(False)
        ax.set_title(
            f"Test loss: mean over {seeds} training seeds\n"
            f"(each model's mean over {noise:,} noise seeds and test examples)"
        )
        colorbar = fig.colorbar(image, ax=ax, label="test loss (log scale; lower is better)")
        colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        if values.max() < 10 * values.min():  # within a decade the minor ticks are labelled
            colorbar.ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    return fig


def plot_gate_histograms(gates: pd.DataFrame) -> Figure:
    names = list(pd.unique(gates["condition"]))
    edges = np.linspace(0.0, 1.0, int(gates["bin_low"].nunique()) + 1)
    with figure(1, len(names), (2.6 * len(names) + 0.6, 3.4), sharey=True) as (fig, axes):
        handles = []
        for ax, name in zip(axes[0], names, strict=True):
            part = gates[gates["condition"] == name]
            for side in ((0.0, SATURATION), (1 - SATURATION, 1.0)):
                ax.axvspan(*side, color="grey", alpha=0.12, linewidth=0)
            for gate, label in GATE_LABELS.items():
                counts = part[part["gate"] == gate].groupby("bin_low", sort=True)["count"].sum()
                share = counts.to_numpy() / counts.sum()
                line = ax.stairs(share, edges, label=label, linewidth=1.5)
                if ax is axes[0, 0]:
                    handles.append(line)
            counts = part.groupby("bin_low", sort=True)["count"].sum()
            low = counts.index.to_numpy()
            saturated = counts[(low < SATURATION - 1e-9) | (low >= 1 - SATURATION - 1e-9)].sum()
            ax.set_title(f"trained {name}\n{saturated / counts.sum():.0%} saturated")
            ax.set_xlabel("gate probability")
            ax.set_xlim(0, 1)
        axes[0, 0].set_ylabel("share of gate values")
        fig.suptitle(
            "Gate probabilities of the trained models on the test set (deterministic gates); "
            f"shaded: saturated, p < {SATURATION} or p > {1 - SATURATION:.1f}"
        )
        legend(fig, handles)
    return fig


def draw_training_figures(run_dir: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """The three figures of a training run into ``run_dir/figures``."""
    run_dir = Path(run_dir)
    folder = run_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    training = pd.read_csv(run_dir / "training.csv")
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    gates = pd.read_csv(run_dir / "gates.csv")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    kept = manifest.get("kept_iteration") if manifest.get("keep") == "best" else None
    curves = plot_learning_curves(training, manifest.get("task"), kept)
    written = save(curves, folder, "learning_curves", formats)
    written += save(plot_evaluation_matrix(evaluation), folder, "evaluation_matrix", formats)
    written += save(plot_gate_histograms(gates), folder, "gate_histograms", formats)
    return written
