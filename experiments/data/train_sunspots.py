"""Train the forecaster of experiments/sunspot-forecast.yaml and save its weights.

One-step-ahead forecasting of the yearly sunspot number (sunspots.csv, 1700 to
2008): the series is z-scored with the mean and population sd of 1700-1949,
an ``nn.LSTM(1, 24)`` reads it year by year from 1700 and an ``nn.Linear(24, 1)``
head predicts the next year's z-score (the target of step t is the input of
step t + 1). Adam minimises the MSE of the predictions of 1701-1899 (steps
0..198); the weights kept are those with the lowest MSE on 1900-1949 (steps
199..248, checked every 25 iterations: early stopping, as the model overfits
250 years within a few hundred iterations). The test MSE, printed beside
persistence (next year = this year), is that of the predictions of 1950-2008
(steps 249..307), the loss window of the experiment file; the test years play
no part in training or in choosing the weights.

Deterministic: the initial weights are the toolkit's seeded ``U(-1/sqrt(24),
1/sqrt(24))`` (:func:`stochlstm.init_uniform`, torch's own scheme), training
is full-batch Adam on one thread, so a rerun on the same machine gives the
same weights. Saves ``sunspots-lstm.pt``, a float32 state dict with keys
``lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0,
head.weight, head.bias``, and the same arrays as ``sunspots-lstm.npz`` (which
the experiment reads, so running it needs no torch). Needs torch; runs in well
under a minute:

    python experiments/data/train_sunspots.py
"""

from __future__ import annotations

import copy
import csv
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stochlstm import init_uniform

HERE = Path(__file__).resolve().parent
DATA, WEIGHTS = HERE / "sunspots.csv", HERE / "sunspots-lstm.pt"
WEIGHTS_NPZ = WEIGHTS.with_suffix(".npz")
FIT_ROWS = slice(0, 250)  # 1700-1949: the rows the z-score is fitted on
TRAIN_STEPS = range(0, 199)  # predictions of 1701-1899
VALIDATION_STEPS = range(199, 249)  # predictions of 1900-1949
TEST_STEPS = range(249, 308)  # predictions of 1950-2008
HIDDEN, ITERATIONS, CHECK_EVERY, LEARNING_RATE, SEED = 24, 1000, 25, 0.01, 0


class Forecaster(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs (T, 1)`` -> the prediction of each step ``(T,)``."""
        hidden, _ = self.lstm(inputs[:, None, :])
        return self.head(hidden[:, 0]).squeeze(-1)


def read_series() -> np.ndarray:
    with DATA.open(newline="") as file:
        return np.array([float(row["SUNACTIVITY"]) for row in csv.DictReader(file)])


def seeded_model() -> Forecaster:
    """The model with the toolkit's seeded initial weights."""
    start = init_uniform(input_size=1, hidden_size=HIDDEN, output_size=1, seed=SEED)
    model = Forecaster(HIDDEN)
    arrays = {
        "lstm.weight_ih_l0": start.weight_ih,
        "lstm.weight_hh_l0": start.weight_hh,
        "lstm.bias_ih_l0": start.bias_ih,
        "lstm.bias_hh_l0": start.bias_hh,
        "head.weight": start.readout_weight,
        "head.bias": start.readout_bias,
    }
    model.load_state_dict({key: torch.tensor(value) for key, value in arrays.items()})
    return model


def main() -> None:
    torch.set_num_threads(1)
    began = time.perf_counter()
    series = read_series()
    fit = series[FIT_ROWS]
    scaled = (series - fit.mean()) / fit.std()  # population sd, as normalize: {fit_rows}
    inputs = torch.tensor(scaled[:-1], dtype=torch.float32)[:, None]
    targets = torch.tensor(scaled[1:], dtype=torch.float32)
    train, validation, test = list(TRAIN_STEPS), list(VALIDATION_STEPS), list(TEST_STEPS)

    def mse(predictions, steps) -> float:
        return float(torch.mean((predictions[steps] - targets[steps]) ** 2))

    model = seeded_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    best = (np.inf, 0, None)  # validation MSE, iteration, weights
    for iteration in range(1, ITERATIONS + 1):
        optimizer.zero_grad()
        # the training predictions read the inputs up to 1898 only
        loss = torch.mean((model(inputs[: train[-1] + 1]) - targets[train]) ** 2)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if iteration % CHECK_EVERY == 0:
            with torch.no_grad():
                score = mse(model(inputs), validation)
            if score < best[0]:
                best = (score, iteration, copy.deepcopy(model.state_dict()))

    model.load_state_dict(best[2])
    with torch.no_grad():
        predictions = model(inputs)
    persistence = float(torch.mean((inputs[test, 0] - targets[test]) ** 2))
    torch.save(model.state_dict(), WEIGHTS)
    np.savez(WEIGHTS_NPZ, **{key: value.numpy() for key, value in model.state_dict().items()})
    print(f"z-score on 1700-1949: mean {fit.mean():.6f}, sd {fit.std():.6f}")
    print(f"kept iteration {best[1]} of {ITERATIONS}")
    print(f"MSE train (1701-1899) {mse(predictions, train):.4f}")
    print(f"MSE validation (1900-1949) {mse(predictions, validation):.4f}")
    print(f"MSE test (1950-2008) {mse(predictions, test):.4f}; persistence {persistence:.4f}")
    print(f"saved {WEIGHTS.name} and {WEIGHTS_NPZ.name} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
