"""Across-seed statistics that stream: memory does not grow with the seeds.

:class:`RunningStats` holds, for an array of cells (e.g. every ``(t, unit)``
of a quantity), the count, mean, sum of squared deviations (``m2``), minimum
and maximum over the seeds seen so far. Two of them merge exactly as if their
seeds had been pooled (Chan, Golub & LeVeque's update), so seeds can be
processed in batches, in other processes or on other machines.

So that results do not depend on how seeds were batched, statistics are
always formed over fixed *blocks* of consecutive seeds (:data:`SEED_BLOCK`
seeds; the run's last block may be shorter) and blocks are merged in seed
order. A batch is a whole number of blocks, so any batch size, any number of
jobs and any executor produce the same bits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SEED_BLOCK",
    "RunningStats",
    "block_moments",
    "block_sizes",
    "block_stats",
    "merge_all",
    "moments",
    "student_t_975",
]

SEED_BLOCK = 256


@dataclass
class RunningStats:
    """Count, mean, m2, min and max of each cell over the seeds seen.

    ``n`` is a scalar: every cell has seen the same seeds.
    """

    n: int
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> RunningStats:
        """Statistics of ``values`` over its last axis (the seeds)."""
        values = np.asarray(values)
        return cls(values.shape[-1], *moments(values))

    def merge(self, other: RunningStats) -> RunningStats:
        """The statistics of the pooled seeds of ``self`` and ``other``."""
        if self.n == 0:
            return other.copy()
        if other.n == 0:
            return self.copy()
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return RunningStats(n, mean, m2, np.minimum(self.min, other.min), np.maximum(self.max, other.max))

    def copy(self) -> RunningStats:
        return RunningStats(self.n, self.mean.copy(), self.m2.copy(), self.min.copy(), self.max.copy())

    @property
    def variance(self) -> np.ndarray:
        """Sample variance (ddof = 1); NaN for a single seed."""
        if self.n < 2:
            return np.full_like(self.mean, np.nan)
        return self.m2 / (self.n - 1)

    def table(self) -> dict[str, np.ndarray]:
        """n, mean, sd, se and the 95% CI ``mean ± t(0.975, n-1) se`` of every cell."""
        sd = np.sqrt(self.variance)
        se = sd / np.sqrt(self.n)
        half_width = student_t_975(self.n - 1) * se
        return {
            "n": np.full(self.mean.shape, self.n, dtype=np.int64),
            "mean": self.mean,
            "sd": sd,
            "se": se,
            "ci_low": self.mean - half_width,
            "ci_high": self.mean + half_width,
            "min": self.min,
            "max": self.max,
        }


def moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, m2 (sum of squared deviations), min and max over the last axis, in float64.

    Where every value is the same, the mean is that value and m2 exactly 0.
    """
    mean = values.mean(axis=-1, dtype=np.float64)
    m2 = np.square(values - mean[..., None], dtype=np.float64).sum(axis=-1)
    low = values.min(axis=-1).astype(np.float64)
    high = values.max(axis=-1).astype(np.float64)
    constant = low == high
    mean[constant] = low[constant]
    m2[constant] = 0.0
    return mean, m2, low, high


def block_sizes(n_seeds: int, block: int = SEED_BLOCK) -> list[int]:
    """Sizes of the consecutive seed blocks of ``n_seeds`` seeds."""
    return [min(block, n_seeds - start) for start in range(0, n_seeds, block)]


def block_moments(values: np.ndarray, block: int = SEED_BLOCK) -> tuple[np.ndarray, ...]:
    """:func:`moments` of each block of ``block`` consecutive seeds (last axis of
    ``values (..., B)``), stacked on a new leading axis: 4 arrays ``(n_blocks, ...)``.
    """
    n_seeds = values.shape[-1]
    full = n_seeds // block * block
    parts = []
    if full:
        blocks = values[..., :full].reshape(*values.shape[:-1], full // block, block)
        parts.append([np.moveaxis(m, -1, 0) for m in moments(blocks)])
    if full < n_seeds:
        parts.append([m[None] for m in moments(values[..., full:])])
    return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))


def block_stats(values: np.ndarray, block: int = SEED_BLOCK) -> list[RunningStats]:
    """Statistics of each block of ``block`` consecutive seeds (last axis)."""
    sizes = block_sizes(values.shape[-1], block)
    stacked = block_moments(values, block)
    return [RunningStats(n, *(m[k] for m in stacked)) for k, n in enumerate(sizes)]


def merge_all(stats: Iterable[RunningStats]) -> RunningStats:
    """Merge in the given order (seed order, for reproducible bits)."""
    stats = iter(stats)
    total = next(stats)
    for more in stats:
        total = total.merge(more)
    return total


# Student t quantiles t(0.975, df) for small df; beyond the table the
# Cornish-Fisher expansion around the normal quantile is accurate to < 1e-6.
_T975 = {
    1: 12.706204736174705, 2: 4.302652729749464, 3: 3.182446305284263, 4: 2.776445105197793,
    5: 2.570581835636314, 6: 2.446911851144969, 7: 2.364624251592785, 8: 2.306004135204166,
    9: 2.262157162798205, 10: 2.228138851986274, 11: 2.200985160082949, 12: 2.178812829667228,
    13: 2.160368656461013, 14: 2.144786687917804, 15: 2.131449545559323, 16: 2.119905299221011,
    17: 2.109815577833181, 18: 2.100922040241036, 19: 2.093024054408263, 20: 2.085963447265837,
    25: 2.059538552753294, 30: 2.042272456301238,
}
_Z975 = 1.959963984540054


def student_t_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return float("nan")
    if df in _T975:
        return _T975[df]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
