"""Across-seed statistics that stream: memory does not grow with the seeds.

Two :class:`RunningStats` merge exactly as if their seeds had been pooled (Chan,
Golub & LeVeque's update), so seeds can be processed in batches, processes or
machines. Statistics are formed over fixed *blocks* of :data:`SEED_BLOCK`
consecutive seeds (the run's last block may be shorter), merged in seed order:
any batch size, number of jobs and executor give the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SEED_BLOCK", "BlockMoments", "RunningStats", "block_sizes", "student_t_975"]

SEED_BLOCK = 256


@dataclass
class RunningStats:
    """Count, mean, sum of squared deviations (``m2``), min and max of each cell (e.g.
    every ``(t, unit)`` of a quantity) over the seeds seen; every cell saw the same ``n``."""

    n: int
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray

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
        low, high = np.minimum(self.min, other.min), np.maximum(self.max, other.max)
        return RunningStats(n, mean, m2, low, high)

    def copy(self) -> RunningStats:
        return RunningStats(
            self.n, self.mean.copy(), self.m2.copy(), self.min.copy(), self.max.copy()
        )

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


def block_sizes(n_seeds: int, block: int = SEED_BLOCK) -> list[int]:
    """Sizes of the consecutive seed blocks of ``n_seeds`` seeds."""
    return [min(block, n_seeds - start) for start in range(0, n_seeds, block)]


class BlockMoments:
    """Per-block moments of ``(rows, n_seeds)`` arrays into reused buffers, for the
    recorder at every recorded step. Each block's numbers come from that block's
    values only, row by row, reduced over a contiguous axis of the block's length:
    the same bits whatever batch the block is in and whatever rows come with it.
    Results are ``(4, rows, n_blocks)`` views (mean, m2, min, max; float64) of a
    buffer that the next call overwrites.
    """

    def __init__(self, n_seeds: int, rows: int, block: int = SEED_BLOCK):
        if n_seeds < 1 or rows < 1 or block < 1:
            raise ValueError(f"need n_seeds, rows and block >= 1, got {n_seeds}, {rows}, {block}")
        self.n_seeds, self.rows, self.block = n_seeds, rows, block
        self.sizes = block_sizes(n_seeds, block)
        n_full, rest = divmod(n_seeds, block)
        # groups of equal blocks: (first seed, blocks, seeds per block, first block)
        self._groups = [(0, n_full, block, 0)] if n_full else []
        if rest:
            self._groups.append((n_full * block, 1, rest, n_full))
        self.counts = np.asarray(self.sizes, dtype=np.float64)
        self.result = np.empty((4, rows, len(self.sizes)))
        self.tally = np.empty((rows, len(self.sizes)))
        self.constant = np.empty((rows, len(self.sizes)), dtype=bool)
        # the float64 values (converted once), then their deviations from the mean, in place
        self._work = [np.empty((rows, k, n)) for _, k, n, _ in self._groups]
        self._views: dict[int, list] = {}
        self._count_buffers: dict[tuple, np.ndarray] = {}

    def _parts(self, rows: int) -> list:
        """Per group of equal blocks: where its seeds are, and views of its columns of the
        four moments and of its work buffer, in the first ``rows`` rows (made once)."""
        parts = self._views.get(rows)
        if parts is None:
            if not 1 <= rows <= self.rows:
                raise ValueError(f"expected 1 to {self.rows} rows, got {rows}")
            parts = self._views[rows] = [
                (start, k, n, *(a[:rows, first : first + k] for a in self.result), work[:rows])
                for (start, k, n, first), work in zip(self._groups, self._work, strict=True)
            ]
        return parts

    def _check(self, values: np.ndarray) -> int:
        if values.ndim != 2 or values.shape[1] != self.n_seeds:
            raise ValueError(f"expected values (rows, {self.n_seeds}), got {values.shape}")
        return values.shape[0]

    def real(self, values: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Moments of any ``values (rows, n_seeds)``, or of several such arrays stacked
        on the rows, in two passes (the mean, then the squared deviations); a block whose
        values are all equal gets that value as its mean and an m2 of exactly 0.

        The values are converted to float64 once, into the work buffer that then holds
        their deviations (a single float64 array is read where it lies)."""
        parts = [values] if isinstance(values, np.ndarray) else list(values)
        rows = sum(self._check(part) for part in parts)
        in_place = len(parts) == 1 and parts[0].dtype == np.float64
        for start, k, n, mean, m2, low, high, work in self._parts(rows):
            if in_place:
                blocks = parts[0][:, start : start + k * n].reshape(rows, k, n)
            else:
                row = 0
                for part in parts:
                    stop = row + part.shape[0]
                    work[row:stop] = part[:, start : start + k * n].reshape(-1, k, n)
                    row = stop
                blocks = work
            np.add.reduce(blocks, axis=-1, out=mean)
            np.divide(mean, n, out=mean)
            np.minimum.reduce(blocks, axis=-1, out=low)
            np.maximum.reduce(blocks, axis=-1, out=high)
            np.subtract(blocks, mean[:, :, None], out=work)
            np.square(work, out=work)
            np.add.reduce(work, axis=-1, out=m2)
        result = self.result[:, :rows]
        mean, m2, low, high = result
        constant = np.equal(low, high, out=self.constant[:rows])
        np.copyto(mean, low, where=constant)
        np.copyto(m2, 0.0, where=constant)
        return result

    def _count_buffer(self, rows: int, k: int, dtype) -> np.ndarray:
        key = (rows, k, np.dtype(dtype))
        buffer = self._count_buffers.get(key)
        if buffer is None:
            buffer = self._count_buffers[key] = np.empty((rows, k), dtype=dtype)
        return buffer

    def count_ones(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The number of nonzero values of each block of ``values (rows, n_seeds)``
        (all 0 or 1, or booleans) into ``out (rows, n_blocks)``, as float64.

        Counts are whole numbers, exact in any order of summation: they are summed
        in the values' own type (booleans as bytes into 16-bit integers, or 64-bit
        for blocks of 65,536 seeds and more), with no float64 conversion."""
        rows = self._check(values)
        if values.dtype == bool:
            values = values.view(np.uint8)
            dtype = np.uint16 if self.block < 1 << 16 else np.int64
        else:
            dtype = values.dtype
        for start, k, n, first in self._groups:
            blocks = values[:, start : start + k * n].reshape(rows, k, n)
            counts = self._count_buffer(rows, k, dtype)
            np.add.reduce(blocks, axis=-1, dtype=dtype, out=counts)
            out[:, first : first + k] = counts
        return out

    def from_counts(self, ones: np.ndarray) -> np.ndarray:
        """Moments of 0/1 values from the count of ones ``s`` of each block of ``n``,
        ``(rows, n_blocks)``: ``mean = s / n``, ``m2 = s (n - s) / n`` (exact up to the one
        final rounding), ``min = 1[s = n]`` and ``max = 1[s > 0]``."""
        result = self.result[:, : ones.shape[0]]
        mean, m2, low, high = result
        n = self.counts
        np.divide(ones, n, out=mean)
        np.subtract(n, ones, out=m2)
        np.multiply(m2, ones, out=m2)
        np.divide(m2, n, out=m2)
        np.equal(ones, n, out=low)
        np.greater(ones, 0, out=high)
        return result

    def indicator(self, values: np.ndarray) -> np.ndarray:
        """Moments of ``values (rows, n_seeds)`` that are all 0 or 1 (booleans, or the
        realised gates of binary rules) in one pass, from the count of ones."""
        return self.from_counts(self.count_ones(values, self.tally[: values.shape[0]]))


# Student t quantiles t(0.975, df) for small df; beyond the table the
# Cornish-Fisher expansion around the normal quantile is accurate to < 1e-6.
_T975 = {
    1: 12.706204736174705,
    2: 4.302652729749464,
    3: 3.182446305284263,
    4: 2.776445105197793,
    5: 2.570581835636314,
    6: 2.446911851144969,
    7: 2.364624251592785,
    8: 2.306004135204166,
    9: 2.262157162798205,
    10: 2.228138851986274,
    11: 2.200985160082949,
    12: 2.178812829667228,
    13: 2.160368656461013,
    14: 2.144786687917804,
    15: 2.131449545559323,
    16: 2.119905299221011,
    17: 2.109815577833181,
    18: 2.100922040241036,
    19: 2.093024054408263,
    20: 2.085963447265837,
    25: 2.059538552753294,
    30: 2.042272456301238,
}


def student_t_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return float("nan")
    if df in _T975:
        return _T975[df]
    z = 1.959963984540054  # the normal 0.975 quantile
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
