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
from .fields import PositiveInt, Strict, UniqueList, fail
from .task_forms import TaskSpec, task_sizes

__all__ = ["TRAINABLE_RULES", "EvaluateSpec", "TrainSpec", "training_problems"]

PositiveFloat = Annotated[float, Field(gt=0)]

# Gate rules a condition can train with (threshold has no gradient: evaluation only).
TRAINABLE_RULES = ("deterministic", "bernoulli", "concrete")


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
    seeds, as ``stochlstm run`` runs the run directory's ``evaluate.yaml``: noise
    seed ``s`` runs test example ``s`` of the training seed (the test series
    itself for a CSV forecast)."""

    under: Annotated[list[str], Field(min_length=1), UniqueList] = [
        "deterministic",
        "bernoulli",
        "threshold",
    ]

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
    checkpoint intervals (in iterations), which weights are kept (after the
    last iteration, or at the validation record with the lowest loss) and
    what the evaluation runs."""

    task: TaskSpec
    seeds: PositiveInt = 3
    iterations: PositiveInt = 1000
    batch_size: PositiveInt = 64
    optimizer: OptimizerSpec = OptimizerSpec()
    temperature: TemperatureSchedule | None = None
    validation_examples: PositiveInt = 512
    validate_every: PositiveInt = 50
    checkpoint_every: PositiveInt = 100
    keep: Literal["last", "best"] = "last"  # best: the lowest validation loss (early stopping)
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
    if model.num_layers != 1:
        message = f"training supports one layer, got {model.num_layers}"
        problems.append((("model", "num_layers"), message))
    if "readout" in model.model_fields_set and model.readout.kind != readout:
        problems.append(
            (
                ("model", "readout"),
                f"the {train.task.kind} task trains a {readout} readout, got {model.readout.kind}",
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
