"""The experiment file's schema, as pydantic models (see "The experiment file"
in the README).

Strict: unknown keys, strings for numbers, NaN and infinities are errors. Each
form of ``model.weights`` and ``inputs`` is a member of a discriminated union,
so pydantic chooses the form and reports that form's errors; values that can
take several YAML shapes (a count or a list of seeds, ...) are unions chosen
by shape, so an error speaks of the shape that was written. Conditions offer
every gate rule with its parameters, read from the rules themselves
(:mod:`stochlstm.core.gates`).

Reading files, line numbers, ``--set``, sweeps and the checks across sections
are :mod:`stochlstm.experiment.load`; nothing here builds arrays or reads data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..core.conditions import Condition
from ..core.errors import FieldError
from ..core.gates import GATE_RULES, GateRule
from ..core.names import CELL_QUANTITIES, DERIVED_QUANTITIES

__all__ = ["ConditionSpec", "ExperimentConfig", "InputsSpec", "WeightsSpec", "fail"]

# Words pandas reads back as missing values, numbers or booleans.
_RESERVED_NAMES = frozenset({"na", "nan", "null", "none", "inf", "infinity", "true", "false"})
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_CONDITION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def fail(message: str, key: str | None = None):
    """Raise a validation error whose message is exactly ``message``; ``key``
    names the field it is about, below the one being validated."""
    raise PydanticCustomError("stochlstm", "{msg}", {"msg": message, "key": key})


class Strict(BaseModel):
    """No unknown keys, no strings for numbers, no NaN; immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _shape_of(value) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (dict, BaseModel)):
        return "mapping"
    return None


def _one_of(expected: str, **members):
    """A union whose member is chosen by the YAML shape of the value (number,
    string, list, mapping), so an error speaks of that member only."""

    def choose(value):
        shape = _shape_of(value)
        return f"<{shape}>" if shape in members else None

    return Annotated[
        Union[tuple(Annotated[tp, Tag(f"<{shape}>")] for shape, tp in members.items())],  # noqa: UP007
        Discriminator(choose, custom_error_type="shape", custom_error_message=expected),
    ]


def _unique(values):
    if isinstance(values, list):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            fail(f"listed more than once: {', '.join(repeated)}")
    return values


def _name(pattern: re.Pattern, message: str):
    def check(name: str) -> str:
        if not pattern.fullmatch(name) or name.lower() in _RESERVED_NAMES:
            fail(message.format(name=name))
        return name

    return AfterValidator(check)


def _resolve_file(value: str, info: ValidationInfo) -> str:
    """A path relative to the experiment file's folder, made absolute."""
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None:
        return value
    return str((Path(base_dir) / Path(value).expanduser()).resolve())


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
FilePath = Annotated[str, Field(min_length=1)]
Matrix = list[list[float]]
Vector = list[float]


def _float_or_list(**bounds):
    number = Annotated[float, Field(**bounds)]
    return _one_of(
        "expected a number or a list of numbers, one per input column",
        number=number,
        list=Annotated[list[number], Field(min_length=1)],
    )


class SeedRange(Strict):
    """``count`` consecutive seeds from ``start``."""

    start: NonNegativeInt = 0
    count: PositiveInt


def seed_list(seeds: int | list[int] | SeedRange) -> list[int]:
    """The seeds a ``seeds`` entry names, in order."""
    if isinstance(seeds, SeedRange):
        return list(range(seeds.start, seeds.start + seeds.count))
    return list(seeds) if isinstance(seeds, list) else list(range(seeds))


Seeds = _one_of(
    "expected a count of seeds (0..N-1), a list of seeds, or {start, count}",
    number=PositiveInt,
    list=Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_unique)],
    mapping=SeedRange,
)


# --------------------------------------------------------------------------- the model


class _WeightsForm(Strict):
    """Keys every form of ``model.weights`` takes: a readout (``W_y, b_y`` or
    ``readout_weight, readout_bias``) and the ``seed`` a missing readout is drawn from."""

    form: ClassVar[str]
    seed: NonNegativeInt | None = None
    W_y: Matrix | None = None
    b_y: Vector | None = None
    readout_weight: Matrix | None = None
    readout_bias: Vector | None = None

    @model_validator(mode="after")
    def _one_readout(self):
        if self.readout_weight is not None or self.readout_bias is not None:
            for key in ("W_y", "b_y"):
                if getattr(self, key) is not None:
                    second = "readout_weight" if self.readout_weight is not None else "readout_bias"
                    fail(f"a second readout beside {key}; give one", key=second)
        return self

    def readout(self) -> tuple[Matrix | None, Vector | None, dict[str, str]]:
        """The readout given, if any, with the user's names for its arrays."""
        if self.readout_weight is not None or self.readout_bias is not None:
            return self.readout_weight, self.readout_bias, {}
        return self.W_y, self.b_y, {"readout_weight": "W_y", "readout_bias": "b_y"}


class RandomWeights(_WeightsForm):
    form: ClassVar[str] = "random initialisation"
    init: Literal["uniform"]
    seed: NonNegativeInt = 0


class TorchWeights(_WeightsForm):
    form: ClassVar[str] = "PyTorch layout"
    weight_ih: Matrix
    weight_hh: Matrix
    bias_ih: Vector | None = None
    bias_hh: Vector | None = None


class KerasWeights(_WeightsForm):
    form: ClassVar[str] = "Keras layout"
    kernel: Matrix
    recurrent_kernel: Matrix
    bias: Vector | None = None


class PerGateWeights(_WeightsForm):
    form: ClassVar[str] = "per-gate form"
    W_i: Matrix
    W_f: Matrix
    W_C: Matrix
    W_o: Matrix
    b_i: Vector | None = None
    b_f: Vector | None = None
    b_C: Vector | None = None
    b_o: Vector | None = None


class FileWeights(_WeightsForm):
    form: ClassVar[str] = "file"
    file: FilePath
    layout: Literal["torch", "keras"] = "torch"
    prefix: str | None = None

    @field_validator("file")
    @classmethod
    def _relative_to_experiment(cls, file: str, info: ValidationInfo) -> str:
        return _resolve_file(file, info)


WEIGHT_FORMS: tuple[type[_WeightsForm], ...] = (
    RandomWeights,
    TorchWeights,
    KerasWeights,
    PerGateWeights,
    FileWeights,
)


COMMON_WEIGHT_KEYS: tuple[str, ...] = tuple(_WeightsForm.model_fields)


def form_keys(form: type[_WeightsForm]) -> list[str]:
    """The keys that make a mapping this form of weights."""
    return [key for key in form.model_fields if key not in COMMON_WEIGHT_KEYS]


def _weights_form(value) -> str | None:
    if isinstance(value, _WeightsForm):
        return f"<{value.form}>"
    if not isinstance(value, dict):
        return None
    forms = {form.form for form in WEIGHT_FORMS for key in form_keys(form) if key in value}
    return f"<{forms.pop()}>" if len(forms) == 1 else None


# Union members are tagged "<...>": a tag in an error's location is not a key.
WeightsSpec = Annotated[
    Union[tuple(Annotated[form, Tag(f"<{form.form}>")] for form in WEIGHT_FORMS)],  # noqa: UP007
    Discriminator(_weights_form, custom_error_type="weights_form", custom_error_message=""),
]


class ModelSpec(Strict):
    """Sizes and weights. ``output_size > 0`` adds the readout ``y = sigmoid(W_y h + b_y)``."""

    input_size: PositiveInt
    hidden_size: PositiveInt
    output_size: NonNegativeInt = 0
    weights: WeightsSpec = RandomWeights(init="uniform")


StateVector = _one_of(
    "expected zeros or a list of hidden_size numbers",
    string=Literal["zeros"],
    list=list[float],
)


class InitialState(Strict):
    h: StateVector = "zeros"
    c: StateVector = "zeros"


# --------------------------------------------------------------------------- inputs

Numbers = _float_or_list()
Steps = PositiveInt


class ConstantInputs(Strict):
    kind: Literal["constant"]
    value: Numbers
    steps: Steps


class SequenceInputs(Strict):
    kind: Literal["sequence"]
    values: Annotated[list[Numbers], Field(min_length=1)]


class GaussianInputs(Strict):
    kind: Literal["gaussian"]
    mean: Numbers = 0.0
    sd: _float_or_list(ge=0) = 1.0
    steps: Steps
    seed: NonNegativeInt = 0
    per_seed: bool = False


class SineInputs(Strict):
    kind: Literal["sine"]
    amplitude: Numbers = 1.0
    period: _float_or_list(gt=0)
    phase: Numbers = 0.0
    offset: Numbers = 0.0
    steps: Steps


class EpidemicInputs(Strict):
    kind: Literal["epidemic"]
    population: PositiveInt
    infected: NonNegativeInt = 1
    beta: Annotated[float, Field(ge=0)]
    gamma: Annotated[float, Field(ge=0)]
    steps: Steps
    seed: NonNegativeInt = 0
    per_seed: bool = False
    observe: Literal["new_cases", "infected"] = "new_cases"
    scale: _one_of(
        "expected population, max, none or a positive number",
        string=Literal["population", "max", "none"],
        number=Annotated[float, Field(gt=0)],
    ) = "population"

    @field_validator("infected")
    @classmethod
    def _at_most_population(cls, infected: int, info: ValidationInfo) -> int:
        population = info.data.get("population")
        if population is not None and infected > population:
            fail(f"must be at most the population ({population}), got {infected}")
        return infected


class CsvInputs(Strict):
    kind: Literal["csv"]
    file: FilePath
    columns: Annotated[list[str], Field(min_length=1), AfterValidator(_unique)]
    start: NonNegativeInt | None = None
    stop: NonNegativeInt | None = None
    normalize: Literal["none", "zscore", "minmax"] = "none"

    @field_validator("file")
    @classmethod
    def _relative_to_experiment(cls, file: str, info: ValidationInfo) -> str:
        return _resolve_file(file, info)

    @field_validator("stop")
    @classmethod
    def _after_start(cls, stop, info: ValidationInfo):
        start = info.data.get("start")
        if stop is not None and start is not None and stop <= start:
            fail(f"must be greater than start ({start}), got {stop}")
        return stop


INPUT_KINDS = {
    "constant": ConstantInputs,
    "sequence": SequenceInputs,
    "gaussian": GaussianInputs,
    "sine": SineInputs,
    "epidemic": EpidemicInputs,
    "csv": CsvInputs,
}


def _input_kind(value):
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"<{kind}>" if kind in INPUT_KINDS else None


InputsSpec = Annotated[
    Union[tuple(Annotated[model, Tag(f"<{kind}>")] for kind, model in INPUT_KINDS.items())],  # noqa: UP007
    Discriminator(_input_kind, custom_error_type="input_kind", custom_error_message=""),
]


# --------------------------------------------------------------------------- conditions


def _rule_name(name: str) -> str:
    if name not in GATE_RULES:
        fail(f"unknown gate rule {name!r}; expected one of: {', '.join(GATE_RULES)}")
    return name


def _rule_spec(rule: type[GateRule]) -> type[BaseModel]:
    """``{rule: <name>, <parameter>: ...}`` for one rule, its parameters as fields
    (a parameter left out is the condition's, else the rule's default)."""
    parameters = {name: (annotation | None, None) for name, annotation in rule.parameters().items()}
    return create_model(
        f"{rule.__name__}Spec", __base__=Strict, rule=(Literal[rule.name], ...), **parameters
    )


GateChoice = _one_of(
    "expected a gate rule name or {rule: ..., <parameter>: ...}",
    string=Annotated[str, AfterValidator(_rule_name)],
    mapping=Annotated[
        Union[tuple(Annotated[_rule_spec(r), Tag(f"<{n}>")] for n, r in GATE_RULES.items())],  # noqa: UP007
        Discriminator(
            lambda value: f"<{value['rule']}>" if value.get("rule") in GATE_RULES else None,
            custom_error_type="gate_rule",
            custom_error_message="",
        ),
    ],
)


class Zoneout(Strict):
    """Probability of keeping the previous value of each unit of ``c`` / ``h``."""

    c: Probability = 0.0
    h: Probability = 0.0


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


Quantities = _one_of(
    f"expected all or a list of quantities from: {', '.join(CELL_QUANTITIES)}",
    string=Literal["all"],
    list=Annotated[list[Literal[CELL_QUANTITIES]], Field(min_length=1), AfterValidator(_unique)],
)


def _derived_name(name: str) -> str:
    if name not in DERIVED_QUANTITIES:
        fail(f"unknown derived quantity {name!r}; expected one of: {', '.join(DERIVED_QUANTITIES)}")
    return name


class RecordSpec(Strict):
    """What trajectories keep (summaries always use every seed and step)."""

    quantities: Quantities = "all"
    seeds: _one_of(
        "expected a number of sample paths or a list of seeds",
        number=NonNegativeInt,
        list=Annotated[list[NonNegativeInt], AfterValidator(_unique)],
    ) = 20
    every: PositiveInt = 1
    units: _one_of(
        "expected all or a list of unit indices",
        string=Literal["all"],
        list=Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_unique)],
    ) = "all"
    initial_state: bool = False
    # derived quantities streamed into the summary (each for the conditions it applies to)
    derived: _one_of(
        f"expected all, none or a list of derived quantities from: {', '.join(DERIVED_QUANTITIES)}",
        string=Literal["all", "none"],
        list=Annotated[
            list[Annotated[str, AfterValidator(_derived_name)]],
            Field(min_length=1),
            AfterValidator(_unique),
        ],
    ) = "all"


class OutputSpec(Strict):
    dir: FilePath = "results"
    format: Literal["csv", "parquet"] = "csv"
    figures: bool = True
    figure_formats: Annotated[
        list[Literal["png", "pdf", "svg"]], Field(min_length=1), AfterValidator(_unique)
    ] = ["png", "pdf"]


AutoOrCount = _one_of(
    "expected auto or an integer >= 1", string=Literal["auto"], number=PositiveInt
)


class ExecutionSpec(Strict):
    batch_size: AutoOrCount = "auto"
    memory_budget_mb: PositiveInt = 512
    jobs: PositiveInt = 1
    threads: AutoOrCount = "auto"


# --------------------------------------------------------------------------- the experiment


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
        _name(
            _EXPERIMENT_NAME,
            "{name!r} cannot name a folder: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 100)",
        ),
    ]
    description: str = ""
    seeds: Seeds = 100
    root_seed: NonNegativeInt = 0
    dtype: Literal["float64", "float32"] = "float64"
    baseline: str | None = None
    model: ModelSpec
    initial_state: InitialState = InitialState()
    inputs: InputsSpec
    conditions: Annotated[
        dict[
            Annotated[
                str,
                _name(
                    _CONDITION_NAME,
                    "condition name {name!r} cannot be a CSV value: use a letter, then letters, "
                    "digits, '_' or '-' (at most 64), and not na/nan/null/none/inf/true/false",
                ),
            ],
            ConditionSpec,
        ],
        Field(min_length=1),
    ]
    record: RecordSpec = RecordSpec()
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    output: OutputSpec = OutputSpec()
    execution: ExecutionSpec = ExecutionSpec()

    # where it came from (stochlstm.experiment.load): the file, its lines, overrides
    _source: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fill_baseline(self):
        if self.baseline is not None:
            if self.baseline not in self.conditions:
                fail(
                    f"unknown condition {self.baseline!r}; "
                    f"the conditions are: {', '.join(self.conditions)}",
                    key="baseline",
                )
            return self
        built = self.build_conditions()
        for test in (lambda c: c == Condition(), lambda c: c.is_deterministic):
            name = next((name for name, c in built.items() if test(c)), None)
            if name is not None:
                object.__setattr__(self, "baseline", name)
                return self
        name = next(
            n for n in ("deterministic", "baseline", "deterministic-baseline") if n not in built
        )
        object.__setattr__(self, "conditions", {**self.conditions, name: ConditionSpec()})
        object.__setattr__(self, "baseline", name)
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

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def seed_list(self) -> list[int]:
        """The run's seeds, in order."""
        return seed_list(self.seeds)

    def recorded_seeds(self) -> list[int]:
        """The seeds whose sample paths go to the trajectories: the first
        ``record.seeds`` of :meth:`seed_list`, or the list given."""
        if isinstance(self.record.seeds, list):
            return list(self.record.seeds)
        return self.seed_list()[: self.record.seeds]

    def recorded_quantities(self) -> list[str]:
        """The recorded cell quantities; ``all`` is every quantity the model has."""
        if self.record.quantities == "all":
            return [q for q in CELL_QUANTITIES if q != "y" or self.model.output_size > 0]
        return list(self.record.quantities)

    def recorded_derived(self) -> list[str]:
        """The derived quantities to stream (``record.derived``), in the
        summary's order (:data:`~stochlstm.core.names.DERIVED_QUANTITIES`)."""
        chosen = self.record.derived
        chosen = {"all": DERIVED_QUANTITIES, "none": ()}[chosen] if isinstance(chosen, str) else chosen
        return [name for name in DERIVED_QUANTITIES if name in chosen]

    def recorded_units(self) -> list[int]:
        if self.record.units == "all":
            return list(range(self.model.hidden_size))
        return list(self.record.units)

    def build_conditions(self) -> dict[str, Condition]:
        """``{name: Condition}`` in file order."""
        return {name: spec.build() for name, spec in self.conditions.items()}

    def build_initial_state(self) -> dict[str, np.ndarray]:
        """``{"h": (H,), "c": (H,)}`` float64, as :func:`~stochlstm.engine.simulate.simulate` takes it."""
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
        return header + yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
        )
