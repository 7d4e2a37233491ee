"""The training figures show what their titles say: checked on the plotted data."""

import numpy as np
import pandas as pd
import pytest

from stochlstm.train.figures import (
    plot_evaluation_matrix,
    plot_gate_histograms,
    plot_learning_curves,
)


def test_learning_curves_show_the_median_and_range_of_the_seeds_and_the_trivial_loss():
    losses = {0: [0.5, 0.1, 0.05], 1: [0.4, 0.2, 0.01], 2: [0.6, 0.3, 0.02]}
    training = pd.DataFrame(
        [
            {"condition": "a", "train_seed": seed, "iteration": 10 * k, "split": split, "loss": v}
            for seed, values in losses.items()
            for k, v in enumerate(values)
            for split in ("validation", "train")
        ]
    )
    ax = plot_learning_curves(training, {"kind": "adding", "steps": 20}).axes[0]
    median, trivial = ax.lines
    np.testing.assert_array_equal(median.get_xdata(), [0, 10, 20])
    np.testing.assert_array_equal(median.get_ydata(), [0.5, 0.2, 0.02])
    assert trivial.get_ydata()[0] == pytest.approx(1 / 6)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.01 and band[:, 1].max() == 0.6
    assert "median of 3 training seeds" in ax.get_title()


def test_the_matrix_writes_each_cell_mean_and_median_over_training_seeds():
    evaluation = pd.DataFrame(
        {
            "train_condition": ["x"] * 6,
            "train_seed": [0, 1, 2] * 2,
            "eval_rule": ["deterministic"] * 3 + ["bernoulli"] * 3,
            "n": 10,
            "loss_mean": [0.1, 0.2, 0.6, 0.3, 0.3, 0.9],
        }
    )
    ax = plot_evaluation_matrix(evaluation).axes[0]
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["0.3\n(median 0.2)", "0.5\n(median 0.3)"]


def test_gate_histograms_state_the_saturated_share():
    edges = np.linspace(0, 1, 21)
    rows = [
        {"condition": "c", "train_seed": 0, "gate": gate, "bin_low": low, "bin_high": high}
        | {"count": 3 if k in (0, 19) else 1 if k == 10 else 0}
        for gate in ("p_i", "p_f", "p_o")
        for k, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    ax = plot_gate_histograms(pd.DataFrame(rows)).axes[0]
    assert ax.get_title() == "trained c\n86% saturated"  # 6 of 7 in the end bins
    shares = ax.patches[2].get_data()[0]  # a stairs artist per gate, after the two shadings
    np.testing.assert_allclose(shares[[0, 10, 19]], [3 / 7, 1 / 7, 3 / 7])


def test_learning_curves_mark_the_kept_weights():
    training = pd.DataFrame(
        {
            "condition": "a",
            "train_seed": [0, 0, 0, 1, 1, 1],
            "iteration": [0, 5, 10] * 2,
            "split": "validation",
            "loss": [0.9, 0.2, 0.4, 0.8, 0.5, 0.3],
        }
    )
    ax = plot_learning_curves(training, kept={"a/seed-0": 5, "a/seed-1": 10}).axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
    assert len(dots) == 1
    np.testing.assert_array_equal(dots[0].get_xdata(), [5, 10])
    np.testing.assert_array_equal(dots[0].get_ydata(), [0.2, 0.3])
