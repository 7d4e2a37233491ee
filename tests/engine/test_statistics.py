"""Streaming statistics equal the statistics of the full array."""

from collections.abc import Iterable

import numpy as np
import pytest

from stochlstm.engine.statistics import (
    SEED_BLOCK,
    BlockMoments,
    RunningStats,
    block_sizes,
    student_t_975,
)

# Whole arrays through the recorder's block moments, and merged as the runner merges them.


def _block_moments(values: np.ndarray, block: int, kind: str) -> tuple[np.ndarray, ...]:
    values = np.asarray(values)
    lead = values.shape[:-1]
    flat = values.reshape(-1, values.shape[-1])
    workspace = BlockMoments(flat.shape[1], max(flat.shape[0], 1), block)
    result = getattr(workspace, kind)(flat)  # (4, rows, n_blocks)
    return tuple(np.moveaxis(m, -1, 0).reshape(len(workspace.sizes), *lead).copy() for m in result)


def block_moments(values: np.ndarray, block: int = SEED_BLOCK) -> tuple[np.ndarray, ...]:
    """Mean, m2, min and max (see :meth:`BlockMoments.real`) of each block of seeds
    (the last axis of ``values (..., B)``): 4 arrays ``(n_blocks, ...)``."""
    return _block_moments(values, block, "real")


def block_indicator_moments(values: np.ndarray, block: int = SEED_BLOCK) -> tuple[np.ndarray, ...]:
    """:func:`block_moments` of values that are all 0 or 1, from the count of ones."""
    return _block_moments(values, block, "indicator")


def block_stats(
    values: np.ndarray, block: int = SEED_BLOCK, indicator: bool = False
) -> list[RunningStats]:
    """Statistics of each block of ``block`` consecutive seeds (last axis);
    ``indicator=True`` for values that are all 0 or 1."""
    sizes = block_sizes(values.shape[-1], block)
    stacked = (block_indicator_moments if indicator else block_moments)(values, block)
    return [RunningStats(n, *(m[k] for m in stacked)) for k, n in enumerate(sizes)]


def merge_all(stats: Iterable[RunningStats]) -> RunningStats:
    """Merge in the given order (seed order, for reproducible bits)."""
    stats = iter(stats)
    total = next(stats)
    for more in stats:
        total = total.merge(more)
    return total


def stats_of(values):
    """Statistics of ``values`` over its last axis (the seeds), as one block."""
    values = np.asarray(values)
    return block_stats(values, block=values.shape[-1])[0]


def data(shape, seed=0):
    return np.random.Generator(np.random.PCG64(seed)).normal(loc=3.0, scale=2.0, size=shape)


@pytest.mark.parametrize("splits", [[1000], [1, 999], [256, 256, 256, 232], [7, 300, 13, 680]])
def test_merged_batches_equal_the_full_array(splits):
    values = data((5, 4, 1000))
    parts, start = [], 0
    for size in splits:
        parts.append(stats_of(values[..., start : start + size]))
        start += size
    merged = merge_all(parts)
    assert merged.n == 1000
    np.testing.assert_allclose(merged.mean, values.mean(axis=-1), rtol=1e-13)
    np.testing.assert_allclose(merged.variance, values.var(axis=-1, ddof=1), rtol=1e-12)
    np.testing.assert_array_equal(merged.min, values.min(axis=-1))
    np.testing.assert_array_equal(merged.max, values.max(axis=-1))


def test_block_statistics_do_not_depend_on_the_batch():
    """Blocks of 256 seeds give the same bits whether computed in a batch of 256 or 1024."""
    values = data((3, 1024))
    whole = block_stats(values)
    for k in range(4):
        alone = stats_of(values[:, 256 * k : 256 * (k + 1)].copy())
        for field in ("mean", "m2", "min", "max"):
            np.testing.assert_array_equal(getattr(whole[k], field), getattr(alone, field))
    np.testing.assert_array_equal(
        merge_all(whole).mean,
        merge_all(block_stats(values[:, :512]) + block_stats(values[:, 512:])).mean,
    )


def test_constant_cells_have_exact_mean_and_zero_spread():
    values = np.full((2, 300), 0.1)
    stats = merge_all(block_stats(values, block=7))
    assert np.all(stats.mean == 0.1) and np.all(stats.m2 == 0.0)
    table = stats.table()
    assert np.all(table["sd"] == 0.0) and np.all(table["ci_low"] == 0.1)


def test_table_has_the_t_interval():
    values = data((1, 10), seed=3)
    table = stats_of(values).table()
    mean, sd = values.mean(), values.std(ddof=1)
    assert table["ci_high"][0] == pytest.approx(
        mean + 2.262157162798205 * sd / np.sqrt(10), rel=1e-12
    )
    assert np.isnan(stats_of(values[:, :1]).table()["sd"][0])


@pytest.mark.parametrize(
    "df,quantile",
    # reference values of the Student t 0.975 quantile
    [
        (1, 12.706204736174705),
        (9, 2.262157162798205),
        (21, 2.079613844727662),
        (40, 2.021075390306273),
        (100, 1.983971518523552),
        (10**6, 1.959966),
    ],
)
def test_student_t_quantile(df, quantile):
    assert student_t_975(df) == pytest.approx(quantile, abs=1e-6)


def indicators(shape, seed=0):
    """0/1 data with every kind of block: mixed, all zero, all one (rows 1 and 2)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    values = (rng.random(shape) < rng.random(shape[:-1] + (1,))).astype(np.float64)
    values[1] = 0.0
    values[2] = 1.0
    values[3, :300] = 1.0  # the first block constant, the second mixed
    return values


@pytest.mark.parametrize("n_seeds", [1000, 768, 1, 100])
def test_indicator_moments_equal_the_two_pass_moments(n_seeds):
    values = indicators((6, n_seeds))
    fast, two_pass = block_indicator_moments(values), block_moments(values)
    mean, m2, low, high = fast
    np.testing.assert_array_equal(mean, two_pass[0])  # the same s / n
    np.testing.assert_allclose(m2, two_pass[1], rtol=1e-14, atol=1e-13)
    np.testing.assert_array_equal(low, two_pass[2])
    np.testing.assert_array_equal(high, two_pass[3])
    constant = low == high
    assert np.all(m2[constant] == 0.0) and np.all(mean[constant] == low[constant])
    # as a boolean array, and merged into the summary table
    for field, expected in zip(fast, block_indicator_moments(values.astype(bool)), strict=True):
        np.testing.assert_array_equal(field, expected)
    tables = [merge_all(block_stats(values, indicator=k)).table() for k in (True, False)]
    for name in tables[0]:
        np.testing.assert_allclose(tables[0][name], tables[1][name], rtol=1e-15, atol=1e-15)
    merged = merge_all(block_stats(values, indicator=True))
    assert np.all(merged.m2[1:3] == 0.0) and np.all(merged.mean[2] == 1.0)


def test_indicator_m2_is_the_exact_value_rounded_once():
    values = indicators((6, 1000))
    _, m2, _, _ = block_indicator_moments(values)
    for k, n in enumerate([256, 256, 256, 232]):
        s = values[:, 256 * k : 256 * k + n].sum(axis=-1)
        np.testing.assert_array_equal(m2[k], [float(np.float64(x * (n - x)) / n) for x in s])


@pytest.mark.parametrize("indicator", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_moments_do_not_depend_on_the_batch_width(indicator, dtype):
    """Block k's numbers are the same bits alone, in a batch of 4 blocks, in a
    wider workspace, and after the workspace computed other values."""
    values = (indicators((6, 1100)) if indicator else data((6, 1100))).astype(dtype)
    kind = "indicator" if indicator else "real"
    whole = getattr(BlockMoments(1100, 8), kind)(values).copy()
    assert whole.shape == (4, 6, 5)
    for start, stop in [(0, 256), (256, 1024), (1024, 1100), (512, 1100)]:
        workspace = BlockMoments(stop - start, 6)
        getattr(workspace, kind)(data((6, stop - start), seed=9).astype(dtype))  # dirty the buffers
        part = getattr(workspace, kind)(values[:, start:stop])
        np.testing.assert_array_equal(part, whole[:, :, start // 256 : -(-stop // 256)])
    first_rows = getattr(BlockMoments(1100, 8), kind)(values[:2])
    np.testing.assert_array_equal(first_rows, whole[:, :2])


def test_real_moments_in_float32_are_those_of_the_float64_values():
    values = data((3, 600)).astype(np.float32)
    for got, expected in zip(
        block_moments(values), block_moments(values.astype(np.float64)), strict=True
    ):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


def test_block_moments_keep_the_leading_axes():
    values = data((2, 3, 700))
    mean, m2, low, high = block_moments(values)
    assert mean.shape == m2.shape == low.shape == high.shape == (3, 2, 3)
    np.testing.assert_allclose(mean[2], values[..., 512:].mean(axis=-1), rtol=1e-14)
    np.testing.assert_array_equal(high[1], values[..., 256:512].max(axis=-1))


def test_real_moments_of_stacked_parts_are_those_of_the_stacked_array():
    """Parts of either type, converted into the work buffer one after the other,
    give the bits of the one array they stack into."""
    parts = [data((2, 700)).astype(np.float32), data((3, 700), seed=1), data((1, 700), seed=2)]
    stacked = np.concatenate([part.astype(np.float64) for part in parts])
    got = BlockMoments(700, 8).real(parts)
    np.testing.assert_array_equal(got, BlockMoments(700, 6).real(stacked))


@pytest.mark.parametrize("dtype", [bool, np.float32, np.float64])
def test_counts_of_ones_are_exact_in_any_type_and_block(dtype):
    """Counted in the values' own type: up to 256 ones per block, and beyond the
    16-bit range in a block of 70,000 seeds."""
    values = indicators((4, 1000)).astype(dtype)
    counts = BlockMoments(1000, 4).count_ones(values, np.empty((4, 4)))
    expected = [values[:, s : s + 256].astype(np.int64).sum(axis=-1) for s in range(0, 1000, 256)]
    np.testing.assert_array_equal(counts, np.stack(expected, axis=-1))
    all_ones = np.ones((1, 70_000), dtype=dtype)
    wide = BlockMoments(70_000, 1, block=70_000).count_ones(all_ones, np.empty((1, 1)))
    assert wide[0, 0] == 70_000
