"""The problem a train block's ``task`` names: what draws its batches.

The sequences are made in the experiment layer, in numpy
(:mod:`stochlstm.experiment.learning_tasks`: adding, copy;
:mod:`stochlstm.experiment.forecasts`: one-step forecasting), so that an
experiment file's inputs can be a trained model's test set.
"""

from __future__ import annotations

import numpy as np

from ..experiment.forecasts import EpidemicForecast, SeriesForecast
from ..experiment.learning_tasks import AddingProblem, Batch, CopyProblem

__all__ = ["Batch", "make_problem"]


def make_problem(task, series: np.ndarray | None = None):
    """The problem of ``task``; a CSV forecast's ``series`` is read once, by
    :func:`stochlstm.experiment.forecasts.series_of`, and handed in."""
    if task.kind == "adding":
        return AddingProblem(task)
    if task.kind == "copy":
        return CopyProblem(task)
    if task.csv is not None:
        return SeriesForecast(task, series)
    return EpidemicForecast(task)
