r"""The training cell: the simulator's cell (:mod:`stochlstm.core.cell`) in torch.

On the same weights and uniforms its forward pass equals the numpy kernel
(:mod:`stochlstm.engine.kernel`) for every rule, float64 to 1e-12. The
gradient of each rule while learning:

==============  =====================================  ===============================
rule            forward                                backward
==============  =====================================  ===============================
deterministic   ``p``                                  exact
bernoulli       ``1[u < p]``                           straight-through: ``d gate/dp = 1``
concrete(tau)   ``sigmoid((a - logit u) / tau)``       exact (reparameterised)
threshold       ``1[p > 0.5]``                         none (evaluation only)
==============  =====================================  ===============================

Zoneout (Krueger et al. 2017) in training keeps the previous unit where
``u < z``, as the kernel does; in evaluation (``expected=True``) it uses its
expectation, ``z * previous + (1 - z) * new``, on ``c`` and then ``h``.

Per-step inputs and uniforms come from one ``unbind`` each: indexing a
precomputed tensor as ``xp[t]`` makes autograd fill a full-size zero tensor
for every step of the backward pass (O(T^2); 5.6x slower when measured).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..core.conditions import Condition

__all__ = ["GATE_STREAMS", "LSTMLayer", "TrainingModel", "realise_gate"]

GATE_STREAMS = {"input": "input", "forget": "forget", "output": "output"}


def realise_gate(
    rule: str,
    prob: torch.Tensor,
    preact: torch.Tensor,
    uniform: torch.Tensor | None,
    temperature: float,
) -> torch.Tensor:
    """The realised gate of ``rule`` for probabilities ``prob = sigmoid(preact)``."""
    if rule == "deterministic":
        return prob
    if rule == "bernoulli":
        sample = (uniform < prob).to(prob.dtype)
        return prob + (sample - prob).detach()  # straight-through: forward sample, backward p
    if rule == "concrete":
        logit_uniform = torch.log(uniform) - torch.log1p(-uniform)
        return torch.sigmoid((preact - logit_uniform) / temperature)
    if rule == "threshold":
        return (prob > 0.5).to(prob.dtype)
    raise ValueError(f"unknown gate rule {rule!r}")


class LSTMLayer(nn.Module):
    """One LSTM layer with ``nn.LSTM``'s parameter names (``weight_ih_l0``, ...)."""

    def __init__(self, input_size: int, hidden_size: int, dtype=torch.float64):
        super().__init__()
        self.hidden_size = hidden_size
        rows = 4 * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.zeros(rows, input_size, dtype=dtype))
        self.weight_hh_l0 = nn.Parameter(torch.zeros(rows, hidden_size, dtype=dtype))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(rows, dtype=dtype))
        self.bias_hh_l0 = nn.Parameter(torch.zeros(rows, dtype=dtype))

    def forward(
        self,
        inputs: torch.Tensor,
        condition: Condition,
        uniforms: Mapping[str, torch.Tensor] | None = None,
        *,
        temperature: float | None = None,
        expected: bool = False,
        keep_gates: bool = False,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``h`` of every step ``(T, B, H)`` for inputs ``(T, B, X)``, from zero state.

        ``uniforms`` maps each noise stream the condition reads to ``(T, B, H)``;
        ``temperature`` replaces the concrete gates' own; ``expected`` takes
        zoneout's expectation (evaluation). With ``keep_gates``, the gate
        probabilities ``p_i``, ``p_f``, ``p_o`` of every step are returned too.
        """
        uniforms = uniforms or {}
        hidden = self.hidden_size
        steps, batch, _ = inputs.shape
        projected = torch.addmm(
            self.bias_ih_l0 + self.bias_hh_l0,
            inputs.reshape(steps * batch, -1),
            self.weight_ih_l0.t(),
        ).reshape(steps, batch, 4 * hidden)
        rules, taus = {}, {}
        for gate in GATE_STREAMS:
            rule = getattr(condition, gate)
            rules[gate] = rule.name
            taus[gate] = (
                temperature if temperature is not None else getattr(rule, "temperature", 1.0)
            )
        zoneout = condition.zoneout
        streams = [
            s for s in ("input", "forget", "output", "zoneout_c", "zoneout_h") if s in uniforms
        ]
        per_step = {s: uniforms[s].unbind(0) for s in streams}
        h = inputs.new_zeros(batch, hidden)
        c = inputs.new_zeros(batch, hidden)
        weight_hh_t = self.weight_hh_l0.t()
        outputs, kept = [], {"p_i": [], "p_f": [], "p_o": []}
        for t, projected_t in enumerate(projected.unbind(0)):
            preact = torch.addmm(projected_t, h, weight_hh_t)
            input_preact, forget_preact, candidate_preact, output_preact = preact.split(hidden, 1)
            input_prob = torch.sigmoid(input_preact)
            forget_prob = torch.sigmoid(forget_preact)
            output_prob = torch.sigmoid(output_preact)
            candidate = torch.tanh(candidate_preact)
            step = {s: draws[t] for s, draws in per_step.items()}
            input_gate = realise_gate(
                rules["input"], input_prob, input_preact, step.get("input"), taus["input"]
            )
            forget_gate = realise_gate(
                rules["forget"], forget_prob, forget_preact, step.get("forget"), taus["forget"]
            )
            output_gate = realise_gate(
                rules["output"], output_prob, output_preact, step.get("output"), taus["output"]
            )
            keep = forget_gate if condition.forget_semantics == "standard" else 1 - forget_gate
            new_c = keep * c + input_gate * candidate
            if zoneout.c > 0:
                if expected:
                    new_c = zoneout.c * c + (1 - zoneout.c) * new_c
                else:
                    new_c = torch.where(step["zoneout_c"] < zoneout.c, c, new_c)
            new_h = output_gate * torch.tanh(new_c)
            if zoneout.h > 0:
                if expected:
                    new_h = zoneout.h * h + (1 - zoneout.h) * new_h
                else:
                    new_h = torch.where(step["zoneout_h"] < zoneout.h, h, new_h)
            h, c = new_h, new_c
            outputs.append(h)
            if keep_gates:
                kept["p_i"].append(input_prob)
                kept["p_f"].append(forget_prob)
                kept["p_o"].append(output_prob)
        gates = {name: torch.stack(values) for name, values in kept.items()} if keep_gates else {}
        return torch.stack(outputs), gates


class TrainingModel(nn.Module):
    """``lstm`` (one :class:`LSTMLayer`) and ``head`` (``nn.Linear(H, Y)``): its
    state dict has the keys ``stochlstm run`` reads (``lstm.weight_ih_l0``, ...,
    ``head.weight (Y, H)``, ``head.bias (Y,)``)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, dtype=torch.float64):
        super().__init__()
        self.lstm = LSTMLayer(input_size, hidden_size, dtype=dtype)
        self.head = nn.Linear(hidden_size, output_size, dtype=dtype)

    def forward(self, inputs, condition, uniforms=None, **options):
        """The head's outputs ``(T, B, Y)`` (before any softmax) and the gates kept."""
        hidden, gates = self.lstm(inputs, condition, uniforms, **options)
        return self.head(hidden), gates
