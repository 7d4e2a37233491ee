"""What is wrong with an experiment file, and where.

A :class:`Problem` names the file, the line and the dotted key path
(``conditions.stochastic.gates``, list items as ``[k]``); a :class:`Source`
remembers where a config's values came from (the file's lines, ``--set``, a
sweep point) to point each problem at its line; :func:`pydantic_problem` says
a pydantic error in the toolkit's words; and key paths are read against the
schema (:func:`check_path`), for ``--set``, sweeps and the allowed keys.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag

from ..core.gates import GATE_RULES
from . import forms
from .schema import ExperimentConfig
from .target_forms import TARGET_KINDS

__all__ = [
    "ConfigError",
    "Problem",
    "Source",
    "check_path",
    "format_path",
    "pydantic_problem",
    "split_path",
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


def unwrap(tp):
    """``tp`` without ``Annotated`` and ``Optional``."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def keys_of(tp) -> list[str]:
    """The keys a mapping of type ``tp`` may have (of every member of a union)."""
    tp = unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return list(dict.fromkeys(k for member in get_args(tp) for k in keys_of(member)))
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def child_type(tp, part):
    """The type at key or index ``part`` below ``tp``; KeyError(message) if none."""
    tp = unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        for member in get_args(tp):
            tags = [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
            if part in tags:  # a union's tag in a pydantic location
                return member
        for member in get_args(tp):
            try:
                return child_type(member, part)
            except KeyError:
                continue
    elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
        return tp.model_fields[part].annotation
    elif get_origin(tp) is dict:
        return get_args(tp)[1]
    elif get_origin(tp) is list and isinstance(part, int):
        return get_args(tp)[0]
    allowed = keys_of(tp)
    if allowed:
        raise KeyError(
            f"unknown key {part!r}{_did_you_mean(part, allowed)}; allowed keys: {', '.join(allowed)}"
        )
    raise KeyError(f"a single value has no key {part!r}")


def check_path(parts: Sequence) -> str | None:
    """None if ``parts`` names a key of the schema, else what is wrong."""
    tp: Any = ExperimentConfig
    for depth, part in enumerate(parts):
        try:
            tp = child_type(tp, part)
        except KeyError as error:
            return f"{error.args[0]} (in {format_path(parts[:depth]) or 'the top level'})"
    return None


def _did_you_mean(key, known) -> str:
    same_letters = [name for name in known if name.lower() == str(key).lower()]
    close = same_letters or difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# --------------------------------------------------------------------------- pydantic's errors as problems


def shown(text: str, limit: int = 40) -> str:
    """``repr(text)``, cut short for a message when it is long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def describe(value) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"the string {shown(value)}"
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
    if "_" in value:  # float("1_0") is 10, but a quoted 1_0 is meant as text
        return ""
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
        return [], f"expected a mapping naming one weight form, got {describe(value)}"

    def keys(form) -> str:
        given = forms.form_keys(form)
        return ", ".join(k if form.model_fields[k].is_required() else f"{k}?" for k in given)

    expected = (
        "expected one form: "
        + " | ".join(f"{{{keys(form)}}}" for form in forms.WEIGHT_FORMS)
        + "; with any form: seed?, W_y?, b_y? (or readout_weight?, readout_bias?)"
    )
    form_of = {key: form for form in forms.WEIGHT_FORMS for key in forms.form_keys(form)}
    known = [*form_of, *forms.COMMON_WEIGHT_KEYS]
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
        return [], f"expected a mapping with a {key} ({', '.join(known)}), got {describe(value)}"
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
    got = describe(value)
    more: list = []
    if kind == "stochlstm":
        more, message = [ctx["key"]] if ctx.get("key") else [], ctx["msg"]
    elif kind == "input_kind":
        more, message = _choice_problem(value, "input kind", "kind", forms.INPUT_KINDS)
    elif kind == "target_kind":
        more, message = _choice_problem(value, "target kind", "kind", TARGET_KINDS)
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
                parent = child_type(parent, part)
            allowed = keys_of(parent)
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
