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

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ..core.names import RESERVED_COLUMNS
from . import yaml_dialect
from .fields import seed_range
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

__all__ = [
    "ConfigError",
    "SweepPoints",
    "load_experiment",
    "parse_experiment",
    "sweep_columns",
    "sweep_points",
]


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
        run_seeds = seed_range(top["seeds"])
        run_seeds = set(run_seeds) if isinstance(run_seeds, list) else run_seeds
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


# Top-level keys whose values are checked together (the checks across sections,
# and the baseline's validator over the conditions): a sweep point is validated
# one group of linked keys at a time, so a grid of 1,000 temperatures x 100
# weight seeds validates 1,100 configs, not 100,000. Keep in step with
# ``_cross_checks`` and ``ExperimentConfig``'s validators.
_LINKED_KEYS = (
    frozenset({"model", "initial_state", "record", "inputs", "seeds"}),
    frozenset({"conditions", "baseline"}),
)


def _linked_keys(key: str) -> frozenset:
    return next((group for group in _LINKED_KEYS if key in group), frozenset({key}))


@dataclasses.dataclass(frozen=True)
class _SweepGroup:
    """Swept paths that must be validated together: ``positions`` are their
    places in ``sweep``; ``configs`` hold, for every combination of their values
    (a grid, first path slowest), the base config with them applied, or None
    where that combination is invalid."""

    positions: tuple[int, ...]
    keys: frozenset  # the top-level keys of the config the group sets
    configs: tuple[ExperimentConfig | None, ...]


class SweepPoints(Sequence):
    """The points of a sweep as a sequence of ``(columns, config)`` pairs,
    each made when asked for (see :func:`sweep_points`): the configs are
    composed from those of each group of linked keys, validated once per
    combination of that group's values."""

    def __init__(self, base: ExperimentConfig, groups: Sequence[_SweepGroup], source: Source):
        self.base, self.groups, self._source = base, tuple(groups), source
        self.paths = list(base.sweep)
        self.columns_of = sweep_columns(base)
        self.sizes = [len(base.sweep[p]) for p in self.paths]
        self._length = 1
        for size in self.sizes:
            self._length *= size

    def __len__(self) -> int:
        return self._length

    def value_indices(self, index: int) -> list[int]:
        """The index of each swept path's value at point ``index``."""
        if not 0 <= index < self._length:
            raise IndexError(f"sweep point {index} out of range ({self._length} points)")
        indices = []
        for size in reversed(self.sizes):
            index, rest = divmod(index, size)
            indices.append(rest)
        return indices[::-1]

    def combination(self, group: _SweepGroup, indices: Sequence[int]) -> int:
        """The index into ``group.configs`` of the values ``indices`` of every path."""
        combo = 0
        for position in group.positions:
            combo = combo * self.sizes[position] + indices[position]
        return combo

    def columns(self, index: int) -> dict[str, Any]:
        """``{column: value}`` of point ``index``."""
        indices = self.value_indices(index)
        return {
            self.columns_of[p]: self.base.sweep[p][i]
            for p, i in zip(self.paths, indices, strict=True)
        }

    def variants(self, keys: Sequence[str]) -> tuple[list[ExperimentConfig], np.ndarray]:
        """The distinct configs as far as the top-level ``keys`` go, and the
        index into them of every point: what the plan builds once per variant."""
        touching = [g for g in self.groups if g.keys & set(keys)]
        configs = [self.compose(chosen) for chosen in _grid(touching)]
        # point -> variant: the mixed radix of the touching groups' combinations
        points = np.arange(self._length)
        strides = np.cumprod([1, *self.sizes[:0:-1]])[::-1]
        value_index = [
            (points // stride) % size for stride, size in zip(strides, self.sizes, strict=True)
        ]
        of_point = np.zeros(self._length, dtype=np.int64)
        for group in touching:
            combo = np.zeros(self._length, dtype=np.int64)
            for position in group.positions:
                combo = combo * self.sizes[position] + value_index[position]
            of_point = of_point * len(group.configs) + combo
        return configs, of_point

    def compose(self, chosen: Sequence[tuple[_SweepGroup, int]], point: int | None = None):
        """The base config with the values of the chosen group combinations;
        its source labels the first point that has them (or ``point``)."""
        update: dict[str, Any] = {"sweep": None}
        indices = [0] * len(self.paths)
        for group, combo in chosen:
            config = group.configs[combo]
            update.update({key: getattr(config, key) for key in group.keys})
            for position, i in zip(
                group.positions, _unravel(combo, group, self.sizes), strict=True
            ):
                indices[position] = i
        if point is not None:
            indices = self.value_indices(point)
        config = self.base.model_copy(update=update)
        config._source = _point_source(self._source, self.base, indices)
        return config

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        indices = self.value_indices(index)
        chosen = [(g, self.combination(g, indices)) for g in self.groups]
        return self.columns(index), self.compose(chosen, index)


def _unravel(combo: int, group: _SweepGroup, sizes: Sequence[int]) -> list[int]:
    out = []
    for position in reversed(group.positions):
        combo, rest = divmod(combo, sizes[position])
        out.append(rest)
    return out[::-1]


def _grid(groups: Sequence[_SweepGroup]):
    """Every combination of the groups' combinations, as ``[(group, combo), ...]``."""
    for combos in itertools.product(*(range(len(g.configs)) for g in groups)):
        yield list(zip(groups, combos, strict=True))


def _point_source(source: Source, base: ExperimentConfig, indices: Sequence[int]) -> Source:
    """The source of a sweep point: its label, and the swept paths' lines."""
    columns = sweep_columns(base)
    values = {columns[p]: base.sweep[p][i] for p, i in zip(base.sweep, indices, strict=True)}
    swept = {
        tuple(split_path(p)): ("sweep", p, i) for p, i in zip(base.sweep, indices, strict=True)
    }
    return dataclasses.replace(
        source,
        swept=swept,
        point=", ".join(f"{c}={_short(repr(v))}" for c, v in values.items()),
        points=None,
    )


def sweep_points(config: ExperimentConfig) -> Sequence[tuple[dict[str, Any], ExperimentConfig]]:
    """The grid of ``sweep`` (cartesian product, first key slowest), as
    ``(columns, config)`` pairs: ``columns`` maps each swept parameter's column
    name (:func:`sweep_columns`) to its value, ``config`` is the experiment with
    the values applied (validated, without ``sweep``, with the base's baseline).
    A :class:`SweepPoints` makes each pair when asked for; every point is
    validated the first time the sweep is expanded. No sweep: ``[({}, config)]``."""
    if not config.sweep:
        return [({}, config)]
    source = config._source or Source()
    if source.points is None:
        points, problems = _expand_sweep(config, source)
        if problems:
            raise ConfigError(problems)
        source.points = points
    return source.points


def _sweep_groups(config: ExperimentConfig) -> list[tuple[list[int], frozenset]]:
    """The swept paths in groups that are validated together: paths under
    linked top-level keys (:data:`_LINKED_KEYS`) go together, and so do paths
    of which one contains the other."""
    groups: list[tuple[list[int], frozenset]] = []
    for position, path in enumerate(config.sweep):
        keys = _linked_keys(str(split_path(path)[0]))
        joined = [g for g in groups if g[1] & keys]
        positions = sorted([position, *(p for g in joined for p in g[0])])
        keys = keys.union(*(g[1] for g in joined))
        groups = [g for g in groups if g not in joined] + [(positions, keys)]
    return sorted(groups)


def _validate_group(raw: dict, source: Source, keys: frozenset):
    """:func:`_validate` of a sweep point whose values differ from the (valid)
    base only under ``keys``: without the checks across sections when those
    read none of ``keys`` (they would find what they found in the base)."""
    if keys & _LINKED_KEYS[0]:
        return _validate(raw, source)
    try:
        config = ExperimentConfig.model_validate(raw, context={"base_dir": source.base_dir})
    except ValidationError as error:
        return None, [source.problem(*pydantic_problem(e)) for e in error.errors()]
    config._source = source
    return config, []


def _expand_sweep(config: ExperimentConfig, source: Source):
    """Every sweep point of ``config``, validated, as :class:`SweepPoints`;
    ``(points, problems)``. Each group of linked swept paths is validated for
    every combination of its values, with the other paths at their first
    value (the base's other keys are valid already); a problem names the first
    point that has it."""
    base = config.model_dump(mode="json", exclude_none=True)
    base.pop("sweep")
    paths, sizes = list(config.sweep), [len(v) for v in config.sweep.values()]
    found: list[tuple[int, list[Problem]]] = []  # (first point, problems) per combination
    groups = []
    for positions, keys in _sweep_groups(config):
        configs = []
        for choice in itertools.product(*(range(sizes[p]) for p in positions)):
            indices = [0] * len(paths)
            for position, index in zip(positions, choice, strict=True):
                indices[position] = index
            first = 0
            for size, index in zip(sizes, indices, strict=True):
                first = first * size + index
            raw = copy.deepcopy(base)
            try:
                for position in positions:
                    path = paths[position]
                    value = copy.deepcopy(config.sweep[path][indices[position]])
                    _set_path(raw, split_path(path), value)
            except ValueError as error:
                problem = source.problem(("sweep", path), f"cannot set {path}: {error}")
                found.append((first, [problem]))
                configs.append(None)
                continue
            point, problems = _validate_group(raw, _point_source(source, config, indices), keys)
            found.append((first, problems))
            configs.append(point)
        groups.append(_SweepGroup(tuple(positions), keys, tuple(configs)))
    problems, seen = [], set()
    for _, point_problems in sorted(found, key=lambda item: item[0]):
        for problem in point_problems:
            key = (problem.path, problem.message.rsplit(" (at sweep point", 1)[0])
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return SweepPoints(config, groups, source), problems


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


def _short(text: str, limit: int = 60) -> str:
    """``text`` for a message, cut short when long (a swept value may be a whole weights array)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
