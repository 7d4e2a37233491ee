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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import yaml_dialect
from .problems import (
    ConfigError,
    Problem,
    Source,
    check_path,
    format_path,
    split_path,
)
from .schema import ExperimentConfig
from .sweep import SweepPoints, sweep_columns, sweep_points
from .validation import set_path, validate_tree

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


# --------------------------------------------------------------------------- overrides


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
            set_path(data, parts, value)
        except ValueError as error:
            problems.append(Problem(source.file, None, path, f"--set {text}: {error}"))
            continue
        source.overrides[tuple(parts)] = text
    return problems


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
    config, found = validate_tree(data, source)
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
