"""The recorder's block statistics against the block moments of the full arrays
of :func:`stochlstm.simulate`, bit for bit."""

import numpy as np
import pytest

from stochlstm import Condition, init_uniform, simulate
from stochlstm.engine.kernel import run_kernel
from stochlstm.engine.recorder import BatchRecorder, RecordPlan
from stochlstm.engine.statistics import BlockMoments

N_SEEDS, HIDDEN, STEPS = 600, 5, 9  # two full blocks of 256 and one of 88


def record_and_simulate(conditions, quantities, dtype, baseline=None):
    weights = init_uniform(3, HIDDEN, seed=0)
    inputs = np.random.Generator(np.random.PCG64(1)).normal(size=(STEPS, 3))
    seeds = list(range(N_SEEDS))
    plan = RecordPlan(quantities, tuple(range(STEPS)), tuple(range(HIDDEN)))
    recorder = BatchRecorder(plan, conditions, seeds, HIDDEN, baseline=baseline)
    run_kernel(weights, inputs, conditions, seeds, recorder, dtype=dtype)
    sim = simulate(weights, inputs, conditions, seeds, dtype=dtype, threads=1)
    return recorder.record, sim


def reference(values: np.ndarray, indicator: bool = False) -> list[np.ndarray]:
    """Block moments of ``values (T, B, H)``, step by step, as the record holds them:
    4 arrays ``(n_blocks, T, H)``."""
    moments = []
    for step in values:
        workspace = BlockMoments(N_SEEDS, step.shape[1])
        rows = np.ascontiguousarray(step.T)
        moments.append((workspace.indicator if indicator else workspace.real)(rows).copy())
    return list(np.stack(moments).transpose(1, 3, 0, 2))  # (4, blocks, T, H)


def assert_same_bits(got, expected):
    for a, b in zip(got, expected, strict=True):
        assert a.tobytes() == np.ascontiguousarray(b).tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_quantity_equal_to_another_gets_the_same_statistics(dtype):
    """Under a deterministic forget gate ``f`` is ``p_f`` and ``retention`` is
    ``retention_theory``: their rows are copied, and equal the full arrays' moments."""
    record, sim = record_and_simulate({"deterministic": Condition()}, ("p_f", "f", "c"), dtype)
    values = sim["deterministic"]
    for quantity in ("p_f", "f", "c"):
        assert_same_bits(record.moments[("deterministic", quantity)], reference(values[quantity]))
    retention = np.cumprod(values["f"].astype(np.float64), axis=0)
    for quantity in ("retention", "retention_theory"):
        assert_same_bits(record.moments[("deterministic", quantity)], reference(retention))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stochastic_condition_statistics_equal_the_full_arrays(dtype):
    """Every quantity of a bernoulli condition beside its deterministic baseline:
    the two-pass ones stacked (c, h, dev_*, div_*), the counted ones (f,
    retention, sat_*, flip_*) side by side."""
    conditions = {"deterministic": Condition(), "bernoulli": Condition("bernoulli")}
    record, sim = record_and_simulate(conditions, ("p_f", "f", "c", "h"), dtype, "deterministic")
    det, bern = sim["deterministic"], sim["bernoulli"]
    moments = record.moments
    for quantity in ("p_f", "c", "h"):
        assert_same_bits(moments[("bernoulli", quantity)], reference(bern[quantity]))
    assert_same_bits(moments[("bernoulli", "f")], reference(bern["f"], indicator=True))
    for which in ("c", "h"):
        deviation = bern[which] - det[which]  # in the run's dtype, as the recorder forms it
        assert_same_bits(moments[("bernoulli", f"dev_{which}")], reference(deviation))
        square = np.square(deviation)
        rms = np.sqrt((np.add.reduce(square, axis=-1, keepdims=True) / HIDDEN).astype(dtype))
        assert_same_bits(moments[("bernoulli", f"div_{which}")], reference(rms))
    retention = np.cumprod(bern["f"].astype(np.float64), axis=0)
    assert_same_bits(moments[("bernoulli", "retention")], reference(retention, indicator=True))
    theory = np.cumprod(bern["p_f"].astype(np.float64), axis=0)
    assert_same_bits(moments[("bernoulli", "retention_theory")], reference(theory))
    for short in ("i", "f", "o"):
        prob, gate = bern[f"p_{short}"], bern[short]
        saturated = (prob < dtype(0.1)) | (prob > dtype(0.9))
        flipped = (gate != 0) != (prob > dtype(0.5))
        assert_same_bits(moments[("bernoulli", f"sat_{short}")], reference(saturated, True))
        assert_same_bits(moments[("bernoulli", f"flip_{short}")], reference(flipped, True))
