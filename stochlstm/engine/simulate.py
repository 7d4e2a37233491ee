"""Simulating many seeds and conditions and keeping every step: a
:class:`Simulation` of the kernel's (:mod:`stochlstm.engine.kernel`) output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ..core.conditions import Condition
from ..core.names import CELL_QUANTITIES
from ..core.weights import LSTMWeights
from .kernel import as_conditions, check_inputs, initial_columns, run_kernel
from .threads import check, run_in_threads, seed_groups, usable_cores

__all__ = ["Simulation", "readout_columns", "simulate"]


def readout_columns(values: np.ndarray, n_units: int) -> dict[str, np.ndarray]:
    """Table columns for the readout ``values (..., Y)`` in a table with one row
    per unit: each unit's row of a (seed, t) carries the readout, as ``y`` for
    one output and ``y_0, y_1, ...`` for more."""
    shape = (*values.shape[:-1], n_units)
    if values.shape[-1] == 1:
        return {"y": np.broadcast_to(values, shape).ravel()}
    return {
        f"y_{k}": np.broadcast_to(values[..., k : k + 1], shape).ravel()
        for k in range(values.shape[-1])
    }


@dataclass(frozen=True)
class Simulation:
    """Every step of every condition and seed: ``sim[condition][quantity]`` is
    ``(T, B, H)`` (``y``: ``(T, B, Y)``), row ``t`` the step that consumed ``x_t``.
    """

    conditions: tuple[str, ...]
    seeds: tuple[int, ...]
    quantities: tuple[str, ...]
    arrays: dict[str, dict[str, np.ndarray]]

    def __getitem__(self, condition: str) -> dict[str, np.ndarray]:
        return self.arrays[condition]

    def to_frame(self) -> pd.DataFrame:
        """Tidy trajectories: one row per (condition, seed, t, unit).

        Columns ``condition, seed, t, unit`` and one per quantity; the
        readout is repeated on every unit's row (see :func:`readout_columns`).
        """
        frames = []
        for condition in self.conditions:
            arrays = self.arrays[condition]
            n_steps, _, hidden = arrays["h"].shape
            t, seed, unit = np.meshgrid(
                np.arange(n_steps), np.asarray(self.seeds), np.arange(hidden), indexing="ij"
            )
            columns = {
                "condition": np.full(t.size, condition),
                "seed": seed.ravel(),
                "t": t.ravel(),
                "unit": unit.ravel(),
            }
            for quantity in self.quantities:
                values = arrays[quantity]
                if quantity != "y":
                    columns[quantity] = values.ravel()
                else:
                    columns.update(readout_columns(values, hidden))
            frames.append(pd.DataFrame(columns))
        return pd.concat(frames, ignore_index=True)


def simulate(
    weights: LSTMWeights,
    inputs: np.ndarray,
    conditions: Mapping[str, Condition] | Condition,
    seeds: Sequence[int] | int = 1,
    *,
    root_seed: int = 0,
    initial_state: Mapping[str, np.ndarray] | None = None,
    dtype=np.float64,
    quantities: Sequence[str] | None = None,
    threads: int | None = None,
) -> Simulation:
    """Simulate ``conditions`` for ``seeds`` and keep every step.

    ``inputs`` is ``(T, X)``, shared by all seeds, or ``(T, B, X)``;
    ``seeds`` a list of seeds or a count (``0..n-1``). The gate noise of seed
    ``s`` depends on ``(root_seed, s)`` only (see :mod:`stochlstm.core.randomness`),
    and every condition sees the same noise. ``threads`` (default: the usable
    cores) run groups of seeds in parallel (:mod:`stochlstm.engine.threads`);
    the numbers do not depend on it.

    >>> from stochlstm import Condition, init_uniform, simulate
    >>> weights = init_uniform(input_size=2, hidden_size=4, seed=0)
    >>> sim = simulate(weights, np.ones((10, 2)),
    ...                {"deterministic": Condition(),
    ...                 "stochastic": Condition("bernoulli")}, seeds=100)
    >>> sim["stochastic"]["c"].shape
    (10, 100, 4)
    """
    conditions = as_conditions(conditions)
    seeds = list(range(seeds)) if isinstance(seeds, int | np.integer) else [int(s) for s in seeds]
    available = CELL_QUANTITIES if weights.output_size else CELL_QUANTITIES[:-1]
    quantities = tuple(quantities or available)
    unknown = set(quantities) - set(available)
    if unknown:
        raise ValueError(f"unknown quantities {sorted(unknown)}; available: {', '.join(available)}")
    inputs = check_inputs(inputs, weights, len(seeds))
    initial_state = dict(initial_state or {})
    for name, value in initial_state.items():  # checked whole, before groups slice it
        initial_columns(value, name, weights.hidden_size, len(seeds), dtype)
    n_steps = inputs.shape[0]
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for name in conditions:
        arrays[name] = {}
        for quantity in quantities:
            width = weights.output_size if quantity == "y" else weights.hidden_size
            arrays[name][quantity] = np.empty((n_steps, len(seeds), width), dtype=dtype)
    names = list(conditions)

    def run_group(group: slice, cancelled) -> None:
        def keep(index: int, t: int, values: dict[str, np.ndarray]) -> None:
            check(cancelled)
            for quantity in quantities:
                arrays[names[index]][quantity][t, group] = values[quantity].T

        run_kernel(
            weights,
            inputs[:, group] if inputs.ndim == 3 else inputs,
            conditions,
            seeds[group],
            keep,
            root_seed=root_seed,
            initial_state={
                name: value[group] if np.ndim(value) == 2 else value
                for name, value in initial_state.items()
            },
            dtype=dtype,
        )

    threads = usable_cores() if threads is None else threads
    groups = seed_groups(len(seeds), threads, weights.hidden_size)
    run_in_threads([partial(run_group, group) for group in groups], threads)
    return Simulation(tuple(names), tuple(seeds), quantities, arrays)
