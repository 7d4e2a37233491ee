"""The targets of a run's readout, built from the ``targets`` block
(:mod:`stochlstm.experiment.target_forms`), and the plan of its loss
(:class:`~stochlstm.engine.loss.LossPlan`).

Targets are a sequence aligned with the inputs, ``(n, W)`` (the same at every
seed) or ``(n, B, W)`` (one per seed, when they come from inputs drawn per
seed): row ``t`` is the target of the step that consumed ``x_t``. ``shift:
k`` makes row ``t`` the form's row ``t + k``: ``{kind: inputs, shift: 1}``
is one-step-ahead forecasting (the target of step ``t`` is ``x_{t+1}``). The
last ``k`` steps then have no target: ``n = T - k``, no ``loss`` is recorded
there, and the loss window ends by step ``T - 1 - k``. ``{kind: task}`` gives
the answers of ``adding`` / ``copy`` inputs (:mod:`stochlstm.experiment.learning_tasks`),
drawn with them; its window defaults to the steps the task scores.

The encoding of a target (values, 0/1, class index: see
:mod:`stochlstm.engine.loss`) follows from the loss and the readout:
``mse`` compares values, one per output; ``cross_entropy`` and ``accuracy``
take 0/1 targets, one per output, with a sigmoid readout, and one class
index per step with a softmax readout; a linear readout takes ``mse`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..core.errors import FieldError
from ..core.names import LOSS_QUANTITIES
from ..engine.loss import LossPlan
from .csv_inputs import InputError, from_csv
from .inputs import sequence, sir_epidemic, task_examples

__all__ = [
    "TargetError",
    "build_targets",
    "loss_start",
    "make_targets",
    "readout_kind",
    "target_encoding",
    "target_width",
    "targets_per_seed",
]


class TargetError(FieldError):
    """A bad ``targets`` block; ``field`` names the offending key of it."""


def readout_kind(readout) -> str:
    """The name of a model's readout (``model.readout``: absent, a name, or
    ``{kind: ...}``); sigmoid when none is named."""
    if readout is None:
        return "sigmoid"
    if isinstance(readout, str):
        return readout
    if isinstance(readout, Mapping):
        return str(readout.get("kind", "sigmoid"))
    return str(getattr(readout, "kind", "sigmoid"))


def target_encoding(loss: str, readout: str) -> str:
    """``values``, ``binary`` or ``classes``: how targets of ``loss`` are given
    for a readout of kind ``readout``; TargetError("loss") for a loss that
    needs probabilities from a readout that does not give them."""
    if loss == "mse":
        return "values"
    if readout == "linear":
        message = f"{loss} compares probabilities: use a sigmoid or softmax readout, or mse"
        raise TargetError("loss", message)
    return "classes" if readout == "softmax" else "binary"


def target_width(encoding: str, output_size: int) -> int:
    """Target columns: one class index per step, else one per output."""
    return 1 if encoding == "classes" else output_size


def targets_per_seed(spec, inputs_spec) -> bool:
    """Whether the targets differ between seeds (they come from per-seed inputs)."""
    per_seed = bool(getattr(inputs_spec, "per_seed", False))
    return per_seed and spec.kind in ("inputs", "epidemic", "task")


def _input_columns(spec, inputs_spec, input_size: int) -> list[int]:
    if spec.columns is None:
        return list(range(input_size))
    names = list(getattr(inputs_spec, "columns", None) or [])
    indices = []
    for column in spec.columns:
        if isinstance(column, str):
            if column not in names:
                known = f"the input columns are {', '.join(names)}" if names else "no names"
                raise TargetError("columns", f"{column!r} is not an input column ({known})")
            indices.append(names.index(column))
        elif column >= input_size:
            message = f"input column {column} does not exist: the columns are 0..{input_size - 1}"
            raise TargetError("columns", message)
        else:
            indices.append(column)
    return indices


def _csv_targets(spec, inputs_spec) -> np.ndarray:
    rows = {"start": spec.start, "stop": spec.stop}
    file = spec.file
    if file is None:
        if getattr(inputs_spec, "kind", None) != "csv":
            raise TargetError("file", "missing: the inputs are not read from a file")
        file = inputs_spec.file
        if spec.start is None and spec.stop is None:
            rows = {"start": inputs_spec.start, "stop": inputs_spec.stop}
    return from_csv(file, spec.columns, normalize=spec.normalize, **rows)


def _epidemic_targets(spec, inputs_spec, steps: int, seeds) -> np.ndarray:
    if getattr(inputs_spec, "kind", None) != "epidemic":
        kind = getattr(inputs_spec, "kind", None)
        message = f"epidemic targets observe the outbreak of epidemic inputs; the inputs are {kind}"
        raise TargetError("kind", message)
    return sir_epidemic(
        steps,
        population=inputs_spec.population,
        infected=inputs_spec.infected,
        beta=inputs_spec.beta,
        gamma=inputs_spec.gamma,
        seed=inputs_spec.seed,
        observe=spec.observe,
        scale=inputs_spec.scale if spec.scale is None else spec.scale,
        run_seeds=[int(s) for s in seeds] if inputs_spec.per_seed else None,
    )


def _task_targets(inputs_spec, seeds) -> np.ndarray:
    kind = getattr(inputs_spec, "kind", None)
    if kind not in ("adding", "copy"):
        message = f"task targets are the answers of adding or copy inputs; the inputs are {kind}"
        raise TargetError("kind", message)
    run_seeds = [int(s) for s in seeds] if inputs_spec.per_seed else None
    return task_examples(inputs_spec, run_seeds)[1]


def loss_start(spec, inputs_spec) -> int:
    """The first step of the loss window: ``loss_from``, or for task targets
    without it the task's first scored step."""
    if spec.loss_from is not None:
        return spec.loss_from
    length = getattr(inputs_spec, "length", None)
    return inputs_spec.steps - (1 if length is None else length)


_SOURCE_KEY = {
    "inputs": "columns",
    "csv": "columns",
    "sequence": "values",
    "epidemic": "observe",
    "task": "loss",
}


def make_targets(
    spec, *, inputs_spec, inputs: np.ndarray, seeds: Sequence[int] | None = None
) -> np.ndarray:
    """The targets of the validated ``targets`` block ``spec`` for the run's
    ``inputs`` (built from ``inputs_spec``; ``(T, X)``, or ``(T, B, X)`` for
    ``seeds``): ``(T - shift, W)``, or ``(T - shift, B, W)``, float64."""
    steps = inputs.shape[0]
    try:
        if spec.kind == "inputs":
            values = inputs[..., _input_columns(spec, inputs_spec, inputs.shape[-1])]
        elif spec.kind == "csv":
            values = _csv_targets(spec, inputs_spec)
        elif spec.kind == "sequence":
            values = sequence(spec.values)
        elif spec.kind == "task":
            values = _task_targets(inputs_spec, seeds)
        else:
            values = _epidemic_targets(spec, inputs_spec, steps, seeds)
    except InputError as error:
        raise TargetError(error.field, error.detail) from None
    if values.shape[0] != steps:
        message = (
            f"gives {values.shape[0]} rows of targets but the inputs have {steps} steps; "
            "row t is the target of step t"
        )
        raise TargetError(_SOURCE_KEY[spec.kind], message)
    if spec.shift >= steps:
        message = f"{spec.shift} leaves no step with a target (the inputs have {steps} steps)"
        raise TargetError("shift", message)
    return np.array(values[spec.shift :], dtype=np.float64)


def _check_values(targets: np.ndarray, encoding: str, output_size: int, key: str) -> None:
    if encoding == "values":
        return
    if encoding == "classes":
        good = (targets == np.round(targets)) & (targets >= 0) & (targets < output_size)
        expected = f"class indices 0..{output_size - 1} (one per step, for a softmax readout)"
    else:
        good = (targets == 0) | (targets == 1)
        expected = "0 or 1 (one per output, for a sigmoid readout)"
    if not good.all():
        where = np.argwhere(~good)[0]
        value = float(targets[tuple(where)])
        raise TargetError(key, f"expected targets {expected}, got {value:g} at step {where[0]}")


def build_targets(config, inputs: np.ndarray, seeds: Sequence[int] | None = None):
    """``(targets, loss plan)`` of a validated config whose inputs are ``inputs``
    (for ``seeds`` when drawn per seed); ``(None, None)`` without targets.
    TargetError when the targets do not fit the inputs or the readout."""
    spec = config.targets
    if spec is None:
        return None, None
    model = config.model
    encoding = target_encoding(spec.loss, readout_kind(getattr(model, "readout", None)))
    targets = make_targets(spec, inputs_spec=config.inputs, inputs=inputs, seeds=seeds)
    width = target_width(encoding, model.output_size)
    if targets.shape[-1] != width:
        message = f"gives {targets.shape[-1]} target columns; expected {width}"
        raise TargetError(_SOURCE_KEY[spec.kind], message)
    _check_values(targets, encoding, model.output_size, _SOURCE_KEY[spec.kind])
    n_steps = targets.shape[0]
    last = n_steps - 1 if spec.loss_to is None else spec.loss_to
    if last >= n_steps:
        message = f"step {last} has no target: the targets cover steps 0..{n_steps - 1}"
        if spec.shift:
            message += f" (with shift {spec.shift}, the last {spec.shift} step(s) have none)"
        raise TargetError("loss_to", message)
    first = loss_start(spec, config.inputs)
    if first > last:
        message = f"the targets end at step {last}, before loss_from ({first})"
        raise TargetError("loss_from", message)
    derived = config.recorded_derived()
    plan = LossPlan(
        kind=spec.loss,
        encoding=encoding,
        n_steps=n_steps,
        window=(first, last),
        quantities=tuple(q for q in LOSS_QUANTITIES if q in derived),
    )
    return targets, plan
