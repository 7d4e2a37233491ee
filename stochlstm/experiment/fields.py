"""The building blocks of the experiment file's schema: strict models, unions
chosen by the value (its YAML shape, or a key naming the member), bounded
numbers, unique lists, names, and file paths relative to the experiment file.

Union members are tagged ``<name>``: a tag in an error's location is not a
key (:func:`stochlstm.experiment.problems.pydantic_problem` drops them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError


def fail(message: str, key: str | None = None):
    """Raise a validation error whose message is exactly ``message``; ``key``
    names the field it is about, below the one being validated."""
    raise PydanticCustomError("stochlstm", "{msg}", {"msg": message, "key": key})


class Strict(BaseModel):
    """No unknown keys, no strings for numbers, no NaN; immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def union(members: dict[str, Any], choose: Callable, error: str, message: str = ""):
    """The union of ``members`` whose member is the one ``choose(value)`` names."""

    def tag(value):
        name = choose(value)
        return f"<{name}>" if name in members else None

    return Annotated[
        Union[tuple(Annotated[tp, Tag(f"<{name}>")] for name, tp in members.items())],  # noqa: UP007
        Discriminator(tag, custom_error_type=error, custom_error_message=message),
    ]


def key_of(name: str) -> Callable:
    """The value of key ``name`` of a mapping, or of the field of a model."""
    return lambda value: value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _shape(value) -> str | None:
    """The YAML shape of a value: number, string, list or mapping."""
    for shape, types in (
        ("boolean", bool),
        ("number", (int, float)),
        ("string", str),
        ("list", (list, tuple)),
        ("mapping", (dict, BaseModel)),
    ):
        if isinstance(value, types):
            return shape
    return None


def one_of(expected: str, **members):
    """A union chosen by the YAML shape of the value, so an error speaks of that shape only."""
    return union(members, _shape, "shape", expected)


def _unique(values):
    if isinstance(values, list):
        counts = Counter(str(v) for v in values)
        repeated = sorted(v for v, n in counts.items() if n > 1)
        if repeated:
            more = f" and {len(repeated) - 5:,} more" if len(repeated) > 5 else ""
            fail(f"listed more than once: {', '.join(repeated[:5])}{more}")
    return values


def named(pattern: str, message: str):
    """A name matching ``pattern`` that pandas does not read back as a missing
    value, a number or a boolean."""

    def check(name: str) -> str:
        reserved = {"na", "nan", "null", "none", "inf", "infinity", "true", "false"}
        if not re.fullmatch(pattern, name) or name.lower() in reserved:
            fail(message.format(name=name if len(name) <= 40 else f"{name[:40]}..."))
        return name

    return AfterValidator(check)


def _resolve_file(value: str, info: ValidationInfo) -> str:
    """A path relative to the experiment file's folder, made absolute."""
    base_dir = (info.context or {}).get("base_dir")
    return value if base_dir is None else str((Path(base_dir) / Path(value).expanduser()).resolve())


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
FilePath = Annotated[str, Field(min_length=1), AfterValidator(_resolve_file)]
Matrix = list[list[float]]
Vector = list[float]
UniqueList = AfterValidator(_unique)


def numbers(**bounds):
    number = Annotated[float, Field(**bounds)]
    return one_of(
        "expected a number or a list of numbers, one per input column",
        number=number,
        list=Annotated[list[number], Field(min_length=1)],
    )


# The run's seeds are spawn keys of numpy's SeedSequence (any size), drawn
# for whole batches from uint64 arrays (stochlstm.core.randomness.seed_states)
# and written to, and read back from, the int64 seed column of the tables: a
# seed is below 2**63.
SEED_LIMIT = 2**63


_SEED_LIMIT_TEXT = f"below 2**63 = {SEED_LIMIT} (the tables store 64-bit integers)"


def _number_shown(value: int) -> str:
    """``value``, or how many digits it has when it has more than 30."""
    digits = len(str(abs(value)))
    return str(value) if digits <= 30 else f"an integer of {digits} digits"


def _seed_below_limit(seed: int) -> int:
    if seed >= SEED_LIMIT:
        fail(f"a seed must be {_SEED_LIMIT_TEXT}, got {_number_shown(seed)}")
    return seed


def _count_below_limit(count: int) -> int:
    if count > SEED_LIMIT:
        fail(
            f"expected at most 2**63 seeds, as a seed must be {_SEED_LIMIT_TEXT}; "
            f"got {_number_shown(count)}"
        )
    return count


Seed = Annotated[int, Field(ge=0), AfterValidator(_seed_below_limit)]
SeedCount = Annotated[int, Field(ge=1), AfterValidator(_count_below_limit)]


class SeedRange(Strict):
    """``count`` consecutive seeds from ``start``, each below :data:`SEED_LIMIT`."""

    start: Seed = 0
    count: SeedCount

    @model_validator(mode="after")
    def _last_seed_below_limit(self):
        if self.start + self.count > SEED_LIMIT:
            fail(
                f"the last seed, start + count - 1 = {_number_shown(self.start + self.count - 1)}, "
                f"must be {_SEED_LIMIT_TEXT}",
                key="count",
            )
        return self


def seed_list(seeds: int | list[int] | SeedRange) -> list[int]:
    """The seeds a ``seeds`` entry names, in order."""
    return list(seed_range(seeds))


def seed_range(seeds: int | list[int] | SeedRange) -> Sequence[int]:
    """The seeds a ``seeds`` entry names, without building a list of a range."""
    if isinstance(seeds, SeedRange):
        return range(seeds.start, seeds.start + seeds.count)
    return seeds if isinstance(seeds, list) else range(seeds)


def stop_after_start(stop: int | None, info: ValidationInfo) -> int | None:
    """A ``stop`` field's check, beside a ``start`` field (rows of a file, steps):
    ``field_validator("stop")(stop_after_start)``."""
    start = info.data.get("start")
    if stop is not None and start is not None and stop <= start:
        fail(f"must be greater than start ({start}), got {stop}")
    return stop


def infected_at_most_population(infected: int, info: ValidationInfo) -> int:
    """An outbreak's ``infected`` field's check, beside its ``population``."""
    population = info.data.get("population")
    if population is not None and infected > population:
        fail(f"must be at most the population ({population}), got {infected}")
    return infected
