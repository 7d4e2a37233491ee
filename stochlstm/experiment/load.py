"""Reading an experiment file into its validated config
(:class:`~stochlstm.experiment.schema.ExperimentConfig`).

:func:`load_experiment` reports every problem of a file at once, each with the
file, the line of the offending key, its dotted path and what was expected::

    experiment.yaml:14: conditions.stochastic.gates: unknown gate rule 'bernouli'; expected ...

Beyond the schema it checks what needs several sections at once (lengths
against the model's sizes, recorded units and seeds, swept paths) and every
point of a sweep. The weights and inputs are built, and checked, once, by the
plan (:mod:`stochlstm.experiment.plan`), which reports through the config's
:class:`Source` in the same form.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
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
from . import schema
from .schema import ExperimentConfig, seed_list

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
    """One thing wrong with an experiment file: ``line`` is 1-based, or None
    where no line applies (a ``--set`` override); ``path`` is the dotted key
    path (``conditions.stochastic.gates``, list items as ``[k]``)."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """An invalid experiment file; ``problems`` lists every problem found, by
    line; ``str(error)`` shows one per line."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        super().__init__("\n".join(map(str, self.problems)))


@dataclass
class Source:
    """Where a config's values came from, to point each problem at its line:
    ``lines`` maps the file's key paths to their lines, ``overrides`` the paths
    set by ``--set`` to their text, ``swept`` the paths a sweep point set to
    the path of the value in ``sweep``; ``point`` labels that point."""

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
        message += f" (at sweep point {self.point})" if self.point else ""
        for prefix, text in self.overrides.items():
            if origin[: len(prefix)] == prefix:
                return Problem(
                    self.file, None, format_path(parts), f"{message} (from --set {text})"
                )
        depth = next(d for d in range(len(origin), -1, -1) if origin[:d] in self.lines or d == 0)
        return Problem(self.file, self.lines.get(origin[:depth]), format_path(parts), message)


def _read_yaml(text: str, file: str) -> tuple[Any, dict[tuple, int], list[Problem]]:
    """``yaml.safe_load(text)``, the line of every key and list item, and
    duplicate-key problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        context = f"{error.context}: " if getattr(error, "context", None) else ""
        message = f"malformed YAML: {context}{getattr(error, 'problem', None) or error}"
        raise ConfigError([Problem(file, mark.line + 1 if mark else None, "", message)]) from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {} if root is None else {(): root.start_mark.line + 1}
    problems: list[Problem] = []
    seen: set[int] = set()  # an alias is walked where it was defined only

    def walk(node: yaml.Node, parts: tuple) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*parts, index)] = item.start_mark.line + 1
                walk(item, (*parts, index))
        first: dict[str, int] = {}  # the line of each key of this mapping
        for key, value in node.value if isinstance(node, yaml.MappingNode) else ():
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                continue
            path, line = (*parts, key.value), key.start_mark.line + 1
            if key.value in first:
                message = f"duplicate key (also on line {first[key.value]}); give each key once"
                problems.append(Problem(file, line, format_path(path), message))
            first.setdefault(key.value, line)
            lines[path] = line  # as in YAML, a later key wins
            walk(value, path)

    if root is not None:
        walk(root, ())
    return data, lines, problems


# --------------------------------------------------------------------------- key paths


def split_path(text: str) -> list[str | int]:
    """``a.b[2].c`` or ``a.b.2.c`` -> ``["a", "b", 2, "c"]``; ``sweep.<path>``
    keeps the swept path whole. Raises ValueError on a malformed path."""
    text = text.strip()
    if text.startswith("sweep.") and len(text) > len("sweep."):
        return ["sweep", text[len("sweep.") :]]
    parts: list[str | int] = []
    for piece in text.split("."):
        match = re.fullmatch(r"([^.\[\]]+)((?:\[\d+\])*)", piece)
        if not match:
            raise ValueError(f"malformed key path {text!r}")
        parts.append(int(match[1]) if match[1].isdigit() else match[1])
        parts += [int(i) for i in re.findall(r"\d+", match[2])]
    return parts


def format_path(parts: Sequence) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _unwrap(tp):
    """``tp`` without ``Annotated`` and ``Optional``."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _keys(tp) -> list[str]:
    """The keys a mapping of type ``tp`` may have (of every member of a union)."""
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return list(dict.fromkeys(k for member in get_args(tp) for k in _keys(member)))
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _child(tp, part):
    """The type at key or index ``part`` below ``tp``; KeyError(message) if none."""
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        for member in get_args(tp):
            tags = [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
            if part in tags:  # a union's tag in a pydantic location
                return member
        for member in get_args(tp):
            try:
                return _child(member, part)
            except KeyError:
                continue
    elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
        return tp.model_fields[part].annotation
    elif get_origin(tp) is dict:
        return get_args(tp)[1]
    elif get_origin(tp) is list and isinstance(part, int):
        return get_args(tp)[0]
    allowed = _keys(tp)
    if allowed:
        raise KeyError(
            f"unknown key {part!r}{_did_you_mean(part, allowed)}; allowed keys: {', '.join(allowed)}"
        )
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
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    kinds = {type(None): "nothing (null)", list: "a list", tuple: "a list", dict: "a mapping"}
    return kinds.get(
        type(value), "a mapping" if isinstance(value, BaseModel) else type(value).__name__
    )


def _number_hint(value) -> str:
    """What to do about a number written as a string."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if re.fullmatch(r"\s*[-+]?\d+[eE][-+]?\d+\s*", value):
        return f" (YAML reads {value} as a string: write it with a dot, e.g. 1.0e-3)"
    return " (write numbers without quotes)"


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
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def _weights_form_problem(value) -> tuple[list, str]:
    """What keeps a ``model.weights`` block from being exactly one form."""
    if not isinstance(value, dict):
        return [], f"expected a mapping naming one weight form, got {_describe(value)}"
    forms = " | ".join(
        "{"
        + ", ".join(
            k if form.model_fields[k].is_required() else f"{k}?" for k in schema.form_keys(form)
        )
        + "}"
        for form in schema.WEIGHT_FORMS
    )
    expected = f"expected one form: {forms}; with any form: seed?, W_y?, b_y? (or readout_weight?, readout_bias?)"
    form_of = {key: form for form in schema.WEIGHT_FORMS for key in schema.form_keys(form)}
    known = [*form_of, *schema.COMMON_WEIGHT_KEYS]
    for key in value:
        if key not in known:
            return [key], f"unknown key in the weights{_did_you_mean(key, known)}; {expected}"
    given = [(key, form_of[key]) for key in value if key in form_of]
    if not given:
        return [], f"no weights given; {expected}"
    key, other = next((k, f) for k, f in given if f is not given[0][1])
    return [
        key
    ], f"mixes the {other.form} with the {given[0][1].form} ({given[0][0]}); give exactly one form"


def _choice_problem(value, kind: str, key: str, known) -> tuple[list, str]:
    """A mapping whose ``key`` names no member of a union (an input kind, a gate rule)."""
    if not isinstance(value, dict):
        return [], f"expected a mapping with a {key} ({', '.join(known)}), got {_describe(value)}"
    found = value.get(key)
    what = "missing" if found is None else f"unknown {kind} {found!r}"
    return [key], f"{what}; expected one of: {', '.join(known)}"


def pydantic_problem(error: Mapping) -> tuple[list, str]:
    """``(path parts, message)`` for one pydantic error of an experiment file."""
    loc, kind, value = list(error["loc"]), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    key_error = bool(loc) and loc[-1] == "[key]"
    is_tag = [isinstance(p, str) and p.startswith("<") and p.endswith(">") for p in loc]
    parts = [p for p, tag in zip(loc, is_tag, strict=True) if not tag][: -1 if key_error else None]
    got = _describe(value)
    more: list = []
    if kind == "stochlstm":
        more, message = [ctx["key"]] if ctx.get("key") else [], ctx["msg"]
    elif kind == "input_kind":
        more, message = _choice_problem(value, "input kind", "kind", schema.INPUT_KINDS)
    elif kind == "gate_rule":
        more, message = _choice_problem(value, "gate rule", "rule", GATE_RULES)
    elif kind == "weights_form":
        more, message = _weights_form_problem(value)
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
        message = f"unknown key {parts[-1]!r}{_did_you_mean(parts[-1], allowed)}"
        message += f"; allowed keys: {', '.join(allowed)}" if allowed else ""
    elif kind == "invalid_key":
        message = (
            f"keys must be strings, got {got} (quote it; YAML reads yes/no/on/off as booleans)"
        )
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {got}{_number_hint(value)}"
    elif kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        message = f"must be {_BOUNDS[kind]} {bound}, got {value!r}"
    elif kind == "literal_error":
        message = f"expected {ctx['expected']}, got {got}"
    elif kind in ("too_short", "too_long"):
        least = "at least" if kind == "too_short" else "at most"
        limit = ctx["min_length" if kind == "too_short" else "max_length"]
        message = f"expected {least} {limit} item(s), got {ctx['actual_length']}"
    elif kind == "finite_number":
        message = f"expected a finite number, got {value!r}"
    else:
        message = f"{error['msg']} (got {got})"
    return parts + more, f"key: {message}" if key_error and kind != "stochlstm" else message


# --------------------------------------------------------------------------- validation of a whole tree

_FIELD_ADAPTERS: dict[tuple[type, str], TypeAdapter] = {}


def _valid_fields(cls: type[BaseModel], raw, context: dict) -> dict[str, Any]:
    """The fields of ``cls`` that are valid on their own in the mapping ``raw``
    (defaults for absent ones): what the checks across sections rely on, so
    that they run even where other keys of the same section are wrong."""
    valid = {}
    for name, info in cls.model_fields.items() if isinstance(raw, dict) else ():
        if name not in raw:
            if not info.is_required():
                valid[name] = info.get_default(call_default_factory=True)
            continue
        if (cls, name) not in _FIELD_ADAPTERS:
            is_model = isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
            config = None if is_model else ConfigDict(strict=True, allow_inf_nan=False)
            _FIELD_ADAPTERS[cls, name] = TypeAdapter(
                Annotated[info.annotation, info], config=config
            )
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
    config._source = source
    return (None, problems) if problems else (config, [])


def _cross_checks(raw: dict, context: dict) -> list[tuple[tuple, str]]:
    """Checks that need several sections; each runs when the keys it reads are valid."""
    top = _valid_fields(ExperimentConfig, raw, context)
    model = _valid_fields(schema.ModelSpec, raw.get("model"), context)
    record = _valid_fields(schema.RecordSpec, raw.get("record", {}), context)
    state = _valid_fields(schema.InitialState, raw.get("initial_state", {}), context)
    out = []

    def lengths(parts, value, size, what):
        if isinstance(value, list) and len(value) != size:
            values = "value" if size == 1 else "values"
            out.append((parts, f"expected {size} {values} ({what}), got {len(value)}"))

    hidden_size = model.get("hidden_size")
    if hidden_size is not None:
        for name in ("h", "c"):
            lengths(("initial_state", name), state.get(name), hidden_size, "model.hidden_size")
        units = record.get("units")
        for index, unit in enumerate(units if isinstance(units, list) else ()):
            if unit >= hidden_size:
                message = f"unit {unit} does not exist: the units are 0..{hidden_size - 1}"
                out.append((("record", "units", index), message))
    size, inputs, what = model.get("input_size"), top.get("inputs"), "model.input_size"
    if size is not None and inputs is not None:
        names = {
            "constant": ("value",),
            "gaussian": ("mean", "sd"),
            "sine": ("amplitude", "period", "phase", "offset"),
        }
        for name in names.get(inputs.kind, ()):
            lengths(("inputs", name), getattr(inputs, name), size, what)
        before = len(out)
        for t, row in enumerate(inputs.values if inputs.kind == "sequence" else ()):
            lengths(("inputs", "values", t), row if isinstance(row, list) else [row], size, what)
        if len(out) > before + 3:  # three rows of the wrong length, then how many more
            more = f"{len(out) - before - 3} more rows of the wrong length"
            out[before + 3 :] = [(("inputs", "values"), more)]
        if inputs.kind == "epidemic" and size != 1:
            message = (
                f"must be 1 for inputs of kind epidemic (one column of daily counts), got {size}"
            )
            out.append((("model", "input_size"), message))
        if inputs.kind == "csv" and len(inputs.columns) != size:
            message = f"expected {size} columns ({what}), got {len(inputs.columns)}"
            out.append((("inputs", "columns"), message))
    quantities = record.get("quantities")
    if model.get("output_size") == 0 and isinstance(quantities, list) and "y" in quantities:
        message = "y needs a readout: set model.output_size >= 1"
        out.append((("record", "quantities", quantities.index("y")), message))
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


# --------------------------------------------------------------------------- overrides


def _schema_default(parts: Sequence):
    """The default of the mapping at ``parts`` as plain data (``{}`` if none), so
    that setting ``model.weights.seed`` in a file without ``model.weights``
    starts from the default weights, not from an empty mapping."""
    try:
        parent = _unwrap(functools.reduce(_child, parts[:-1], ExperimentConfig))
        default = parent.model_fields[parts[-1]].get_default(call_default_factory=True)
    except (KeyError, AttributeError):
        return {}
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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        message = {
            FileNotFoundError: "experiment file not found",
            IsADirectoryError: "is a directory, not an experiment file",
        }.get(type(error), f"cannot read the file: {error}")
        raise ConfigError([Problem(str(path), None, "", message)]) from None
    source = Source(file=str(path), base_dir=path.parent.resolve(), origin=path.resolve())
    return _parse(text, source, overrides)
