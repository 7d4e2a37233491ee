"""The randomness contract: where every random number comes from.

Nothing here reads global state: every generator is
``Generator(PCG64(SeedSequence(entropy, spawn_key=...)))``, an explicit bit
generator (``default_rng``'s algorithm may change between NumPy versions).

Gate noise: each (root seed, seed, stream) has its own generator,
``Generator(PCG64(SeedSequence(root_seed, spawn_key=(seed, stream_index))))``,
where ``stream_index`` is the position of the stream in :data:`NOISE_STREAMS`
("input", "forget", "output", "candidate", "cell_output", "zoneout_c",
"zoneout_h"). Its draws, in order,
are the uniforms of step 0 units 0..H-1, then step 1, and so on. In a stacked
LSTM, layer ``k > 0`` has streams of its own,
``SeedSequence(root_seed, spawn_key=(seed, stream_index, k))``; layer 0's are
the ones above, so a one-layer model's noise is the same whatever layers exist.
So the uniform of a (gate, t, unit) of a layer at seed ``s`` depends on
``(root_seed, s, layer, gate, t, unit)`` (and the hidden size and the run's dtype)
only: never on the batch, the other seeds, the conditions run, the process or
the executor. Every condition reads the same streams, which gives common random
numbers across conditions.

The uniforms have the run's dtype: ``Generator.random(dtype=dtype)``. A float64
run's are ``random()``, 53 bits each; a float32 run's are
``random(dtype=np.float32)``, 24 bits each, two per PCG64 step: the generator's
peak float32 rate, with no float64 draw to round. Both lie in ``[0, 1)``, so
``u < p`` is true for ``p = 1``. The two are different numbers: a float32 and a
float64 run at the same seed agree in distribution, not sample by sample; within
one dtype every guarantee above holds.

Weights and inputs have seeds of their own (:func:`generator`), separate from
the gate noise: random weights use ``SeedSequence(seed)``; an input shared by
every run seed ``SeedSequence(seed)``, an input drawn per run seed ``s``
``SeedSequence(seed, spawn_key=(s,))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "NOISE_STREAMS",
    "SeedBatchNoise",
    "generator",
    "seed_states",
    "stream_generator",
    "stream_key",
    "uniforms",
]

# The independent uniform streams of one seed, in a fixed order: a stream's
# position is part of the contract.
NOISE_STREAMS: tuple[str, ...] = (
    "input",  # input gate sample
    "forget",  # forget gate sample
    "output",  # output gate sample
    "candidate",  # stochastic binary candidate g
    "cell_output",  # stochastic binary tanh(c)
    "zoneout_c",  # zoneout mask on c
    "zoneout_h",  # zoneout mask on h
)
_STREAM_INDEX = {name: index for index, name in enumerate(NOISE_STREAMS)}


def generator(seed: int, spawn_key: Sequence[int] = ()) -> np.random.Generator:
    """``Generator(PCG64(SeedSequence(seed, spawn_key=spawn_key)))``."""
    sequence = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in spawn_key))
    return np.random.Generator(np.random.PCG64(sequence))


def stream_key(seed: int, stream: str, layer: int = 0) -> tuple[int, ...]:
    """The spawn key of one noise stream of one seed (and layer)."""
    if layer < 0:
        raise ValueError(f"layer must be >= 0, got {layer}")
    return (seed, _STREAM_INDEX[stream]) + ((layer,) if layer else ())


def stream_generator(root_seed: int, seed: int, stream: str, layer: int = 0) -> np.random.Generator:
    """The generator of one noise stream of one seed (of one layer)."""
    return generator(root_seed, stream_key(seed, stream, layer))


def uniforms(
    root_seed: int,
    seed: int,
    stream: str,
    n_steps: int,
    hidden_size: int,
    dtype=np.float64,
    layer: int = 0,
) -> np.ndarray:
    """The uniforms of one stream of one seed (of one layer) for steps
    0..n_steps-1 in a run of ``dtype``: ``(n_steps, hidden_size)``."""
    return (
        stream_generator(root_seed, seed, stream, layer)
        .random(n_steps * hidden_size, dtype=dtype)
        .reshape(n_steps, hidden_size)
    )


# NumPy's SeedSequence hash (numpy/random/bit_generator.pyx), vectorised over
# seeds: building a SeedSequence and a PCG64 costs ~30 us per stream, which
# dominates short runs of many seeds; the same states computed for a whole
# batch at once cost well under a microsecond per stream. Tested equal to
# SeedSequence(root_seed, spawn_key=(seed, stream)).generate_state(4, uint64).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R, _MASK32, _POOL = 0xCA01F9DD, 0x4973F715, 0xFFFFFFFF, 4


def _uint32_words(value: int) -> list[int]:
    """An integer as SeedSequence splits it: little-endian 32-bit words ([0] for 0)."""
    words = [value & _MASK32]
    value >>= 32
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words


class _HashMix:
    """``hashmix`` with its running constant (the same for every seed)."""

    def __init__(self, init: int):
        self.const = init

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(self.const)
        self.const = (self.const * _MULT_A) & _MASK32
        value = value * np.uint32(self.const)
        return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
    return result ^ (result >> np.uint32(16))


def _seed_states_same_width(
    root_seed: int, seeds: np.ndarray, seed_words: int, key_tail: tuple[int, ...]
) -> np.ndarray:
    count = len(seeds)
    run_words = _uint32_words(root_seed)
    run_words += [0] * max(0, _POOL - len(run_words))
    columns = [np.full(count, w, dtype=np.uint32) for w in run_words]
    columns += [
        ((seeds >> np.uint64(32 * k)) & np.uint64(_MASK32)).astype(np.uint32)
        for k in range(seed_words)
    ]
    for part in key_tail:  # the spawn key after the seed: stream index (and layer)
        columns += [np.full(count, w, dtype=np.uint32) for w in _uint32_words(part)]
    hashmix = _HashMix(_INIT_A)
    pool = [hashmix(columns[i]) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(columns)):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], hashmix(columns[src]))
    const = _INIT_B
    words = []
    for k in range(8):
        value = pool[k % _POOL] ^ np.uint32(const)
        const = (const * _MULT_B) & _MASK32
        value = value * np.uint32(const)
        words.append(value ^ (value >> np.uint32(16)))
    low = np.stack(words[0::2], axis=1).astype(np.uint64)
    high = np.stack(words[1::2], axis=1).astype(np.uint64)
    return low | (high << np.uint64(32))


def seed_states(root_seed: int, seeds, stream: str, layer: int = 0) -> np.ndarray:
    """``SeedSequence(root_seed, spawn_key=stream_key(seed, stream, layer)).generate_state(4, uint64)``
    for every seed at once: ``(B, 4)`` uint64 (seeds below 2**64)."""
    seeds = [int(s) for s in seeds]
    if any(s < 0 or s >= 2**64 for s in seeds):
        raise ValueError("seeds must be integers in [0, 2**64)")
    seeds_array = np.asarray(seeds, dtype=np.uint64)
    states = np.empty((len(seeds), 4), dtype=np.uint64)
    wide = seeds_array >= np.uint64(2**32)
    key_tail = stream_key(0, stream, layer)[1:]
    for seed_words, rows in ((1, ~wide), (2, wide)):
        if rows.any():
            states[rows] = _seed_states_same_width(
                int(root_seed), seeds_array[rows], seed_words, key_tail
            )
    return states


class _FixedState(np.random.bit_generator.ISeedSequence):
    """A seed sequence whose state is already computed (see :func:`seed_states`)."""

    __slots__ = ("state",)

    def __init__(self, state: np.ndarray):
        self.state = state

    def generate_state(self, n_words, dtype=np.uint32):
        return self.state


# Rows are padded by a cache line so that their stride is not a multiple of
# 4 KiB: reading one step of every seed at such a stride collides in the cache
# (it made the transposing reads this layout replaced 3-4x slower).
_ROW_PADDING_BYTES = 64


class SeedBatchNoise:
    """Draws the uniforms of a batch of seeds (of one layer), a block of steps at a time.

    Each seed's draws of a block are one call of its generator, written into its
    own row; the kernel reads them in that drawn layout, as ``(H, B)`` views of
    a step (strided, no copy). Successive calls to :meth:`next_block` continue
    each stream, so drawing in blocks gives the same numbers as drawing per step.
    """

    def __init__(
        self,
        root_seed: int,
        seeds: Sequence[int],
        streams: Sequence[str],
        hidden_size: int,
        dtype=np.float64,
        layer: int = 0,
    ):
        self.streams = tuple(streams)
        self.hidden_size = hidden_size
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"uniforms are float32 or float64, not {self.dtype}")
        self.batch_size = len(seeds)
        self._capacity = 0  # steps the reused rows hold
        self._draws = {  # bound methods: a call per seed and block is the hot loop
            stream: [
                np.random.Generator(np.random.PCG64(_FixedState(state))).random
                for state in seed_states(root_seed, seeds, stream, layer)
            ]
            for stream in self.streams
        }

    def next_block(self, n_steps: int) -> dict[str, np.ndarray]:
        """The next ``n_steps`` steps of every stream: ``{stream: (n_steps, H, B)}``,
        views of rows ``(B, n_steps * H)`` (so ``block[stream][t]`` is strided).

        The arrays are reused by the next call: copy what you keep.
        """
        hidden, batch, dtype = self.hidden_size, self.batch_size, self.dtype
        if self._capacity < n_steps:
            self._capacity = n_steps
            width = n_steps * hidden + _ROW_PADDING_BYTES // dtype.itemsize
            self._rows = {s: np.empty((batch, width), dtype=dtype) for s in self.streams}
        width = n_steps * hidden
        block = {}
        for stream, draws in self._draws.items():
            rows = self._rows[stream][:, :width]
            for draw, row in zip(draws, rows, strict=True):
                draw(None, dtype, row)
            block[stream] = rows.reshape(batch, n_steps, hidden).transpose(1, 2, 0)
        return block
