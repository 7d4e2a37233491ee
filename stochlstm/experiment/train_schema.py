"""The experiment file's ``train`` block: training LSTMs under the conditions'
gating rules (``stochlstm train``; the code is :mod:`stochlstm.train`).

Pydantic models only, strict like the rest of the schema. A file with a
``train`` block may leave out ``inputs``: the task gives the sequences. What
needs several sections (the task's input size against ``model.input_size``,
which conditions can be trained) is checked by :func:`training_problems`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..core.gates import GATE_RULES
from .fields import PositiveInt, Strict, UniqueList, fail, key_of, union

__all__ = [
    "TRAINABLE_RULES",
    "AddingTask",
    "CopyTask",
    "TrainSpec",
    "task_sizes",
    "training_problems",
]

PositiveFloat = Annotated[float, Field(gt=0)]

# Gate rules a condition can train with (threshold has no gradient: evaluation only).
TRAINABLE_RULES = ("deterministic", "bernoulli", "concrete")


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


TASK_KINDS = {"adding": AddingTask, "copy": CopyTask}
TaskSpec = union(TASK_KINDS, key_of("kind"), "task_kind")


def task_sizes(task) -> tuple[int, int, str]:
    """``(input size, output size, readout)`` of a task: readout ``linear`` or ``softmax``."""
    if task.kind == "adding":
        return 2, 1, "linear"
    return task.symbols + 2, task.symbols, "softmax"


class OptimizerSpec(Strict):
    kind: Literal["adam", "sgd"] = "adam"
    lr: PositiveFloat = 0.005


class TemperatureSchedule(Strict):
    """Temperature of concrete gates, geometric from ``start`` (iteration 0) to
    ``end`` (the last iteration)."""

    start: PositiveFloat = 1.0
    end: PositiveFloat = 0.1


class EvaluateSpec(Strict):
    """Each trained model under each rule in ``under``, over the run's noise
    seeds: noise seed number ``k`` (in the run's seed order) runs test example
    ``k mod examples``."""

    under: Annotated[list[str], Field(min_length=1), UniqueList] = [
        "deterministic",
        "bernoulli",
        "threshold",
    ]
    examples: PositiveInt = 1000

    @model_validator(mode="after")
    def _known_rules(self):
        known = [rule for rule in GATE_RULES if rule != "concrete"]
        for name in self.under:
            if name not in known:
                fail(
                    f"unknown test-time rule {name!r}; expected one of: {', '.join(known)}", "under"
                )
        return self


class TrainSpec(Strict):
    """``train:`` training seeds (each: initialisation, data and gate noise),
    iterations of ``batch_size`` sequences, the optimizer, the validation and
    checkpoint intervals (in iterations) and what the evaluation runs."""

    task: TaskSpec
    seeds: PositiveInt = 3
    iterations: PositiveInt = 1000
    batch_size: PositiveInt = 64
    optimizer: OptimizerSpec = OptimizerSpec()
    temperature: TemperatureSchedule | None = None
    validation_examples: PositiveInt = 512
    validate_every: PositiveInt = 50
    checkpoint_every: PositiveInt = 100
    threads: PositiveInt = 1
    evaluate: EvaluateSpec = EvaluateSpec()


def training_problems(config) -> list[tuple[tuple, str]]:
    """``(key path, message)`` for what the ``train`` block of a validated
    config cannot do with its model and conditions."""
    train = config.train
    problems: list[tuple[tuple, str]] = []
    if train is None:
        return [((), "this experiment file has no train block")]
    input_size, output_size, readout = task_sizes(train.task)
    model = config.model
    if model.input_size != input_size:
        problems.append(
            (
                ("model", "input_size"),
                f"must be {input_size} for the {train.task.kind} task, got {model.input_size}",
            )
        )
    if model.output_size not in (0, output_size):
        problems.append(
            (
                ("model", "output_size"),
                f"must be {output_size} (a {readout} readout) for the {train.task.kind} task, "
                f"got {model.output_size}",
            )
        )
    if getattr(model.weights, "init", None) != "uniform":
        problems.append(
            (("model", "weights"), "training starts from {init: uniform, seed: ...} weights")
        )
    for name, condition in config.build_conditions().items():
        for gate in ("input", "forget", "output"):
            rule = getattr(condition, gate).name
            if rule not in TRAINABLE_RULES:
                problems.append(
                    (
                        ("conditions", name),
                        f"the {gate} gate's rule {rule} cannot be trained (no gradient); "
                        f"train with {', '.join(TRAINABLE_RULES)} and evaluate under {rule}",
                    )
                )
        for option, standard in (
            ("candidate", "tanh"),
            ("cell_output", "tanh"),
            ("noise", "fresh"),
        ):
            if getattr(condition, option) != standard:
                problems.append(
                    (("conditions", name, option), f"training supports {option}: {standard} only")
                )
    return problems
