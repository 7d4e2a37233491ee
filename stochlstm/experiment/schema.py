"""The experiment file's schema, as pydantic models (see "The experiment file"
in the README).

Strict: unknown keys, strings for numbers, NaN and infinities are errors. Each
form of ``model.weights`` and ``inputs`` is a member of a discriminated union,
so pydantic chooses the form and reports that form's errors; values that can
take several YAML shapes (a count or a list of seeds, ...) are unions chosen
by shape, so an error speaks of the shape that was written. Conditions offer
every gate rule with its parameters, read from the rules themselves
(:mod:`stochlstm.core.gates`). Union members are tagged ``<name>``: a tag in
an error's location is not a key.

Reading files, line numbers, ``--set``, sweeps and the checks across sections
are :mod:`stochlstm.experiment.load`; nothing here builds arrays or reads data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


def fail(message: str, key: str | None = None):
    """Raise a validation error whose message is exactly ``message``; ``key``
    names the field it is about, below the one being validated."""
    raise PydanticCustomError("stochlstm", "{msg}", {"msg": message, "key": key})


class Strict(BaseModel):
    """No unknown keys, no strings for numbers, no NaN; immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _union(members: dict[str, Any], choose: Callable, error: str, message: str = ""):
    """The union of ``members`` whose member is the one ``choose(value)`` names."""

    def tag(value):
        name = choose(value)
        return f"<{name}>" if name in members else None

    return Annotated[
        Union[tuple(Annotated[tp, Tag(f"<{name}>")] for name, tp in members.items())],  # noqa: UP007
        Discriminator(tag, custom_error_type=error, custom_error_message=message),
    ]


def _key(name: str) -> Callable:
    """The value of key ``name`` of a mapping, or of the field of a model."""
    return lambda value: value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _shape(value) -> str | None:
    """The YAML shape of a value: number, string, list or mapping."""
    for shape, types in (
        ("boolean", bool),
        ("number", (int, float)),
        ("string", str),
        ("list", (list, tuple)),
        ("mapping", (dict, BaseModel)),
    ):
        if isinstance(value, types):
            return shape
    return None


def _one_of(expected: str, **members):
    """A union chosen by the YAML shape of the value, so an error speaks of that shape only."""
    return _union(members, _shape, "shape", expected)


def _unique(values):
    if isinstance(values, list):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            fail(f"listed more than once: {', '.join(repeated)}")
    return values


def _name(pattern: str, message: str):
    """A name matching ``pattern`` that pandas does not read back as a missing
    value, a number or a boolean."""

    def check(name: str) -> str:
        reserved = {"na", "nan", "null", "none", "inf", "infinity", "true", "false"}
        if not re.fullmatch(pattern, name) or name.lower() in reserved:
            fail(message.format(name=name))
        return name

    return AfterValidator(check)


def _resolve_file(value: str, info: ValidationInfo) -> str:
    """A path relative to the experiment file's folder, made absolute."""
    base_dir = (info.context or {}).get("base_dir")
    return value if base_dir is None else str((Path(base_dir) / Path(value).expanduser()).resolve())


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
FilePath = Annotated[str, Field(min_length=1), AfterValidator(_resolve_file)]
Matrix = list[list[float]]
Vector = list[float]
UniqueList = AfterValidator(_unique)


def _numbers(**bounds):
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
        answers = [key for key in ("W_y", "b_y") if getattr(self, key) is not None]
        torchs = [
            key for key in ("readout_weight", "readout_bias") if getattr(self, key) is not None
        ]
        if answers and torchs:
            fail(f"a second readout beside {answers[0]}; give one", key=torchs[0])
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


WEIGHT_FORMS = (RandomWeights, TorchWeights, KerasWeights, PerGateWeights, FileWeights)
COMMON_WEIGHT_KEYS: tuple[str, ...] = tuple(_WeightsForm.model_fields)


def form_keys(form: type[_WeightsForm]) -> list[str]:
    """The keys that make a mapping this form of weights."""
    return [key for key in form.model_fields if key not in COMMON_WEIGHT_KEYS]


def _weights_form(value) -> str | None:
    """The one form whose keys ``value`` has (None for none, or several)."""
    if isinstance(value, _WeightsForm):
        return value.form
    if not isinstance(value, dict):
        return None
    forms = {form.form for form in WEIGHT_FORMS for key in form_keys(form) if key in value}
    return forms.pop() if len(forms) == 1 else None


WeightsSpec = _union({form.form: form for form in WEIGHT_FORMS}, _weights_form, "weights_form")


class ModelSpec(Strict):
    """Sizes and weights. ``output_size > 0`` adds the readout ``y = sigmoid(W_y h + b_y)``."""

    input_size: PositiveInt
    hidden_size: PositiveInt
    output_size: NonNegativeInt = 0
    weights: WeightsSpec = RandomWeights(init="uniform")


StateVector = _one_of(
    "expected zeros or a list of hidden_size numbers", string=Literal["zeros"], list=Vector
)


class InitialState(Strict):
    h: StateVector = "zeros"
    c: StateVector = "zeros"


# --------------------------------------------------------------------------- inputs


class ConstantInputs(Strict):
    kind: Literal["constant"]
    value: _numbers()
    steps: PositiveInt


class SequenceInputs(Strict):
    kind: Literal["sequence"]
    values: Annotated[list[_numbers()], Field(min_length=1)]


class GaussianInputs(Strict):
    kind: Literal["gaussian"]
    mean: _numbers() = 0.0
    sd: _numbers(ge=0) = 1.0
    steps: PositiveInt
    seed: NonNegativeInt = 0
    per_seed: bool = False


class SineInputs(Strict):
    kind: Literal["sine"]
    amplitude: _numbers() = 1.0
    period: _numbers(gt=0)
    phase: _numbers() = 0.0
    offset: _numbers() = 0.0
    steps: PositiveInt


class EpidemicInputs(Strict):
    kind: Literal["epidemic"]
    population: PositiveInt
    infected: NonNegativeInt = 1
    beta: Annotated[float, Field(ge=0)]
    gamma: Annotated[float, Field(ge=0)]
    steps: PositiveInt
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
    columns: Annotated[list[str], Field(min_length=1), UniqueList]
    start: NonNegativeInt | None = None
    stop: NonNegativeInt | None = None
    normalize: Literal["none", "zscore", "minmax"] = "none"

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
InputsSpec = _union(INPUT_KINDS, _key("kind"), "input_kind")


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


GateChoice = _one_of(
    "expected a gate rule name or {rule: ..., <parameter>: ...}",
    string=Annotated[str, AfterValidator(_rule_name)],
    mapping=_union(
        {name: _rule_spec(rule) for name, rule in GATE_RULES.items()},
        _key("rule"),
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
    which derived quantities the summary has (each for the conditions it applies to)."""

    quantities: _one_of(
        f"expected all or a list of quantities from: {', '.join(CELL_QUANTITIES)}",
        string=Literal["all"],
        list=Annotated[list[Literal[CELL_QUANTITIES]], Field(min_length=1), UniqueList],
    ) = "all"
    seeds: _one_of(
        "expected a number of sample paths or a list of seeds",
        number=NonNegativeInt,
        list=Annotated[list[NonNegativeInt], UniqueList],
    ) = 20
    every: PositiveInt = 1
    units: _one_of(
        "expected all or a list of unit indices",
        string=Literal["all"],
        list=Annotated[list[NonNegativeInt], Field(min_length=1), UniqueList],
    ) = "all"
    initial_state: bool = False
    derived: _one_of(
        f"expected all, none or a list of derived quantities from: {', '.join(DERIVED_QUANTITIES)}",
        string=Literal["all", "none"],
        list=Annotated[
            list[Annotated[str, AfterValidator(_derived_name)]], Field(min_length=1), UniqueList
        ],
    ) = "all"


class OutputSpec(Strict):
    dir: Annotated[str, Field(min_length=1)] = "results"
    format: Literal["csv", "parquet"] = "csv"
    figures: bool = True
    figure_formats: Annotated[
        list[Literal["png", "pdf", "svg"]], Field(min_length=1), UniqueList
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

ConditionName = Annotated[
    str,
    _name(
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
        _name(
            r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
            "{name!r} cannot name a folder: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 100)",
        ),
    ]
    description: str = ""
    seeds: _one_of(
        "expected a count of seeds (0..N-1), a list of seeds, or {start, count}",
        number=PositiveInt,
        list=Annotated[list[NonNegativeInt], Field(min_length=1), UniqueList],
        mapping=SeedRange,
    ) = 100
    root_seed: NonNegativeInt = 0
    dtype: Literal["float64", "float32"] = "float64"
    baseline: str | None = None
    model: ModelSpec
    initial_state: InitialState = InitialState()
    inputs: InputsSpec
    conditions: Annotated[dict[ConditionName, ConditionSpec], Field(min_length=1)]
    record: RecordSpec = RecordSpec()
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    output: OutputSpec = OutputSpec()
    execution: ExecutionSpec = ExecutionSpec()

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
        return self.seed_list()[: self.record.seeds]

    def recorded_quantities(self) -> list[str]:
        """The recorded cell quantities; ``all`` is every quantity the model has."""
        if self.record.quantities == "all":
            return [q for q in CELL_QUANTITIES if q != "y" or self.model.output_size > 0]
        return list(self.record.quantities)

    def recorded_derived(self) -> list[str]:
        """The derived quantities the summary has, in its order."""
        chosen = self.record.derived
        if isinstance(chosen, str):
            chosen = DERIVED_QUANTITIES if chosen == "all" else ()
        return [name for name in DERIVED_QUANTITIES if name in chosen]

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
        return header + yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
        )
