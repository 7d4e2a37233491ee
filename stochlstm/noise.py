"""The randomness contract: where every uniform comes from.

Each (root seed, seed, stream) has its own generator,
``Generator(PCG64(SeedSequence(root_seed, spawn_key=(seed, stream_index))))``,
where ``stream_index`` is the position of the stream in
:data:`~stochlstm.condition.NOISE_STREAMS` ("input", "forget", "output",
"candidate", "cell_output", "zoneout_c", "zoneout_h"). Its draws, in order,
are the uniforms of step 0 units 0..H-1, then step 1, and so on. So the uniform
of a (gate, t, unit) at seed ``s`` depends on ``(root_seed, s, gate, t, unit)``
(and the hidden size) only: never on the batch, the other seeds, the
conditions run, the process or the executor. Every condition reads the same
streams, which gives common random numbers across conditions.

Draws are float64 (``Generator.random``); float32 runs round them to float32,
clipped below 1 so that ``u < p`` stays true for ``p = 1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .condition import NOISE_STREAMS

__all__ = ["SeedBatchNoise", "stream_generator", "uniforms"]

_STREAM_INDEX = {name: index for index, name in enumerate(NOISE_STREAMS)}
_BELOW_ONE_FLOAT32 = np.float32(1.0) - np.float32(2.0**-24)


def stream_generator(root_seed: int, seed: int, stream: str) -> np.random.Generator:
    """The generator of one noise stream of one seed."""
    sequence = np.random.SeedSequence(int(root_seed), spawn_key=(int(seed), _STREAM_INDEX[stream]))
    return np.random.Generator(np.random.PCG64(sequence))


def uniforms(root_seed: int, seed: int, stream: str, n_steps: int, hidden_size: int) -> np.ndarray:
    """The uniforms of one stream of one seed for steps 0..n_steps-1: ``(n_steps, hidden_size)``."""
    return (
        stream_generator(root_seed, seed, stream)
        .random(n_steps * hidden_size)
        .reshape(n_steps, hidden_size)
    )


def _to_dtype(values64: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, values64, casting="same_kind")
    if out.dtype == np.float32:
        np.minimum(out, _BELOW_ONE_FLOAT32, out=out)


class SeedBatchNoise:
    """Draws the uniforms of a batch of seeds, a block of steps at a time, in
    the feature-major layout of the kernel: ``block[stream][t] -> (H, B)``.

    Successive calls to :meth:`next_block` continue each stream, so drawing in
    blocks gives the same numbers as drawing per step.
    """

    def __init__(
        self,
        root_seed: int,
        seeds: Sequence[int],
        streams: Sequence[str],
        hidden_size: int,
        dtype=np.float64,
    ):
        self.streams = tuple(streams)
        self.hidden_size = hidden_size
        self.dtype = np.dtype(dtype)
        self.batch_size = len(seeds)
        self._generators = {
            stream: [stream_generator(root_seed, seed, stream) for seed in seeds]
            for stream in self.streams
        }

    def next_block(self, n_steps: int) -> dict[str, np.ndarray]:
        """The next ``n_steps`` steps of every stream: ``{stream: (n_steps, H, B)}``.

        The arrays are reused by the next call: copy what you keep.
        """
        hidden, batch = self.hidden_size, self.batch_size
        if getattr(self, "_capacity", 0) < n_steps:
            self._capacity = n_steps
            self._draws = np.empty((batch, n_steps * hidden))
            self._blocks = {
                s: np.empty((n_steps, hidden, batch), dtype=self.dtype) for s in self.streams
            }
        draws = self._draws[:, : n_steps * hidden]
        block = {}
        for stream, generators in self._generators.items():
            for row, generator in zip(draws, generators, strict=True):
                generator.random(out=row)
            out = self._blocks[stream][:n_steps]
            _to_dtype(draws.reshape(batch, n_steps, hidden).transpose(1, 2, 0), out)
            block[stream] = out
        return block
