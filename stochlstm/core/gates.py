"""Gating rules: how a gate probability ``p`` becomes the realised gate.

Each rule is a small frozen object with one call,
``rule(prob, preact=..., uniform=..., out=...)``, chosen by name through
:data:`GATE_RULES` (see :func:`gate_rule`). The rules are the table in the
cell module's docstring (:mod:`stochlstm.core.cell`).

``preact`` is the gate preactivation ``a`` (so ``prob = sigmoid(a)``) and
``uniform`` the draw ``u ~ Uniform[0, 1)`` for the same gate, step and unit.
Every stochastic rule uses the *same* ``u`` so conditions compared at one seed
differ by their rule only (common random numbers).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, ClassVar, get_type_hints

import numpy as np
from annotated_types import Ge, Gt, Le, Lt

__all__ = [
    "GATE_RULES",
    "Bernoulli",
    "Concrete",
    "Deterministic",
    "GateRule",
    "Threshold",
    "gate_rule",
    "sigmoid",
]


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-a))``, written as ``0.5 tanh(a/2) + 0.5``.

    The tanh form does not overflow for large ``|a|`` and gives exactly 0 and 1
    at the ends, so ``1[u < p]`` of a saturated gate is the deterministic 0/1.
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def logit(u: np.ndarray) -> np.ndarray:
    """``log(u / (1 - u))``; ``-inf`` at 0."""
    with np.errstate(divide="ignore"):
        return np.log(u) - np.log1p(-u)


@dataclass(frozen=True)
class GateRule:
    """Base of the gating rules. A rule's parameters are its dataclass fields,
    annotated with their bounds (``Annotated[float, Gt(0)]``): the experiment
    file's schema offers them as keys and checks the bounds, and so does the
    rule itself when it is built.

    ``needs_noise``: the rule reads ``uniform``; ``needs_preact``: it reads
    ``preact``; ``binary``: its realised gates are exactly 0 or 1.
    """

    name: ClassVar[str] = ""
    needs_noise: ClassVar[bool] = False
    needs_preact: ClassVar[bool] = False
    binary: ClassVar[bool] = False

    def __post_init__(self):
        for name, annotation in self.parameters().items():
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{self.name} {name} must be a finite number, got {value!r}")
            for bound in getattr(annotation, "__metadata__", ()):
                sign, holds, limit = _BOUNDS[type(bound)]
                if not holds(value, getattr(bound, limit)):
                    raise ValueError(
                        f"{self.name} {name} must be {sign} {getattr(bound, limit)}, got {value!r}"
                    )

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """``{parameter: annotation}`` (with its bounds), in field order."""
        return dict(_parameters(cls))

    def __call__(self, prob, *, preact=None, uniform=None, out=None):  # pragma: no cover
        """The realised gate for probabilities ``prob``, written into ``out``
        when given (the deterministic rule returns ``prob`` itself)."""
        raise NotImplementedError

    def describe(self) -> str:
        values = [f"{name}={getattr(self, name):g}" for name in self.parameters()]
        return f"{self.name}({', '.join(values)})" if values else self.name


@functools.cache
def _parameters(cls: type) -> tuple[tuple[str, Any], ...]:
    # get_type_hints costs ~0.1 ms; a sweep of 100,000 points builds 100,000 conditions
    hints = get_type_hints(cls, include_extras=True)
    return tuple((field.name, hints[field.name]) for field in fields(cls))


_BOUNDS = {
    Gt: (">", operator.gt, "gt"),
    Ge: (">=", operator.ge, "ge"),
    Lt: ("<", operator.lt, "lt"),
    Le: ("<=", operator.le, "le"),
}


@dataclass(frozen=True)
class Deterministic(GateRule):
    """The standard LSTM: the gate is its probability."""

    name: ClassVar[str] = "deterministic"

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        return prob


@dataclass(frozen=True)
class Bernoulli(GateRule):
    """``1[u < p]``: on with probability ``p``, so ``E[gate] = p``."""

    name: ClassVar[str] = "bernoulli"
    needs_noise: ClassVar[bool] = True
    binary: ClassVar[bool] = True

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            out = np.empty_like(prob)
        return np.less(uniform, prob, out=out)


@dataclass(frozen=True)
class Threshold(GateRule):
    """``1[p > 0.5]``: deterministic rounding of the probability."""

    name: ClassVar[str] = "threshold"
    binary: ClassVar[bool] = True

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            out = np.empty_like(prob)
        return np.greater(prob, 0.5, out=out)


@dataclass(frozen=True)
class Concrete(GateRule):
    """Relaxed Bernoulli ``sigmoid((logit p - logit u) / temperature)``.

    ``logit p`` is the preactivation itself. With the same ``u`` as
    :class:`Bernoulli`, ``temperature -> 0`` gives the Bernoulli sample.
    """

    temperature: Annotated[float, Gt(0)] = 0.5
    name: ClassVar[str] = "concrete"
    needs_noise: ClassVar[bool] = True
    needs_preact: ClassVar[bool] = True

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            out = np.empty_like(prob)
        np.subtract(preact, logit(uniform).astype(out.dtype, copy=False), out=out)
        out /= out.dtype.type(self.temperature)
        return sigmoid(out, out=out)


GATE_RULES: dict[str, type[GateRule]] = {
    rule.name: rule for rule in (Deterministic, Bernoulli, Threshold, Concrete)
}


def gate_rule(rule: str | Mapping | GateRule, **shared) -> GateRule:
    """A rule by name (``deterministic``, ``bernoulli``, ``threshold``,
    ``concrete``), or as the experiment file writes it with its parameters,
    ``{"rule": "concrete", "temperature": 0.3}``; a :class:`GateRule` is
    returned as it is. ``shared`` are parameters a condition gives for all of
    its gates: each rule takes those it has."""
    if isinstance(rule, GateRule):
        return rule
    own = dict(rule) if isinstance(rule, Mapping) else {"rule": rule}
    name = own.pop("rule", None)
    if name not in GATE_RULES:
        known = ", ".join(GATE_RULES)
        raise ValueError(f"unknown gate rule {name!r}; expected one of: {known}")
    cls = GATE_RULES[name]
    unknown = [key for key in own if key not in cls.parameters()]
    if unknown:
        raise ValueError(f"the {name} rule has no parameter {', '.join(map(repr, unknown))}")
    return cls(**{**{k: v for k, v in shared.items() if k in cls.parameters()}, **own})
