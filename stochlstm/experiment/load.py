"""Reading an experiment file into its validated config
(:class:`~stochlstm.experiment.schema.ExperimentConfig`).

:func:`load_experiment` reports every problem of a file at once, each with the
file, the line of the offending key, its dotted path and what was expected::

    experiment.yaml:14: conditions.stochastic.gates: unknown gate rule 'bernouli'; expected ...

Beyond the schema it checks what needs several sections at once (lengths
against the model's sizes, recorded units and seeds, swept paths) and every
point of a sweep. The weights and inputs are built, and checked, once, by the
plan (:mod:`stochlstm.experiment.plan`), which reports through the config's
:class:`~stochlstm.experiment.problems.Source` in the same form.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ..core.names import RESERVED_COLUMNS
from . import yaml_dialect
from .fields import seed_list
from .problems import (
    ConfigError,
    Problem,
    Source,
    check_path,
    child_type,
    describe,
    format_path,
    pydantic_problem,
    split_path,
    unwrap,
)
from .schema import ExperimentConfig, InitialState, ModelSpec, RecordSpec

__all__ = ["ConfigError", "load_experiment", "parse_experiment", "sweep_columns", "sweep_points"]


def _read_yaml(text: str, file: str) -> tuple[Any, dict[tuple, int], list[Problem]]:
    """The data of ``text`` (read by :mod:`~stochlstm.experiment.yaml_dialect`),
    the line of every key and list item, and duplicate-key problems."""
    try:
        data, root = yaml_dialect.load_node(text)
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(error, file)]) from None
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


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _yaml_problem(error: yaml.YAMLError, file: str) -> Problem:
    """The problem of a YAML document that cannot be read, at its line; a
    refused document's at the key path of the offending value."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark else None
    problem = str(getattr(error, "problem", None) or error)
    if isinstance(error, yaml_dialect.RefusedError):
        path = _shortened(format_path(error.path), 80)
        return Problem(file, line, path or "yaml", problem)
    context = f"{error.context}: " if getattr(error, "context", None) else ""
    return Problem(file, line, "", _shortened(f"malformed YAML: {context}{problem}", 300))


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
        what = "empty" if raw is None else f"{describe(raw)}, not a mapping"
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
    model = _valid_fields(ModelSpec, raw.get("model"), context)
    record = _valid_fields(RecordSpec, raw.get("record", {}), context)
    state = _valid_fields(InitialState, raw.get("initial_state", {}), context)
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
        wrong = "a sweep cannot sweep the sweep" if parts[0] == "sweep" else check_path(parts)
        if wrong:
            out.append((("sweep", key), f"not a key of the experiment file: {wrong}"))
    return out


# --------------------------------------------------------------------------- overrides


def _schema_default(parts: Sequence):
    """The default of the mapping at ``parts`` as plain data (``{}`` if none), so
    that setting ``model.weights.seed`` in a file without ``model.weights``
    starts from the default weights, not from an empty mapping."""
    try:
        parent = unwrap(functools.reduce(child_type, parts[:-1], ExperimentConfig))
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
                size = f"a list of {len(node)}" if isinstance(node, list) else describe(node)
                raise ValueError(f"{where} is {size}, so it has no item [{part}]")
        elif not isinstance(node, dict):
            raise ValueError(f"{where} is {describe(node)}, not a mapping")
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
            wrong = check_path(parts)
            if wrong:
                raise ValueError(f"not a key of the experiment file: {wrong}")
            try:
                value = yaml_dialect.load_value(value_text)
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
