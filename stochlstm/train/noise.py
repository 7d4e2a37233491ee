"""Where training's random numbers come from, on the randomness contract
(:mod:`stochlstm.core.randomness`).

- Gate noise of training seed ``j`` at iteration ``k``: row ``b`` of the
  batch reads the noise streams of seed ``k * batch_size + b`` under the root
  seed :func:`noise_root` ``(j, purpose)``, exactly as the simulator reads seed
  ``s`` under a run's root seed (so ``run_kernel(..., seeds=batch_seeds(k, B),
  root_seed=noise_root(j))`` sees the same uniforms as the training cell).
  ``purpose`` is :data:`TRAINING` for the training batches and
  :data:`VALIDATION` for the fixed validation set.
- Data of training seed ``j``: ``generator(j, (DATA, split, k))``, ``split``
  0 for the batch of iteration ``k`` and 1 for the validation set (``k = 0``).
  The test set is not drawn here: it is the inputs of the run directory's
  ``evaluate.yaml`` (example ``s`` from ``input_generator(j, s)``,
  :mod:`stochlstm.experiment.inputs`), so ``stochlstm run`` draws it itself.
- Initial weights of training seed ``j``: ``init_uniform(seed=model.weights.seed + j)``,
  the weights ``stochlstm run`` draws for ``{init: uniform, seed: model.weights.seed + j}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.randomness import SeedBatchNoise, generator

__all__ = [
    "TRAINING",
    "VALIDATION",
    "batch_seeds",
    "batch_uniforms",
    "data_generator",
    "noise_root",
]

TRAINING, VALIDATION = 0, 1
DATA = 0x64617461  # "data": spawn keys of three words never meet the gate noise's two
_NOISE = 0x6E6F6973  # "nois"
SPLITS = {"train": 0, "validation": 1}


def noise_root(train_seed: int, purpose: int = TRAINING) -> int:
    """The root seed of the gate noise of training seed ``train_seed``: the 128 bits
    of ``SeedSequence(train_seed, spawn_key=(NOISE, purpose))``."""
    words = np.random.SeedSequence(int(train_seed), spawn_key=(_NOISE, int(purpose)))
    low, high = (int(w) for w in words.generate_state(2, np.uint64))
    return low | (high << 64)


def batch_seeds(iteration: int, batch_size: int) -> list[int]:
    """The noise seeds of the rows of the batch of ``iteration``."""
    start = int(iteration) * int(batch_size)
    return list(range(start, start + int(batch_size)))


def batch_uniforms(
    root_seed: int,
    seeds: Sequence[int],
    streams: Sequence[str],
    n_steps: int,
    hidden_size: int,
    dtype=np.float64,
) -> dict[str, np.ndarray]:
    """``{stream: (T, B, H)}``: the uniforms of ``seeds`` (one row each), as the kernel draws them."""
    if not streams:
        return {}
    noise = SeedBatchNoise(root_seed, seeds, streams, hidden_size, dtype)
    block = noise.next_block(n_steps)  # (T, H, B) views
    return {
        stream: np.ascontiguousarray(draws.transpose(0, 2, 1)) for stream, draws in block.items()
    }


def data_generator(train_seed: int, split: str, iteration: int = 0) -> np.random.Generator:
    """The generator of one split's data (a training batch: its iteration)."""
    return generator(int(train_seed), (DATA, SPLITS[split], int(iteration)))
