"""What a run keeps of a batch of seeds: block statistics and a few sample paths.

A :class:`BatchRecorder`, the consumer handed to :func:`~stochlstm.engine.kernel.run_kernel`,
forms at each recorded step, per block of seeds, the moments of every recorded quantity
and of the derived comparisons against the baseline (deterministic) condition:

=====================  ======================================================
``dev_c``, ``dev_h``   value minus the baseline's at the same seed, per unit
``div_c``, ``div_h``   root mean square over all units of ``dev``, per seed
``retention``          product over steps ``0..t`` of the realised keep factor
                       (``f``; ``1 - f`` under the erase reading): the share
                       of the initial cell content still in ``c_t``
``retention_theory``   the same product of keep *probabilities*
``sat_i/f/o``          ``1[p < 0.1 or p > 0.9]``
``flip_i/f/o``         ``1[gate != 1[p > 0.5]]``, for binary gates only
``loss``, ...          the readout's loss against targets, when the plan has
                       them (:mod:`stochlstm.engine.loss`)
=====================  ======================================================

One-per-seed quantities (``div_*``, the loss) use unit ``-1``. Quantities whose every
value is 0 or 1 (the realised gates of binary rules, ``retention`` under a
binary forget gate, ``sat_*``, ``flip_*``) take the one-pass statistics of
:meth:`stochlstm.engine.statistics.BlockMoments.indicator`; the others the
two-pass ones. A quantity that is another's very values under a condition (a
deterministic gate is its probability; under a deterministic forget gate
``retention`` is ``retention_theory``) copies that one's statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.conditions import Condition
from ..core.names import DERIVED_QUANTITIES, GATES
from .loss import LossPlan, LossRecorder
from .statistics import SEED_BLOCK, BlockMoments, block_sizes

__all__ = ["BatchRecord", "BatchRecorder", "RecordPlan", "derived_quantities"]


@dataclass(frozen=True)
class RecordPlan:
    """Which steps, units, quantities, sample paths and layer (of a stacked LSTM;
    ``y`` is always the last layer's readout) are kept. ``derived`` names the
    derived quantities to stream, in the order of :data:`DERIVED_QUANTITIES` (``True``
    for all, ``False`` for none), each kept for the conditions it applies to; ``loss``,
    how the readout is scored against targets (None: no targets)."""

    quantities: tuple[str, ...]
    steps: tuple[int, ...]
    units: tuple[int, ...]
    path_seeds: tuple[int, ...] = ()
    derived: tuple[str, ...] = DERIVED_QUANTITIES
    initial_state: bool = False  # keep t = -1 rows in the sample paths
    block: int = SEED_BLOCK
    loss: LossPlan | None = None
    # the layer whose gates and states the kernel hands over (None: the last, when no
    # condition names layers)
    layer: int | None = None

    def __post_init__(self):
        derived = self.derived
        if isinstance(derived, bool):
            derived = DERIVED_QUANTITIES if derived else ()
        derived = tuple(derived)
        for name in derived:
            if name not in DERIVED_QUANTITIES:
                raise ValueError(
                    f"unknown derived quantity {name!r}; expected one of: {', '.join(DERIVED_QUANTITIES)}"
                )
        object.__setattr__(self, "derived", tuple(n for n in DERIVED_QUANTITIES if n in derived))


@dataclass
class BatchRecord:
    """The result of one batch: per (condition, quantity), block moments
    ``(n_blocks, n_steps, n_units)`` and sample paths ``(n_steps, n_units, n_paths)``."""

    seeds: tuple[int, ...]
    block_sizes: list[int]
    moments: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)
    path_seeds: tuple[int, ...] = ()
    paths: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @classmethod
    def concat(cls, records: Sequence[BatchRecord]) -> BatchRecord:
        """The record of consecutive groups of seeds, as if one batch ran them all."""
        if len(records) == 1:
            return records[0]
        return cls(
            seeds=tuple(s for r in records for s in r.seeds),
            block_sizes=[n for r in records for n in r.block_sizes],
            moments={
                key: [np.concatenate([r.moments[key][k] for r in records]) for k in range(4)]
                for key in records[0].moments
            },
            path_seeds=tuple(s for r in records for s in r.path_seeds),
            paths={  # a group without recorded seeds has no paths
                key: np.concatenate([r.paths[key] for r in records if key in r.paths], axis=-1)
                for key in dict.fromkeys(k for r in records for k in r.paths)
            },
        )


def _on_recorded_layer(conditions: Mapping[str, Condition], layer: int | None):
    """The conditions as they act on the recorded layer: a condition that names
    other layers runs the standard LSTM there (deterministic gates, not 0/1)."""
    if layer is not None:
        return {name: condition.on_layer(layer) for name, condition in conditions.items()}
    if any(condition.layers is not None for condition in conditions.values()):
        raise ValueError("RecordPlan.layer is needed when a condition names its layers")
    return conditions


def derived_quantities(condition: Condition, is_baseline: bool) -> tuple[str, ...]:
    """The derived quantities that make sense for a condition."""
    names = ["retention", "retention_theory", "sat_i", "sat_f", "sat_o"]
    if not is_baseline:
        names = ["dev_c", "dev_h", "div_c", "div_h", *names]
    for short, gate in GATES.items():
        if getattr(condition, gate).binary:
            names.append(f"flip_{short}")
    return tuple(n for n in DERIVED_QUANTITIES if n in names)


def _same_values(condition: Condition, quantity: str) -> str | None:
    """The quantity whose values ``quantity`` always equals under ``condition``, if any:
    a deterministic gate is its probability (``G(p) = p``), so the realised keep
    factors of the forget gate are the keep probabilities."""
    if quantity in GATES and getattr(condition, GATES[quantity]).name == "deterministic":
        return f"p_{quantity}"
    if quantity == "retention_theory" and condition.forget.name == "deterministic":
        return "retention"
    return None


def _is_indicator(condition: Condition, quantity: str) -> bool:
    """Whether every value of ``quantity`` under ``condition`` is 0 or 1."""
    if quantity in GATES:
        return getattr(condition, GATES[quantity]).binary
    if quantity == "retention":  # a product of realised keep factors f or 1 - f
        return condition.forget.binary
    return quantity.startswith(("sat_", "flip_"))


@dataclass
class _Job:
    quantity: str
    rows: slice


@dataclass
class _ConditionRecord:
    """What is kept of one condition: ``real`` (two-pass) and ``indicators``
    moments ``(4, n_blocks, n_steps, rows)``, the quantities side by side on the
    last axis; ``groups``, runs of two-pass quantities computed in one call;
    ``copies``, rows of ``real`` that copy other rows (``(to, from)``, see
    :func:`_same_values`); ``masks``, the rows of ``indicators`` of the 0/1 tests
    (``sat_*``, ``flip_*``, the last ones), formed side by side and counted at once."""

    name: str
    condition: Condition
    groups: list[tuple[slice, list[_Job]]]
    indicator_jobs: list[_Job]
    real: np.ndarray
    indicators: np.ndarray
    copies: list[tuple[slice, slice]] = field(default_factory=list)
    mask_jobs: list[_Job] = field(default_factory=list)
    masks: slice | None = None  # rows of the 0/1 tests, when there are any
    retention: np.ndarray | None = None  # (n_units, B), product of keep factors
    retention_theory: np.ndarray | None = None  # (n_units, B), product of keep probabilities


# Two-pass quantities of a step are converted into one float64 stack, and their
# block statistics computed in one go, while the stack stays this small; beyond
# it (wide batches), each is computed on its own. Only speed depends on this:
# every row is computed the same way either way.
STACK_BYTES = 1 << 20


class BatchRecorder:
    """Consumer of :func:`~stochlstm.engine.kernel.run_kernel` for one batch of seeds.

    ``conditions`` must list the baseline first (when there is one), so that its
    state at step ``t`` is known when the other conditions reach ``t``. ``targets``
    (of these seeds, see :class:`~stochlstm.engine.loss.LossRecorder`) are needed
    when the plan has a ``loss``.
    """

    def __init__(
        self,
        plan: RecordPlan,
        conditions: Mapping[str, Condition],
        seeds: Sequence[int],
        hidden_size: int,
        output_size: int = 0,
        baseline: str | None = None,
        targets: np.ndarray | None = None,
    ):
        self.plan = plan
        conditions = _on_recorded_layer(conditions, plan.layer)
        if baseline is not None and list(conditions)[0] != baseline:
            raise ValueError("the baseline condition must come first")
        self.has_baseline = baseline is not None
        self.seeds = tuple(int(s) for s in seeds)
        self.hidden_size, self.output_size = hidden_size, output_size
        batch = len(self.seeds)
        self.step_index = {t: j for j, t in enumerate(plan.steps)}
        self.units = np.asarray(plan.units, dtype=np.intp)
        units = list(plan.units)  # as a slice when they are a range, for views
        is_range = bool(units) and units == list(range(units[0], units[0] + len(units)))
        self.unit_rows = slice(units[0], units[0] + len(units)) if is_range else None
        self.sizes = block_sizes(batch, plan.block)
        self.buffers: dict[tuple, np.ndarray] = {}

        seed_column = {s: b for b, s in enumerate(self.seeds)}
        # in the order of the run's seeds, whatever order record.seeds lists
        # them in, so that every batching gives the same trajectories
        recorded = set(plan.path_seeds)
        self.path_seeds = tuple(s for s in self.seeds if s in recorded)
        self.path_columns = np.asarray([seed_column[s] for s in self.path_seeds], dtype=np.intp)

        self.record = BatchRecord(self.seeds, self.sizes, path_seeds=self.path_seeds)
        self.states: list[_ConditionRecord] = []
        baseline_needs: set[str] = set()
        rows_needed = 1
        for k, (name, condition) in enumerate(conditions.items()):
            # no dev_/div_ for the baseline, nor for any condition when there is none
            is_baseline = not self.has_baseline or k == 0
            derived = [d for d in derived_quantities(condition, is_baseline) if d in plan.derived]
            quantities = plan.quantities + tuple(derived)
            state = self._plan_condition(name, condition, quantities)
            widths = [rows.stop - rows.start for rows, _ in state.groups]
            rows_needed = max(rows_needed, state.indicators.shape[-1], *widths)
            baseline_needs.update(q[-1] for q in quantities if q.startswith(("dev_", "div_")))
            per_seed = (len(self.units), batch)
            state.retention = np.ones(per_seed) if "retention" in derived else None
            if "retention_theory" in derived:  # one product when they are the same
                same = state.retention is not None and _same_values(condition, "retention_theory")
                state.retention_theory = state.retention if same else np.ones(per_seed)
            self.states.append(state)
            if self.path_seeds:
                for quantity in plan.quantities:
                    shape = (len(plan.steps), self._width(quantity), len(self.path_seeds))
                    self.record.paths[(name, quantity)] = np.empty(shape)
        self.block_moments = BlockMoments(batch, rows_needed, plan.block)
        self.loss = None
        if plan.loss is not None:
            if targets is None or not output_size:
                raise ValueError("a plan with a loss needs a readout and the targets")
            self.loss = LossRecorder(
                plan.loss,
                targets,
                list(conditions),
                self.has_baseline,
                batch,
                plan.steps,
                len(self.sizes),
                self.record.moments,
            )
        # the baseline's c and/or h at recorded steps, until every condition has used them
        self.baseline_needs = tuple(sorted(baseline_needs))
        self.baseline_state: dict[int, dict[str, np.ndarray]] = {}
        self._spare_states: list[dict[str, np.ndarray]] = []

    def _plan_condition(self, name, condition, quantities) -> _ConditionRecord:
        """Lay out a condition's quantities: rows, groups, and the moments arrays."""
        real, indicators = [], []
        for quantity in quantities:
            jobs = indicators if _is_indicator(condition, quantity) else real
            start = jobs[-1].rows.stop if jobs else 0
            jobs.append(_Job(quantity, slice(start, start + self._width(quantity))))
        rows = {job.quantity: job.rows for job in real + indicators}
        copies, computed = [], []
        for job in real:
            same = _same_values(condition, job.quantity)
            if same in rows and not _is_indicator(condition, same):
                copies.append((job.rows, rows[same]))
            else:
                computed.append(job)
        groups: list[tuple[slice, list[_Job]]] = []
        for job in computed:  # stacked while small, see STACK_BYTES; runs of adjacent rows
            if groups:
                group_rows, members = groups[-1]
                adjacent = group_rows.stop == job.rows.start
                if (
                    adjacent
                    and (job.rows.stop - group_rows.start) * len(self.seeds) * 8 <= STACK_BYTES
                ):
                    groups[-1] = (slice(group_rows.start, job.rows.stop), [*members, job])
                    continue
            groups.append((job.rows, [job]))
        shape = (4, len(self.sizes), len(self.plan.steps))
        state = _ConditionRecord(
            name,
            condition,
            groups,
            indicators,
            real=np.empty((*shape, real[-1].rows.stop if real else 0)),
            indicators=np.empty((*shape, indicators[-1].rows.stop if indicators else 0)),
            copies=copies,
        )
        # sat_* and flip_* come last (DERIVED_QUANTITIES' order), side by side
        state.mask_jobs = [job for job in indicators if job.quantity.startswith(("sat_", "flip_"))]
        state.indicator_jobs = indicators[: len(indicators) - len(state.mask_jobs)]
        if state.mask_jobs:
            state.masks = slice(state.mask_jobs[0].rows.start, indicators[-1].rows.stop)
        for quantity in quantities:  # BatchRecord.moments holds views, in the quantities' order
            moments = state.indicators if _is_indicator(condition, quantity) else state.real
            self.record.moments[(name, quantity)] = list(moments[..., rows[quantity]])
        return state

    def _width(self, quantity: str) -> int:
        if quantity == "y":
            return self.output_size
        return 1 if quantity in ("div_c", "div_h") else len(self.units)

    def _buffer(self, key, shape, dtype) -> np.ndarray:
        key = (key, tuple(shape), np.dtype(dtype))
        buffer = self.buffers.get(key)
        if buffer is None:
            buffer = self.buffers[key] = np.empty(shape, dtype=dtype)
        return buffer

    def _units(self, value: np.ndarray, slot: object = 0) -> np.ndarray:
        """The recorded units' rows of an ``(H, B)`` array (a view when they are a range;
        else a copy into the buffer of ``slot``)."""
        if self.unit_rows is not None:
            return value[self.unit_rows]
        out = self._buffer(("units", slot), (len(self.units), value.shape[1]), value.dtype)
        return np.take(value, self.units, axis=0, out=out)

    def __call__(self, index: int, t: int, values: dict[str, np.ndarray]) -> None:
        state = self.states[index]
        self._update_retention(state, values)
        if self.loss is not None:
            self.loss(index, t, values, self.block_moments)
        j = self.step_index.get(t)
        if j is None:
            return
        if index == 0 and self.has_baseline and self.baseline_needs and len(self.states) > 1:
            self._keep_baseline(t, values)
        statistics = self.block_moments
        deviations: dict[str, np.ndarray] = {}
        for rows, jobs in state.groups:
            parts = [self._value(state, t, job.quantity, values, deviations) for job in jobs]
            state.real[:, :, j, rows] = statistics.real(parts).transpose(0, 2, 1)
        for rows, same in state.copies:
            state.real[:, :, j, rows] = state.real[:, :, j, same]
        if state.indicators.shape[-1]:
            ones = statistics.tally[: state.indicators.shape[-1]]
            for job in state.indicator_jobs:
                value = self._value(state, t, job.quantity, values, deviations)
                statistics.count_ones(value, ones[job.rows])
            if state.mask_jobs:
                masks = self._buffer("masks", (state.masks.stop, len(self.seeds)), bool)
                for job in state.mask_jobs:
                    self._test(job.quantity, values, out=masks[job.rows])
                statistics.count_ones(masks[state.masks], ones[state.masks])
            state.indicators[:, :, j, :] = statistics.from_counts(ones).transpose(0, 2, 1)
        if self.path_seeds:
            for quantity in self.plan.quantities:
                value = values[quantity][:, self.path_columns]
                paths = self.record.paths[(state.name, quantity)]
                paths[j] = value if quantity == "y" else value[self.units]
        if self.has_baseline and index == len(self.states) - 1:
            kept = self.baseline_state.pop(t, None)
            if kept is not None:
                self._spare_states.append(kept)

    def _keep_baseline(self, t: int, values) -> None:
        kept = self._spare_states.pop() if self._spare_states else {}
        for which in self.baseline_needs:
            if which in kept:
                np.copyto(kept[which], values[which])
            else:
                kept[which] = values[which].copy()
        self.baseline_state[t] = kept

    def _update_retention(self, state: _ConditionRecord, values) -> None:
        erase = state.condition.forget_semantics == "erase"
        for product, source in ((state.retention, "f"), (state.retention_theory, "p_f")):
            if product is None or (source == "p_f" and product is state.retention):
                continue
            keep = self._units(values[source])
            if erase:
                keep = np.subtract(1, keep, out=self._buffer("keep", keep.shape, keep.dtype))
            product *= keep

    def _deviation(self, t, which, values, deviations) -> np.ndarray:
        """Value minus the baseline's at the same seed, all units ``(H, B)``."""
        if which not in deviations:
            value = values[which]
            out = self._buffer(("dev", which), value.shape, value.dtype)
            deviations[which] = np.subtract(value, self.baseline_state[t][which], out=out)
        return deviations[which]

    def _value(self, state, t, quantity, values, deviations) -> np.ndarray:
        """The step's values of ``quantity`` ``(rows, B)``, in buffers of that quantity's
        own: the two-pass quantities of a group are all read after they are formed."""
        if quantity in values:
            value = values[quantity]
            return value if quantity == "y" else self._units(value, quantity)
        if quantity in ("retention", "retention_theory"):
            return getattr(state, quantity)
        kind, _, which = quantity.partition("_")
        if kind == "dev":
            return self._units(self._deviation(t, which, values, deviations), quantity)
        if kind == "div":  # root mean square over all units, one row per seed
            deviation = self._deviation(t, which, values, deviations)
            square = self._buffer("square", deviation.shape, deviation.dtype)
            np.square(deviation, out=square)
            row = self._buffer(("row", which), (1, deviation.shape[1]), deviation.dtype)
            np.add.reduce(square, axis=0, keepdims=True, out=row)
            np.true_divide(row, np.intp(self.hidden_size), out=row, casting="unsafe")
            return np.sqrt(row, out=row)
        raise KeyError(quantity)

    def _test(self, quantity: str, values, out: np.ndarray) -> np.ndarray:
        """The step's 0/1 test ``sat_*`` or ``flip_*`` into the booleans ``out``."""
        kind, _, which = quantity.partition("_")
        prob = self._units(values[f"p_{which}"], slot="prob")
        first = self._buffer("mask", prob.shape, bool)
        if kind == "sat":  # 1[p < 0.1 or p > 0.9]
            np.less(prob, 0.1, out=first)
            np.greater(prob, 0.9, out=out)
            return np.logical_or(first, out, out=out)
        if kind == "flip":  # 1[gate != 1[p > 0.5]]; gates are 0 or 1: (gate != 0) xor (p > 0.5)
            np.greater(prob, 0.5, out=first)
            np.not_equal(self._units(values[which], slot="gate"), 0, out=out)
            return np.not_equal(first, out, out=out)
        raise KeyError(quantity)
