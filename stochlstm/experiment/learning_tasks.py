"""The adding and copy tasks: sequences, the steps scored and their targets.

A task draws a :class:`Batch` of examples from a :class:`numpy.random.Generator`:
``inputs (T, B, X)`` and the targets of the scored steps. The same code
draws ``stochlstm train``'s batches and the examples of ``inputs: {kind:
adding}`` / ``{kind: copy}`` (one example per generator:
:func:`task_example`), so a trained model's test set is an experiment file's
inputs.

- adding (Hochreiter & Schmidhuber 1997): ``x_t = (value_t, marker_t)``,
  values U(0, 1), one marker in each half; the target is the sum of the two
  marked values, scored at the last step. Predicting the constant 1 (the
  target's mean) scores ``Var(u1 + u2) = 2/12 ~ 0.167`` in MSE.
- copy: ``length`` symbols (one-hot over ``symbols``), ``delay`` blank steps,
  a delimiter, then ``length - 1`` blanks; the model outputs the symbols, in
  order, at the last ``length`` steps (cross-entropy; accuracy per symbol).

One-step forecasting is :mod:`stochlstm.experiment.forecasts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AddingProblem", "Batch", "CopyProblem", "task_example"]


@dataclass(frozen=True)
class Batch:
    """``inputs (T, B, X)``; ``targets`` of the scored steps, ``(S, B, Y)`` values
    or ``(S, B)`` class indices: ``targets[k]`` is the target of step ``first_scored + k``."""

    inputs: np.ndarray
    targets: np.ndarray
    first_scored: int

    @property
    def scored(self) -> slice:
        """The steps scored."""
        return slice(self.first_scored, self.first_scored + len(self.targets))

    def full_targets(self) -> np.ndarray:
        """Targets for every step ``(T, B, W)`` (``W = 1`` for class indices),
        float64: the steps before the scored ones carry the first scored target."""
        targets = self.targets if self.targets.ndim == 3 else self.targets[..., None]
        before = np.repeat(targets[:1], self.first_scored, axis=0)
        return np.concatenate([before, targets]).astype(np.float64)


class AddingProblem:
    """The adding problem of ``steps`` steps; one example costs two draws per step and two markers."""

    readout, loss = "linear", "mse"

    def __init__(self, spec):
        self.steps = int(spec.steps)

    def batch(self, rng: np.random.Generator, size: int, split: str = "train") -> Batch:
        steps = self.steps
        values = rng.uniform(0.0, 1.0, size=(size, steps))
        half = steps // 2
        first = rng.integers(0, half, size=size)
        second = rng.integers(half, steps, size=size)
        markers = np.zeros((size, steps))
        rows = np.arange(size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = np.stack([values, markers], axis=-1).transpose(1, 0, 2)  # (T, B, 2)
        targets = (values[rows, first] + values[rows, second])[None, :, None]  # (1, B, 1)
        return Batch(np.ascontiguousarray(inputs), targets, steps - 1)


class CopyProblem:
    """The copy task: ``length`` symbols of ``symbols``, ``delay`` blanks, a delimiter."""

    readout, loss = "softmax", "cross_entropy"

    def __init__(self, spec):
        self.symbols, self.length, self.delay = int(spec.symbols), int(spec.length), int(spec.delay)
        self.steps = 2 * self.length + self.delay

    def batch(self, rng: np.random.Generator, size: int, split: str = "train") -> Batch:
        length, blank, delimiter = self.length, self.symbols, self.symbols + 1
        sequence = rng.integers(0, self.symbols, size=(size, length))
        tokens = np.full((size, self.steps), blank)
        tokens[:, :length] = sequence
        tokens[:, length + self.delay] = delimiter
        inputs = np.eye(self.symbols + 2)[tokens].transpose(1, 0, 2)  # (T, B, K + 2)
        return Batch(
            np.ascontiguousarray(inputs), np.ascontiguousarray(sequence.T), self.steps - length
        )


PROBLEMS = {"adding": AddingProblem, "copy": CopyProblem}


def task_example(spec, rng: np.random.Generator) -> Batch:
    """One example (a batch of one) of the adding or copy task ``spec``, drawn from ``rng``."""
    return PROBLEMS[spec.kind](spec).batch(rng, 1)
