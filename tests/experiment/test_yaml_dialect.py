"""The YAML of experiment files: YAML 1.2 core numbers, PyYAML's safe loading
otherwise, and aliases expanded only up to a bound."""

import datetime
import math
import time

import pytest
import yaml

from stochlstm.experiment.yaml_dialect import (
    MAX_ALIASED_VALUES,
    MAX_DEPTH,
    Dumper,
    RefusedError,
    load_value,
)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """``a0: &a0 [1, ...]``, then each level a list of ``width`` aliases of the
    level before: the last stands for ``width ** levels`` numbers."""
    lines = [f"a0: &a0 [{', '.join(['1'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- numbers (YAML 1.2 core)


@pytest.mark.parametrize(
    "text,value",
    [
        ("1:20", "1:20"),  # YAML 1.1: 80 (base 60)
        ("-1:30:00", "-1:30:00"),
        ("1:30.5", "1:30.5"),  # YAML 1.1: the float 90.5
        ("012", 12),  # YAML 1.1: octal 10
        ("0o12", 10),
        ("0x1F", 31),
        ("0b101", "0b101"),  # not a YAML 1.2 core integer
        ("-7", -7),
        ("+7", 7),
        ("10_000", 10_000),  # grouped digits, as PyYAML reads them
        ("1e-3", 0.001),  # YAML 1.1: the string "1e-3"
        ("1E3", 1000.0),
        ("2.5e+2", 250.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.0e3", 1000.0),  # YAML 1.1: a string (its exponent needs a sign)
        ("e3", "e3"),
        ("1e", "1e"),
        ("1.2.3", "1.2.3"),
        ("'12'", "12"),
    ],
)
def test_numbers_follow_the_yaml_1_2_core_schema(text, value):
    read = load_value(f"x: {text}")["x"]
    assert read == value and type(read) is type(value)


def test_infinities_and_nan():
    read = load_value("[.inf, -.inf, +.Inf, .NaN]")
    assert read[:3] == [math.inf, -math.inf, math.inf] and math.isnan(read[3])


def test_the_rest_is_pyyaml_safe_loading():
    read = load_value("[yes, off, true, null, ~, 2024-01-31, abc]")
    assert read == [True, False, True, None, None, datetime.date(2024, 1, 31), "abc"]
    with pytest.raises(yaml.YAMLError):
        load_value("!!python/object:os.system x")


def test_integers_too_long_to_read_are_refused():
    with pytest.raises(yaml.YAMLError, match="an integer of 5000 digits is too long"):
        load_value("x: " + "9" * 5000)


@pytest.mark.parametrize(
    "value", ["1e3", "012", "1:20", "0o7", ".5", "10_000", "yes", "2024-01-31", 12, 0.001, 1e300]
)
def test_the_dumper_writes_what_the_loader_reads_back(value):
    assert load_value(yaml.dump({"x": value}, Dumper=Dumper)) == {"x": value}


# ---------------------------------------------------------------- aliases


def test_small_aliases_are_expanded_as_copies():
    read = load_value("a: &v [1, 2]\nb: *v\nc: {<<: &m {k: 1}, j: 2}\nd: *m\n")
    assert read == {"a": [1, 2], "b": [1, 2], "c": {"k": 1, "j": 2}, "d": {"k": 1}}
    read["a"].append(3)  # changing one place (as --set does) leaves the other
    assert read["b"] == [1, 2]


def test_an_alias_bomb_is_refused_at_its_alias_within_a_second():
    start = time.perf_counter()
    with pytest.raises(RefusedError) as error:
        load_value(alias_bomb())
    assert time.perf_counter() - start < 1.0
    # *a_k stands for 1 + 9 * (what *a_k-1 stands for) values, *a0 for 10: the
    # aliases of a1..a4 add 74,718 values, the first of a5 (line 6) 66,430 more
    assert error.value.problem_mark.line + 1 == 6 and error.value.path == ("a5", 0)
    assert f"stand for more than {MAX_ALIASED_VALUES:,} values" in error.value.problem


def count_numbers(value) -> int:
    return sum(map(count_numbers, value)) if isinstance(value, list) else 1


def test_aliases_up_to_the_bound_are_expanded():
    read = load_value(alias_bomb(levels=5))  # the aliases add 74,718 values
    assert count_numbers(read["a4"]) == 9**5


def test_an_alias_inside_its_own_anchor_is_refused():
    with pytest.raises(RefusedError, match=r"the alias \*a is inside its own anchor") as error:
        load_value("x:\n  y: &a [1, *a]\n")
    assert error.value.path == ("x", "y", 1) and error.value.problem_mark.line == 1


def test_deep_nesting_is_refused():
    with pytest.raises(RefusedError, match=f"nested more than {MAX_DEPTH} levels deep"):
        load_value("x: " + "[" * 150 + "]" * 150)
    assert load_value("x: " + "[" * 50 + "]" * 50)["x"] is not None
