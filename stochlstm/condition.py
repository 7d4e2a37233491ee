"""A condition: one arm of a comparison, i.e. how every stochastic choice of the
cell is made (see the table in :mod:`stochlstm.cell`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .gates import Deterministic, GateRule, gate_rule

__all__ = ["Condition", "NOISE_STREAMS"]

# The independent uniform streams of one seed, in a fixed order. A stream's
# position is part of the randomness contract (see stochlstm.noise).
NOISE_STREAMS: tuple[str, ...] = (
    "input",  # input gate sample
    "forget",  # forget gate sample
    "output",  # output gate sample
    "candidate",  # stochastic binary candidate g
    "cell_output",  # stochastic binary tanh(c)
    "zoneout_c",  # zoneout mask on c
    "zoneout_h",  # zoneout mask on h
)


@dataclass(frozen=True)
class Condition:
    """How each gate and unit is realised.

    - ``input``, ``forget``, ``output``: the gating rule of each gate.
    - ``forget_semantics``: ``"standard"`` (``c = f c + i g``) or ``"erase"``,
      the literal reading where a forget unit that is on erases memory
      (``c = (1 - f) c + i g``).
    - ``zoneout_c``, ``zoneout_h``: probability of keeping the previous value
      of each unit of ``c`` / ``h``.
    - ``binary_candidate``, ``binary_cell_output``: replace ``tanh`` of the
      candidate / of ``c`` by a stochastic ±1 unit with mean ``tanh``.
    - ``noise``: ``"fresh"`` uniforms every step, or ``"fixed"`` per sequence
      (the uniforms of step 0 reused at every step).
    """

    input: GateRule = field(default_factory=Deterministic)
    forget: GateRule = field(default_factory=Deterministic)
    output: GateRule = field(default_factory=Deterministic)
    forget_semantics: Literal["standard", "erase"] = "standard"
    zoneout_c: float = 0.0
    zoneout_h: float = 0.0
    binary_candidate: bool = False
    binary_cell_output: bool = False
    noise: Literal["fresh", "fixed"] = "fresh"

    def __post_init__(self):
        for gate in ("input", "forget", "output"):
            if not isinstance(getattr(self, gate), GateRule):
                raise TypeError(f"{gate} must be a GateRule, got {getattr(self, gate)!r}")
        if self.forget_semantics not in ("standard", "erase"):
            raise ValueError(
                f"forget_semantics must be 'standard' or 'erase', got {self.forget_semantics!r}"
            )
        if self.noise not in ("fresh", "fixed"):
            raise ValueError(f"noise must be 'fresh' or 'fixed', got {self.noise!r}")
        for name in ("zoneout_c", "zoneout_h"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")

    @classmethod
    def all_gates(cls, rule: str | GateRule, **options) -> Condition:
        """The same rule on the input, forget and output gates.

        ``Condition.all_gates("bernoulli")`` is the answer's stochastic LSTM;
        ``Condition.all_gates("concrete", temperature=0.5)`` passes
        ``temperature`` to the rule, other keywords to the condition.
        """
        if isinstance(rule, str):
            params = {k: options.pop(k) for k in ("temperature",) if k in options}
            rule = gate_rule(rule, **params)
        return cls(input=rule, forget=rule, output=rule, **options)

    @property
    def noise_streams(self) -> tuple[str, ...]:
        """The uniform streams this condition reads, in :data:`NOISE_STREAMS` order."""
        used = {
            "input": self.input.needs_noise,
            "forget": self.forget.needs_noise,
            "output": self.output.needs_noise,
            "candidate": self.binary_candidate,
            "cell_output": self.binary_cell_output,
            "zoneout_c": self.zoneout_c > 0,
            "zoneout_h": self.zoneout_h > 0,
        }
        return tuple(s for s in NOISE_STREAMS if used[s])

    @property
    def is_deterministic(self) -> bool:
        return not self.noise_streams

    def describe(self) -> str:
        parts = [f"{g}={getattr(self, g).describe()}" for g in ("input", "forget", "output")]
        if self.forget_semantics != "standard":
            parts.append(f"forget_semantics={self.forget_semantics}")
        if self.zoneout_c or self.zoneout_h:
            parts.append(f"zoneout(c={self.zoneout_c:g}, h={self.zoneout_h:g})")
        if self.binary_candidate:
            parts.append("binary candidate")
        if self.binary_cell_output:
            parts.append("binary tanh(c)")
        if self.noise != "fresh":
            parts.append(f"noise={self.noise}")
        return ", ".join(parts)
