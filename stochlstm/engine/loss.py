"""The loss of the readout ``y`` against targets, per seed and step, and what a
run keeps of it: the definitions once, for the recorder and the analysis.

=====================  ======================================================
``loss``               the loss of one seed's prediction at step ``t``
``loss_window``        the mean of ``loss`` over the steps
                       ``loss_from..loss_to`` (both included), one value per
                       seed, summarised at ``t = loss_to``
``dev_loss_window``    ``loss_window`` minus the baseline's at the same seed
                       (common random numbers: the paired difference)
=====================  ======================================================

All three have unit ``-1`` (one value per seed). A target is given in one of
three encodings, which the experiment resolves from the loss and the readout:

- ``values``: one real target per output; ``mse`` is the mean over outputs of
  ``(y_k - z_k)^2`` (``torch.nn.MSELoss``);
- ``binary``: one 0/1 target per output, ``y_k`` a probability (sigmoid
  readout); ``cross_entropy`` is the mean over outputs of
  ``-(z log y + (1 - z) log(1 - y))`` (``torch.nn.BCELoss``), ``accuracy`` the
  share of outputs with ``1[y_k > 0.5] = z_k``;
- ``classes``: one class index ``c`` per step, ``y`` the class probabilities
  (softmax readout); ``cross_entropy`` is ``-log y_c``
  (``torch.nn.NLLLoss`` of ``log y``), ``accuracy`` ``1[argmax_k y_k = c]``
  (the first largest on a tie).

Logarithms are clamped at :data:`LOG_FLOOR` (as ``BCELoss`` does), so a
probability that rounds to 0 costs 100, not infinity. Losses are computed in
float64 whatever the run's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.names import LOSS_QUANTITIES

__all__ = ["ENCODINGS", "LOG_FLOOR", "LossPlan", "LossRecorder", "loss_quantities", "seed_loss"]

LOG_FLOOR = -100.0
ENCODINGS = ("values", "binary", "classes")


@dataclass(frozen=True)
class LossPlan:
    """How a run scores its readout: ``kind`` (mse, cross_entropy, accuracy),
    the targets' ``encoding`` (values, binary, classes), ``n_steps`` (steps
    ``0..n_steps-1`` have a target), the ``window`` ``(first, last)`` of
    ``loss_window`` (both included), and the loss ``quantities`` kept."""

    kind: str
    encoding: str
    n_steps: int
    window: tuple[int, int]
    quantities: tuple[str, ...] = LOSS_QUANTITIES

    def __post_init__(self):
        first, last = self.window
        if not 0 <= first <= last < self.n_steps:
            raise ValueError(f"window {self.window} not within steps 0..{self.n_steps - 1}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}")

    def summary_steps(self, quantity: str, recorded_steps: Sequence[int]) -> list[int]:
        """The steps ``quantity`` is summarised at: the recorded steps with a
        target for ``loss``, the window's last step for the others."""
        if quantity == "loss":
            return [t for t in recorded_steps if t < self.n_steps]
        return [self.window[1]]


def loss_quantities(plan: LossPlan | None, is_baseline: bool) -> tuple[str, ...]:
    """The loss quantities a condition has (no ``dev_loss_window`` for the baseline)."""
    if plan is None:
        return ()
    return tuple(q for q in plan.quantities if not (is_baseline and q.startswith("dev_")))


def _log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(values), LOG_FLOOR)


def seed_loss(prediction, target, kind: str, encoding: str) -> np.ndarray:
    """The loss of each column (seed) of ``prediction (Y, B)`` against ``target``,
    ``(Y, B)`` (values, binary) or ``(1, B)`` (classes), or broadcastable to
    them; float64 ``(B,)``."""
    y = np.asarray(prediction, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64)
    if kind == "mse":
        return np.mean(np.square(y - z), axis=0)
    if encoding == "classes":
        classes = np.broadcast_to(z, (1, y.shape[1])).astype(np.intp)
        if kind == "accuracy":
            return (np.argmax(y, axis=0) == classes[0]).astype(np.float64)
        return -_log(np.take_along_axis(y, classes, axis=0)[0])
    if kind == "accuracy":
        return np.mean((y > 0.5) == (z > 0.5), axis=0)
    return -np.mean(z * _log(y) + (1 - z) * _log(1 - y), axis=0)


class LossRecorder:
    """The loss part of a :class:`~stochlstm.engine.recorder.BatchRecorder`:
    at every step it scores each condition's readout against ``targets``
    (``(n_steps, W)``, shared, or ``(n_steps, B, W)``, one per seed) and puts
    the block moments of the loss quantities into ``moments``
    (``{(condition, quantity): [mean, m2, min, max]}``, each
    ``(n_blocks, steps, 1)``: the recorded steps with a target for ``loss``,
    one for the others).

    The baseline, when there is one, must be the first condition and reach
    the window's last step before the others do (as the kernel runs them).
    """

    def __init__(
        self,
        plan: LossPlan,
        targets: np.ndarray,
        conditions: Sequence[str],
        has_baseline: bool,
        n_seeds: int,
        recorded_steps: Sequence[int],
        n_blocks: int,
        moments: dict,
    ):
        if targets.ndim not in (2, 3) or targets.shape[0] < plan.n_steps:
            raise ValueError(f"expected targets for {plan.n_steps} steps, got {targets.shape}")
        self.plan, self.targets = plan, np.asarray(targets, dtype=np.float64)
        self.has_baseline = has_baseline
        self.steps = tuple(plan.summary_steps("loss", recorded_steps))
        self.step_index = {t: j for j, t in enumerate(self.steps)}
        self.kept: list[dict[str, np.ndarray]] = []
        for k, name in enumerate(conditions):
            kept = {}
            for quantity in loss_quantities(plan, not has_baseline or k == 0):
                rows = len(self.steps) if quantity == "loss" else 1
                kept[quantity] = np.empty((4, n_blocks, rows, 1))
                moments[(name, quantity)] = list(kept[quantity])
            self.kept.append(kept)
        self.window_sums = np.zeros((len(conditions), n_seeds))
        self.baseline_window: np.ndarray | None = None

    def _target(self, t: int) -> np.ndarray:
        target = self.targets[t]
        return target[:, None] if target.ndim == 1 else target.T

    def __call__(self, index: int, t: int, values, statistics) -> None:
        """Score step ``t`` of condition ``index``; ``statistics`` is the
        recorder's :class:`~stochlstm.engine.statistics.BlockMoments`."""
        kept, (first, last) = self.kept[index], self.plan.window
        j = self.step_index.get(t) if "loss" in kept else None
        in_window = first <= t <= last
        if j is None and not in_window:
            return
        loss = seed_loss(values["y"], self._target(t), self.plan.kind, self.plan.encoding)
        if j is not None:
            kept["loss"][:, :, j] = statistics.real(loss[None]).transpose(0, 2, 1)
        if not in_window:
            return
        self.window_sums[index] += loss
        if t != last:
            return
        window = self.window_sums[index] / (last - first + 1)
        if "loss_window" in kept:
            kept["loss_window"][:, :, 0] = statistics.real(window[None]).transpose(0, 2, 1)
        if index == 0 and self.has_baseline:
            self.baseline_window = window
        elif "dev_loss_window" in kept:
            deviation = (window - self.baseline_window)[None]
            kept["dev_loss_window"][:, :, 0] = statistics.real(deviation).transpose(0, 2, 1)
