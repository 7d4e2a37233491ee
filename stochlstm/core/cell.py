r"""The LSTM cell with deterministic or stochastic gates. The math, once.

Weights follow PyTorch's ``nn.LSTM`` layout: ``weight_ih (4H, X)``,
``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``, gate blocks in the
order input, forget, cell candidate, output. One step, for a batch::

    a      = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        preactivations, (B, 4H)
    p_i    = sigmoid(a_i)    input_prob
    p_f    = sigmoid(a_f)    forget_prob
    p_o    = sigmoid(a_o)    output_prob
    g      = tanh(a_g)       candidate (C~_t)
    i, f, o = G_i(p_i), G_f(p_f), G_o(p_o)                realised gates
    c_t    = f * c_{t-1} + i * g                           standard reading
    c_t    = (1 - f) * c_{t-1} + i * g                     literal reading ("erase")
    h_t    = o * tanh(c_t)
    y_t    = sigmoid(W_y h_t + b_y)                        optional readout

``G`` is the gating rule of the gate in the condition being run; ``u`` is the
uniform draw ``u ~ U[0, 1)`` for that gate, step and unit:

    ==============  ===========================================  ===========================
    rule            realised gate                                note
    ==============  ===========================================  ===========================
    deterministic   ``p``                                        the standard LSTM
    bernoulli       ``1[u < p]``                                 ``E[G] = p``
    threshold       ``1[p > 0.5]``                               binary-gate inference
    concrete(tau)   ``sigmoid((logit p - logit u) / tau)``       ``tau -> 0``: the bernoulli
                                                                 sample on the same ``u``
    ==============  ===========================================  ===========================

Further options of a :class:`~stochlstm.core.conditions.Condition`:

- zoneout: with probability ``z_c`` (``z_h``) a unit keeps its previous value,
  ``c_t = m * c_{t-1} + (1 - m) * c_t`` with ``m = 1[u < z_c]`` (likewise ``h``);
- stochastic binary tanh units: the candidate ``g`` and/or ``tanh(c_t)`` is
  replaced by ``s = +1 if u < (1 + tanh a) / 2 else -1``, so ``E[s] = tanh a``;
- noise ``"fixed"``: the uniforms of step 0 are reused at every step.

:func:`cell_step` is this math written plainly for a batch of rows; it is the
reference that the vectorised kernel in :mod:`stochlstm.engine.kernel` is tested
against, and it is tested against ``torch.nn.LSTM`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .conditions import Condition
from .gates import sigmoid
from .weights import LSTMWeights

__all__ = ["cell_step", "preactivation", "stochastic_sign", "unroll"]


def preactivation(weights: LSTMWeights, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
    """``a = W_ih x + b_ih + W_hh h + b_hh`` for rows of ``x (B, X)``, ``h (B, H)``: ``(B, 4H)``."""
    return (
        x @ weights.weight_ih.T + weights.bias_ih + h_prev @ weights.weight_hh.T + weights.bias_hh
    )


def stochastic_sign(mean: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """A ±1 unit with expectation ``mean`` (in [-1, 1]): ``+1`` when ``u < (1 + mean) / 2``."""
    return np.where(uniform < 0.5 * mean + 0.5, 1.0, -1.0).astype(mean.dtype)


def cell_step(
    weights: LSTMWeights,
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    condition: Condition | None = None,
    uniforms: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """One step of the cell for a batch of rows. Pure: returns new arrays.

    ``x (B, X)``, ``h_prev (B, H)``, ``c_prev (B, H)``. ``uniforms`` maps each
    noise stream the condition reads (``condition.noise_streams``: "input",
    "forget", "output", "candidate", "cell_output", "zoneout_c", "zoneout_h")
    to this step's draws ``(B, H)``.

    Returns the step's quantities by name: ``preact`` (B, 4H), ``p_i``, ``i``,
    ``p_f``, ``f``, ``g``, ``p_o``, ``o``, ``c``, ``h`` and, with a readout, ``y``.
    """
    condition = condition or Condition()
    uniforms = uniforms or {}
    missing = set(condition.noise_streams) - set(uniforms)
    if missing:
        raise ValueError(f"cell_step needs uniforms for {sorted(missing)}")
    hidden = weights.hidden_size
    preact = preactivation(weights, x, h_prev)
    input_preact, forget_preact, candidate_preact, output_preact = (
        preact[:, k * hidden : (k + 1) * hidden] for k in range(4)
    )
    input_prob = sigmoid(input_preact)
    forget_prob = sigmoid(forget_preact)
    output_prob = sigmoid(output_preact)
    candidate = np.tanh(candidate_preact)
    if condition.candidate == "binary":
        candidate = stochastic_sign(candidate, uniforms["candidate"])

    input_gate = condition.input(input_prob, preact=input_preact, uniform=uniforms.get("input"))
    forget_gate = condition.forget(
        forget_prob, preact=forget_preact, uniform=uniforms.get("forget")
    )
    output_gate = condition.output(
        output_prob, preact=output_preact, uniform=uniforms.get("output")
    )
    input_gate, forget_gate, output_gate = (
        np.asarray(gate, dtype=preact.dtype) for gate in (input_gate, forget_gate, output_gate)
    )

    keep = forget_gate if condition.forget_semantics == "standard" else 1 - forget_gate
    cell = keep * c_prev + input_gate * candidate
    if condition.zoneout.c > 0:
        cell = np.where(uniforms["zoneout_c"] < condition.zoneout.c, c_prev, cell)

    cell_output = np.tanh(cell)
    if condition.cell_output == "binary":
        cell_output = stochastic_sign(cell_output, uniforms["cell_output"])
    hidden_state = output_gate * cell_output
    if condition.zoneout.h > 0:
        hidden_state = np.where(uniforms["zoneout_h"] < condition.zoneout.h, h_prev, hidden_state)

    step = {
        "preact": preact,
        "p_i": input_prob,
        "i": input_gate,
        "p_f": forget_prob,
        "f": forget_gate,
        "g": candidate,
        "p_o": output_prob,
        "o": output_gate,
        "c": cell,
        "h": hidden_state,
    }
    if weights.output_size:
        step["y"] = sigmoid(hidden_state @ weights.readout_weight.T + weights.readout_bias)
    return step


def unroll(
    weights: LSTMWeights,
    inputs: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    condition: Condition | None = None,
    uniforms: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`cell_step` over a sequence, plainly, one step after another.

    ``inputs (T, B, X)``, ``h0`` and ``c0`` ``(B, H)``, ``uniforms`` maps a
    noise stream to ``(T, B, H)``. Returns each quantity stacked over time,
    ``(T, B, H)``. The reference for the vectorised kernel.
    """
    condition = condition or Condition()
    uniforms = uniforms or {}
    h, c = np.asarray(h0), np.asarray(c0)
    history: dict[str, list[np.ndarray]] = {}
    for t, x in enumerate(np.asarray(inputs)):
        step_uniforms = {stream: draws[t] for stream, draws in uniforms.items()}
        step = cell_step(weights, x, h, c, condition, step_uniforms)
        h, c = step["h"], step["c"]
        for name, value in step.items():
            history.setdefault(name, []).append(value)
    return {name: np.stack(values) for name, values in history.items()}
