"""The points of a sweep: the grid of ``sweep`` (first key slowest), each point
the experiment with its values applied, validated one group of linked keys at
a time and made when asked for.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..core.names import RESERVED_COLUMNS
from .problems import (
    ConfigError,
    Problem,
    Source,
    pydantic_problem,
    split_path,
)
from .schema import ExperimentConfig
from .validation import set_path, validate_tree

__all__ = ["SweepPoints", "sweep_columns", "sweep_points"]

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
# ``cross_checks`` and ``ExperimentConfig``'s validators.
_LINKED_KEYS = (
    frozenset({"model", "initial_state", "record", "inputs", "targets", "seeds"}),
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
    """:func:`validate_tree` of a sweep point whose values differ from the (valid)
    base only under ``keys``: without the checks across sections when those
    read none of ``keys`` (they would find what they found in the base)."""
    if keys & _LINKED_KEYS[0]:
        return validate_tree(raw, source)
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
                    set_path(raw, split_path(path), value)
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


def _short(text: str, limit: int = 60) -> str:
    """``text`` for a message, cut short when long (a swept value may be a whole weights array)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
