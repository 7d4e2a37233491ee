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

Stacked layers (``num_layers`` L, as ``torch.nn.LSTM``): layer ``k > 0`` takes
the same step with weights, state ``(c, h)`` and uniforms of its own, on the
input ``x_t = h_t`` of layer ``k - 1``. An optional readout reads ``h_t`` of the
last layer, ``z_t = W_y h_t + b_y`` (``W_y (Y, H)``), in one of three kinds::

    y_t    = sigmoid(z_t)                                  "sigmoid" (the default)
    y_t    = z_t                                           "linear" (a regression head)
    y_t,k  = exp(z_t,k) / sum_j exp(z_t,j)                 "softmax" (a classifier)

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
- noise ``"fixed"``: the uniforms of step 0 are reused at every step;
- layers: in a stacked LSTM the condition acts on the layers it lists, the
  others are the standard LSTM.

:func:`cell_step` is this math written plainly for a batch of rows, one layer
at a time, and :func:`readout` the readout; they are the reference that the
vectorised kernel in :mod:`stochlstm.engine.kernel` is tested against, and they
are tested against ``torch.nn.LSTM`` (and ``nn.Linear``, ``torch.softmax``) itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .conditions import Condition
from .gates import sigmoid
from .weights import LayerWeights, LSTMWeights

__all__ = ["cell_step", "preactivation", "readout", "stochastic_sign", "unroll"]


def preactivation(
    weights: LSTMWeights | LayerWeights, x: np.ndarray, h_prev: np.ndarray
) -> np.ndarray:
    """``a = W_ih x + b_ih + W_hh h + b_hh`` for rows of ``x (B, X)``, ``h (B, H)``:
    ``(B, 4H)``, of one layer (layer 0 of an :class:`LSTMWeights`)."""
    return (
        x @ weights.weight_ih.T + weights.bias_ih + h_prev @ weights.weight_hh.T + weights.bias_hh
    )


def readout(weights: LSTMWeights, hidden_state: np.ndarray) -> np.ndarray:
    """The readout ``y`` of rows ``h (B, H)`` of the last layer: ``(B, Y)``, of the
    weights' ``readout_kind``."""
    preact = hidden_state @ weights.readout_weight.T + weights.readout_bias
    if weights.readout_kind == "sigmoid":
        return sigmoid(preact)
    if weights.readout_kind == "linear":
        return preact
    shifted = np.exp(preact - preact.max(axis=1, keepdims=True))  # softmax, without overflow
    return shifted / shifted.sum(axis=1, keepdims=True)


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
    *,
    layer: int = 0,
) -> dict[str, np.ndarray]:
    """One step of one layer of the cell for a batch of rows. Pure: returns new arrays.

    ``x (B, X)`` (the layer's input: ``h`` of the layer below above layer 0),
    ``h_prev (B, H)``, ``c_prev (B, H)``. ``uniforms`` maps each noise stream the
    condition reads on this layer (``condition.on_layer(layer).noise_streams``:
    "input", "forget", "output", "candidate", "cell_output", "zoneout_c",
    "zoneout_h") to this step's draws ``(B, H)``.

    Returns the step's quantities by name: ``preact`` (B, 4H), ``p_i``, ``i``,
    ``p_f``, ``f``, ``g``, ``p_o``, ``o``, ``c``, ``h`` and, on the last layer of
    weights with a readout, ``y`` (B, Y).
    """
    condition = (condition or Condition()).on_layer(layer)
    uniforms = uniforms or {}
    missing = set(condition.noise_streams) - set(uniforms)
    if missing:
        raise ValueError(f"cell_step needs uniforms for {sorted(missing)}")
    hidden = weights.hidden_size
    preact = preactivation(weights.layers[layer], x, h_prev)
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
    if weights.output_size and layer == weights.num_layers - 1:
        step["y"] = readout(weights, hidden_state)
    return step


def unroll(
    weights: LSTMWeights,
    inputs: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    condition: Condition | None = None,
    uniforms: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]] | None = None,
    *,
    layer: int | None = None,
) -> dict[str, np.ndarray]:
    """:func:`cell_step` over a sequence and the layers, plainly, one step after another.

    ``inputs (T, B, X)``; ``h0`` and ``c0`` ``(B, H)`` (every layer's) or
    ``(L, B, H)``; ``uniforms`` maps a noise stream to ``(T, B, H)``, or is a
    sequence of such mappings, one per layer. Returns the quantities of
    ``layer`` (default: the last) stacked over time, ``(T, B, H)``, and the
    readout ``y`` ``(T, B, Y)``. The reference for the vectorised kernel.
    """
    n_layers = weights.num_layers
    layer = n_layers - 1 if layer is None else layer
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} does not exist: the layers are 0..{n_layers - 1}")
    if uniforms is None or isinstance(uniforms, Mapping):
        uniforms = [uniforms or {}] + [{}] * (n_layers - 1)
    h = [np.asarray(h0)] * n_layers if np.ndim(h0) == 2 else list(np.asarray(h0))
    c = [np.asarray(c0)] * n_layers if np.ndim(c0) == 2 else list(np.asarray(c0))
    history: dict[str, list[np.ndarray]] = {}
    for t, x in enumerate(np.asarray(inputs)):
        kept = {}
        for k in range(n_layers):
            step_uniforms = {stream: draws[t] for stream, draws in uniforms[k].items()}
            step = cell_step(weights, x, h[k], c[k], condition, step_uniforms, layer=k)
            h[k], c[k], x = step["h"], step["c"], step["h"]
            kept |= step if k == layer else {"y": step["y"]} if "y" in step else {}
        for name, value in kept.items():
            history.setdefault(name, []).append(value)
    return {name: np.stack(values) for name, values in history.items()}
