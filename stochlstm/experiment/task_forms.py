"""The learning tasks of the experiment file, as pydantic models: the ``train``
block's ``task`` (:mod:`stochlstm.experiment.train_schema`) and the ``inputs``
kinds ``adding`` and ``copy``, which give ``stochlstm run`` a task's examples
(with ``targets: {kind: task}``, their answers). Making the sequences is
:mod:`stochlstm.experiment.learning_tasks`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .fields import (
    FilePath,
    NonNegativeInt,
    PositiveInt,
    Strict,
    fail,
    infected_at_most_population,
    key_of,
    one_of,
    union,
)

__all__ = [
    "TASK_KINDS",
    "AddingInputs",
    "AddingTask",
    "CopyInputs",
    "CopyTask",
    "CsvSeries",
    "EpidemicSeries",
    "ForecastTask",
    "TaskSpec",
    "task_sizes",
]


class AddingTask(Strict):
    """The adding problem (Hochreiter & Schmidhuber 1997): inputs ``(value, marker)``
    with values in U(0, 1) and two markers, one in each half of the sequence;
    the target is the sum of the two marked values, read at the last step."""

    kind: Literal["adding"]
    steps: Annotated[int, Field(ge=2)] = 50


class CopyTask(Strict):
    """Copy/memory: ``length`` symbols out of ``symbols``, a ``delay`` of blanks,
    then a marker; the model reproduces the symbols in order at the last
    ``length`` steps (softmax readout, cross-entropy; accuracy)."""

    kind: Literal["copy"]
    symbols: Annotated[int, Field(ge=2)] = 8
    length: PositiveInt = 5
    delay: PositiveInt = 10

    @property
    def steps(self) -> int:
        """The sequence's length: the symbols, the delay, the marker and the answer."""
        return 2 * self.length + self.delay


class CsvSeries(Strict):
    """One column of a CSV file, z-scored with the mean and population sd of
    the rows before ``test`` (``normalize: {fit_rows: {start: 0, stop: test}}``).
    Step ``t`` reads row ``t`` and predicts row ``t + 1``; the rows predicted
    split at ``validation`` and ``test``: training predicts rows
    ``1..validation-1``, validation ``validation..test-1``, the test the rest."""

    file: FilePath
    column: Annotated[str, Field(min_length=1)]
    validation: Annotated[int, Field(ge=2)]
    test: Annotated[int, Field(ge=3)]

    @field_validator("test")
    @classmethod
    def _after_validation(cls, test: int, info: ValidationInfo) -> int:
        validation = info.data.get("validation")
        if validation is not None and test <= validation:
            fail(f"must be greater than validation ({validation}), got {test}")
        return test


class EpidemicSeries(Strict):
    """Outbreaks of the stochastic SIR generator (the ``epidemic`` inputs), one
    per example: ``steps + 1`` days, each day's count the input and the next
    day's the target. The test outbreak of run seed ``s`` is that of
    ``inputs: {kind: epidemic, per_seed: true, seed: <training seed>}``."""

    population: PositiveInt
    infected: NonNegativeInt = 1
    beta: Annotated[float, Field(ge=0)]
    gamma: Annotated[float, Field(ge=0)]
    steps: Annotated[int, Field(ge=1)] = 60
    observe: Literal["new_cases", "infected"] = "new_cases"
    scale: one_of(
        "expected population, max, none or a positive number",
        string=Literal["population", "max", "none"],
        number=Annotated[float, Field(gt=0)],
    ) = "population"

    _at_most_population = field_validator("infected")(infected_at_most_population)


class ForecastTask(Strict):
    """One-step forecasting (MSE at every step) of a CSV column (``csv``) or of
    epidemic outbreaks (``epidemic``): exactly one of them."""

    kind: Literal["forecast"]
    csv: CsvSeries | None = None
    epidemic: EpidemicSeries | None = None

    @model_validator(mode="after")
    def _one_series(self):
        if (self.csv is None) == (self.epidemic is None):
            fail(
                "give exactly one series: csv: {file, column, validation, test} or epidemic: {...}"
            )
        return self


TASK_KINDS = {"adding": AddingTask, "copy": CopyTask, "forecast": ForecastTask}
TaskSpec = union(TASK_KINDS, key_of("kind"), "task_kind")


def task_sizes(task) -> tuple[int, int, str]:
    """``(input size, output size, readout)`` of a task: readout ``linear`` or ``softmax``."""
    if task.kind == "adding":
        return 2, 1, "linear"
    if task.kind == "copy":
        return task.symbols + 2, task.symbols, "softmax"
    return 1, 1, "linear"


class AddingInputs(AddingTask):
    """``inputs: {kind: adding}``: examples of the adding problem, drawn from
    the input's ``seed`` (per run seed with ``per_seed``, as gaussian inputs)."""

    seed: NonNegativeInt = 0
    per_seed: bool = False


class CopyInputs(CopyTask):
    """``inputs: {kind: copy}``: examples of the copy task, drawn like adding inputs."""

    seed: NonNegativeInt = 0
    per_seed: bool = False
