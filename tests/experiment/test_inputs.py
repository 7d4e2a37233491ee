"""Input generators: closed forms, the seeding contract, the SIR model's
invariants and limits, and CSV reading."""

import math
import time

import numpy as np
import pytest

from stochlstm.experiment.inputs import (
    InputError,
    constant,
    from_csv,
    gaussian,
    input_generator,
    make_inputs,
    sequence,
    simulate_sir,
    sine,
    sir_epidemic,
)


def reference_generator(*entropy, spawn_key=()):
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(*entropy, spawn_key=spawn_key))
    )


# ---------------------------------------------------------------- constant, sequence


def test_constant_repeats_the_value_at_every_step():
    x = constant([1, 2, 3], steps=4)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [[1, 2, 3]] * 4)


def test_constant_number_fills_every_column():
    np.testing.assert_array_equal(constant(0.5, steps=2, input_size=3), [[0.5] * 3] * 2)


def test_constant_wrong_length_names_the_value():
    with pytest.raises(InputError) as error:
        constant([1, 2], steps=3, input_size=3)
    assert error.value.field == "value"


@pytest.mark.parametrize("steps", [0, -5, 2.5])
def test_steps_must_be_a_positive_integer(steps):
    with pytest.raises(InputError, match="steps"):
        constant([1.0], steps=steps)


def test_sequence_is_the_given_rows():
    np.testing.assert_array_equal(sequence([[1, 2], [3, 4], [5, 6]]), [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(sequence([1, 2, 3]), [[1], [2], [3]])  # one column


def test_sequence_rows_of_different_lengths_are_an_error():
    with pytest.raises(InputError, match="same number of columns"):
        sequence([[1, 2], [3]])


# ---------------------------------------------------------------- sine


def test_sine_values_at_quarter_periods():
    x = sine(9, 1, period=4)  # sin(pi t / 2): 0, 1, 0, -1, 0, ...
    np.testing.assert_allclose(x[:, 0], [0, 1, 0, -1, 0, 1, 0, -1, 0], atol=1e-12)


def test_sine_amplitude_offset_and_per_column_phase():
    x = sine(5, 2, period=4, amplitude=2.0, offset=1.0, phase=[0.0, math.pi / 2])
    np.testing.assert_allclose(x[:, 0], 1 + 2 * np.array([0, 1, 0, -1, 0]), atol=1e-12)
    np.testing.assert_allclose(x[:, 1], 1 + 2 * np.array([1, 0, -1, 0, 1]), atol=1e-12)  # cosine


def test_sine_period_must_be_positive():
    with pytest.raises(InputError, match="period"):
        sine(5, 1, period=0)


# ---------------------------------------------------------------- gaussian


def test_gaussian_is_mean_plus_sd_times_the_seeded_standard_normals():
    x = gaussian(10, 2, mean=[1.0, -2.0], sd=[0.5, 3.0], seed=42)
    z = reference_generator(42).standard_normal((10, 2))
    np.testing.assert_array_equal(x, np.array([1.0, -2.0]) + np.array([0.5, 3.0]) * z)


def test_gaussian_moments():
    # n = 40,000 draws per column; each check allows 5 standard errors, a
    # false-alarm rate below 1e-6 per check (and the seed is fixed).
    n = 40_000
    mean, sd = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    x = gaussian(n, 2, mean=mean, sd=sd, seed=7)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 5 * sd / math.sqrt(n))
    assert np.all(np.abs(x.std(axis=0, ddof=1) - sd) < 5 * sd / math.sqrt(2 * (n - 1)))


def test_gaussian_reproducible_and_seed_dependent():
    np.testing.assert_array_equal(gaussian(50, 3, seed=1), gaussian(50, 3, seed=1))
    assert not np.allclose(gaussian(50, 3, seed=1), gaussian(50, 3, seed=2))


def test_per_seed_gaussian_of_seed_7_does_not_depend_on_the_other_seeds():
    alone = gaussian(30, 2, seed=5, run_seeds=[7])
    among = gaussian(30, 2, seed=5, run_seeds=[3, 7, 10_000])
    assert alone.shape == (30, 1, 2) and among.shape == (30, 3, 2)
    np.testing.assert_array_equal(alone[:, 0], among[:, 1])
    np.testing.assert_array_equal(
        alone[:, 0], reference_generator(5, spawn_key=(7,)).standard_normal((30, 2))
    )
    assert not np.allclose(among[:, 0], among[:, 1])


def test_input_generator_is_the_documented_bit_generator():
    assert input_generator(3).random() == reference_generator(3).random()
    assert input_generator(3, 9).random() == reference_generator(3, spawn_key=(9,)).random()


# ---------------------------------------------------------------- SIR


def sir(steps=100, seed=0, **params):
    params = {"population": 1000, "infected": 10, "beta": 0.4, "gamma": 0.1, **params}
    return simulate_sir(steps, generator=input_generator(seed), **params)


def test_sir_conserves_the_population():
    path = sir()
    np.testing.assert_array_equal(path.susceptible + path.infected + path.recovered, 1000)
    # the transitions account for the compartments day by day
    np.testing.assert_array_equal(np.diff(path.susceptible), -path.new_cases[1:])
    np.testing.assert_array_equal(np.diff(path.recovered), path.new_recoveries[1:])
    assert path.new_cases.sum() == 990 - path.susceptible[-1]


def test_sir_reproducible_by_seed():
    a, b, c = sir(seed=4), sir(seed=4), sir(seed=5)
    np.testing.assert_array_equal(a.new_cases, b.new_cases)
    assert not np.array_equal(a.new_cases, c.new_cases)


def test_sir_without_transmission_has_no_new_cases():
    path = sir(beta=0.0)
    np.testing.assert_array_equal(path.new_cases, 0)
    np.testing.assert_array_equal(path.susceptible, 990)
    assert np.all(np.diff(path.infected) <= 0)


def test_sir_without_recovery_only_grows():
    path = sir(gamma=0.0)
    np.testing.assert_array_equal(path.recovered, 0)
    assert np.all(np.diff(path.infected) >= 0)


def test_sir_without_infected_stays_healthy():
    path = sir(infected=0)
    np.testing.assert_array_equal(path.new_cases, 0)
    np.testing.assert_array_equal(path.susceptible, 1000)


def test_sir_large_population_follows_the_deterministic_recursion():
    # The binomials' means give the deterministic chain; with N = 10^7 the
    # fractions stay within 0.01 of it (the noise shrinks like 1/sqrt(N)).
    n, beta, gamma, steps = 10**7, 0.4, 0.1, 120
    path = sir(steps, population=n, infected=10**4, beta=beta, gamma=gamma)
    s, i, expected_s, expected_i = 1 - 1e-3, 1e-3, [], []
    for _ in range(steps):
        new_cases, recoveries = s * -math.expm1(-beta * i), i * -math.expm1(-gamma)
        s, i = s - new_cases, i + new_cases - recoveries
        expected_s.append(s)
        expected_i.append(i)
    np.testing.assert_allclose(path.susceptible / n, expected_s, atol=0.01)
    np.testing.assert_allclose(path.infected / n, expected_i, atol=0.01)
    assert max(expected_i) > 0.3  # a real outbreak, not a trivial comparison


def test_sir_epidemic_normalisations():
    path = sir(seed=3)
    params = {"population": 1000, "infected": 10, "beta": 0.4, "gamma": 0.1, "seed": 3}
    by_population = sir_epidemic(100, **params)
    assert by_population.shape == (100, 1)
    np.testing.assert_array_equal(by_population[:, 0], path.new_cases / 1000)
    np.testing.assert_array_equal(sir_epidemic(100, **params, scale="none")[:, 0], path.new_cases)
    np.testing.assert_array_equal(sir_epidemic(100, **params, scale=50)[:, 0], path.new_cases / 50)
    by_max = sir_epidemic(100, **params, scale="max")[:, 0]
    assert by_max.max() == 1.0
    np.testing.assert_allclose(by_max, path.new_cases / path.new_cases.max())
    infected = sir_epidemic(100, **params, observe="infected")[:, 0]
    np.testing.assert_array_equal(infected, path.infected / 1000)


def test_sir_epidemic_per_seed_is_independent_of_the_other_seeds():
    params = {"population": 500, "infected": 5, "beta": 0.5, "gamma": 0.2, "seed": 1}
    alone = sir_epidemic(60, **params, run_seeds=[7])
    among = sir_epidemic(60, **params, run_seeds=[0, 7, 99])
    np.testing.assert_array_equal(alone[:, 0], among[:, 1])
    expected = simulate_sir(
        60,
        population=500,
        infected=5,
        beta=0.5,
        gamma=0.2,
        generator=reference_generator(1, spawn_key=(7,)),
    )
    np.testing.assert_array_equal(alone[:, 0, 0], expected.new_cases / 500)


@pytest.mark.parametrize(
    "params,field",
    [({"population": 0}, "population"), ({"infected": 2000}, "infected"), ({"beta": -1.0}, "beta")],
)
def test_sir_rejects_bad_parameters(params, field):
    with pytest.raises(InputError) as error:
        sir(**params)
    assert error.value.field == field


# ---------------------------------------------------------------- CSV


@pytest.fixture
def cases_csv(tmp_path):
    (tmp_path / "cases.csv").write_text(
        "day,cases,deaths,flat\n0,10,1,5\n1,20,1,5\n2,40,3,5\n3,30,5,5\n"
    )
    return tmp_path


def test_csv_columns_in_the_order_asked(cases_csv):
    x = from_csv("cases.csv", ["deaths", "cases"], base_dir=cases_csv)
    np.testing.assert_array_equal(x, [[1, 10], [1, 20], [3, 40], [5, 30]])


def test_csv_start_stop_slice_the_data_rows(cases_csv):
    x = from_csv("cases.csv", ["cases"], start=1, stop=3, base_dir=cases_csv)
    np.testing.assert_array_equal(x[:, 0], [20, 40])


def test_csv_normalisations(cases_csv):
    zscore = from_csv("cases.csv", ["cases", "flat"], normalize="zscore", base_dir=cases_csv)
    cases = np.array([10, 20, 40, 30.0])
    np.testing.assert_allclose(zscore[:, 0], (cases - 25) / np.sqrt(125))  # population sd
    np.testing.assert_array_equal(zscore[:, 1], 0)  # a constant column becomes zeros
    minmax = from_csv("cases.csv", ["cases", "flat"], normalize="minmax", base_dir=cases_csv)
    np.testing.assert_allclose(minmax[:, 0], [0, 1 / 3, 1, 2 / 3])
    np.testing.assert_array_equal(minmax[:, 1], 0)


def test_csv_missing_file_names_it(tmp_path):
    with pytest.raises(InputError, match="nothere.csv.*not found") as error:
        from_csv("nothere.csv", ["a"], base_dir=tmp_path)
    assert error.value.field == "file"


def test_csv_missing_column_names_it_and_the_available_ones(cases_csv):
    with pytest.raises(InputError) as error:
        from_csv("cases.csv", ["cases", "recovered"], base_dir=cases_csv)
    assert error.value.field == "columns"
    assert "'recovered' not in cases.csv" in str(error.value)
    assert "day, cases, deaths, flat" in str(error.value)


def test_csv_non_numeric_value_names_file_column_row_and_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n5,\n")
    with pytest.raises(InputError) as error:
        from_csv("bad.csv", ["a", "b"], base_dir=tmp_path)
    message = str(error.value)
    assert "bad.csv, column 'b'" in message
    assert "row 1 (line 3): 'oops'" in message
    assert "row 2 (line 4): empty" in message
    # only the selected rows must be numbers
    np.testing.assert_array_equal(from_csv("bad.csv", ["b"], stop=1, base_dir=tmp_path), [[2]])


def test_csv_trailing_blank_lines_are_not_rows(tmp_path):
    (tmp_path / "t.csv").write_text("a\n1\n2\n\n\n")
    np.testing.assert_array_equal(from_csv("t.csv", ["a"], base_dir=tmp_path), [[1], [2]])


def test_csv_empty_selection_is_an_error(cases_csv):
    with pytest.raises(InputError, match="no rows selected"):
        from_csv("cases.csv", ["cases"], start=10, base_dir=cases_csv)


def read_csv(tmp_path, content, columns, encoding="utf-8", **options):
    (tmp_path / "data.csv").write_bytes(content.encode(encoding))
    return from_csv("data.csv", columns, base_dir=tmp_path, **options)


@pytest.mark.parametrize(
    "content,message",
    [
        # pandas read the first field of these rows as an index: [[2, 3], [5, 6]]
        ("a,b\n1,2,3\n4,5,6\n", "line 2 has 3 fields but the header has 2 (and 1 more rows)"),
        # and these as one row
        ("a,b\n1,2,3,4\n3\n", "line 2 has 4 fields but the header has 2 (and 1 more rows)"),
        ("a,b\n1,2\n3\n", "line 3 has 1 field but the header has 2;"),
        ("a,b\n1,2\n3,4,\n", "line 3 has 3 fields but the header has 2;"),
        ('a,b\n1,"2\n3",4\n5,6\n', "line 2 has 3 fields but the header has 2;"),
        ("a,b\n1,2\n\n3,4\n", "line 3 is blank; blank lines are allowed only at the end"),
        ("", "is empty; expected a header row naming the columns"),
        ("\n\n", "is empty; expected a header row naming the columns"),
        ('a,b\n1,"2\n', "line 2: not CSV: unexpected end of data"),
        ('a,b\n1,"2"x\n', "line 2: not CSV: ',' expected after '\"'"),
    ],
)
def test_csv_rows_must_have_one_field_per_column(tmp_path, content, message):
    with pytest.raises(InputError) as error:
        read_csv(tmp_path, content, ["a", "b"])
    assert error.value.field == "file"
    assert error.value.detail.startswith(f"data.csv: {message}")


def test_csv_header_only_selects_no_rows(tmp_path):
    with pytest.raises(InputError, match=r"no rows selected from data.csv \(0 data rows"):
        read_csv(tmp_path, "a,b\n", ["a"])


def test_csv_not_utf8_is_named(tmp_path):
    with pytest.raises(InputError, match="data.csv: is not UTF-8 text"):
        read_csv(tmp_path, "a\n\u00e9\n", ["a"], encoding="latin-1")


@pytest.mark.parametrize(
    "content,expected",
    [
        ("\ufeffa,b\r\n1,2\r\n3,4\r\n", [[1, 2], [3, 4]]),  # a byte order mark, CRLF
        ('"a","b"\n"1", 2 \n" 3 ",4\n', [[1, 2], [3, 4]]),  # quotes, spaces around values
        ("a , b\n1,2\n", [[1, 2]]),  # spaces around names
        (",a,b\n0,1,2\n1,3,4\n", [[1, 2], [3, 4]]),  # an unnamed index column, as pandas writes
        ('a,b,note\n1,2,"x,\ny"\n3,4,z\n', [[1, 2], [3, 4]]),  # a field with a comma and a line
        ("a,b\n1e3,-.5\n+2.,0\n\n", [[1000, -0.5], [2, 0]]),
    ],
)
def test_csv_well_formed_variants(tmp_path, content, expected):
    np.testing.assert_array_equal(read_csv(tmp_path, content, ["a", "b"]), expected)


def test_csv_lines_count_fields_that_span_lines(tmp_path):
    with pytest.raises(InputError, match=r"row 1 \(line 4\): 'x'"):
        read_csv(tmp_path, 'a,note\n1,"two\nlines"\nx,y\n', ["a"])


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1_000", "1,5", "0x10", "one"])
def test_csv_cells_that_are_not_finite_decimal_numbers(tmp_path, cell):
    with pytest.raises(InputError) as error:
        read_csv(tmp_path, f'a\n1\n"{cell}"\n', ["a"])
    assert error.value.field == "columns"
    assert error.value.detail == (
        f"data.csv, column 'a': not a finite number at row 1 (line 3): {cell!r}"
    )


@pytest.mark.parametrize("cell", ["x" * 100_000, "1" * 100_000 + "x"])
def test_csv_long_cells_and_names_are_cut_in_messages(tmp_path, cell):
    start = time.perf_counter()
    with pytest.raises(InputError) as error:
        read_csv(tmp_path, f"a\n{cell}\n", ["a"])
    assert time.perf_counter() - start < 1  # no backtracking over the digits
    assert len(str(error.value)) < 120
    with pytest.raises(InputError) as error:
        read_csv(tmp_path, "y" * 100_000 + "\n1\n", ["a"])
    assert len(str(error.value)) < 120


def test_csv_a_column_named_twice_is_ambiguous(tmp_path):
    with pytest.raises(InputError, match=r"data.csv has two columns named 'a' \(fields \[1, 3\]\)"):
        read_csv(tmp_path, "a,b,a\n1,2,3\n", ["a"])
    np.testing.assert_array_equal(read_csv(tmp_path, "a,b,a\n1,2,3\n", ["b"]), [[2]])


# ---------------------------------------------------------------- make_inputs


def test_make_inputs_dispatches_on_kind():
    np.testing.assert_array_equal(
        make_inputs({"kind": "constant", "value": [1, 2], "steps": 3}, input_size=2),
        [[1, 2]] * 3,
    )
    spec = {"kind": "gaussian", "steps": 5, "seed": 2, "per_seed": True}
    x = make_inputs(spec, input_size=3, seeds=[4, 7])
    assert x.shape == (5, 2, 3)
    np.testing.assert_array_equal(x[:, 1], gaussian(5, 3, seed=2, run_seeds=[7])[:, 0])


def test_make_inputs_checks_the_column_count(cases_csv):
    spec = {"kind": "csv", "file": "cases.csv", "columns": ["cases"]}
    with pytest.raises(InputError) as error:
        make_inputs(spec, input_size=2, base_dir=cases_csv)
    assert error.value.field == "columns"
    with pytest.raises(InputError, match="one column"):
        make_inputs(
            {"kind": "epidemic", "population": 10, "beta": 0.1, "gamma": 0.1, "steps": 3},
            input_size=2,
        )


def test_make_inputs_rejects_an_invalid_mapping():
    with pytest.raises(InputError, match="steps"):
        make_inputs({"kind": "constant", "value": [1.0], "steps": -1}, input_size=1)
