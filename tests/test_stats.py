"""Streaming statistics equal the statistics of the full array."""

import numpy as np
import pytest

from stochlstm.stats import RunningStats, block_stats, merge_all, student_t_975


def data(shape, seed=0):
    return np.random.Generator(np.random.PCG64(seed)).normal(loc=3.0, scale=2.0, size=shape)


@pytest.mark.parametrize("splits", [[1000], [1, 999], [256, 256, 256, 232], [7, 300, 13, 680]])
def test_merged_batches_equal_the_full_array(splits):
    values = data((5, 4, 1000))
    parts, start = [], 0
    for size in splits:
        parts.append(RunningStats.of(values[..., start : start + size]))
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
        alone = RunningStats.of(values[:, 256 * k : 256 * (k + 1)].copy())
        for field in ("mean", "m2", "min", "max"):
            np.testing.assert_array_equal(getattr(whole[k], field), getattr(alone, field))
    np.testing.assert_array_equal(merge_all(whole).mean, merge_all(block_stats(values[:, :512]) + block_stats(values[:, 512:])).mean)


def test_constant_cells_have_exact_mean_and_zero_spread():
    values = np.full((2, 300), 0.1)
    stats = merge_all(block_stats(values, block=7))
    assert np.all(stats.mean == 0.1) and np.all(stats.m2 == 0.0)
    table = stats.table()
    assert np.all(table["sd"] == 0.0) and np.all(table["ci_low"] == 0.1)


def test_table_has_the_t_interval():
    values = data((1, 10), seed=3)
    table = RunningStats.of(values).table()
    mean, sd = values.mean(), values.std(ddof=1)
    assert table["ci_high"][0] == pytest.approx(mean + 2.262157162798205 * sd / np.sqrt(10), rel=1e-12)
    assert np.isnan(RunningStats.of(values[:, :1]).table()["sd"][0])


@pytest.mark.parametrize(
    "df,quantile",
    # reference values of the Student t 0.975 quantile
    [(1, 12.706204736174705), (9, 2.262157162798205), (21, 2.079613844727662),
     (40, 2.021075390306273), (100, 1.983971518523552), (10**6, 1.959966)],
)
def test_student_t_quantile(df, quantile):
    assert student_t_975(df) == pytest.approx(quantile, abs=1e-6)
