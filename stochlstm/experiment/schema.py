"""The experiment file's schema, as pydantic models (see "The experiment file"
in the README).

Strict: unknown keys, strings for numbers, NaN and infinities are errors
(:mod:`stochlstm.experiment.fields`). The forms of ``model.weights`` and
``inputs`` are discriminated unions (:mod:`stochlstm.experiment.forms`); values
that can take several YAML shapes (a count or a list of seeds, ...) are unions
chosen by shape, so an error speaks of the shape that was written. Conditions
offer every gate rule with its parameters, read from the rules themselves
(:mod:`stochlstm.core.gates`).

Reading files, line numbers, ``--set``, sweeps and the checks across sections
are :mod:`stochlstm.experiment.load`; nothing here builds arrays or reads data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PrivateAttr,
    create_model,
    model_validator,
)

from ..core.conditions import Condition
from ..core.errors import FieldError
from ..core.gates import GATE_RULES, GateRule
from ..core.names import CELL_QUANTITIES, DERIVED_QUANTITIES, DERIVED_SOURCES, LOSS_QUANTITIES
from ..core.weights import READOUT_KINDS
from . import yaml_dialect
from .fields import (
    NonNegativeInt,
    PositiveInt,
    Seed,
    SeedCount,
    SeedRange,
    Strict,
    UniqueList,
    Vector,
    fail,
    key_of,
    named,
    one_of,
    seed_list,
    seed_range,
    union,
)
from .forms import InputsSpec, RandomWeights, WeightsSpec
from .target_forms import TargetsSpec
from .train_schema import TrainSpec

__all__ = ["ConditionSpec", "ExperimentConfig", "ModelSpec"]


class ReadoutSpec(Strict):
    """The readout's kind: ``y = sigmoid(z)``, ``y = z`` or ``y = softmax(z)``, ``z = W_y h + b_y``."""

    kind: Literal[READOUT_KINDS] = "sigmoid"


def _readout_block(value):
    """``readout: linear`` is ``readout: {kind: linear}``."""
    return ReadoutSpec(kind=value) if isinstance(value, str) else value


Readout = Annotated[
    one_of(
        f"expected {', '.join(READOUT_KINDS)} or {{kind: ...}}",
        string=Literal[READOUT_KINDS],
        mapping=ReadoutSpec,
    ),
    AfterValidator(_readout_block),
]


class ModelSpec(Strict):
    """Sizes, layers, readout and weights. ``output_size > 0`` adds the readout
    ``y`` on the last layer's ``h``, of ``readout`` kind (sigmoid by default)."""

    input_size: PositiveInt
    hidden_size: PositiveInt
    num_layers: PositiveInt = 1
    output_size: NonNegativeInt = 0
    readout: Readout = ReadoutSpec()
    weights: WeightsSpec = RandomWeights(init="uniform")

    @model_validator(mode="after")
    def _readout_fits(self):
        kind = self.readout.kind
        if kind == "softmax" and self.output_size < 2:
            fail(
                f"softmax needs output_size >= 2 (model.output_size is {self.output_size})",
                "readout",
            )
        if kind != "sigmoid" and self.output_size == 0:
            fail(f"a {kind} readout needs model.output_size >= 1", "readout")
        return self


StateVector = one_of(
    "expected zeros or a list of hidden_size numbers", string=Literal["zeros"], list=Vector
)


class InitialState(Strict):
    h: StateVector = "zeros"
    c: StateVector = "zeros"


# --------------------------------------------------------------------------- conditions


def _rule_name(name: str) -> str:
    if name not in GATE_RULES:
        fail(f"unknown gate rule {name!r}; expected one of: {', '.join(GATE_RULES)}")
    return name


def _rule_spec(rule: type[GateRule]) -> type[BaseModel]:
    """``{rule: <name>, <parameter>: ...}`` for one rule, its parameters as fields
    (a parameter left out is the condition's, else the rule's default)."""
    parameters = {name: (annotation | None, None) for name, annotation in rule.parameters().items()}
    rule_field = (Literal[rule.name], ...)
    return create_model(f"{rule.__name__}Spec", __base__=Strict, rule=rule_field, **parameters)


GateChoice = one_of(
    "expected a gate rule name or {rule: ..., <parameter>: ...}",
    string=Annotated[str, AfterValidator(_rule_name)],
    mapping=union(
        {name: _rule_spec(rule) for name, rule in GATE_RULES.items()},
        key_of("rule"),
        "gate_rule",
    ),
)


class Zoneout(Strict):
    """Probability of keeping the previous value of each unit of ``c`` / ``h``."""

    c: Annotated[float, Field(ge=0, le=1)] = 0.0
    h: Annotated[float, Field(ge=0, le=1)] = 0.0


class _ConditionBase(Strict):
    """One arm of the comparison; ``{}`` is the standard (deterministic) LSTM.
    The keys are :class:`~stochlstm.core.conditions.Condition`'s keywords."""

    gates: GateChoice | None = None
    input: GateChoice | None = None
    forget: GateChoice | None = None
    output: GateChoice | None = None
    zoneout: Zoneout = Zoneout()
    forget_semantics: Literal["standard", "erase"] = "standard"
    candidate: Literal["tanh", "binary"] = "tanh"
    cell_output: Literal["tanh", "binary"] = "tanh"
    noise: Literal["fresh", "fixed"] = "fresh"
    layers: Annotated[list[NonNegativeInt], Field(min_length=1), UniqueList] | None = None

    _condition: Condition = PrivateAttr()

    @model_validator(mode="after")
    def _build(self):
        try:
            self._condition = Condition(**self.model_dump(exclude_none=True))
        except FieldError as error:
            fail(error.detail, key=error.field)
        return self

    def build(self) -> Condition:
        return self._condition


# Every rule parameter can be given for the whole condition (``temperature: 0.5``).
ConditionSpec = create_model(
    "ConditionSpec",
    __base__=_ConditionBase,
    **{
        name: (annotation | None, None)
        for rule in GATE_RULES.values()
        for name, annotation in rule.parameters().items()
    },
)


# --------------------------------------------------------------------------- recording, output


def _derived_name(name: str) -> str:
    if name not in DERIVED_QUANTITIES:
        fail(f"unknown derived quantity {name!r}; expected one of: {', '.join(DERIVED_QUANTITIES)}")
    return name


class RecordSpec(Strict):
    """What trajectories keep (summaries always use every seed and step), and
    which derived quantities the summary has (each for the conditions it applies
    to): ``auto``, the default, those formed from recorded quantities only
    (:data:`~stochlstm.core.names.DERIVED_SOURCES`: ``dev_c`` and ``div_c`` with
    ``c``, ``retention`` with ``f``, ``sat_i`` with ``p_i``, ``flip_i`` with
    ``i`` and ``p_i``, ...)."""

    quantities: one_of(
        f"expected all or a list of quantities from: {', '.join(CELL_QUANTITIES)}",
        string=Literal["all"],
        list=Annotated[list[Literal[CELL_QUANTITIES]], Field(min_length=1), UniqueList],
    ) = "all"
    seeds: one_of(
        "expected a number of sample paths or a list of seeds",
        number=NonNegativeInt,
        list=Annotated[list[Seed], UniqueList],
    ) = 20
    every: PositiveInt = 1
    units: one_of(
        "expected all or a list of unit indices",
        string=Literal["all"],
        list=Annotated[list[NonNegativeInt], Field(min_length=1), UniqueList],
    ) = "all"
    initial_state: bool = False
    layer: one_of(
        "expected last or a layer index", string=Literal["last"], number=NonNegativeInt
    ) = "last"
    derived: one_of(
        "expected auto, all, none or a list of derived quantities from: "
        + ", ".join(DERIVED_QUANTITIES),
        string=Literal["auto", "all", "none"],
        list=Annotated[
            list[Annotated[str, AfterValidator(_derived_name)]], Field(min_length=1), UniqueList
        ],
    ) = "auto"


class OutputSpec(Strict):
    dir: Annotated[str, Field(min_length=1)] = "results"
    format: Literal["csv", "parquet"] = "csv"
    figures: bool = True
    figure_formats: Annotated[
        list[Literal["png", "pdf", "svg"]], Field(min_length=1), UniqueList
    ] = ["png", "pdf"]


AutoOrCount = one_of("expected auto or an integer >= 1", string=Literal["auto"], number=PositiveInt)


class ExecutionSpec(Strict):
    batch_size: AutoOrCount = "auto"
    memory_budget_mb: PositiveInt = 512
    jobs: PositiveInt = 1
    threads: AutoOrCount = "auto"


# --------------------------------------------------------------------------- the experiment

ConditionName = Annotated[
    str,
    named(
        r"[A-Za-z][A-Za-z0-9_-]{0,63}",
        "condition name {name!r} cannot be a CSV value: use a letter, then letters, "
        "digits, '_' or '-' (at most 64), and not na/nan/null/none/inf/true/false",
    ),
]


class ExperimentConfig(Strict):
    """A validated experiment file: build one with
    :func:`~stochlstm.experiment.load.load_experiment` or
    :func:`~stochlstm.experiment.load.parse_experiment`, which also check
    across sections and expand sweeps.

    ``baseline`` is filled in when the file leaves it out: the first standard
    (``{}``) condition, else the first deterministic one, else a
    ``deterministic`` condition added for the purpose. Two configs are equal
    when their contents are, wherever they came from.
    """

    name: Annotated[
        str,
        named(
            r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
            "{name!r} cannot name a folder: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 100)",
        ),
    ]
    description: str = ""
    seeds: one_of(
        "expected a count of seeds (0..N-1), a list of seeds, or {start, count}",
        number=SeedCount,
        list=Annotated[list[Seed], Field(min_length=1), UniqueList],
        mapping=SeedRange,
    ) = 100
    root_seed: NonNegativeInt = 0
    dtype: Literal["float64", "float32"] = "float64"
    baseline: str | None = None
    model: ModelSpec
    initial_state: InitialState = InitialState()
    inputs: InputsSpec | None = None  # required, unless a train block gives the task
    targets: TargetsSpec | None = None  # what y should be, and the loss (target_forms)
    conditions: Annotated[dict[ConditionName, ConditionSpec], Field(min_length=1)]
    record: RecordSpec = RecordSpec()
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    output: OutputSpec = OutputSpec()
    execution: ExecutionSpec = ExecutionSpec()
    train: TrainSpec | None = None  # stochlstm train (stochlstm.experiment.train_schema)

    # where it came from (a stochlstm.experiment.load.Source): the file, its lines, overrides
    _source: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fill_baseline(self):
        conditions = self.build_conditions()
        if self.baseline is not None:
            if self.baseline not in conditions:
                known = ", ".join(conditions)
                fail(
                    f"unknown condition {self.baseline!r}; the conditions are: {known}", "baseline"
                )
            return self
        standard = [name for name, c in conditions.items() if c == Condition()]
        deterministic = [name for name, c in conditions.items() if c.is_deterministic]
        baseline = next(iter(standard + deterministic), None)
        if baseline is None:
            baseline = next(
                n for n in ("deterministic", "baseline", "standard") if n not in conditions
            )
            object.__setattr__(self, "conditions", {**self.conditions, baseline: ConditionSpec()})
        object.__setattr__(self, "baseline", baseline)
        return self

    @property
    def source_path(self) -> Path | None:
        """The experiment file (absolute), or None for a config parsed from text."""
        return getattr(self._source, "origin", None)

    @property
    def source_text(self) -> str | None:
        """The experiment file as given, before overrides."""
        return getattr(self._source, "text", None)

    def __eq__(self, other) -> bool:
        if not isinstance(other, ExperimentConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def seed_list(self) -> list[int]:
        """The run's seeds, in order."""
        return seed_list(self.seeds)

    def recorded_seeds(self) -> list[int]:
        """The seeds whose sample paths go to the trajectories: the first
        ``record.seeds`` of :meth:`seed_list`, or the list given."""
        if isinstance(self.record.seeds, list):
            return list(self.record.seeds)
        return list(seed_range(self.seeds)[: self.record.seeds])

    def recorded_quantities(self) -> list[str]:
        """The recorded cell quantities; ``all`` is every quantity the model has."""
        if self.record.quantities == "all":
            return [q for q in CELL_QUANTITIES if q != "y" or self.model.output_size > 0]
        return list(self.record.quantities)

    def recorded_derived(self) -> list[str]:
        """The derived quantities the summary has, in its order; ``auto``: those
        whose source quantities are all recorded, and the loss with targets."""
        chosen = self.record.derived
        if chosen == "auto":
            recorded = set(self.recorded_quantities())
            chosen = [n for n, sources in DERIVED_SOURCES.items() if recorded.issuperset(sources)]
            if self.targets is not None:
                chosen += list(LOSS_QUANTITIES)
        elif isinstance(chosen, str):
            chosen = DERIVED_QUANTITIES if chosen == "all" else ()
        return [name for name in DERIVED_QUANTITIES if name in chosen]

    def recorded_layer(self) -> int:
        """The layer whose gates and states are recorded (``record.layer``)."""
        layer = self.record.layer
        return self.model.num_layers - 1 if layer == "last" else layer

    def recorded_units(self) -> list[int]:
        units = self.record.units
        return list(range(self.model.hidden_size)) if units == "all" else list(units)

    def build_conditions(self) -> dict[str, Condition]:
        """``{name: Condition}`` in file order."""
        return {name: spec.build() for name, spec in self.conditions.items()}

    def build_initial_state(self) -> dict[str, np.ndarray]:
        """``{"h": (H,), "c": (H,)}`` float64, as the kernel takes it."""
        hidden = self.model.hidden_size
        return {
            name: np.zeros(hidden) if value == "zeros" else np.array(value, dtype=np.float64)
            for name, value in (("h", self.initial_state.h), ("c", self.initial_state.c))
        }

    def to_resolved_yaml(self) -> str:
        """The validated config as YAML, defaults filled in and overrides
        applied; parsing it gives an equal config."""
        data = self.model_dump(mode="json", exclude_none=True)
        source = getattr(self._source, "origin", None) or getattr(self._source, "file", "<config>")
        header = f"# {self.name}: resolved experiment (defaults filled in) from {source}\n"
        return header + yaml.dump(
            data,
            Dumper=yaml_dialect.Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=None,
            width=100,
        )
