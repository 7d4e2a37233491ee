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
from .kernel import as_conditions, check_inputs, initial_columns, record_layer, run_kernel
from .threads import check, run_in_threads, seed_groups, usable_cores

__all__ = ["Simulation", "readout_columns", "simulate", "tidy_columns", "tidy_frame"]


def readout_columns(values: np.ndarray, n_units: int) -> dict[str, np.ndarray]:
    """Table columns for the readout ``values (..., Y)`` in a table with one row
    per unit: each unit's row of a (seed, t) carries the readout, as ``y`` for
    one output and ``y_0, y_1, ...`` for more."""
    n_outputs = values.shape[-1]
    names = ["y"] if n_outputs == 1 else [f"y_{k}" for k in range(n_outputs)]
    shape = (*values.shape[:-1], n_units)
    return {
        name: np.broadcast_to(values[..., k : k + 1], shape).ravel() for k, name in enumerate(names)
    }


def tidy_columns(
    labels: Mapping[str, object], index: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray]
) -> dict[str, object]:
    """The columns of a table with one row per element of the ``index`` grids
    (arrays of one shape, the last axis the unit): each label as it is (one
    value for every row), then each grid and each array of ``values`` (of the
    grids' shape; the readout ``y``, ``(..., Y)``, is spread over the units by
    :func:`readout_columns`) flattened, in that order."""
    shape = next(iter(index.values())).shape
    columns = dict(labels)
    columns.update({name: grid.ravel() for name, grid in index.items()})
    for name, array in values.items():
        if name == "y":
            columns.update(readout_columns(array, shape[-1]))
        else:
            columns[name] = array.ravel()
    return columns


def tidy_frame(
    labels: Mapping[str, object], index: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """The table of :func:`tidy_columns` as a DataFrame (a label repeated on every row)."""
    return pd.DataFrame(tidy_columns(labels, index, values))


@dataclass(frozen=True)
class Simulation:
    """Every step of every condition and seed: ``sim[condition][quantity]`` is
    ``(T, B, H)`` (``y``: ``(T, B, Y)``), row ``t`` the step that consumed ``x_t``.
    The cell quantities are those of one layer of a stacked LSTM (``layer``).
    """

    conditions: tuple[str, ...]
    seeds: tuple[int, ...]
    quantities: tuple[str, ...]
    arrays: dict[str, dict[str, np.ndarray]]
    layer: int = 0

    def __getitem__(self, condition: str) -> dict[str, np.ndarray]:
        return self.arrays[condition]

    def to_frame(self) -> pd.DataFrame:
        """Tidy trajectories (:func:`tidy_frame`): one row per (condition, t, seed,
        unit), columns ``condition, seed, t, unit`` and one per quantity."""
        n_steps, _, hidden = self[self.conditions[0]]["h"].shape
        condition, t, seed, unit = np.meshgrid(
            self.conditions, np.arange(n_steps), self.seeds, np.arange(hidden), indexing="ij"
        )
        values = {
            quantity: np.stack([self[name][quantity] for name in self.conditions])
            for quantity in self.quantities
        }
        return tidy_frame({}, {"condition": condition, "seed": seed, "t": t, "unit": unit}, values)


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
    layer: int | None = None,
) -> Simulation:
    """Simulate ``conditions`` for ``seeds`` and keep every step.

    ``inputs`` is ``(T, X)``, shared by all seeds, or ``(T, B, X)``;
    ``seeds`` a list of seeds or a count (``0..n-1``). The gate noise of seed
    ``s`` depends on ``(root_seed, s)`` only (see :mod:`stochlstm.core.randomness`),
    and every condition sees the same noise. ``threads`` (default: the usable
    cores) run groups of seeds in parallel (:mod:`stochlstm.engine.threads`);
    the numbers do not depend on it. In a stacked LSTM the quantities kept are
    those of ``layer`` (default: the last), and ``y`` the readout of the last.

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
    layer = record_layer(weights, layer)
    initial_state = dict(initial_state or {})
    for name, value in initial_state.items():  # checked whole, before groups slice it
        initial_columns(value, name, weights.hidden_size, len(seeds), dtype)
    names = tuple(conditions)
    width = {q: weights.output_size if q == "y" else weights.hidden_size for q in quantities}
    arrays = {
        name: {q: np.empty((len(inputs), len(seeds), width[q]), dtype=dtype) for q in quantities}
        for name in names
    }

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
            layer=layer,
        )

    threads = usable_cores() if threads is None else threads
    groups = seed_groups(len(seeds), threads, weights.hidden_size)
    run_in_threads([partial(run_group, group) for group in groups], threads)
    return Simulation(names, tuple(seeds), quantities, arrays, layer)
