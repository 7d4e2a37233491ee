"""The forms of the experiment file's ``targets`` block and of ``normalize``
(CSV inputs and CSV targets), as pydantic models. Building them is
:mod:`stochlstm.experiment.targets` and :mod:`stochlstm.experiment.csv_inputs`.

``targets`` says what the readout ``y`` should have been at each step, as a
sequence aligned with the inputs (row ``t`` is the target of the step that
consumed ``x_t``), and how a prediction is scored (``loss``, over the steps
``loss_from..loss_to``). Every form takes ``shift: k``: the target of step
``t`` is the form's row ``t + k``, so the last ``k`` steps have no target
(and no loss).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .fields import (
    FilePath,
    NonNegativeInt,
    Strict,
    UniqueList,
    fail,
    key_of,
    numbers,
    one_of,
    stop_after_start,
    union,
)

__all__ = [
    "LOSSES",
    "TARGET_KINDS",
    "FitRows",
    "NormalizeConstants",
    "NormalizeFit",
    "NormalizeSpec",
    "TargetsSpec",
]

LOSSES = ("mse", "cross_entropy", "accuracy")


# --------------------------------------------------------------------------- normalize


class FitRows(Strict):
    """Data rows ``start <= row < stop`` of the file (row 0 is the first after the header)."""

    start: NonNegativeInt = 0
    stop: NonNegativeInt | None = None

    _after_start = field_validator("stop")(stop_after_start)


class NormalizeConstants(Strict):
    """``(x - mean) / sd`` per column, with the constants given (one number, or one per column)."""

    mean: numbers()
    sd: numbers(gt=0)


class NormalizeFit(Strict):
    """``(x - mean) / sd`` per column, mean and population sd (ddof 0) of the file's ``fit_rows``."""

    fit_rows: FitRows


def _normalize_form(value) -> str | None:
    if isinstance(value, NormalizeFit) or (isinstance(value, dict) and "fit_rows" in value):
        return "fit"
    return "constants"


NormalizeSpec = one_of(
    "expected none, zscore, minmax, {mean: ..., sd: ...} or {fit_rows: {start, stop}}",
    string=Literal["none", "zscore", "minmax"],
    mapping=union(
        {"constants": NormalizeConstants, "fit": NormalizeFit}, _normalize_form, "normalize_form"
    ),
)


# --------------------------------------------------------------------------- targets


class _TargetsForm(Strict):
    """Keys of every form: the loss and its window, and the shift."""

    kind: str  # each form's own literal
    shift: NonNegativeInt = 0
    loss: Literal[LOSSES] = "mse"
    loss_from: NonNegativeInt = 0
    loss_to: NonNegativeInt | None = None  # default: the last step with a target

    @model_validator(mode="after")
    def _window(self):
        if self.loss_to is not None and self.loss_to < self.loss_from:
            fail(f"must be >= loss_from ({self.loss_from}), got {self.loss_to}", key="loss_to")
        return self


ColumnChoice = Annotated[
    list[NonNegativeInt | str], Field(min_length=1), UniqueList
]  # input column indices, or names of the columns of CSV inputs


class InputTargets(_TargetsForm):
    """The inputs themselves (``columns``: all by default), ``shift`` steps ahead."""

    kind: Literal["inputs"]
    columns: ColumnChoice | None = None


class CsvTargets(_TargetsForm):
    """Columns of a CSV file; without ``file``, the inputs' file and rows."""

    kind: Literal["csv"]
    file: FilePath | None = None
    columns: Annotated[list[str], Field(min_length=1), UniqueList]
    start: NonNegativeInt | None = None
    stop: NonNegativeInt | None = None
    normalize: NormalizeSpec = "none"

    _after_start = field_validator("stop")(stop_after_start)


class SequenceTargets(_TargetsForm):
    """An explicit sequence: ``values[t]`` is the target of step ``t``."""

    kind: Literal["sequence"]
    values: Annotated[list[numbers()], Field(min_length=1)]


class EpidemicTargets(_TargetsForm):
    """Another count of the outbreak behind the ``epidemic`` inputs (the same
    outbreak at every seed, or each seed's with ``per_seed``); ``scale``
    defaults to the inputs'."""

    kind: Literal["epidemic"]
    observe: Literal["new_cases", "infected", "susceptible", "recovered"]
    scale: (
        one_of(
            "expected population, max, none or a positive number",
            string=Literal["population", "max", "none"],
            number=Annotated[float, Field(gt=0)],
        )
        | None
    ) = None


class TaskTargets(_TargetsForm):
    """The answers of the ``adding`` or ``copy`` inputs' examples (the sum of the
    marked values; the symbols, one class index per step), from the same
    draws; by default the loss window is the steps the task scores (adding:
    the last; copy: the last ``length``), and the earlier steps carry the
    first scored step's target."""

    kind: Literal["task"]
    loss_from: NonNegativeInt | None = None  # default: the task's first scored step

    @model_validator(mode="after")
    def _window(self):
        first = self.loss_from or 0
        if self.loss_to is not None and self.loss_to < first:
            fail(f"must be >= loss_from ({first}), got {self.loss_to}", key="loss_to")
        return self


TARGET_KINDS = {
    "inputs": InputTargets,
    "csv": CsvTargets,
    "sequence": SequenceTargets,
    "epidemic": EpidemicTargets,
    "task": TaskTargets,
}
TargetsSpec = union(TARGET_KINDS, key_of("kind"), "target_kind")
