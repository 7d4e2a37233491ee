"""The answer's worked example, one step of the cell shown number by number.

The answer gives ``x_t = [1, 2, 3]``, ``h_{t-1} = [4, 5, 6]``, ``W_i`` with rows
of ones, twos and threes acting on ``[x_t, h_{t-1}]``, ``b_i = [1, 1, 1]``, and
forget probabilities ``[0.5, 0.8, 0.9]``. Where it gives no numbers we choose
simple ones and say so: ``W_f = 0`` with ``b_f = logit([0.5, 0.8, 0.9])``;
``W_C`` rows of 0.1, ``b_C = 0``; ``W_o = 0``, ``b_o = 0`` (output probability
1/2); ``c_{t-1} = [3, 2, 1]``.
"""

from __future__ import annotations

import numpy as np

from ..core.cell import cell_step, preactivation
from ..core.conditions import Condition
from ..core.weights import LSTMWeights, from_per_gate
from ..engine.simulate import simulate

__all__ = ["ANSWER_FORGET_PROBS", "answer_weights", "worked_example"]

ANSWER_X = np.array([1.0, 2.0, 3.0])
ANSWER_H = np.array([4.0, 5.0, 6.0])
ANSWER_C = np.array([3.0, 2.0, 1.0])
ANSWER_FORGET_PROBS = np.array([0.5, 0.8, 0.9])


def answer_weights() -> LSTMWeights:
    """The answer's cell (see the module docstring for the numbers we chose)."""
    hidden, width = 3, 6
    return from_per_gate(
        W_i=np.array([[1.0] * width, [2.0] * width, [3.0] * width]),
        b_i=np.ones(hidden),
        W_f=np.zeros((hidden, width)),
        b_f=np.log(ANSWER_FORGET_PROBS / (1 - ANSWER_FORGET_PROBS)),
        W_C=np.full((hidden, width), 0.1),
        b_C=np.zeros(hidden),
        W_o=np.zeros((hidden, width)),
        b_o=np.zeros(hidden),
        input_size=3,
    )


def _vector(values, digits: int = 4) -> str:
    text = [f"{v:.{digits}f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:g}" for v in values]
    return "[" + ", ".join(text) + "]"


def worked_example(seed: int = 0, n_seeds: int = 10_000) -> str:
    """The example as text: deterministic gates, one bernoulli draw, and the
    mean of the bernoulli cell over ``n_seeds`` seeds against the closed form."""
    weights = answer_weights()
    x, h, c = ANSWER_X[None], ANSWER_H[None], ANSWER_C[None]
    preact = preactivation(weights, x, h)[0]
    det = cell_step(weights, x, h, c)
    conditions = {"bernoulli": Condition("bernoulli")}
    state = {"h": ANSWER_H, "c": ANSWER_C}
    sample = simulate(weights, x, conditions, [seed], initial_state=state)["bernoulli"]
    many = simulate(weights, x, conditions, n_seeds, initial_state=state)["bernoulli"]
    expected_c = det["p_f"][0] * ANSWER_C + det["p_i"][0] * det["g"][0]
    mean_c = many["c"][0].mean(axis=0)
    se_c = many["c"][0].std(axis=0, ddof=1) / np.sqrt(n_seeds)
    lines = [
        "The answer's worked example: one step of the LSTM cell.",
        f"  x_t = {_vector(ANSWER_X)}   h_(t-1) = {_vector(ANSWER_H)}   c_(t-1) = {_vector(ANSWER_C)} (our choice)",
        f"  [x_t, h_(t-1)] = {_vector(np.concatenate([ANSWER_X, ANSWER_H]))}",
        "",
        "Input gate",
        f"  W_i . [x_t, h_(t-1)]       = {_vector(preact[:3] - 1)}   (rows of ones, twos, threes)",
        f"  W_i . [x_t, h_(t-1)] + b_i = {_vector(preact[:3])}   (b_i = [1, 1, 1]; the answer prints [22, 42, 62])",
        f"  p_i = sigmoid(...)         = {_vector(det['p_i'][0], 12)}   -> rounds to [1, 1, 1]",
        "",
        "Forget gate",
        f"  p_f                        = {_vector(det['p_f'][0])}",
        "",
        "Deterministic (standard LSTM): gates are the probabilities",
        f"  g   = tanh(W_C . v + b_C)  = {_vector(det['g'][0])}",
        f"  c_t = p_f * c_(t-1) + p_i * g = {_vector(det['p_f'][0] * ANSWER_C)} + {_vector(det['p_i'][0] * det['g'][0])}"
        f" = {_vector(det['c'][0])}",
        f"  h_t = p_o * tanh(c_t)      = {_vector(det['h'][0])}",
        "",
        f"Stochastic (bernoulli gates), seed {seed}: gate = 1[u < p]",
        f"  i = {_vector(sample['i'][0, 0])}   f = {_vector(sample['f'][0, 0])}   o = {_vector(sample['o'][0, 0])}",
        f"  c_t = f * c_(t-1) + i * g  = {_vector(sample['c'][0, 0])}",
        f"  h_t = o * tanh(c_t)        = {_vector(sample['h'][0, 0])}",
        "",
        f"The Hadamard product is element-wise: [1, 2, 3] * [3, 2, 1] = {_vector(np.array([1.0, 2.0, 3.0]) * [3.0, 2.0, 1.0])}",
        "",
        f"Mean over {n_seeds:,} seeds of the stochastic c_t (one step, so E[c_t] = p_f * c + p_i * g exactly):",
        f"  mean c_t = {_vector(mean_c)} +/- {_vector(1.96 * se_c)} (95%)",
        f"  closed form = {_vector(expected_c)}   deterministic c_t = {_vector(det['c'][0])}",
    ]
    return "\n".join(lines)
