"""Validating an experiment's tree: the schema's fields one section at a time,
then what needs several sections at once (lengths against the model's sizes,
recorded units and seeds, swept paths); and setting a value at a key path,
for ``--set`` and for sweep points.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ..core.names import LOSS_QUANTITIES
from .fields import seed_range
from .problems import (
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
from .targets import TargetError, readout_kind, target_encoding, target_width

__all__ = ["cross_checks", "schema_default", "set_path", "valid_fields", "validate_tree"]

# --------------------------------------------------------------------------- validation of a whole tree

_FIELD_ADAPTERS: dict[tuple[type, str], TypeAdapter] = {}


def valid_fields(cls: type[BaseModel], raw, context: dict) -> dict[str, Any]:
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


def validate_tree(raw, source: Source) -> tuple[ExperimentConfig | None, list[Problem]]:
    """The config of ``raw`` (a parsed file with overrides applied) and every problem."""
    if not isinstance(raw, dict):
        keys = ", ".join(ExperimentConfig.model_fields)
        what = "empty" if raw is None else f"{describe(raw)}, not a mapping"
        return None, [
            source.problem((), f"the experiment file is {what}; expected the keys {keys}")
        ]
    context = {"base_dir": source.base_dir}
    problems = [source.problem(p, m) for p, m in cross_checks(raw, context)]
    try:
        config = ExperimentConfig.model_validate(raw, context=context)
    except ValidationError as error:
        return None, [source.problem(*pydantic_problem(e)) for e in error.errors()] + problems
    config._source = source
    return (None, problems) if problems else (config, [])


def cross_checks(raw: dict, context: dict) -> list[tuple[tuple, str]]:
    """Checks that need several sections; each runs when the keys it reads are valid."""
    top = valid_fields(ExperimentConfig, raw, context)
    model = valid_fields(ModelSpec, raw.get("model"), context)
    record = valid_fields(RecordSpec, raw.get("record", {}), context)
    state = valid_fields(InitialState, raw.get("initial_state", {}), context)
    out = []
    if "inputs" not in raw and "train" not in raw:  # a train block's task gives the inputs
        out.append((("inputs",), "missing (required)"))

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
    out += _target_checks(raw, top, model, record)
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


def _normalize_lengths(parts: tuple, spec, n_columns: int) -> list[tuple[tuple, str]]:
    """``normalize: {mean, sd}`` lists of one number per column."""
    constants = getattr(spec, "normalize", None)
    out = []
    for name in ("mean", "sd"):
        value = getattr(constants, name, None)
        if isinstance(value, list) and len(value) != n_columns:
            message = f"expected {n_columns} values (one per column), got {len(value)}"
            out.append(((*parts, "normalize", name), message))
    return out


def _target_width(targets, inputs, input_size) -> tuple[int | None, str]:
    """How many target columns the block gives (None if unknown yet), and its key."""
    if targets.kind == "inputs":
        columns = targets.columns
        return (len(columns) if columns else input_size), "columns"
    if targets.kind == "csv":
        return len(targets.columns), "columns"
    if targets.kind == "sequence":
        first = targets.values[0]
        return (len(first) if isinstance(first, list) else 1), "values"
    if targets.kind == "task":  # a value (adding) or a class index (copy) per step
        return 1, "loss"
    return 1, "observe"


def _target_checks(raw: dict, top: dict, model: dict, record: dict) -> list[tuple[tuple, str]]:
    """The targets against the model's readout and the inputs; the loss
    quantities need targets; normalisation constants, one per column."""
    out, targets, inputs = [], top.get("targets"), top.get("inputs")
    if inputs is not None and inputs.kind == "csv":
        out += _normalize_lengths(("inputs",), inputs, len(inputs.columns))
    if targets is None:
        derived = record.get("derived")
        for index, name in enumerate(derived if isinstance(derived, list) else ()):
            if name in LOSS_QUANTITIES:
                message = f"{name} needs targets: add a targets block (targets: {{kind: ...}})"
                out.append((("record", "derived", index), message))
        return out
    if targets.kind == "csv":
        out += _normalize_lengths(("targets",), targets, len(targets.columns))
        if targets.file is None and inputs is not None and inputs.kind != "csv":
            message = f"missing: the inputs ({inputs.kind}) are not read from a file"
            out.append((("targets", "file"), message))
    if targets.kind == "epidemic" and inputs is not None and inputs.kind != "epidemic":
        message = f"epidemic targets observe the outbreak of epidemic inputs; the inputs are {inputs.kind}"
        out.append((("targets", "kind"), message))
    if targets.kind == "task" and inputs is not None and inputs.kind not in ("adding", "copy"):
        message = (
            f"task targets are the answers of adding or copy inputs; the inputs are {inputs.kind}"
        )
        out.append((("targets", "kind"), message))
    if targets.kind == "inputs" and inputs is not None:
        names = inputs.columns if inputs.kind == "csv" else []
        input_size = model.get("input_size")
        for index, column in enumerate(targets.columns or ()):
            if isinstance(column, str) and column not in names:
                known = f"the input columns are {', '.join(names)}" if names else "give indices"
                out.append((("targets", "columns", index), f"not an input column ({known})"))
            elif isinstance(column, int) and input_size is not None and column >= input_size:
                message = (
                    f"input column {column} does not exist: the columns are 0..{input_size - 1}"
                )
                out.append((("targets", "columns", index), message))
    output_size = model.get("output_size")
    if output_size is None:
        return out
    if output_size == 0:
        message = "targets need a readout to compare with: set model.output_size >= 1"
        return [*out, (("targets",), message)]
    readout = readout_kind(model.get("readout"))
    try:
        encoding = target_encoding(targets.loss, readout)
    except TargetError as error:
        return [*out, (("targets", error.field), error.detail)]
    expected = target_width(encoding, output_size)
    given, key = _target_width(targets, inputs, model.get("input_size"))
    if given is not None and given != expected:
        why = (
            "one class index per step (softmax readout)"
            if encoding == "classes"
            else f"one per output, model.output_size = {output_size}"
        )
        out.append((("targets", key), f"expected {expected} target column(s) ({why}), got {given}"))
    return out


def schema_default(parts: Sequence):
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


def set_path(data: dict, parts: Sequence, value) -> None:
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
                node[part] = schema_default(parts[: depth + 1])
            node = node[part]
