"""The memory a run needs, phase by phase, estimated from its config before
anything is built: weights, inputs, the per-cell statistics and sample paths
held for the whole run, the seed list, the seeds in flight, writing the
tables. :func:`memory_plan` chooses the batch size that fits
``execution.memory_budget_mb`` beside what the run holds, and refuses a run
that cannot fit with one line naming its largest part and what to shrink.
The constants were measured with ``tracemalloc`` on real batches; the
estimate errs high.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engine.kernel import noise_block_steps
from ..engine.recorder import derived_quantities
from ..engine.statistics import SEED_BLOCK
from .problems import ConfigError, Source
from .schema import ExperimentConfig

__all__ = ["MemoryEstimate", "memory_plan", "recorded_cells", "tables_bytes"]


# --------------------------------------------------------------------------- memory
#
# Estimated from the config alone, before weights, inputs or anything big is
# built. A run holds for its whole length the running statistics and sample
# paths of every point (see tables.Accumulator), and, at the end, the tables
# being written; the batch of seeds in flight gets what the budget leaves.

_FLOAT = 8  # bytes of a float64
# summary columns besides the sweep's: condition, quantity, t, unit, n, mean,
# sd, se, ci_low, ci_high, min, max
_SUMMARY_COLUMNS = 12
# Writing the tables (measured with tracemalloc): summary.csv is formatted one
# (condition, quantity) part at a time, about 4 copies of a part's values; the
# trajectories' columns are held whole once (three times for Parquet, through
# a pandas frame and an Arrow table).
_SUMMARY_PART_COPIES = 4
# A seed in the plan: a Python int in the run's list and in its task's tuple.
_SEED_LIST_BYTES = 2 * 8 + 32
_TRAJECTORY_COPIES = {"csv": 1, "parquet": 3}
_KERNEL_ROWS = 24  # (H, B) work arrays of the kernel, per condition
_STEP_ROWS = 12  # (H, B) arrays of one step handed to the recorder, per condition


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


def count_steps(config: ExperimentConfig) -> int:
    """The number of steps of the inputs, without making them (a CSV file's
    lines bound its rows)."""
    inputs = config.inputs
    if hasattr(inputs, "steps"):
        return int(inputs.steps)
    if inputs.kind == "sequence":
        return len(inputs.values)
    if inputs.stop is not None:
        return inputs.stop - (inputs.start or 0)
    try:
        with open(inputs.file, "rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 1  # reported when the inputs are built
    return max(1, lines - (inputs.start or 0))


def weights_bytes(config: ExperimentConfig) -> int:
    """The weights: per layer ``weight_ih (4H, X)`` (``(4H, H)`` above layer 0),
    ``weight_hh (4H, H)``, two biases, and the readout, in float64, and the
    kernel's reordered copy."""
    model = config.model
    hidden, inputs, outputs = model.hidden_size, model.input_size, model.output_size
    values = 4 * hidden * (inputs + hidden + 2) + outputs * (hidden + 1)
    values += (model.num_layers - 1) * 4 * hidden * (2 * hidden + 2)
    return 2 * values * _FLOAT


def inputs_bytes(config: ExperimentConfig, n_steps: int) -> int:
    """The inputs shared by every seed ``(T, X)`` and their projection
    ``(T, 4H)``; none when they are drawn per seed (see :func:`seed_bytes`)."""
    if getattr(config.inputs, "per_seed", False):
        return 0
    model = config.model
    return n_steps * (model.input_size + 4 * model.hidden_size) * _FLOAT


def recorded_cells(config: ExperimentConfig, conditions: ExperimentConfig, n_steps: int):
    """``(cells, conditions, quantities, steps, units)`` of the per-cell
    statistics of one point whose record and model are ``config``'s and
    conditions ``conditions``'s: a cell is (condition, quantity incl.
    derived, recorded step, unit)."""
    steps = recorded_steps(n_steps, config.record.every)
    units = len(config.recorded_units())
    derived = set(config.recorded_derived())
    own = len(config.recorded_quantities())
    per_condition = [
        own + len(derived.intersection(derived_quantities(c, name == conditions.baseline)))
        for name, c in conditions.build_conditions().items()
    ]
    return sum(per_condition) * steps * units, len(per_condition), max(per_condition), steps, units


def recorded_steps(n_steps: int, every: int) -> int:
    """How many steps are recorded: every ``every``-th from 0, and the last
    (counted, not listed: ``steps`` may be huge)."""
    return len(range(0, n_steps, every)) + ((n_steps - 1) % every != 0)


def statistics_bytes(cells: int) -> int:
    """The run-long statistics of a point: four float64 arrays (mean, m2, min,
    max) per cell, held for the whole run."""
    return cells * 4 * _FLOAT


def paths_bytes(config: ExperimentConfig, n_conditions: int, n_steps: int) -> int:
    """The sample paths of a point, held for the whole run."""
    steps = recorded_steps(n_steps, config.record.every)
    per_seed = steps * len(config.recorded_units()) * len(config.recorded_quantities())
    return len(config.recorded_seeds()) * n_conditions * per_seed * _FLOAT


def tables_bytes(config: ExperimentConfig, n_conditions: int, cells: int, n_steps: int) -> int:
    """Writing summary and trajectories: a part of the summary (one condition
    and quantity: steps x units rows) at a time, the trajectories whole."""
    sweep = len(config.sweep or ())
    steps = recorded_steps(n_steps, config.record.every)
    units = len(config.recorded_units())
    summary_part = steps * max(units, config.model.output_size, 1) * (_SUMMARY_COLUMNS + sweep)
    path_rows = len(config.recorded_seeds()) * n_conditions * steps * units
    trajectories = path_rows * (4 + sweep + len(config.recorded_quantities()))
    copies = _TRAJECTORY_COPIES.get(config.output.format, 3)
    return (summary_part * _SUMMARY_PART_COPIES + trajectories * copies) * _FLOAT


def seed_bytes(
    config: ExperimentConfig, conditions: ExperimentConfig, n_steps: int, cells: int, batch: int
) -> int:
    """Memory one seed of a batch of ``batch`` costs: kernel buffers (per
    layer), its share of a block of uniforms (each layer's streams), the step's
    values handed to the recorder, the baseline's states kept for the other
    conditions, per-seed inputs, and its share of the batch's block statistics
    (per :data:`SEED_BLOCK` seeds, with the copy folded into the run's statistics)."""
    model = config.model
    hidden, itemsize = model.hidden_size, np.dtype(config.dtype).itemsize
    conditions = conditions.build_conditions()
    n_streams = sum(
        len({s for c in conditions.values() for s in c.on_layer(k).noise_streams})
        for k in range(model.num_layers)
    )
    block_steps = noise_block_steps(n_streams, hidden, batch, n_steps)
    noise = n_streams * block_steps * hidden * (_FLOAT + itemsize)
    kernel = len(conditions) * model.num_layers * _KERNEL_ROWS * hidden * itemsize
    step = len(conditions) * _STEP_ROWS * hidden * _FLOAT
    # the baseline's c and h over a block of steps, kept until the other conditions used them
    baseline_states = 2 * block_steps * hidden * _FLOAT if len(conditions) > 1 else 0
    inputs = 0
    if getattr(config.inputs, "per_seed", False):
        inputs = n_steps * model.input_size * (_FLOAT + itemsize)
    block_statistics = 2 * statistics_bytes(cells) // SEED_BLOCK
    return noise + kernel + step + baseline_states + inputs + block_statistics + 1


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part: ``run_long`` holds the parts kept for the
    whole run (weights, shared inputs, per-cell statistics, sample paths,
    tables being written); ``batch`` the seeds in flight."""

    parts: dict[str, int]  # run-long parts
    batch: int
    budget: int
    statistics_shape: str  # "8 conditions x 12 quantities x ..."

    @property
    def run_long(self) -> int:
        return sum(self.parts.values())

    @property
    def peak(self) -> int:
        """The larger phase: simulating (the held parts and the batch), or
        writing the tables (the held parts and the tables)."""
        held = self.run_long - self.parts.get("table writing", 0)
        return held + max(self.batch, self.parts.get("table writing", 0))

    def describe(self) -> str:
        parts = ", ".join(f"{name} {_mb(b)}" for name, b in self.parts.items() if b)
        return (
            f"about {_mb(self.peak)} at the peak, of {_mb(self.budget)} "
            f"({parts}, batch {_mb(self.batch)})"
        )


_ADVICE = {
    "per-cell statistics": (
        "record fewer steps (record.every), units, derived quantities or conditions"
    ),
    "sample paths": "record fewer sample paths (record.seeds), steps, units or quantities",
    "table writing": "record fewer steps (record.every), units or sample paths",
    "seed list": "run fewer seeds (split them over several runs)",
    "weights": "use a smaller model (hidden_size, input_size, num_layers)",
    "inputs": "use fewer steps or a smaller model",
    "seeds in flight": (
        "record fewer steps (record.every), units or derived quantities, "
        "or use a smaller model or fewer conditions"
    ),
}


def memory_plan(
    config: ExperimentConfig,
    model_configs: Sequence[ExperimentConfig],
    model_of: np.ndarray,
    condition_configs: Sequence[ExperimentConfig],
    condition_of: np.ndarray,
    n_seeds: int,
) -> tuple[MemoryEstimate, int]:
    """The memory estimate of the run and its batch size; a ConfigError at
    ``execution.memory_budget_mb`` when it cannot fit."""
    budget = config.execution.memory_budget_mb * 2**20
    steps = [count_steps(c) for c in model_configs]
    weights = sum(weights_bytes(c) for c in model_configs)
    inputs = sum(inputs_bytes(c, t) for c, t in zip(model_configs, steps, strict=True))
    # the statistics' shape depends on the record, sizes and steps of the
    # point's model variant and on its conditions: count the points of each
    distinct: dict[tuple, int] = {}
    record_of = np.asarray(
        [
            distinct.setdefault(
                (
                    c.record.model_dump_json(),
                    c.model.model_dump_json(
                        include={"input_size", "hidden_size", "num_layers", "output_size"}
                    ),
                    bool(getattr(c.inputs, "per_seed", False)),
                    t,
                ),
                len(distinct),
            )
            for c, t in zip(model_configs, steps, strict=True)
        ]
    )
    first_model = {r: m for m, r in reversed(list(enumerate(record_of.tolist())))}
    n_conditions = len(condition_configs)
    shapes, counts = np.unique(
        record_of[np.asarray(model_of)] * n_conditions + np.asarray(condition_of),
        return_counts=True,
    )
    statistics = paths = tables = 0
    largest_cells, shape, per_seed = 0, "", 1
    for key, count in zip(shapes.tolist(), counts.tolist(), strict=True):
        record, c = divmod(key, n_conditions)
        m = first_model[record]
        point, conditions = model_configs[m], condition_configs[c]
        cells, width, quantities, n_recorded, units = recorded_cells(point, conditions, steps[m])
        statistics += count * statistics_bytes(cells)
        paths += count * paths_bytes(point, width, steps[m])
        tables += count * tables_bytes(point, width, cells, steps[m])
        per_seed = max(per_seed, seed_bytes(point, conditions, steps[m], cells, SEED_BLOCK))
        if cells > largest_cells:
            largest_cells = cells
            shape = (
                f"{width} conditions x {quantities} quantities x {n_recorded} steps x {units} units"
            )
    parts = {
        "weights": weights,
        "inputs": inputs,
        "per-cell statistics": statistics,
        "sample paths": paths,
        "table writing": tables,
        "seed list": n_seeds * _SEED_LIST_BYTES,
    }
    held = weights + inputs + statistics + paths + parts["seed list"]
    jobs = config.execution.jobs
    room = budget - held
    requested = config.execution.batch_size
    if requested == "auto":
        blocks = max(1, room // max(1, per_seed * SEED_BLOCK * jobs))
    else:
        blocks = max(1, -(-requested // SEED_BLOCK))
    batch_size = min(blocks * SEED_BLOCK, -(-n_seeds // SEED_BLOCK) * SEED_BLOCK)
    # as many batches as needed, of even sizes (4,000 seeds: 2 x 2,048, not 2,304 + 1,696),
    # so that each splits into as many groups of seeds for the threads
    n_batches = -(-n_seeds // batch_size)
    batch_size = -(-n_seeds // (n_batches * SEED_BLOCK)) * SEED_BLOCK
    in_flight = per_seed * batch_size * jobs
    estimate = MemoryEstimate(parts, in_flight, budget, shape)
    need = estimate.peak
    if need > budget:
        phase = {**parts, "seeds in flight": in_flight}
        biggest = max(phase, key=phase.get)
        detail = {
            "per-cell statistics": f": {shape} x 4 float64 per point",
            "table writing": ": the rows of trajectories.csv, held whole while written",
            "seeds in flight": (
                f": {batch_size} seeds at once, with block statistics of {shape} "
                "x 4 float64 per 256 seeds"
            ),
        }.get(biggest, "")
        message = (
            f"the run needs about {need / 2**20:,.0f} MB "
            f"({biggest} {phase[biggest] / 2**20:,.0f} MB{detail}); "
            f"{_ADVICE[biggest]}, or raise memory_budget_mb"
        )
        source = config._source or Source()
        raise ConfigError([source.problem(("execution", "memory_budget_mb"), message)])
    return estimate, batch_size
