"""Reading an experiment file into its validated config
(:class:`~stochlstm.experiment.schema.ExperimentConfig`).

:func:`load_experiment` reports every problem of a file at once, each with the
file, the line of the offending key, its dotted path and what was expected::

    experiment.yaml:14: conditions.stochastic.gates: unknown gate rule 'bernouli'; expected ...

Besides the schema it checks what needs several sections at once (lengths
against the model's sizes, recorded units and seeds, swept paths) and every
point of a sweep; the weights and inputs themselves are built, and checked,
once, by the plan (:mod:`stochlstm.experiment.plan`), which reports through the
config's source (:meth:`Source.problem`) in the same form.

Symbolic defaults stay symbolic so that a sweep can change what they depend
on: ``initial_state: {h: zeros, c: zeros}``, ``record.quantities: all``,
``record.units: all``. Relative file paths are resolved against the experiment
file's folder, so the resolved config names absolute paths and loads from
anywhere (a run directory's ``resolved.yaml``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Tag, TypeAdapter, ValidationError

from ..core.gates import GATE_RULES
from ..core.names import RESERVED_COLUMNS
from .schema import (
    COMMON_WEIGHT_KEYS,
    INPUT_KINDS,
    WEIGHT_FORMS,
    ExperimentConfig,
    InitialState,
    ModelSpec,
    RecordSpec,
    form_keys,
    seed_list,
)

__all__ = [
    "ConfigError",
    "Problem",
    "Source",
    "load_experiment",
    "parse_experiment",
    "sweep_columns",
    "sweep_points",
]


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
        self.problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        super().__init__("\n".join(map(str, self.problems)))


# --------------------------------------------------------------------------- where values came from


@dataclass
class Source:
    """Where a config's values came from, to point each problem at its line.

    ``lines`` maps key paths of the file to their lines; ``overrides`` the
    paths set by ``--set`` to their text; ``swept`` the paths a sweep point set
    to the path of the value in ``sweep``; ``point`` labels that point.
    """

    file: str = "<config>"
    base_dir: Path = field(default_factory=Path)
    lines: dict[tuple, int] = field(default_factory=dict)
    text: str | None = None  # the file as given
    origin: Path | None = None  # the file, absolute
    overrides: dict[tuple, str] = field(default_factory=dict)
    swept: dict[tuple, tuple] = field(default_factory=dict)
    point: str = ""
    points: list | None = None  # the sweep's points, once expanded

    def problem(self, parts: Sequence, message: str) -> Problem:
        parts = tuple(parts)
        origin = next((w for p, w in self.swept.items() if parts[: len(p)] == p), parts)
        if self.point:
            message = f"{message} (at sweep point {self.point})"
        for prefix, text in self.overrides.items():
            if origin[: len(prefix)] == prefix:
                return Problem(
                    self.file, None, format_path(parts), f"{message} (from --set {text})"
                )
        return Problem(self.file, self.line(origin), format_path(parts), message)

    def line(self, parts: Sequence) -> int | None:
        """The line of the deepest key of ``parts`` in the file."""
        for depth in range(len(parts), -1, -1):
            if tuple(parts[:depth]) in self.lines:
                return self.lines[tuple(parts[:depth])]
        return None


def _read_yaml(text: str, file: str) -> tuple[Any, dict[tuple, int], list[Problem]]:
    """``yaml.safe_load(text)``, the line of every key and list item, and
    duplicate-key problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        context = getattr(error, "context", None)
        problem = getattr(error, "problem", None) or str(error)
        message = f"malformed YAML: {context + ': ' if context else ''}{problem}"
        raise ConfigError([Problem(file, mark.line + 1 if mark else None, "", message)]) from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []
    seen: set[int] = set()  # an alias is walked where it was defined only

    def walk(node: yaml.Node, parts: tuple) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                    continue
                path, line = (*parts, key.value), key.start_mark.line + 1
                if path in lines:
                    message = f"duplicate key (also on line {lines[path]}); give each key once"
                    problems.append(Problem(file, line, format_path(path), message))
                else:
                    lines[path] = line
                walk(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*parts, index)] = item.start_mark.line + 1
                walk(item, (*parts, index))

    if root is not None:
        lines[()] = root.start_mark.line + 1
        walk(root, ())
    return data, lines, problems


# --------------------------------------------------------------------------- key paths

_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def split_path(text: str) -> list[str | int]:
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


def format_path(parts: Sequence) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _is_tag(part) -> bool:
    return isinstance(part, str) and part.startswith("<") and part.endswith(">")


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


def _keys(tp) -> list[str]:
    """The keys a mapping of type ``tp`` may have (of every member of a union)."""
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return list(dict.fromkeys(k for member in get_args(tp) for k in _keys(member)))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _child(tp, part):
    """The type at key or index ``part`` below ``tp``; KeyError(message) if none."""
    tp = _unwrap(tp)
    if tp is Any:
        return Any
    if get_origin(tp) in (Union, types.UnionType):
        members = {
            next((m.tag for m in getattr(a, "__metadata__", ()) if isinstance(m, Tag)), None): a
            for a in get_args(tp)
        }
        if part in members:  # a union's tag in a pydantic location
            return members[part]
        for member in members.values():
            try:
                return _child(member, part)
            except KeyError:
                continue
        allowed = _keys(tp)
        if allowed:
            raise KeyError(
                f"unknown key {part!r}{_did_you_mean(part, allowed)}; allowed keys: {', '.join(allowed)}"
            )
        raise KeyError(f"a single value has no key {part!r}")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if part not in tp.model_fields:
            allowed = list(tp.model_fields)
            raise KeyError(
                f"unknown key {part!r}{_did_you_mean(part, allowed)}; allowed keys: {', '.join(allowed)}"
            )
        return tp.model_fields[part].annotation
    if get_origin(tp) is dict:
        return get_args(tp)[1]
    if get_origin(tp) is list:
        if not isinstance(part, int):
            raise KeyError(f"expected a list index, got {part!r}")
        return get_args(tp)[0]
    raise KeyError(f"a single value has no key {part!r}")


def _check_path(parts: Sequence) -> str | None:
    """None if ``parts`` names a key of the schema, else what is wrong."""
    tp: Any = ExperimentConfig
    for depth, part in enumerate(parts):
        try:
            tp = _child(tp, part)
        except KeyError as error:
            return f"{error.args[0]} (in {format_path(parts[:depth]) or 'the top level'})"
    return None


def _did_you_mean(key, known) -> str:
    same_letters = [name for name in known if name.lower() == str(key).lower()]
    close = same_letters or difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# --------------------------------------------------------------------------- pydantic's errors as problems


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


def _weights_form_problem(value) -> tuple[list, str]:
    """What keeps a ``model.weights`` mapping from being exactly one form."""
    forms = " | ".join(
        "{"
        + ", ".join(k if form.model_fields[k].is_required() else f"{k}?" for k in form_keys(form))
        + "}"
        for form in WEIGHT_FORMS
    )
    expected = f"expected one form: {forms}; with any form: seed?, W_y?, b_y? (or readout_weight?, readout_bias?)"
    if not isinstance(value, dict):
        return [], f"expected a mapping naming one weight form, got {_describe(value)}"
    form_of = {key: form for form in WEIGHT_FORMS for key in form_keys(form)}
    known = [*form_of, *COMMON_WEIGHT_KEYS]
    for key in value:
        if key not in known:
            return [key], f"unknown key in the weights{_did_you_mean(key, known)}; {expected}"
    given = [(key, form_of[key]) for key in value if key in form_of]
    if not given:
        return [], f"no weights given; {expected}"
    first_key, first = given[0]
    key, other = next((k, f) for k, f in given if f is not first)
    return [
        key
    ], f"mixes the {other.form} with the {first.form} ({first_key}); give exactly one form"


def pydantic_problem(error: Mapping) -> tuple[list, str]:
    """``(path parts, message)`` for one pydantic error of an experiment file."""
    loc = list(error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    key_error = bool(loc) and loc[-1] == "[key]"
    parts = [p for p in loc if not _is_tag(p)][: -1 if key_error else None]
    got = _describe(value)
    if kind == "stochlstm":
        message = ctx["msg"]
        parts += [ctx["key"]] if ctx.get("key") else []
    elif kind == "input_kind":
        if isinstance(value, dict):
            parts.append("kind")
            found = value.get("kind")
            message = (
                f"missing; expected one of: {', '.join(INPUT_KINDS)}"
                if found is None
                else f"unknown input kind {found!r}; expected one of: {', '.join(INPUT_KINDS)}"
            )
        else:
            message = f"expected a mapping with a kind ({', '.join(INPUT_KINDS)}), got {got}"
    elif kind == "weights_form":
        more, message = _weights_form_problem(value)
        parts += more
    elif kind == "gate_rule":
        parts.append("rule")
        rule = value.get("rule")
        message = f"{'missing' if rule is None else f'unknown gate rule {rule!r}'}; expected one of: {', '.join(GATE_RULES)}"
    elif kind == "shape":
        message = f"{error['msg']}, got {got}{_number_hint(value)}"
    elif kind == "missing":
        message = "missing (required)"
    elif kind == "extra_forbidden":
        try:
            parent = ExperimentConfig
            for part in loc[:-1]:
                parent = _child(parent, part)
            allowed = _keys(parent)
        except KeyError:
            allowed = []
        hint = _did_you_mean(parts[-1], allowed)
        message = f"unknown key {parts[-1]!r}{hint}" + (
            f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        )
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
    if key_error and kind != "stochlstm":
        message = f"key: {message}"
    return parts, message


# --------------------------------------------------------------------------- validation of a whole tree

_FIELD_ADAPTERS: dict[tuple[type, str], TypeAdapter] = {}


def _valid_fields(cls: type[BaseModel], raw, context: dict) -> dict[str, Any]:
    """The fields of ``cls`` that are valid on their own in the mapping ``raw``
    (defaults for absent ones): what the checks across sections rely on, so
    that they run even where other keys of the same section are wrong."""
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


def _validate(raw, source: Source) -> tuple[ExperimentConfig | None, list[Problem]]:
    """The config of ``raw`` (a parsed file with overrides applied) and every problem."""
    if not isinstance(raw, dict):
        keys = ", ".join(ExperimentConfig.model_fields)
        what = "empty" if raw is None else f"{_describe(raw)}, not a mapping"
        return None, [
            source.problem((), f"the experiment file is {what}; expected the keys {keys}")
        ]
    context = {"base_dir": source.base_dir}
    problems = [source.problem(p, m) for p, m in _cross_checks(raw, context)]
    try:
        config = ExperimentConfig.model_validate(raw, context=context)
    except ValidationError as error:
        return None, [source.problem(*pydantic_problem(e)) for e in error.errors()] + problems
    if problems:
        return None, problems
    config._source = source
    return config, []


def _length_problem(parts, value, size: int, what: str) -> list[tuple[tuple, str]]:
    if isinstance(value, list) and len(value) != size:
        return [
            (
                parts,
                f"expected {size} {'value' if size == 1 else 'values'} ({what}), got {len(value)}",
            )
        ]
    return []


def _cross_checks(raw: dict, context: dict) -> list[tuple[tuple, str]]:
    """Checks that need several sections; each runs when the keys it reads are valid."""
    top = _valid_fields(ExperimentConfig, raw, context)
    model = _valid_fields(ModelSpec, raw.get("model"), context)
    record = _valid_fields(RecordSpec, raw.get("record", {}), context)
    state = _valid_fields(InitialState, raw.get("initial_state", {}), context)
    out: list[tuple[tuple, str]] = []
    input_size, hidden_size, output_size = (
        model.get(k) for k in ("input_size", "hidden_size", "output_size")
    )
    if hidden_size is not None:
        for name in ("h", "c"):
            out += _length_problem(
                ("initial_state", name), state.get(name), hidden_size, "model.hidden_size"
            )
        units = record.get("units")
        for index, unit in enumerate(units if isinstance(units, list) else ()):
            if unit >= hidden_size:
                message = f"unit {unit} does not exist: the units are 0..{hidden_size - 1}"
                out.append((("record", "units", index), message))
    if input_size is not None and "inputs" in top:
        out += _input_checks(top["inputs"], input_size)
    quantities = record.get("quantities")
    if output_size == 0 and isinstance(quantities, list) and "y" in quantities:
        out.append(
            (
                ("record", "quantities", quantities.index("y")),
                "y needs a readout: set model.output_size >= 1",
            )
        )
    if "seeds" in top and isinstance(record.get("seeds"), list):
        run_seeds = set(seed_list(top["seeds"]))
        for index, seed in enumerate(record["seeds"]):
            if seed not in run_seeds:
                out.append(
                    (("record", "seeds", index), f"seed {seed} is not one of the run's seeds")
                )
    for key in top.get("sweep") or {}:
        try:
            parts = split_path(key)
        except ValueError as error:
            out.append((("sweep", key), str(error)))
            continue
        wrong = "a sweep cannot sweep the sweep" if parts[0] == "sweep" else _check_path(parts)
        if wrong:
            out.append((("sweep", key), f"not a key of the experiment file: {wrong}"))
    return out


def _input_checks(spec, size: int) -> list[tuple[tuple, str]]:
    """The inputs' parameters against ``model.input_size``."""
    what, out = "model.input_size", []
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
        names = (
            ("mean", "sd")
            if spec.kind == "gaussian"
            else ("amplitude", "period", "phase", "offset")
        )
        for name in names:
            out += _length_problem(("inputs", name), getattr(spec, name), size, what)
    elif spec.kind == "epidemic" and size != 1:
        message = f"must be 1 for inputs of kind epidemic (one column of daily counts), got {size}"
        out.append((("model", "input_size"), message))
    elif spec.kind == "csv" and len(spec.columns) != size:
        out.append(
            (("inputs", "columns"), f"expected {size} columns ({what}), got {len(spec.columns)}")
        )
    return out


# --------------------------------------------------------------------------- overrides


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
        where = format_path(parts[:depth]) or "the file"
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


def _apply_overrides(data: dict, overrides: Sequence[str], source: Source) -> list[Problem]:
    problems = []
    for text in overrides:
        key, sep, value_text = str(text).partition("=")
        if not sep or not key.strip():
            problems.append(
                Problem(source.file, None, "", f"--set {text}: expected key.path=value")
            )
            continue
        path = key.strip()
        try:
            parts = split_path(key)
            path = format_path(parts)
            wrong = _check_path(parts)
            if wrong:
                raise ValueError(f"not a key of the experiment file: {wrong}")
            try:
                value = yaml.safe_load(value_text)
            except yaml.YAMLError as error:
                reason = getattr(error, "problem", None) or str(error)
                raise ValueError(f"malformed YAML value: {reason}") from None
            _set_path(data, parts, value)
        except ValueError as error:
            problems.append(Problem(source.file, None, path, f"--set {text}: {error}"))
            continue
        source.overrides[tuple(parts)] = text
    return problems


# --------------------------------------------------------------------------- sweeps


def sweep_columns(config: ExperimentConfig) -> dict[str, str]:
    """``{sweep path: column name}``: a column is named by the last component
    of its path, or by the whole path with ``.`` and ``[k]`` turned into ``_``
    when that name is taken by another swept path or by a column of the run's
    tables (``seed``, ...)."""
    paths = list(config.sweep or ())
    last = {p: str(split_path(p)[-1]) for p in paths}
    counts = {name: list(last.values()).count(name) for name in last.values()}
    return {
        p: last[p]
        if counts[last[p]] == 1 and last[p] not in RESERVED_COLUMNS and not last[p].isdigit()
        else re.sub(r"\W+", "_", p).strip("_")
        for p in paths
    }


def sweep_points(config: ExperimentConfig) -> list[tuple[dict[str, Any], ExperimentConfig]]:
    """The grid of ``sweep`` (cartesian product, first key slowest), as
    ``(columns, config)`` pairs: ``columns`` maps each swept parameter's column
    name (:func:`sweep_columns`) to its value, ``config`` is the experiment with
    the values applied (validated, without ``sweep``, with the base's baseline).
    No sweep: ``[({}, config)]``."""
    if not config.sweep:
        return [({}, config)]
    source = config._source or Source()
    if source.points is None:
        points, problems = _expand_sweep(config, source)
        if problems:
            raise ConfigError(problems)
        source.points = points
    return list(source.points)


def _expand_sweep(config: ExperimentConfig, source: Source):
    """Every sweep point of ``config``, validated; ``(points, problems)``."""
    base = config.model_dump(mode="json", exclude_none=True)
    base.pop("sweep")
    paths, columns = list(config.sweep), sweep_columns(config)
    points, problems, seen = [], [], set()
    for choice in itertools.product(*(range(len(config.sweep[p])) for p in paths)):
        raw, values, swept = copy.deepcopy(base), {}, {}
        try:
            for path, index in zip(paths, choice, strict=True):
                value = copy.deepcopy(config.sweep[path][index])
                _set_path(raw, split_path(path), value)
                values[columns[path]] = value
                swept[tuple(split_path(path))] = ("sweep", path, index)
        except ValueError as error:
            problem = source.problem(("sweep", path), f"cannot set {path}: {error}")
            if problem not in problems:
                problems.append(problem)
            continue
        point_source = dataclasses.replace(
            source,
            swept=swept,
            point=", ".join(f"{c}={v!r}" for c, v in values.items()),
            points=None,
        )
        point, found = _validate(raw, point_source)
        for problem in found:
            key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
            if key not in seen:
                seen.add(key)
                problems.append(problem)
        if point is not None:
            points.append((values, point))
    return points, problems


# --------------------------------------------------------------------------- entry points


def parse_experiment(
    text: str, *, file: str = "<string>", base_dir=".", overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """The experiment in YAML ``text`` (see :func:`load_experiment`); ``file``
    names it in problems and relative paths are resolved against ``base_dir``."""
    return _parse(text, Source(file=file, base_dir=Path(base_dir).resolve()), overrides)


def _parse(text: str, source: Source, overrides: Sequence[str]) -> ExperimentConfig:
    data, source.lines, problems = _read_yaml(text, source.file)
    source.text = text
    if isinstance(data, dict):
        problems += _apply_overrides(data, list(overrides), source)
    config, found = _validate(data, source)
    if problems or found:
        raise ConfigError(problems + found)
    sweep_points(config)  # every point is checked now
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
    source = Source(file=file, base_dir=path.parent.resolve(), origin=path.resolve())
    return _parse(text, source, overrides)
