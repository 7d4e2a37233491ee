"""The learning tasks: sequences, targets and how a prediction is scored.

Each task draws a batch from a :class:`numpy.random.Generator`:
``inputs (T, B, X)`` and ``targets``; the model's outputs are read at the
task's ``readout_steps`` (the last step for the adding problem, the last
``length`` steps for copy).

- adding (Hochreiter & Schmidhuber 1997): ``x_t = (value_t, marker_t)``,
  values U(0, 1), one marker in each half; the target is the sum of the two
  marked values. Predicting the constant 1 (the target's mean) scores
  ``Var(u1 + u2) = 2/12 ~ 0.167`` in MSE.
- copy: ``length`` symbols (one-hot over ``symbols``), ``delay`` blank steps,
  a delimiter, then ``length - 1`` blanks; the model outputs the symbols, in
  order, at the last ``length`` steps (cross-entropy; accuracy per symbol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "make_batch", "readout_steps", "sequence_length"]


@dataclass(frozen=True)
class Batch:
    inputs: np.ndarray  # (T, B, X) float64
    targets: np.ndarray  # adding: (B, 1) float64; copy: (L, B) int64 symbols


def sequence_length(task) -> int:
    if task.kind == "adding":
        return task.steps
    return 2 * task.length + task.delay


def readout_steps(task) -> slice:
    """The steps whose outputs are scored."""
    if task.kind == "adding":
        return slice(task.steps - 1, task.steps)
    total = sequence_length(task)
    return slice(total - task.length, total)


def make_batch(task, rng: np.random.Generator, batch: int) -> Batch:
    if task.kind == "adding":
        return _adding(rng, batch, task.steps)
    return _copy(rng, batch, task.symbols, task.length, task.delay)


def _adding(rng: np.random.Generator, batch: int, steps: int) -> Batch:
    values = rng.uniform(0.0, 1.0, size=(batch, steps))
    half = steps // 2
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, steps, size=batch)
    markers = np.zeros((batch, steps))
    rows = np.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = np.stack([values, markers], axis=-1).transpose(1, 0, 2)  # (T, B, 2)
    targets = (values[rows, first] + values[rows, second])[:, None]
    return Batch(np.ascontiguousarray(inputs), targets)


def _copy(rng: np.random.Generator, batch: int, symbols: int, length: int, delay: int) -> Batch:
    total = 2 * length + delay
    blank, delimiter = symbols, symbols + 1
    sequence = rng.integers(0, symbols, size=(batch, length))
    tokens = np.full((batch, total), blank)
    tokens[:, :length] = sequence
    tokens[:, length + delay] = delimiter
    inputs = np.eye(symbols + 2)[tokens].transpose(1, 0, 2)  # (T, B, K + 2)
    return Batch(np.ascontiguousarray(inputs), np.ascontiguousarray(sequence.T))
