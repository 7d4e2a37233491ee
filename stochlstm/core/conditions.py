"""A condition: one arm of a comparison, i.e. how every stochastic choice of the
cell is made (see the table in :mod:`stochlstm.core.cell`).

Its keywords are the experiment file's, so a condition reads the same in
Python and in YAML::

    Condition()                                   # {}: the standard LSTM
    Condition("bernoulli")                        # {gates: bernoulli}
    Condition(forget="bernoulli")                 # {forget: bernoulli}
    Condition("concrete", temperature=0.5)        # {gates: concrete, temperature: 0.5}
    Condition(output={"rule": "concrete", "temperature": 0.3})
    Condition(zoneout={"c": 0.1, "h": 0.05})
    Condition(candidate="binary", cell_output="binary", noise="fixed")
    Condition("bernoulli", forget_semantics="erase")
    Condition("bernoulli", layers=[1])            # {gates: bernoulli, layers: [1]}

In a stacked LSTM a condition applies to every layer, or to the layers it
lists; the other layers are the standard LSTM (:meth:`Condition.on_layer`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import FieldError
from .gates import GATE_RULES, GateRule, gate_rule
from .names import GATES
from .randomness import NOISE_STREAMS

__all__ = ["Condition", "Zoneout"]


@dataclass(frozen=True)
class Zoneout:
    """Probability of keeping the previous value of each unit of ``c`` / ``h``."""

    c: float = 0.0
    h: float = 0.0

    def __post_init__(self):
        for name in ("c", "h"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"zoneout {name} must be a probability in [0, 1], got {value!r}")


_CHOICES = {
    "forget_semantics": ("standard", "erase"),
    "candidate": ("tanh", "binary"),
    "cell_output": ("tanh", "binary"),
    "noise": ("fresh", "fixed"),
}


@dataclass(frozen=True, init=False)
class Condition:
    """How each gate and unit is realised.

    - ``input``, ``forget``, ``output``: the gating rule of each gate (a name,
      ``{"rule": ..., <parameter>: ...}`` or a :class:`~stochlstm.core.gates.GateRule`);
      a gate not named takes ``gates``, else ``deterministic``.
    - rule parameters (``temperature``) apply to every gate whose rule has them,
      unless the gate gives its own.
    - ``forget_semantics``: ``"standard"`` (``c = f c + i g``) or ``"erase"``,
      the literal reading where a forget unit that is on erases memory
      (``c = (1 - f) c + i g``).
    - ``zoneout``: probability of keeping the previous value of each unit of
      ``c`` / ``h``, ``{"c": ..., "h": ...}``.
    - ``candidate``, ``cell_output``: ``"tanh"``, or ``"binary"`` for a
      stochastic ±1 unit with mean ``tanh`` in place of the candidate / ``tanh(c)``.
    - ``noise``: ``"fresh"`` uniforms every step, or ``"fixed"`` per sequence
      (the uniforms of step 0 reused at every step).
    - ``layers``: the layers of a stacked LSTM (0 the bottom) all of the above
      applies to; the others are the standard LSTM. ``None``: every layer.
    """

    input: GateRule
    forget: GateRule
    output: GateRule
    forget_semantics: Literal["standard", "erase"]
    zoneout: Zoneout
    candidate: Literal["tanh", "binary"]
    cell_output: Literal["tanh", "binary"]
    noise: Literal["fresh", "fixed"]
    layers: tuple[int, ...] | None

    def __init__(
        self,
        gates: str | Mapping | GateRule | None = None,
        *,
        input: str | Mapping | GateRule | None = None,  # noqa: A002 (the file's key)
        forget: str | Mapping | GateRule | None = None,
        output: str | Mapping | GateRule | None = None,
        forget_semantics: str = "standard",
        zoneout: Zoneout | Mapping | None = None,
        candidate: str = "tanh",
        cell_output: str = "tanh",
        noise: str = "fresh",
        layers: Sequence[int] | None = None,
        **parameters,
    ):
        known = {p for rule in GATE_RULES.values() for p in rule.parameters()}
        unknown = sorted(set(parameters) - known)
        if unknown:
            raise TypeError(f"Condition() got unexpected keyword(s) {', '.join(unknown)}")
        chosen = {"input": input, "forget": forget, "output": output}
        for gate, choice in chosen.items():
            rule = gate_rule(choice or gates or "deterministic", **parameters)
            object.__setattr__(self, gate, rule)
        for name in parameters:
            if not any(name in getattr(self, gate).parameters() for gate in chosen):
                having = [rule.name for rule in GATE_RULES.values() if name in rule.parameters()]
                raise FieldError(
                    name,
                    f"applies to {' and '.join(having)} gates only, and this condition has none",
                )
        values = dict(
            forget_semantics=forget_semantics,
            candidate=candidate,
            cell_output=cell_output,
            noise=noise,
        )
        for name, value in values.items():
            if value not in _CHOICES[name]:
                expected = " or ".join(map(repr, _CHOICES[name]))
                raise ValueError(f"{name} must be {expected}, got {value!r}")
            object.__setattr__(self, name, value)
        if not isinstance(zoneout, Zoneout):
            zoneout = Zoneout(**(zoneout or {}))
        object.__setattr__(self, "zoneout", zoneout)
        object.__setattr__(self, "layers", _layers(layers))

    def applies_to(self, layer: int) -> bool:
        """Whether this condition's rules act on ``layer`` of a stacked LSTM."""
        return self.layers is None or layer in self.layers

    def on_layer(self, layer: int) -> Condition:
        """The condition that ``layer`` runs: this one, or the standard LSTM on a
        layer it does not list."""
        return self if self.applies_to(layer) else _STANDARD

    @property
    def noise_streams(self) -> tuple[str, ...]:
        """The uniform streams this condition reads, in
        :data:`~stochlstm.core.randomness.NOISE_STREAMS` order."""
        used = {gate: getattr(self, gate).needs_noise for gate in GATES.values()}
        used.update(
            candidate=self.candidate == "binary",
            cell_output=self.cell_output == "binary",
            zoneout_c=self.zoneout.c > 0,
            zoneout_h=self.zoneout.h > 0,
        )
        return tuple(s for s in NOISE_STREAMS if used[s])

    @property
    def is_deterministic(self) -> bool:
        return not self.noise_streams

    def describe(self) -> str:
        parts = [f"{gate}={getattr(self, gate).describe()}" for gate in GATES.values()]
        if self.forget_semantics != "standard":
            parts.append(f"forget_semantics={self.forget_semantics}")
        if self.zoneout.c or self.zoneout.h:
            parts.append(f"zoneout(c={self.zoneout.c:g}, h={self.zoneout.h:g})")
        if self.candidate == "binary":
            parts.append("binary candidate")
        if self.cell_output == "binary":
            parts.append("binary tanh(c)")
        if self.noise != "fresh":
            parts.append(f"noise={self.noise}")
        if self.layers is not None:
            parts.append(f"layers={list(self.layers)}")
        return ", ".join(parts)


def _layers(layers) -> tuple[int, ...] | None:
    if layers is None:
        return None
    try:
        chosen = tuple(operator.index(k) for k in layers if not isinstance(k, bool))
    except TypeError:
        chosen = ()
    if not chosen or len(chosen) != len(layers) or min(chosen) < 0:
        raise ValueError(f"layers must be a non-empty list of layer indices >= 0, got {layers!r}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"layers lists a layer more than once: {layers!r}")
    return tuple(sorted(chosen))


_STANDARD = Condition()
