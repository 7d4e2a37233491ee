"""Gating rules: how a gate probability ``p`` becomes the realised gate.

Each rule is a small frozen object with one call,
``rule(prob, preact=..., uniform=..., out=...)``, chosen by name through
:data:`GATE_RULES` (see :func:`gate_rule`). The rules are the table in the
cell module's docstring (:mod:`stochlstm.cell`).

``preact`` is the gate preactivation ``a`` (so ``prob = sigmoid(a)``) and
``uniform`` the draw ``u ~ Uniform[0, 1)`` for the same gate, step and unit.
Every stochastic rule uses the *same* ``u`` so conditions compared at one seed
differ by their rule only (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

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
    """Base of the gating rules. ``needs_noise`` says whether ``uniform`` is used."""

    name: ClassVar[str] = ""
    needs_noise: ClassVar[bool] = False
    needs_preact: ClassVar[bool] = False

    def __call__(self, prob, *, preact=None, uniform=None, out=None):  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Deterministic(GateRule):
    """The standard LSTM: the gate is its probability."""

    name: ClassVar[str] = "deterministic"

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            return prob
        np.copyto(out, prob)
        return out


@dataclass(frozen=True)
class Bernoulli(GateRule):
    """``1[u < p]``: on with probability ``p``, so ``E[gate] = p``."""

    name: ClassVar[str] = "bernoulli"
    needs_noise: ClassVar[bool] = True

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            out = np.empty_like(prob)
        return np.less(uniform, prob, out=out)


@dataclass(frozen=True)
class Threshold(GateRule):
    """``1[p > 0.5]``: deterministic rounding of the probability."""

    name: ClassVar[str] = "threshold"

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

    temperature: float = 0.5
    name: ClassVar[str] = "concrete"
    needs_noise: ClassVar[bool] = True
    needs_preact: ClassVar[bool] = True

    def __post_init__(self):
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(
                f"concrete temperature must be a positive number, got {self.temperature!r}"
            )

    def __call__(self, prob, *, preact=None, uniform=None, out=None):
        if out is None:
            out = np.empty_like(prob)
        np.subtract(preact, logit(uniform).astype(out.dtype, copy=False), out=out)
        out /= out.dtype.type(self.temperature)
        return sigmoid(out, out=out)

    def describe(self) -> str:
        return f"concrete(temperature={self.temperature:g})"


GATE_RULES: dict[str, type[GateRule]] = {
    rule.name: rule for rule in (Deterministic, Bernoulli, Threshold, Concrete)
}


def gate_rule(name: str, **params) -> GateRule:
    """The rule registered under ``name`` (``deterministic``, ``bernoulli``,
    ``threshold``, ``concrete``), configured with ``params``."""
    try:
        cls = GATE_RULES[name]
    except KeyError:
        known = ", ".join(GATE_RULES)
        raise ValueError(f"unknown gate rule {name!r}; expected one of: {known}") from None
    return cls(**params)
