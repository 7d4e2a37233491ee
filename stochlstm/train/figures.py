"""Figures of a training run, drawn from its tables (no torch):

- ``learning_curves``: validation loss over iterations, per arm, the mean
  over training seeds with the 95% CI of that mean (Student's t) as a band;
- ``evaluation_matrix``: train condition x test-time rule, the test loss
  (mean over training seeds of each model's mean over the noise seeds);
- ``gate_histograms``: the gate probabilities of the trained models under the
  deterministic rule on the test set, per arm and gate (all training seeds).

Saved with :func:`stochlstm.analysis.figures._style.save` (same data, same bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis.figures._style import BAND, condition_colors, figure, legend, save
from ..engine.statistics import student_t_975

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


def plot_learning_curves(training: pd.DataFrame) -> Figure:
    rows = training[training["split"] == "validation"]
    curves = seed_mean_ci(rows, ["condition", "iteration"], "loss")
    names = list(pd.unique(curves["condition"]))
    colors = condition_colors(names, names[0] if names else None)
    with figure(1, 1, (6.4, 4.2)) as (fig, axes):
        ax = axes[0, 0]
        handles = []
        for name in names:
            part = curves[curves["condition"] == name]
            x = part["iteration"].to_numpy(dtype=float)
            ax.fill_between(x, part["ci_low"], part["ci_high"], color=colors[name], **BAND)
            (line,) = ax.plot(x, part["mean"], color=colors[name], linewidth=1.8, label=name)
            handles.append(line)
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("validation loss (own rule)")
        seeds = training["train_seed"].nunique()
        ax.set_title(f"Learning curves: mean over {seeds} training seeds, 95% CI band")
        legend(fig, handles, ncol=min(4, len(handles)))
    return fig


def matrix_table(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Train condition x test rule: mean over training seeds of the test loss."""
    table = seed_mean_ci(evaluation, ["train_condition", "eval_rule"], "loss_mean")
    matrix = table.pivot(index="train_condition", columns="eval_rule", values="mean")
    return matrix.loc[pd.unique(evaluation["train_condition"]), pd.unique(evaluation["eval_rule"])]


def plot_evaluation_matrix(evaluation: pd.DataFrame) -> Figure:
    matrix = matrix_table(evaluation)
    values = matrix.to_numpy(dtype=float)
    with figure(1, 1, (1.6 + 1.5 * values.shape[1], 1.4 + 0.6 * values.shape[0])) as (fig, axes):
        ax = axes[0, 0]
        image = ax.imshow(np.log10(values), cmap="viridis_r", aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            ax.text(
                col,
                row,
                f"{value:.3g}",
                ha="center",
                va="center",
                color="white" if image.norm(np.log10(value)) > 0.5 else "black",
            )
        ax.set_xticks(range(values.shape[1]), matrix.columns)
        ax.set_yticks(range(values.shape[0]), matrix.index)
        ax.set_xlabel("test-time rule")
        ax.set_ylabel("trained with")
        ax.grid(False)
        ax.set_title("Test loss (mean over training seeds)")
        fig.colorbar(image, ax=ax, label="log10 test loss")
    return fig


def plot_gate_histograms(gates: pd.DataFrame) -> Figure:
    names = list(pd.unique(gates["condition"]))
    with figure(1, len(names), (2.6 * len(names) + 0.6, 3.2), sharey=True) as (fig, axes):
        handles = []
        for ax, name in zip(axes[0], names, strict=True):
            part = gates[gates["condition"] == name]
            for gate, label in GATE_LABELS.items():
                counts = part[part["gate"] == gate].groupby("bin_low", sort=True)["count"].sum()
                share = counts / counts.sum()
                (line,) = ax.step(
                    counts.index.to_numpy() + 0.025, share.to_numpy(), where="mid", label=label
                )
                if ax is axes[0, 0]:
                    handles.append(line)
            ax.set_title(name)
            ax.set_xlabel("gate probability")
            ax.set_xlim(0, 1)
        axes[0, 0].set_ylabel("share of gate values")
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
    written = save(plot_learning_curves(training), folder, "learning_curves", formats)
    written += save(plot_evaluation_matrix(evaluation), folder, "evaluation_matrix", formats)
    written += save(plot_gate_histograms(gates), folder, "gate_histograms", formats)
    return written
