"""The YAML an experiment file is read in: PyYAML's safe loading, with the
numbers of YAML 1.2's core schema and bounded aliases.

Numbers (YAML 1.2 core; PyYAML reads YAML 1.1):

- integers are decimal (``012`` is 12, not the octal 10), ``0o17`` octal,
  ``0x1F`` hexadecimal; there are no base-60 numbers, so ``1:20`` is the
  string ``"1:20"``, not 80;
- floats need no dot before an exponent (``1e-3`` is 0.001, not a string);
  ``.inf``, ``-.inf`` and ``.nan`` as in YAML 1.1;
- digits may be grouped with ``_`` (``10_000``), as PyYAML allows.

Everything else is PyYAML's safe loading (``yes``/``no``/``on``/``off`` are
booleans, ``2024-01-31`` a date, ``<<`` merges mappings).

Aliases (``*name``) are expanded, but a document whose aliases add more than
:data:`MAX_ALIASED_VALUES` values, an alias inside its own anchor, or nesting
deeper than :data:`MAX_DEPTH` levels is refused with a
:class:`yaml.YAMLError` at the offending alias or value, in well under a
second (a few nested anchors can otherwise stand for billions of values).
A value reached through an alias is a copy, so changing one place
(``--set``) never changes another.

:class:`Dumper` writes what :class:`Loader` reads back the same (it quotes the
strings ``"1e3"`` and ``"012"``, which PyYAML's own dumper leaves plain).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = [
    "MAX_ALIASED_VALUES",
    "MAX_DEPTH",
    "Dumper",
    "Loader",
    "RefusedError",
    "load_node",
    "load_value",
]

MAX_ALIASED_VALUES = 100_000  # values (scalars, lists, mappings) that aliases may add
MAX_DEPTH = 100  # lists and mappings inside each other

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_DIGITS = "[0-9][0-9_]*"
_INT_PATTERN = re.compile(rf"^(?:[-+]?{_DIGITS}|0o[0-7_]+|0x[0-9a-fA-F_]+)$")
_FLOAT_PATTERN = re.compile(
    rf"""^(?:[-+]?(?:\.{_DIGITS}|{_DIGITS}\.(?:[0-9_]*)?)(?:[eE][-+]?{_DIGITS})?
        |[-+]?{_DIGITS}[eE][-+]?{_DIGITS}
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_MAX_INT_DIGITS = 1000  # below Python's own limit on reading long integers


class RefusedError(yaml.MarkedYAMLError):
    """Well-formed YAML that is refused (aliases too large or recursive, nesting
    too deep); ``path`` holds the key path of the offending value."""

    def __init__(self, problem: str, mark, path: tuple):
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path


class Loader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` with YAML 1.2 core numbers and bounded aliases."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream):
        super().__init__(stream)
        self.aliased_values = 0  # values added by aliases so far
        self._sizes: dict[int, int] = {}  # id(node) -> values it stands for, once composed
        self._values = 0  # values composed so far, aliases expanded
        self._path: list = []  # key path of the node being composed

    def compose_node(self, parent, index):
        # index: the key node of a mapping's value, the position of a list's
        # item, None for a mapping's key and for the root
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self._path.append(part)
        node = self._compose_counted(parent, index)
        self._path.pop()
        return node

    def _refuse(self, message: str, mark) -> RefusedError:
        return RefusedError(message, mark, tuple(p for p in self._path if p is not None))

    def _compose_counted(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            name = _shown(event.anchor)
            size = self._sizes.get(id(node))
            if size is None:
                raise self._refuse(f"the alias *{name} is inside its own anchor", event.start_mark)
            self.aliased_values += size
            self._values += size
            if self.aliased_values > MAX_ALIASED_VALUES:
                message = (
                    f"the aliases up to *{name} stand for more than {MAX_ALIASED_VALUES:,} "
                    "values; write such data out, or in a file"
                )
                raise self._refuse(message, event.start_mark)
            return node
        if len(self._path) > MAX_DEPTH:
            raise self._refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        before = self._values
        node = super().compose_node(parent, index)
        self._values += 1
        self._sizes[id(node)] = self._values - before
        return node

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("-+")
        if len(digits) > _MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(digits)} digits is too long", node.start_mark
            )
        base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
        return sign * int(digits[2:] if base != 10 else digits, base)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node).replace("_", "").lower()
        if text.lstrip("-+") in (".inf", ".nan"):
            return float(text.replace(".", ""))
        return float(text)


Loader.add_implicit_resolver(_INT, _INT_PATTERN, list("-+0123456789"))
Loader.add_implicit_resolver(_FLOAT, _FLOAT_PATTERN, list("-+.0123456789"))
Loader.add_constructor(_INT, Loader.construct_yaml_int)
Loader.add_constructor(_FLOAT, Loader.construct_yaml_float)


class Dumper(yaml.SafeDumper):
    """:class:`yaml.SafeDumper` quoting every string that :class:`Loader`
    would read as another type."""

    yaml_implicit_resolvers = Loader.yaml_implicit_resolvers


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _unshared(value):
    """``value`` with every list and mapping a copy of its own (aliases share them)."""
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    return value


def load_node(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of the YAML document ``text`` and its root node (None if
    empty); raises :class:`yaml.YAMLError`."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return (_unshared(data) if loader.aliased_values else data), root


def load_value(text: str) -> Any:
    """The data of the YAML document ``text``; raises :class:`yaml.YAMLError`."""
    return load_node(text)[0]
