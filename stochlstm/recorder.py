"""What a run keeps of a batch of seeds: block statistics and a few sample paths.

A :class:`BatchRecorder` is the consumer handed to
:func:`stochlstm.simulate.run_kernel`. At each recorded step it forms, per
block of seeds (:data:`stochlstm.stats.SEED_BLOCK`), the moments of every
recorded quantity and of the derived comparisons against the baseline
(deterministic) condition:

=====================  ======================================================
``dev_c``, ``dev_h``   value minus the baseline's at the same seed, per unit
``div_c``, ``div_h``   root mean square over all units of ``dev``, per seed
``retention``          product over steps ``0..t`` of the realised keep factor
                       (``f``; ``1 - f`` under the erase reading): the share
                       of the initial cell content still in ``c_t``
``retention_theory``   the same product of keep *probabilities*
``sat_i/f/o``          ``1[p < 0.1 or p > 0.9]``
``flip_i/f/o``         ``1[gate != 1[p > 0.5]]``, for binary gates only
=====================  ======================================================

Per-seed derived values of one-per-seed quantities (``div_*``) use unit ``-1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .condition import Condition
from .gates import Bernoulli, Threshold
from .stats import SEED_BLOCK, block_moments, block_sizes

__all__ = ["DERIVED_QUANTITIES", "BatchRecord", "BatchRecorder", "RecordPlan"]

DERIVED_QUANTITIES = (
    "dev_c", "dev_h", "div_c", "div_h", "retention", "retention_theory",
    "sat_i", "sat_f", "sat_o", "flip_i", "flip_f", "flip_o",
)
_GATES = {"i": ("input", "p_i"), "f": ("forget", "p_f"), "o": ("output", "p_o")}


@dataclass(frozen=True)
class RecordPlan:
    """Which steps, units, quantities and sample paths are kept."""

    quantities: tuple[str, ...]
    steps: tuple[int, ...]
    units: tuple[int, ...]
    path_seeds: tuple[int, ...] = ()
    derived: bool = True
    initial_state: bool = False  # keep t = -1 rows in the sample paths
    block: int = SEED_BLOCK


@dataclass
class BatchRecord:
    """The result of one batch: per (condition, quantity), block moments
    ``(n_blocks, n_steps, n_units)`` and sample paths ``(n_steps, n_units, n_paths)``."""

    seeds: tuple[int, ...]
    block_sizes: list[int]
    moments: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)
    path_seeds: tuple[int, ...] = ()
    paths: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def derived_quantities(condition: Condition, is_baseline: bool) -> tuple[str, ...]:
    """The derived quantities that make sense for a condition."""
    names = ["retention", "retention_theory", "sat_i", "sat_f", "sat_o"]
    if not is_baseline:
        names = ["dev_c", "dev_h", "div_c", "div_h", *names]
    for short, (gate, _) in _GATES.items():
        if isinstance(getattr(condition, gate), Bernoulli | Threshold):
            names.append(f"flip_{short}")
    return tuple(n for n in DERIVED_QUANTITIES if n in names)


class BatchRecorder:
    """Consumer of :func:`~stochlstm.simulate.run_kernel` for one batch of seeds.

    ``conditions`` must list the baseline first (when there is one), so that its
    state at step ``t`` is known when the other conditions reach ``t``.
    """

    def __init__(
        self,
        plan: RecordPlan,
        conditions: Mapping[str, Condition],
        seeds: Sequence[int],
        hidden_size: int,
        output_size: int = 0,
        baseline: str | None = None,
    ):
        self.plan = plan
        self.names = list(conditions)
        self.conditions = list(conditions.values())
        if baseline is not None and self.names[0] != baseline:
            raise ValueError("the baseline condition must come first")
        self.has_baseline = baseline is not None
        self.seeds = tuple(int(s) for s in seeds)
        batch = len(self.seeds)
        self.step_index = {t: j for j, t in enumerate(plan.steps)}
        self.units = np.asarray(plan.units, dtype=np.intp)
        self.sizes = block_sizes(batch, plan.block)
        n_blocks, n_steps = len(self.sizes), len(plan.steps)

        seed_column = {s: b for b, s in enumerate(self.seeds)}
        self.path_seeds = tuple(s for s in plan.path_seeds if s in seed_column)
        self.path_columns = np.asarray([seed_column[s] for s in self.path_seeds], dtype=np.intp)

        self.quantities: list[tuple[str, ...]] = []
        self.record = BatchRecord(self.seeds, self.sizes, path_seeds=self.path_seeds)
        for k, (name, condition) in enumerate(zip(self.names, self.conditions, strict=True)):
            derived = derived_quantities(condition, is_baseline=self.has_baseline and k == 0)
            if not self.has_baseline:
                derived = tuple(d for d in derived if not d.startswith(("dev_", "div_")))
            quantities = plan.quantities + (derived if plan.derived else ())
            self.quantities.append(quantities)
            for quantity in quantities:
                width = self._width(quantity, hidden_size, output_size)
                self.record.moments[(name, quantity)] = [
                    np.empty((n_blocks, n_steps, width)) for _ in range(4)
                ]
            if len(self.path_seeds):
                for quantity in plan.quantities:
                    width = self._width(quantity, hidden_size, output_size)
                    self.record.paths[(name, quantity)] = np.empty((n_steps, width, len(self.path_seeds)))
        self.retention = [np.ones((hidden_size, batch)) for _ in self.conditions]
        self.retention_theory = [np.ones((hidden_size, batch)) for _ in self.conditions]
        self.baseline_state: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _width(self, quantity: str, hidden_size: int, output_size: int) -> int:
        if quantity == "y":
            return output_size
        if quantity in ("div_c", "div_h"):
            return 1
        return len(self.units)

    def __call__(self, index: int, t: int, values: dict[str, np.ndarray]) -> None:
        condition = self.conditions[index]
        if self.plan.derived:
            self._update_retention(index, condition, values)
        if self.has_baseline and index == 0 and len(self.conditions) > 1:
            self.baseline_state[t] = (values["c"].copy(), values["h"].copy())
        j = self.step_index.get(t)
        if j is not None:
            name = self.names[index]
            for quantity in self.quantities[index]:
                value = self._value(index, t, quantity, values)
                for array, moment in zip(self.record.moments[(name, quantity)], block_moments(value, self.plan.block), strict=True):
                    array[:, j, :] = moment
            for quantity in self.plan.quantities:
                if len(self.path_seeds):
                    self.record.paths[(name, quantity)][j] = self._cell_value(quantity, values)[:, self.path_columns]
        if self.has_baseline and index == len(self.conditions) - 1:
            self.baseline_state.pop(t, None)

    def _update_retention(self, index, condition, values):
        erase = condition.forget_semantics == "erase"
        keep = 1 - values["f"] if erase else values["f"]
        keep_prob = 1 - values["p_f"] if erase else values["p_f"]
        self.retention[index] *= keep
        self.retention_theory[index] *= keep_prob

    def _cell_value(self, quantity, values):
        value = values[quantity]
        return value if quantity == "y" else value[self.units]

    def _value(self, index, t, quantity, values) -> np.ndarray:
        if quantity in values:
            return self._cell_value(quantity, values)
        kind, _, which = quantity.partition("_")
        if kind == "dev":
            base_c, base_h = self.baseline_state[t]
            base = base_c if which == "c" else base_h
            return (values[which] - base)[self.units]
        if kind == "div":
            base_c, base_h = self.baseline_state[t]
            base = base_c if which == "c" else base_h
            deviation = values[which] - base
            return np.sqrt(np.mean(np.square(deviation), axis=0, keepdims=True))
        if quantity == "retention":
            return self.retention[index][self.units]
        if quantity == "retention_theory":
            return self.retention_theory[index][self.units]
        if kind == "sat":
            prob = values[_GATES[which][1]][self.units]
            return ((prob < 0.1) | (prob > 0.9)).astype(np.float64)
        if kind == "flip":
            prob = values[_GATES[which][1]][self.units]
            return (values[which][self.units] != (prob > 0.5)).astype(np.float64)
        raise KeyError(quantity)
