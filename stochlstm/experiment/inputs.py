"""Input sequences ``x_0 .. x_{T-1}`` for a run: pure generators returning
float64 arrays ``(T, X)``, or ``(T, B, X)`` for inputs drawn per run seed.

Randomness comes only from :func:`input_generator`, so an input depends on its
own ``seed`` (and, per seed, on the run seed ``s``), never on the gate noise,
on global state or on which other seeds run:

- shared inputs (one sequence for every run seed):
  ``Generator(PCG64(SeedSequence(seed)))``;
- per-seed inputs (``per_seed: true``): the sequence of run seed ``s`` uses
  ``Generator(PCG64(SeedSequence(seed, spawn_key=(s,))))``, so seed 7 alone and
  seed 7 inside a list of 10,000 get the same sequence.

The ``adding`` and ``copy`` kinds are the learning tasks' examples
(:func:`task_examples`), the test sets of ``stochlstm train``.

:func:`make_inputs` builds the ``inputs`` block of an experiment file
(:data:`~stochlstm.experiment.schema.InputsSpec`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ..core.randomness import generator
from .csv_inputs import InputError, from_csv
from .forms import InputsSpec
from .learning_tasks import task_example
from .problems import format_path, pydantic_problem

__all__ = [
    "InputError",
    "SIRPath",
    "constant",
    "from_csv",
    "gaussian",
    "input_generator",
    "make_inputs",
    "sequence",
    "simulate_sir",
    "sine",
    "sir_epidemic",
    "task_examples",
]


def input_generator(seed: int, run_seed: int | None = None) -> np.random.Generator:
    """The generator of an input: ``SeedSequence(seed)`` for a shared input,
    ``SeedSequence(seed, spawn_key=(run_seed,))`` for the input of one run seed."""
    return generator(seed, () if run_seed is None else (run_seed,))


def _seeded(draw, shape: tuple[int, int], seed: int, run_seeds: Sequence[int] | None) -> np.ndarray:
    """``draw(generator)`` of ``shape`` ``(T, X)`` with the generator of a shared
    input; with ``run_seeds``, one draw per run seed, ``(T, B, X)``."""
    if run_seeds is None:
        return draw(input_generator(seed))
    values = np.empty((shape[0], len(run_seeds), shape[1]))
    for b, run_seed in enumerate(run_seeds):
        values[:, b] = draw(input_generator(seed, run_seed))
    return values


def _columns(value, input_size: int, name: str) -> np.ndarray:
    """A scalar or a list of ``input_size`` numbers as a float64 row ``(input_size,)``."""
    row = np.asarray(value, dtype=np.float64)
    if row.ndim == 0:
        return np.full(input_size, float(row))
    if row.shape != (input_size,):
        raise InputError(name, f"expected a number or {input_size} numbers, got {row.shape[0]}")
    return row


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise InputError("steps", f"expected an integer >= 1, got {steps!r}")
    return int(steps)


def constant(value, steps: int, input_size: int | None = None) -> np.ndarray:
    """The same input at every step, ``(steps, X)``: ``value`` is a list of ``X``
    numbers, or a number repeated over ``input_size`` columns."""
    steps = _check_steps(steps)
    if input_size is None:
        input_size = np.size(value)
    return np.tile(_columns(value, input_size, "value"), (steps, 1))


def sequence(values) -> np.ndarray:
    """An explicit sequence: ``values[t]`` is ``x_t``, a list of ``X`` numbers
    (or a number when ``X = 1``); shape ``(T, X)``."""
    rows = [np.atleast_1d(np.asarray(row, dtype=np.float64)) for row in values]
    if not rows:
        raise InputError("values", "expected at least one step")
    lengths = sorted({row.shape for row in rows})
    if len(lengths) > 1 or rows[0].ndim != 1:
        raise InputError("values", f"every row needs the same number of columns, got {lengths}")
    return np.stack(rows)


def gaussian(
    steps: int,
    input_size: int,
    *,
    mean=0.0,
    sd=1.0,
    seed: int = 0,
    run_seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Independent normal inputs ``x_t ~ N(mean, sd^2)`` per step and column:
    ``mean + sd * generator.standard_normal((steps, X))``, ``mean`` and ``sd``
    numbers or one per column. With ``run_seeds``, ``(steps, B, X)``: one
    sequence per run seed."""
    steps = _check_steps(steps)
    mean = _columns(mean, input_size, "mean")
    sd = _columns(sd, input_size, "sd")
    if np.any(sd < 0):
        raise InputError("sd", f"expected a standard deviation >= 0, got {sd.tolist()}")

    def draw(rng: np.random.Generator) -> np.ndarray:
        return mean + sd * rng.standard_normal((steps, input_size))

    return _seeded(draw, (steps, input_size), seed, run_seeds)


def sine(
    steps: int, input_size: int, *, period, amplitude=1.0, phase=0.0, offset=0.0
) -> np.ndarray:
    """``x_t = offset + amplitude * sin(2 pi t / period + phase)`` for ``t = 0..steps-1``,
    ``phase`` in radians. Each parameter is a number or one per column (e.g.
    ``phase: [0, 1.5708]`` for a sine and a cosine)."""
    steps = _check_steps(steps)
    period = _columns(period, input_size, "period")
    if np.any(period <= 0):
        raise InputError("period", f"expected a positive number of steps, got {period.tolist()}")
    amplitude = _columns(amplitude, input_size, "amplitude")
    phase = _columns(phase, input_size, "phase")
    offset = _columns(offset, input_size, "offset")
    t = np.arange(steps, dtype=np.float64)[:, None]
    return offset + amplitude * np.sin(2.0 * np.pi * t / period + phase)


@dataclass(frozen=True)
class SIRPath:
    """One outbreak of :func:`simulate_sir`: arrays ``(steps,)`` of integer counts.

    ``susceptible[t]``, ``infected[t]``, ``recovered[t]`` are the compartments
    at the end of day ``t``; ``new_cases[t]`` and ``new_recoveries[t]`` the
    transitions during day ``t``. ``S + I + R`` equals the population every day.
    """

    susceptible: np.ndarray
    infected: np.ndarray
    recovered: np.ndarray
    new_cases: np.ndarray
    new_recoveries: np.ndarray


def simulate_sir(
    steps: int,
    *,
    population: int,
    infected: int,
    beta: float,
    gamma: float,
    generator: np.random.Generator,
) -> SIRPath:
    """A discrete-time stochastic SIR outbreak (chain binomial), one day per step.

    Starting from ``S = population - infected``, ``I = infected``, ``R = 0``,
    each day ``t``:

        new_cases      ~ Binomial(S, 1 - exp(-beta * I / population))
        new_recoveries ~ Binomial(I, 1 - exp(-gamma))
        S -= new_cases;  I += new_cases - new_recoveries;  R += new_recoveries

    both drawn from the compartments at the start of the day, infections first.
    ``beta`` is the transmission rate and ``gamma`` the recovery rate per day
    (mean infectious period about ``1 / gamma`` days; ``R0 = beta / gamma``).
    Its large-population limit is the deterministic recursion with the
    binomials replaced by their means.
    """
    steps = _check_steps(steps)
    if isinstance(population, bool) or int(population) != population or population < 1:
        raise InputError("population", f"expected an integer >= 1, got {population!r}")
    if isinstance(infected, bool) or int(infected) != infected or not 0 <= infected <= population:
        message = f"expected an integer from 0 to population ({population}), got {infected!r}"
        raise InputError("infected", message)
    for name, value in (("beta", beta), ("gamma", gamma)):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(name, f"expected a rate >= 0 per day, got {value!r}")
    s, i, r = int(population) - int(infected), int(infected), 0
    recovery_prob = -math.expm1(-gamma)
    path = np.zeros((5, steps), dtype=np.int64)
    for t in range(steps):
        infection_prob = -math.expm1(-beta * i / population)
        new_cases = int(generator.binomial(s, infection_prob))
        new_recoveries = int(generator.binomial(i, recovery_prob))
        s -= new_cases
        i += new_cases - new_recoveries
        r += new_recoveries
        path[:, t] = (s, i, r, new_cases, new_recoveries)
    return SIRPath(*path)


def _scale_counts(counts: np.ndarray, scale, population: int) -> np.ndarray:
    counts = counts.astype(np.float64)
    if scale == "population":
        return counts / population
    if scale == "max":
        peak = counts.max()
        return counts / peak if peak > 0 else counts
    if scale == "none":
        return counts
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0:
        return counts / scale
    raise InputError("scale", f"expected population, max, none or a positive number, got {scale!r}")


# The counts of an SIR path an epidemic input or target can observe.
SIR_COUNTS = ("new_cases", "infected", "susceptible", "recovered")


def sir_epidemic(
    steps: int,
    *,
    population: int,
    infected: int = 1,
    beta: float,
    gamma: float,
    seed: int = 0,
    observe: str = "new_cases",
    scale="population",
    run_seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Daily counts of a stochastic SIR outbreak (:func:`simulate_sir`) as one
    input column: ``(steps, 1)``, or ``(steps, B, 1)`` with ``run_seeds``.
    ``observe`` is ``new_cases`` (incidence), ``infected`` (prevalence, ``I``
    at the end of each day), ``susceptible`` or ``recovered`` (the other
    compartments; the inputs block offers the first two, targets all four:
    :mod:`stochlstm.experiment.targets`). ``scale``: ``population`` divides by the
    population (the fraction newly infected, or infected, that day, in
    ``[0, 1]``); ``max`` divides each outbreak by its own largest count, so its
    peak is 1 (an outbreak with no cases stays 0); ``none`` keeps raw counts; a
    positive number divides by it.
    """
    steps = _check_steps(steps)
    if observe not in SIR_COUNTS:
        raise InputError("observe", f"expected one of {', '.join(SIR_COUNTS)}, got {observe!r}")
    _scale_counts(np.zeros(1), scale, 1)  # reject a bad scale before simulating

    def draw(rng: np.random.Generator) -> np.ndarray:
        path = simulate_sir(
            steps, population=population, infected=infected, beta=beta, gamma=gamma, generator=rng
        )
        counts = getattr(path, observe)
        return _scale_counts(counts, scale, population)[:, None]

    return _seeded(draw, (steps, 1), seed, run_seeds)


def task_examples(spec, run_seeds: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Examples of the adding or copy task of an ``inputs: {kind: adding}`` or
    ``{kind: copy}`` block, and their targets at every step
    (:meth:`~stochlstm.experiment.learning_tasks.Batch.full_targets`): ``(T, X)`` and
    ``(T, W)`` from the generator of the input's ``seed``, or with ``run_seeds``
    ``(T, B, X)`` and ``(T, B, W)``, run seed ``s``'s example from its own
    generator (:func:`input_generator`), as ``stochlstm train`` draws a test set."""
    if run_seeds is None:
        example = task_example(spec, input_generator(spec.seed))
        return example.inputs[:, 0], example.full_targets()[:, 0]
    examples = [task_example(spec, input_generator(spec.seed, int(s))) for s in run_seeds]
    inputs = np.concatenate([e.inputs for e in examples], axis=1)
    targets = np.concatenate([e.full_targets() for e in examples], axis=1)
    return inputs, targets


_INPUTS = TypeAdapter(InputsSpec)


def make_inputs(
    spec, *, input_size: int, seeds: Sequence[int] | None = None, base_dir="."
) -> np.ndarray:
    """The inputs an ``inputs`` block describes (a validated
    :data:`~stochlstm.experiment.schema.InputsSpec` or a plain mapping with its
    keys): ``(T, X)``, or with ``per_seed: true`` ``(T, B, X)``, one sequence per
    run seed in ``seeds``."""
    if isinstance(spec, Mapping):
        try:
            spec = _INPUTS.validate_python(dict(spec), context={"base_dir": base_dir})
        except ValidationError as error:
            parts, message = pydantic_problem(error.errors()[0])
            raise InputError(format_path(parts) or "kind", message) from None
    # The keys of each kind of block are the keyword arguments of its generator.
    arguments = spec.model_dump(exclude={"kind", "per_seed"})
    if getattr(spec, "per_seed", False):
        if seeds is None:
            raise InputError("per_seed", "the run seeds are needed for per-seed inputs")
        arguments["run_seeds"] = [int(s) for s in seeds]
    if spec.kind == "constant":
        values = constant(**arguments, input_size=input_size)
    elif spec.kind == "sequence":
        values = sequence(**arguments)
    elif spec.kind == "gaussian":
        values = gaussian(**arguments, input_size=input_size)
    elif spec.kind == "sine":
        values = sine(**arguments, input_size=input_size)
    elif spec.kind == "epidemic":
        if input_size != 1:
            message = f"an epidemic input has one column (daily counts); input_size is {input_size}"
            raise InputError("kind", message)
        values = sir_epidemic(**arguments)
    elif spec.kind in ("adding", "copy"):
        values = task_examples(spec, arguments.get("run_seeds"))[0]
    else:
        values = from_csv(**arguments, base_dir=base_dir)
    if values.shape[-1] != input_size:
        field = {"constant": "value", "sequence": "values", "csv": "columns"}.get(spec.kind, "kind")
        message = f"gives {values.shape[-1]} input columns but input_size is {input_size}"
        raise InputError(field, message)
    return values
