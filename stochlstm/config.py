"""The experiment file: one strict, typed tree (see "The experiment file" in
the README), read with ``yaml.safe_load`` semantics and validated in full.

:func:`load_experiment` reports every problem of a file at once, each with the
file, the line of the offending key, its dotted path and what was expected::

    experiment.yaml:14: conditions.stochastic.gates: unknown gate rule 'bernouli'; expected ...

Beyond the schema (unknown keys, types, ranges) it checks what needs several
sections at once: the weights against the model sizes, the lengths of the
initial state and of per-column input parameters, the CSV input file, the
recorded units and seeds, the baseline, and every point of the sweep.

Symbolic defaults stay symbolic so that a sweep can change what they depend
on: ``initial_state: {h: zeros, c: zeros}``, ``record.quantities: all`` (every
quantity the model has: ``y`` only with a readout), ``record.units: all``.
Relative file paths (``inputs.file``, ``model.weights.file``) are resolved
against the experiment file's folder, so the resolved config names absolute
paths and can be loaded from anywhere (a run directory's ``resolved.yaml``).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

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
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from . import inputs as _inputs
from .condition import Condition
from .gates import GATE_RULES, GateRule, gate_rule
from .recorder import DERIVED_QUANTITIES

__all__ = [
    "INPUT_KINDS",
    "QUANTITIES",
    "ConfigError",
    "ExperimentConfig",
    "Problem",
    "load_experiment",
    "parse_experiment",
    "validate_inputs",
]

QUANTITIES: tuple[str, ...] = ("p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h", "y")
INPUT_KINDS: tuple[str, ...] = ("constant", "sequence", "gaussian", "sine", "epidemic", "csv")
GATES: tuple[str, ...] = ("input", "forget", "output")

# Columns of the run's tables that a sweep column must not shadow.
_RESERVED_COLUMNS = frozenset(
    "condition seed t unit x quantity metric value n mean sd se ci_low ci_high min max".split()
) | set(QUANTITIES)
# Words pandas reads back as missing values, numbers or booleans.
_RESERVED_NAMES = frozenset({"na", "nan", "null", "none", "inf", "infinity", "true", "false"})
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_CONDITION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


# --------------------------------------------------------------------------- #
# Problems
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an experiment file.

    ``line`` is 1-based, or None where no line applies (a ``--set`` override, a
    default); ``path`` is the dotted key path (``conditions.stochastic.gates``,
    list items as ``[k]``), empty for the file as a whole.
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """An invalid experiment file; ``problems`` lists every problem found,
    ``str(error)`` shows one per line."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


def _fail(kind: str, message: str):
    """Raise a validation error whose message is exactly ``message``."""
    raise PydanticCustomError(f"stochlstm_{kind}", "{msg}", {"msg": message})


# --------------------------------------------------------------------------- #
# Schema building blocks
# --------------------------------------------------------------------------- #


class _Strict(BaseModel):
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
        Discriminator(choose, custom_error_type="stochlstm_shape", custom_error_message=expected),
    ]


def _float_or_list(**bounds):
    number = Annotated[float, Field(**bounds)]
    return _one_of(
        "expected a number or a list of numbers, one per input column",
        number=number,
        list=Annotated[list[number], Field(min_length=1)],
    )


def _unique(values):
    if isinstance(values, list):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            _fail("unique", f"listed more than once: {', '.join(repeated)}")
    return values


def _rule_name(name: str) -> str:
    if name not in GATE_RULES:
        _fail("gate_rule", f"unknown gate rule {name!r}; expected one of: {', '.join(GATE_RULES)}")
    return name


def _condition_name(name: str) -> str:
    if not _CONDITION_NAME.fullmatch(name) or name.lower() in _RESERVED_NAMES:
        _fail(
            "condition_name",
            f"condition name {name!r} cannot be a CSV value: use a letter, then letters, digits, "
            "'_' or '-' (at most 64), and not na/nan/null/none/inf/true/false",
        )
    return name


def _experiment_name(name: str) -> str:
    if not _EXPERIMENT_NAME.fullmatch(name):
        _fail(
            "name",
            f"{name!r} cannot name a folder: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 100)",
        )
    return name


def _resolve_file(value: str, info: ValidationInfo) -> str:
    """A path relative to the experiment file's folder, made absolute."""
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None:
        return value
    return str((Path(base_dir) / Path(value).expanduser()).resolve())


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Temperature = Annotated[float, Field(gt=0)]
Steps = Annotated[int, Field(ge=1)]


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, SeedRange):
        return list(range(seeds.start, seeds.start + seeds.count))
    if isinstance(seeds, list):
        return list(seeds)
    return list(range(seeds))


class SeedRange(_Strict):
    """``count`` consecutive seeds from ``start``."""

    start: NonNegativeInt = 0
    count: PositiveInt


Seeds = _one_of(
    "expected a count of seeds (0..N-1), a list of seeds, or {start, count}",
    number=PositiveInt,
    list=Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_unique)],
    mapping=SeedRange,
)


# --------------------------------------------------------------------------- #
# Sections
# --------------------------------------------------------------------------- #


class ModelSpec(_Strict):
    """Sizes and weights. ``output_size > 0`` adds the readout ``y = sigmoid(W_y h + b_y)``."""

    input_size: PositiveInt
    hidden_size: PositiveInt
    output_size: NonNegativeInt = 0
    weights: dict[str, Any] = Field(default_factory=lambda: {"init": "uniform", "seed": 0})

    @field_validator("weights")
    @classmethod
    def _weights_file(cls, weights: dict, info: ValidationInfo) -> dict:
        if isinstance(weights.get("file"), str):
            return {**weights, "file": _resolve_file(weights["file"], info)}
        return weights


StateVector = _one_of(
    "expected zeros or a list of hidden_size numbers",
    string=Literal["zeros"],
    list=list[float],
)


class InitialState(_Strict):
    h: StateVector = "zeros"
    c: StateVector = "zeros"


Numbers = _float_or_list()
NonNegativeNumbers = _float_or_list(ge=0)
PositiveNumbers = _float_or_list(gt=0)
Scale = _one_of(
    "expected population, max, none or a positive number",
    string=Literal["population", "max", "none"],
    number=Annotated[float, Field(gt=0)],
)


class ConstantInputs(_Strict):
    kind: Literal["constant"]
    value: Numbers
    steps: Steps


class SequenceInputs(_Strict):
    kind: Literal["sequence"]
    values: Annotated[list[Numbers], Field(min_length=1)]


class GaussianInputs(_Strict):
    kind: Literal["gaussian"]
    mean: Numbers = 0.0
    sd: NonNegativeNumbers = 1.0
    steps: Steps
    seed: NonNegativeInt = 0
    per_seed: bool = False


class SineInputs(_Strict):
    kind: Literal["sine"]
    amplitude: Numbers = 1.0
    period: PositiveNumbers
    phase: Numbers = 0.0
    offset: Numbers = 0.0
    steps: Steps


class EpidemicInputs(_Strict):
    kind: Literal["epidemic"]
    population: PositiveInt
    infected: NonNegativeInt = 1
    beta: Annotated[float, Field(ge=0)]
    gamma: Annotated[float, Field(ge=0)]
    steps: Steps
    seed: NonNegativeInt = 0
    per_seed: bool = False
    observe: Literal["new_cases", "infected"] = "new_cases"
    scale: Scale = "population"

    @field_validator("infected")
    @classmethod
    def _at_most_population(cls, infected: int, info: ValidationInfo) -> int:
        population = info.data.get("population")
        if population is not None and infected > population:
            _fail("infected", f"must be at most the population ({population}), got {infected}")
        return infected


class CsvInputs(_Strict):
    kind: Literal["csv"]
    file: Annotated[str, Field(min_length=1)]
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
            _fail("stop", f"must be greater than start ({start}), got {stop}")
        return stop


def _input_kind(value):
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"<{kind}>" if kind in INPUT_KINDS else None


InputsSpec = Annotated[
    Union[  # noqa: UP007
        Annotated[ConstantInputs, Tag("<constant>")],
        Annotated[SequenceInputs, Tag("<sequence>")],
        Annotated[GaussianInputs, Tag("<gaussian>")],
        Annotated[SineInputs, Tag("<sine>")],
        Annotated[EpidemicInputs, Tag("<epidemic>")],
        Annotated[CsvInputs, Tag("<csv>")],
    ],
    Discriminator(
        _input_kind,
        custom_error_type="stochlstm_input_kind",
        custom_error_message=f"expected kind: one of {', '.join(INPUT_KINDS)}",
    ),
]
_INPUTS_ADAPTER = TypeAdapter(InputsSpec)


def validate_inputs(mapping: Mapping):
    """An ``inputs`` block (a plain mapping) as its validated spec; raises
    :class:`~stochlstm.inputs.InputError` naming the first bad key."""
    try:
        return _INPUTS_ADAPTER.validate_python(dict(mapping))
    except ValidationError as error:
        parts, message = _pydantic_problem(error.errors()[0], root=InputsSpec)
        raise _inputs.InputError(
            str(parts[0]) if parts else "kind", f"{_format_path(parts)}: {message}"
        ) from None


class GateSpec(_Strict):
    """A gate rule with parameters: ``{rule: concrete, temperature: 0.3}``."""

    rule: Annotated[str, AfterValidator(_rule_name)]
    temperature: Temperature | None = None

    @field_validator("temperature")
    @classmethod
    def _only_concrete(cls, temperature, info: ValidationInfo):
        rule = info.data.get("rule")
        if temperature is not None and rule is not None and rule != "concrete":
            _fail("temperature", f"only the concrete rule has a temperature, not {rule}")
        return temperature


GateChoice = _one_of(
    "expected a gate rule name or {rule: ..., temperature: ...}",
    string=Annotated[str, AfterValidator(_rule_name)],
    mapping=GateSpec,
)


class Zoneout(_Strict):
    """Probability of keeping the previous value of each unit of ``c`` / ``h``."""

    c: Probability = 0.0
    h: Probability = 0.0


class ConditionSpec(_Strict):
    """One arm of the comparison; ``{}`` is the standard (deterministic) LSTM.

    A gate's rule is its own key (``input``, ``forget``, ``output``) if given,
    else ``gates``, else deterministic. ``temperature`` is the concrete rules'
    temperature unless a gate gives its own.
    """

    gates: GateChoice | None = None
    input: GateChoice | None = None
    forget: GateChoice | None = None
    output: GateChoice | None = None
    temperature: Temperature | None = None
    zoneout: Zoneout = Zoneout()
    forget_semantics: Literal["standard", "erase"] = "standard"
    candidate: Literal["tanh", "binary"] = "tanh"
    cell_output: Literal["tanh", "binary"] = "tanh"
    noise: Literal["fresh", "fixed"] = "fresh"

    def rule(self, gate: str) -> GateRule:
        """The rule of ``gate`` (``input``, ``forget`` or ``output``)."""
        choice = getattr(self, gate) or self.gates or "deterministic"
        name, temperature = (
            (choice.rule, choice.temperature) if isinstance(choice, GateSpec) else (choice, None)
        )
        if name != "concrete":
            return gate_rule(name)
        temperature = temperature if temperature is not None else self.temperature
        return gate_rule(name) if temperature is None else gate_rule(name, temperature=temperature)

    def build(self) -> Condition:
        return Condition(
            **{gate: self.rule(gate) for gate in GATES},
            forget_semantics=self.forget_semantics,
            zoneout_c=self.zoneout.c,
            zoneout_h=self.zoneout.h,
            binary_candidate=self.candidate == "binary",
            binary_cell_output=self.cell_output == "binary",
            noise=self.noise,
        )


Quantities = _one_of(
    f"expected all or a list of quantities from: {', '.join(QUANTITIES)}",
    string=Literal["all"],
    list=Annotated[list[Literal[QUANTITIES]], Field(min_length=1), AfterValidator(_unique)],
)
RecordSeeds = _one_of(
    "expected a number of sample paths or a list of seeds",
    number=NonNegativeInt,
    list=Annotated[list[NonNegativeInt], AfterValidator(_unique)],
)
Units = _one_of(
    "expected all or a list of unit indices",
    string=Literal["all"],
    list=Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_unique)],
)


def _derived_name(name: str) -> str:
    if name not in DERIVED_QUANTITIES:
        _fail(
            "derived",
            f"unknown derived quantity {name!r}; expected one of: {', '.join(DERIVED_QUANTITIES)}",
        )
    return name


Derived = _one_of(
    f"expected all, none or a list of derived quantities from: {', '.join(DERIVED_QUANTITIES)}",
    string=Literal["all", "none"],
    list=Annotated[
        list[Annotated[str, AfterValidator(_derived_name)]],
        Field(min_length=1),
        AfterValidator(_unique),
    ],
)
BatchSize = _one_of("expected auto or an integer >= 1", string=Literal["auto"], number=PositiveInt)
Threads = BatchSize


class RecordSpec(_Strict):
    """What trajectories keep (summaries always use every seed and step)."""

    quantities: Quantities = "all"
    seeds: RecordSeeds = 20
    every: PositiveInt = 1
    units: Units = "all"
    initial_state: bool = False
    # derived quantities streamed into the summary (each for the conditions it applies to)
    derived: Derived = "all"


class OutputSpec(_Strict):
    dir: Annotated[str, Field(min_length=1)] = "results"
    format: Literal["csv", "parquet"] = "csv"
    figures: bool = True
    figure_formats: Annotated[
        list[Literal["png", "pdf", "svg"]], Field(min_length=1), AfterValidator(_unique)
    ] = ["png", "pdf"]


class ExecutionSpec(_Strict):
    batch_size: BatchSize = "auto"
    memory_budget_mb: PositiveInt = 512
    jobs: PositiveInt = 1
    threads: Threads = "auto"


# --------------------------------------------------------------------------- #
# The experiment
# --------------------------------------------------------------------------- #


class ExperimentConfig(_Strict):
    """A validated experiment file. Build one with :func:`load_experiment` or
    :func:`parse_experiment`, which also run the checks across sections.

    Two configs are equal when their contents are, wherever they came from.
    """

    name: Annotated[str, AfterValidator(_experiment_name)]
    description: str = ""
    seeds: Seeds = 100
    root_seed: NonNegativeInt = 0
    dtype: Literal["float64", "float32"] = "float64"
    baseline: str | None = None
    model: ModelSpec
    initial_state: InitialState = InitialState()
    inputs: InputsSpec
    conditions: Annotated[
        dict[Annotated[str, AfterValidator(_condition_name)], ConditionSpec], Field(min_length=1)
    ]
    record: RecordSpec = RecordSpec()
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    output: OutputSpec = OutputSpec()
    execution: ExecutionSpec = ExecutionSpec()

    _source_path: Path | None = PrivateAttr(default=None)
    _source_text: str | None = PrivateAttr(default=None)
    _file: str = PrivateAttr(default="<config>")
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _raw: dict | None = PrivateAttr(default=None)
    _weights: Any = PrivateAttr(default=None)
    _points: list | None = PrivateAttr(default=None)

    def __eq__(self, other) -> bool:
        if not isinstance(other, ExperimentConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    # -- where it came from ------------------------------------------------- #

    @property
    def source_path(self) -> Path | None:
        """The experiment file (absolute), or None for a config parsed from text."""
        return self._source_path

    @property
    def source_text(self) -> str | None:
        """The experiment file as given, before overrides."""
        return self._source_text

    @property
    def base_dir(self) -> Path:
        """The folder relative file paths are resolved against."""
        return self._base_dir

    # -- derived values ----------------------------------------------------- #

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def seed_list(self) -> list[int]:
        """The run's seeds, in order."""
        return _seed_list(self.seeds)

    def recorded_seeds(self) -> list[int]:
        """The seeds whose sample paths go to the trajectories: the first
        ``record.seeds`` of :meth:`seed_list`, or the list given."""
        if isinstance(self.record.seeds, list):
            return list(self.record.seeds)
        return self.seed_list()[: self.record.seeds]

    def recorded_quantities(self) -> list[str]:
        """The recorded cell quantities; ``all`` is every quantity the model has."""
        if self.record.quantities == "all":
            return [q for q in QUANTITIES if q != "y" or self.model.output_size > 0]
        return list(self.record.quantities)

    def recorded_derived(self) -> list[str]:
        """The derived quantities to stream (``record.derived``), in the order
        of :data:`stochlstm.recorder.DERIVED_QUANTITIES`."""
        chosen = self.record.derived
        if chosen == "all":
            return list(DERIVED_QUANTITIES)
        if chosen == "none":
            return []
        return [name for name in DERIVED_QUANTITIES if name in chosen]

    def recorded_units(self) -> list[int]:
        if self.record.units == "all":
            return list(range(self.model.hidden_size))
        return list(self.record.units)

    # -- building the run's objects ----------------------------------------- #

    def build_conditions(self) -> dict[str, Condition]:
        """``{name: Condition}`` in file order."""
        return {name: spec.build() for name, spec in self.conditions.items()}

    def build_weights(self):
        """The model's :class:`~stochlstm.weights.LSTMWeights` (float64 unless
        the file holds float32; the simulation casts to ``dtype``)."""
        if self._weights is None:
            from .weights import weights_from_mapping  # lazy: keeps this module light

            self._weights = weights_from_mapping(
                self.model.weights,
                input_size=self.model.input_size,
                hidden_size=self.model.hidden_size,
                output_size=self.model.output_size,
                base_dir=self.base_dir,
            )
        return self._weights

    def build_inputs(self, seeds: Sequence[int] | None = None) -> np.ndarray:
        """The inputs: ``(T, X)``, or ``(T, B, X)`` for ``per_seed`` inputs, one
        sequence per seed of ``seeds`` (default: :meth:`seed_list`)."""
        if getattr(self.inputs, "per_seed", False) and seeds is None:
            seeds = self.seed_list()
        return _inputs.make_inputs(
            self.inputs, input_size=self.model.input_size, seeds=seeds, base_dir=self.base_dir
        )

    def build_initial_state(self) -> dict[str, np.ndarray]:
        """``{"h": (H,), "c": (H,)}`` float64, as :func:`stochlstm.simulate` takes it."""
        hidden = self.model.hidden_size
        return {
            name: np.zeros(hidden) if value == "zeros" else np.array(value, dtype=np.float64)
            for name, value in (("h", self.initial_state.h), ("c", self.initial_state.c))
        }

    # -- sweeps and the resolved file --------------------------------------- #

    def sweep_points(self) -> list[tuple[dict[str, Any], ExperimentConfig]]:
        """The grid of ``sweep`` (cartesian product, first key slowest), as
        ``(columns, config)`` pairs: ``columns`` maps each swept parameter's
        column name to its value, ``config`` is the experiment with the values
        applied (fully validated, without ``sweep``). No sweep: ``[({}, self)]``.

        A column is named by the last component of its path, or by the whole
        path with ``.`` and ``[k]`` turned into ``_`` when that name is taken by
        another swept path or by a column of the run's tables (``seed``, ...).
        """
        if not self.sweep:
            return [({}, self)]
        if self._points is None:
            points, problems = _expand_sweep(self, self._source_or_default())
            if problems:
                raise ConfigError(problems)
            self._points = points
        return list(self._points)

    def sweep_columns(self) -> dict[str, str]:
        """``{sweep path: column name}``."""
        return _sweep_columns(list(self.sweep or ()))

    def to_resolved_yaml(self) -> str:
        """The validated config as YAML, defaults filled in and overrides
        applied; :func:`parse_experiment` of it gives an equal config."""
        data = self.model_dump(mode="json", exclude_none=True)
        source = self._source_path or self._file
        header = f"# {self.name}: resolved experiment (defaults filled in) from {source}\n"
        return header + yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
        )

    def _source_or_default(self) -> _Source:
        return _Source(file=self._file, base_dir=self._base_dir, lines=None)

    def _attach(self, source: _Source, raw: dict, *, path: Path | None, text: str | None):
        self._file, self._base_dir, self._raw = source.file, source.base_dir, raw
        self._source_path, self._source_text = path, text
        return self


# --------------------------------------------------------------------------- #
# YAML with line numbers
# --------------------------------------------------------------------------- #


class _Lines:
    """Line numbers of the keys and items of a composed YAML document."""

    def __init__(self, root: yaml.Node | None):
        self.root = root

    def line(self, parts: Sequence) -> int | None:
        """The line of the deepest node of ``parts`` found (a key's own line);
        None when not even the first part is in the file."""
        node = self.root
        line = None if node is None else node.start_mark.line + 1
        for part in parts:
            if isinstance(node, yaml.MappingNode):
                found = [(k, v) for k, v in node.value if _key_is(k, part)]
                if not found:
                    return line
                key, node = found[-1]  # as in YAML, a later key wins
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _key_is(node: yaml.Node, part) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def _compose(text: str, file: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """``yaml.safe_load(text)``, its node tree, and duplicate-key problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        duplicates = _duplicate_keys(root, (), file) if root is not None else []
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        context = getattr(error, "context", None)
        problem = getattr(error, "problem", None) or str(error)
        message = f"malformed YAML: {context + ': ' if context else ''}{problem}"
        raise ConfigError([Problem(file, mark.line + 1 if mark else None, "", message)]) from None
    finally:
        loader.dispose()
    return data, root, duplicates


def _duplicate_keys(node: yaml.Node, parts: tuple, file: str, seen=None) -> list[Problem]:
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias: already checked where it was defined
        return []
    seen.add(id(node))
    problems = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                problems.append(
                    Problem(
                        file,
                        line,
                        _format_path((*parts, key.value)),
                        f"duplicate key (also on line {first[key.value]}); give each key once",
                    )
                )
            first.setdefault(key.value, line)
            problems += _duplicate_keys(value, (*parts, key.value), file, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*parts, index), file, seen)
    return problems


# --------------------------------------------------------------------------- #
# Paths: "conditions.concrete.temperature", "inputs.value[1]"
# --------------------------------------------------------------------------- #

_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def _split_path(text: str) -> list[str | int]:
    """``a.b[2].c`` or ``a.b.2.c`` -> ``["a", "b", 2, "c"]``; ``sweep.<path>``
    keeps the swept path whole. Raises ValueError on a malformed path."""
    text = text.strip()
    if text.startswith("sweep.") and len(text) > len("sweep."):
        return ["sweep", text[len("sweep.") :]]
    parts: list[str | int] = []
    for piece in text.split("."):
        match = _PART.fullmatch(piece)
        if not match:
            raise ValueError(f"malformed key path {text!r}")
        name, indices = match.groups()
        parts.append(int(name) if name.isdigit() else name)
        parts += [int(i) for i in re.findall(r"\d+", indices)]
    return parts


def _format_path(parts: Sequence) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(tp):
    """``tp`` without ``Annotated`` and ``Optional``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _members(tp) -> dict[str | None, Any]:
    """The members of a union, by tag."""
    members = {}
    for arg in get_args(tp):
        tag = next((m.tag for m in getattr(arg, "__metadata__", ()) if isinstance(m, Tag)), None)
        members[tag] = arg
    return members


def _child(tp, part):
    """The type at key or index ``part`` below ``tp``; KeyError(message) if none."""
    tp = _unwrap(tp)
    if tp is Any:
        return Any
    if get_origin(tp) in (Union, types.UnionType):
        members = _members(tp)
        if isinstance(part, str) and part in members:  # a union tag in a pydantic location
            return members[part]
        errors = []
        for member in members.values():
            try:
                return _child(member, part)
            except KeyError as error:
                errors.append(error.args[0])
        allowed = sorted({k for m in members.values() for k in _keys(m)})
        if allowed:
            raise KeyError(f"unknown key {part!r}; allowed keys: {', '.join(allowed)}")
        raise KeyError(errors[0] if errors else f"unknown key {part!r}")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if part not in tp.model_fields:
            raise KeyError(f"unknown key {part!r}; allowed keys: {', '.join(tp.model_fields)}")
        return tp.model_fields[part].annotation
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        if not isinstance(part, int):
            raise KeyError(f"expected a list index, got {part!r}")
        return get_args(tp)[0]
    raise KeyError(f"a single value has no key {part!r}")


def _keys(tp) -> list[str]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _check_path(parts: Sequence) -> str | None:
    """None if ``parts`` names a key of the schema, else what is wrong."""
    tp: Any = ExperimentConfig
    for depth, part in enumerate(parts):
        if tp is Any:
            return None
        try:
            tp = _child(tp, part)
        except KeyError as error:
            where = _format_path(parts[:depth]) or "the top level"
            return f"{error.args[0]} (in {where})"
    return None


# --------------------------------------------------------------------------- #
# Pydantic errors as problems
# --------------------------------------------------------------------------- #


def _describe(value) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (dict, BaseModel)):
        return "a mapping"
    return type(value).__name__


def _number_hint(value) -> str:
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if re.fullmatch(r"\s*[-+]?\d+[eE][-+]?\d+\s*", value):
        return f" (YAML reads {value} as a string: write it with a dot, e.g. 1.0e-3)"
    return " (write numbers without quotes)"


_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _pydantic_problem(error: Mapping, root=ExperimentConfig) -> tuple[list, str]:
    """``(path parts, message)`` for one pydantic error."""
    loc = list(error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    key_error = bool(loc) and loc[-1] == "[key]"
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith("<") and p.endswith(">"))]
    if key_error:
        parts = parts[:-1]
    got = _describe(value)
    if kind.startswith("stochlstm_") and "msg" in ctx:
        message = ctx["msg"]
    elif kind == "stochlstm_input_kind":
        kind_value = value.get("kind") if isinstance(value, dict) else None
        if isinstance(value, dict):
            parts.append("kind")
            message = (
                f"missing; expected one of: {', '.join(INPUT_KINDS)}"
                if kind_value is None
                else f"unknown input kind {kind_value!r}; expected one of: {', '.join(INPUT_KINDS)}"
            )
        else:
            message = f"expected a mapping with a kind ({', '.join(INPUT_KINDS)}), got {got}"
    elif kind == "stochlstm_shape":
        message = f"{error['msg']}, got {got}{_number_hint(value)}"
    elif kind == "missing":
        message = "missing (required)"
    elif kind == "extra_forbidden":
        try:
            parent = root
            for part in loc[:-1]:
                parent = _child(parent, part)
            allowed = f"; allowed keys: {', '.join(_keys(parent))}"
        except KeyError:
            allowed = ""
        message = f"unknown key {parts[-1]!r}{allowed}"
    elif kind == "invalid_key":
        message = (
            f"keys must be strings, got {got} (quote it; YAML reads yes/no/on/off as booleans)"
        )
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {got}{_number_hint(value)}"
    elif kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        bound = ctx[name]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        message = f"must be {sign} {bound}, got {value!r}"
    elif kind == "literal_error":
        message = f"expected {ctx['expected']}, got {got}"
    elif kind == "too_short":
        message = f"expected at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    elif kind == "too_long":
        message = f"expected at most {ctx['max_length']} item(s), got {ctx['actual_length']}"
    elif kind == "finite_number":
        message = f"expected a finite number, got {value!r}"
    else:
        message = f"{error['msg']} (got {got})"
    if key_error and not kind.startswith("stochlstm_"):
        message = f"key: {message}"
    return parts, message


# --------------------------------------------------------------------------- #
# Validation of a whole tree
# --------------------------------------------------------------------------- #


@dataclass
class _Source:
    """Where values came from, to point each problem at its line."""

    file: str
    base_dir: Path
    lines: _Lines | None
    overrides: dict[tuple, str] = field(default_factory=dict)  # path -> "--set text"
    swept: dict[tuple, tuple] = field(default_factory=dict)  # path -> sweep value's path
    point: str = ""  # "hidden_size=4" while validating a sweep point

    def problem(self, parts: Sequence, message: str) -> Problem:
        parts = tuple(parts)
        origin = parts  # where the offending value was written
        for prefix, where in self.swept.items():
            if parts[: len(prefix)] == prefix:
                origin = where
                break
        if self.point:
            message = f"{message} (at sweep point {self.point})"
        for prefix, text in self.overrides.items():
            if origin[: len(prefix)] == prefix:
                return Problem(
                    self.file, None, _format_path(parts), f"{message} (from --set {text})"
                )
        line = self.lines.line(origin) if self.lines is not None else None
        return Problem(self.file, line, _format_path(parts), message)


_FIELD_ADAPTERS: dict[tuple[type, str], TypeAdapter] = {}


def _fields(cls: type[BaseModel], raw, context: dict) -> dict[str, Any]:
    """The fields of ``cls`` that are valid on their own in the mapping ``raw``
    (defaults for absent ones): what the checks across sections can rely on
    even when other fields of the same section are wrong."""
    if not isinstance(raw, dict):
        return {}
    valid = {}
    for name, info in cls.model_fields.items():
        if name not in raw:
            if not info.is_required():
                valid[name] = info.get_default(call_default_factory=True)
            continue
        if (cls, name) not in _FIELD_ADAPTERS:
            annotation = info.annotation
            is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            config = None if is_model else ConfigDict(strict=True, allow_inf_nan=False)
            _FIELD_ADAPTERS[cls, name] = TypeAdapter(Annotated[annotation, info], config=config)
        try:
            valid[name] = _FIELD_ADAPTERS[cls, name].validate_python(raw[name], context=context)
        except ValidationError:
            pass
    return valid


def _validate(raw, source: _Source) -> tuple[ExperimentConfig | None, list[Problem]]:
    """The config of ``raw`` (a parsed file with overrides applied) and every problem."""
    if not isinstance(raw, dict):
        keys = ", ".join(ExperimentConfig.model_fields)
        what = "empty" if raw is None else f"{_describe(raw)}, not a mapping"
        return None, [
            source.problem((), f"the experiment file is {what}; expected the keys {keys}")
        ]
    context = {"base_dir": source.base_dir}
    problems: list[Problem] = []
    config = None
    try:
        config = ExperimentConfig.model_validate(raw, context=context)
    except ValidationError as error:
        for item in error.errors():
            problems.append(source.problem(*_pydantic_problem(item)))
    problems += [source.problem(p, m) for p, m in _cross_checks(raw, context)]
    if problems:
        return None, problems
    if config.baseline is None:
        config = config.model_copy(update={"baseline": _default_baseline(config)})
    return config, []


def _default_baseline(config: ExperimentConfig) -> str | None:
    """The first standard-LSTM condition, else the first deterministic one."""
    conditions = config.build_conditions()
    for test in (lambda c: c == Condition(), lambda c: c.is_deterministic):
        for name, condition in conditions.items():
            if test(condition):
                return name
    return None


def _length_problem(parts, value, size: int, what: str):
    if isinstance(value, list) and len(value) != size:
        values = "value" if size == 1 else "values"
        return [(parts, f"expected {size} {values} ({what}), got {len(value)}")]
    return []


def _cross_checks(raw: dict, context: dict) -> list[tuple[tuple, str]]:
    """Checks that need several keys; each runs when the keys it reads are valid."""
    base_dir = context["base_dir"]
    top = _fields(ExperimentConfig, raw, context)
    model = _fields(ModelSpec, raw.get("model"), context)
    record = _fields(RecordSpec, raw.get("record", {}), context)
    state = _fields(InitialState, raw.get("initial_state", {}), context)
    sizes = [model.get(k) for k in ("input_size", "hidden_size", "output_size")]
    out: list[tuple[tuple, str]] = []
    if None not in sizes:
        input_size, hidden_size, output_size = sizes
        if isinstance(raw["model"].get("weights"), dict):  # NaN is checked even if ill-typed
            out += _check_weights(raw["model"]["weights"], model.get("weights"), sizes, base_dir)
        for name in ("h", "c"):
            out += _length_problem(
                ("initial_state", name), state.get(name), hidden_size, "model.hidden_size"
            )
        if "inputs" in top:
            out += _check_inputs(top["inputs"], input_size, base_dir)
        quantities = record.get("quantities")
        if isinstance(quantities, list) and "y" in quantities and not output_size:
            out.append(
                (
                    ("record", "quantities", quantities.index("y")),
                    "y needs a readout: set model.output_size >= 1",
                )
            )
        for index, unit in enumerate(
            record.get("units") if isinstance(record.get("units"), list) else ()
        ):
            if unit >= hidden_size:
                out.append(
                    (
                        ("record", "units", index),
                        f"unit {unit} does not exist: the units are 0..{hidden_size - 1}",
                    )
                )
    if "seeds" in top and isinstance(record.get("seeds"), list):
        run_seeds = set(_seed_list(top["seeds"]))
        for index, seed in enumerate(record["seeds"]):
            if seed not in run_seeds:
                out.append(
                    (("record", "seeds", index), f"seed {seed} is not one of the run's seeds")
                )
    conditions = raw.get("conditions") if isinstance(raw.get("conditions"), dict) else {}
    for name, spec in conditions.items():
        spec = _fields(ConditionSpec, spec, context)
        chosen = [spec.get(key) for key in ("gates", *GATES)]
        rules = [c.rule if isinstance(c, GateSpec) else c for c in chosen]
        if spec.get("temperature") is not None and "concrete" not in rules:
            out.append(
                (
                    ("conditions", name, "temperature"),
                    "applies to concrete gates only, and this condition has none",
                )
            )
    if top.get("baseline") is not None and top["baseline"] not in conditions:
        out.append(
            (
                ("baseline",),
                f"unknown condition {top['baseline']!r}; "
                f"the conditions are: {', '.join(map(str, conditions))}",
            )
        )
    for key in top.get("sweep") or {}:
        try:
            parts = _split_path(key)
        except ValueError as error:
            out.append((("sweep", key), str(error)))
            continue
        wrong = "a sweep cannot sweep the sweep" if parts[0] == "sweep" else _check_path(parts)
        if wrong:
            out.append((("sweep", key), f"not a key of the experiment file: {wrong}"))
    return out


def _check_weights(
    raw: dict, weights: dict | None, sizes, base_dir: Path
) -> list[tuple[tuple, str]]:
    """NaN and infinities in the file's weights (pointing at the very number),
    then the weights themselves against the sizes."""
    from .weights import WeightsError, weights_from_mapping  # lazy: keeps this module light

    out = []
    for key, value in raw.items():
        for index, number in _numbers(value, ()):
            if not math.isfinite(number):
                out.append(
                    (("model", "weights", key, *index), f"expected a finite number, got {number!r}")
                )
    if out or weights is None:
        return out
    input_size, hidden_size, output_size = sizes
    try:
        weights_from_mapping(
            weights,
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            base_dir=base_dir,
        )
    except WeightsError as error:
        if error.field in weights:
            return [(("model", "weights", error.field), error.detail)]
        return [(("model", "weights"), str(error))]
    except (OSError, ValueError, TypeError, KeyError) as error:
        return [(("model", "weights"), f"{type(error).__name__}: {error}")]
    return []


def _numbers(value, index: tuple):
    if isinstance(value, float):
        yield index, value
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _numbers(item, (*index, k))


def _check_inputs(spec, size: int, base_dir: Path) -> list[tuple[tuple, str]]:
    what = "model.input_size"
    out = []
    if spec.kind == "constant":
        out += _length_problem(("inputs", "value"), spec.value, size, what)
    elif spec.kind == "sequence":
        for t, row in enumerate(spec.values):
            out += _length_problem(
                ("inputs", "values", t), row if isinstance(row, list) else [row], size, what
            )
        if len(out) > 3:
            out = [
                *out[:3],
                (("inputs", "values"), f"{len(out) - 3} more rows of the wrong length"),
            ]
    elif spec.kind in ("gaussian", "sine"):
        for name in (
            ("mean", "sd")
            if spec.kind == "gaussian"
            else ("amplitude", "period", "phase", "offset")
        ):
            out += _length_problem(("inputs", name), getattr(spec, name), size, what)
    elif spec.kind == "epidemic" and size != 1:
        out.append(
            (
                ("model", "input_size"),
                f"must be 1 for inputs of kind epidemic (one column of daily counts), got {size}",
            )
        )
    elif spec.kind == "csv" and len(spec.columns) != size:
        out.append(
            (("inputs", "columns"), f"expected {size} columns ({what}), got {len(spec.columns)}")
        )
    if out:
        return out
    try:
        per_seed = getattr(spec, "per_seed", False)
        _inputs.make_inputs(
            spec, input_size=size, seeds=[0] if per_seed else None, base_dir=base_dir
        )
    except _inputs.InputError as error:
        message = str(error)
        prefix = f"{error.field}: "
        return [
            (
                ("inputs", error.field),
                message[len(prefix) :] if message.startswith(prefix) else message,
            )
        ]
    return []


# --------------------------------------------------------------------------- #
# Overrides and sweeps
# --------------------------------------------------------------------------- #


def _schema_default(parts: Sequence):
    """The default of the mapping at ``parts`` as plain data (``{}`` if none), so
    that setting ``model.weights.seed`` in a file without ``model.weights``
    starts from the default weights, not from an empty mapping."""
    tp: Any = ExperimentConfig
    for part in parts[:-1]:
        try:
            tp = _child(tp, part)
        except KeyError:
            return {}
    tp = _unwrap(tp)
    info = (
        tp.model_fields.get(parts[-1])
        if isinstance(tp, type) and issubclass(tp, BaseModel)
        else None
    )
    default = (
        None if info is None or info.is_required() else info.get_default(call_default_factory=True)
    )
    if isinstance(default, BaseModel):
        return default.model_dump(mode="json", exclude_none=True)
    return copy.deepcopy(default) if isinstance(default, dict) else {}


def _set_path(data: dict, parts: Sequence, value) -> None:
    """Set ``data[parts...] = value``, creating missing mappings from their
    defaults; ValueError if a step is neither a mapping nor a list with that index."""
    node = data
    for depth, part in enumerate(parts):
        where = _format_path(parts[:depth]) or "the file"
        if isinstance(part, int):
            if not isinstance(node, list) or not 0 <= part < len(node):
                size = f"a list of {len(node)}" if isinstance(node, list) else _describe(node)
                raise ValueError(f"{where} is {size}, so it has no item [{part}]")
        elif not isinstance(node, dict):
            raise ValueError(f"{where} is {_describe(node)}, not a mapping")
        if depth == len(parts) - 1:
            node[part] = value
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = _schema_default(parts[: depth + 1])
            node = node[part]


def _apply_overrides(data: dict, overrides: Sequence[str], source: _Source) -> list[Problem]:
    problems = []
    for text in overrides:
        key, sep, value_text = str(text).partition("=")
        if not sep or not key.strip():
            problems.append(
                Problem(source.file, None, "", f"--set {text}: expected key.path=value")
            )
            continue
        try:
            parts = _split_path(key)
        except ValueError as error:
            problems.append(Problem(source.file, None, key.strip(), f"--set {text}: {error}"))
            continue
        path = _format_path(parts)
        wrong = _check_path(parts)
        if wrong:
            problems.append(
                Problem(
                    source.file,
                    None,
                    path,
                    f"--set {text}: not a key of the experiment file: {wrong}",
                )
            )
            continue
        try:
            value = yaml.safe_load(value_text)
        except yaml.YAMLError as error:
            reason = getattr(error, "problem", None) or str(error)
            problems.append(
                Problem(source.file, None, path, f"--set {text}: malformed YAML value: {reason}")
            )
            continue
        try:
            _set_path(data, parts, value)
        except ValueError as error:
            problems.append(Problem(source.file, None, path, f"--set {text}: {error}"))
            continue
        source.overrides[tuple(parts)] = text
    return problems


def _sweep_columns(paths: Sequence[str]) -> dict[str, str]:
    def full(path):
        return re.sub(r"\W+", "_", path).strip("_")

    last = {p: str(_split_path(p)[-1]) for p in paths}
    counts = {name: list(last.values()).count(name) for name in last.values()}
    return {
        p: last[p]
        if counts[last[p]] == 1 and last[p] not in _RESERVED_COLUMNS and not last[p].isdigit()
        else full(p)
        for p in paths
    }


def _expand_sweep(config: ExperimentConfig, source: _Source):
    """Every sweep point of ``config``, validated; ``(points, problems)``."""
    base = copy.deepcopy(
        config._raw
        if config._raw is not None
        else config.model_dump(mode="json", exclude_none=True)
    )
    base.pop("sweep", None)
    paths = list(config.sweep)
    columns = _sweep_columns(paths)
    points, problems, seen = [], [], set()
    for choice in itertools.product(*(range(len(config.sweep[p])) for p in paths)):
        raw = copy.deepcopy(base)
        values = {}
        swept = {}
        try:
            for path, index in zip(paths, choice, strict=True):
                value = copy.deepcopy(config.sweep[path][index])
                _set_path(raw, _split_path(path), value)
                values[columns[path]] = value
                swept[tuple(_split_path(path))] = ("sweep", path, index)
        except ValueError as error:
            problem = source.problem(("sweep", path), f"cannot set {path}: {error}")
            if problem not in problems:
                problems.append(problem)
            continue
        label = ", ".join(f"{c}={v!r}" for c, v in values.items())
        point_source = _Source(
            file=source.file,
            base_dir=source.base_dir,
            lines=source.lines,
            overrides=source.overrides,
            swept=swept,
            point=label,
        )
        point, found = _validate(raw, point_source)
        for problem in found:
            key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
            if key not in seen:
                seen.add(key)
                problems.append(problem)
        if point is not None:
            point._attach(point_source, raw, path=config._source_path, text=config._source_text)
            points.append((values, point))
    return points, problems


# --------------------------------------------------------------------------- #
# Entry points
# --------------------------------------------------------------------------- #


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def parse_experiment(
    text: str, *, file: str = "<string>", base_dir=".", overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """The experiment in YAML ``text`` (see :func:`load_experiment`); ``file``
    names it in problems and relative paths are resolved against ``base_dir``."""
    return _parse(text, file=file, base_dir=base_dir, overrides=overrides, path=None)


def _parse(text: str, *, file: str, base_dir, overrides: Sequence[str], path: Path | None):
    data, root, problems = _compose(text, file)
    source = _Source(file=file, base_dir=Path(base_dir).resolve(), lines=_Lines(root))
    if isinstance(data, dict):
        problems += _apply_overrides(data, list(overrides), source)
    config, found = _validate(data, source)
    problems += found
    if problems:
        raise ConfigError(_sorted(problems))
    config._attach(source, data, path=path, text=text)
    if config.sweep:
        points, problems = _expand_sweep(config, source)
        if problems:
            raise ConfigError(_sorted(problems))
        config._points = points
    return config


def load_experiment(path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read, validate and check an experiment file.

    ``overrides`` are ``key.path=value`` strings as given to ``--set``; the
    value is read as YAML (``seeds=50``, ``conditions.concrete.temperature=0.1``,
    ``model.weights={init: uniform, seed: 3}``) and the path must be a key of
    the schema. Raises :class:`ConfigError` listing every problem found.
    """
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(file, None, "", "experiment file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(
            [Problem(file, None, "", "is a directory, not an experiment file")]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(file, None, "", f"cannot read the file: {error}")]) from None
    return _parse(text, file=file, base_dir=path.parent, overrides=overrides, path=path.resolve())
