"""One-step forecasting tasks: the target of step ``t`` is the series' value at
``t + 1`` (``targets: {kind: inputs, shift: 1}`` in an experiment file), scored
by MSE at every step of the split.

- :class:`SeriesForecast`: a CSV column, one series, split in time. Every
  example of a batch is the whole series (the rows of a batch differ only by
  their gate noise); the training split scores the predictions of rows
  ``1..validation-1``, validation those of ``validation..test-1``, the test the
  rest, each reading the series from its first row (as
  ``experiments/sunspot-forecast.yaml`` does).
- :class:`EpidemicForecast`: outbreaks of the stochastic SIR generator, one
  per example, drawn by :func:`sir_outbreaks` (all examples at once); the
  test outbreaks are the per-seed epidemic inputs of the training seed.
"""

from __future__ import annotations

import math

import numpy as np

from .csv_inputs import from_csv
from .learning_tasks import Batch

__all__ = ["EpidemicForecast", "SeriesForecast", "series_of", "sir_outbreaks"]


def series_of(csv_spec) -> np.ndarray:
    """The column of a task's ``csv`` block, z-scored on the rows before ``test``: ``(rows,)``."""
    normalize = {"fit_rows": {"start": 0, "stop": csv_spec.test}}
    return from_csv(csv_spec.file, [csv_spec.column], normalize=normalize)[:, 0]


class SeriesForecast:
    """One-step forecasting of one series (``series`` as :func:`series_of` gives it)."""

    readout, loss = "linear", "mse"

    def __init__(self, spec, series: np.ndarray):
        self.series = np.asarray(series, dtype=np.float64)
        self.validation, self.test = int(spec.csv.validation), int(spec.csv.test)

    def first_predicted(self, split: str) -> tuple[int, int]:
        """The rows ``(first, stop)`` a split predicts."""
        return {
            "train": (1, self.validation),
            "validation": (self.validation, self.test),
            "test": (self.test, len(self.series)),
        }[split]

    def batch(self, rng: np.random.Generator, size: int, split: str = "train") -> Batch:
        first, stop = self.first_predicted(split)
        inputs = np.repeat(self.series[: stop - 1, None, None], size, axis=1)
        targets = np.repeat(self.series[first:stop, None, None], size, axis=1)
        return Batch(inputs, targets, first - 1)


def sir_outbreaks(
    days: int,
    size: int,
    *,
    population: int,
    infected: int,
    beta: float,
    gamma: float,
    generator: np.random.Generator,
) -> dict[str, np.ndarray]:
    """``size`` outbreaks of :func:`stochlstm.experiment.inputs.simulate_sir` at
    once, ``{count: (days, size)}`` for ``new_cases`` and ``infected``: each day
    all outbreaks' infections are drawn, then all recoveries (one outbreak
    draws exactly what ``simulate_sir`` draws from the same generator)."""
    susceptible = np.full(size, population - infected, dtype=np.int64)
    current = np.full(size, infected, dtype=np.int64)
    recovery_prob = -math.expm1(-gamma)
    counts = {name: np.zeros((days, size), np.int64) for name in ("new_cases", "infected")}
    for t in range(days):
        infection_prob = -np.expm1(-beta * current / population)
        new_cases = generator.binomial(susceptible, infection_prob)
        recoveries = generator.binomial(current, recovery_prob)
        susceptible -= new_cases
        current += new_cases - recoveries
        counts["new_cases"][t] = new_cases
        counts["infected"][t] = current
    return counts


def _scaled(counts: np.ndarray, scale, population: int) -> np.ndarray:
    """Counts ``(days, B)`` scaled as the epidemic inputs' ``scale`` does, per outbreak."""
    counts = counts.astype(np.float64)
    if scale == "population":
        return counts / population
    if scale == "max":
        peak = counts.max(axis=0)
        return counts / np.where(peak > 0, peak, 1)
    if scale == "none":
        return counts
    return counts / scale


class EpidemicForecast:
    """One-step forecasting of SIR outbreaks of ``steps + 1`` days."""

    readout, loss = "linear", "mse"

    def __init__(self, spec):
        self.epidemic = spec.epidemic

    def batch(self, rng: np.random.Generator, size: int, split: str = "train") -> Batch:
        epidemic = self.epidemic
        outbreaks = sir_outbreaks(
            epidemic.steps + 1,
            size,
            population=epidemic.population,
            infected=epidemic.infected,
            beta=epidemic.beta,
            gamma=epidemic.gamma,
            generator=rng,
        )
        values = _scaled(outbreaks[epidemic.observe], epidemic.scale, epidemic.population)
        return Batch(np.ascontiguousarray(values[:-1, :, None]), values[1:, :, None], 0)
