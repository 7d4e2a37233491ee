"""Training with stochastic gates (``stochlstm train``), on PyTorch, the
optional extra ``stochlstm[train]``: torch is imported only where a model is
built (:mod:`.cell`, :mod:`.loop`), so ``import stochlstm`` works without it.

:mod:`.noise` (training's random numbers), :mod:`.tasks` (adding, copy),
:mod:`.cell` (the torch cell, every rule), :mod:`.loop` (one arm and seed in
chunks), :mod:`.evaluate` (trained models on the numpy kernel), :mod:`.run`
(the run directory), :mod:`.figures`, :mod:`.report`.
"""

from .run import train_experiment

__all__ = ["train_experiment"]
