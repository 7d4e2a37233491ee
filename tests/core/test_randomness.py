"""The randomness contract: each seed's uniforms are its own streams, drawn
the same way in blocks, in chunks of seeds, and in float32."""

import numpy as np
import pytest

from stochlstm.core.randomness import NOISE_STREAMS, SeedBatchNoise, seed_states, uniforms


def test_noise_drawn_in_blocks_equals_noise_drawn_per_step():
    noise = SeedBatchNoise(
        root_seed=3, seeds=[5, 9], streams=["forget", "zoneout_h"], hidden_size=4
    )
    blocks = [
        {stream: draws.copy() for stream, draws in noise.next_block(n).items()} for n in (3, 1, 6)
    ]
    for stream in ("forget", "zoneout_h"):
        drawn = np.concatenate([block[stream] for block in blocks])  # (10, H, B)
        for column, seed in enumerate([5, 9]):
            np.testing.assert_array_equal(drawn[:, :, column], uniforms(3, seed, stream, 10, 4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_noise_of_seeds_past_the_first_chunk_is_their_own_stream(dtype):
    """Seeds are drawn and transposed in chunks of 256: a seed in the second
    chunk still gets exactly its own stream, block after block."""
    seeds = list(range(1000, 1300))
    noise = SeedBatchNoise(root_seed=2, seeds=seeds, streams=["input"], hidden_size=3, dtype=dtype)
    drawn = np.concatenate([noise.next_block(n)["input"].copy() for n in (4, 2)])  # (6, H, B)
    for column in (0, 255, 256, 299):
        expected = uniforms(2, seeds[column], "input", 6, 3).astype(dtype)
        np.testing.assert_array_equal(drawn[:, :, column], expected)


def test_float32_uniforms_stay_below_one():
    noise = SeedBatchNoise(0, range(64), ["input"], hidden_size=64, dtype=np.float32)
    block = noise.next_block(200)["input"]
    assert block.dtype == np.float32
    assert block.max() < 1.0 and block.min() >= 0.0


def test_vectorised_seed_states_equal_numpy_seed_sequence():
    """The batch hash reproduces SeedSequence exactly, for wide seeds and roots too."""
    seeds = [0, 1, 2, 7, 255, 2**31, 2**32 - 1, 2**32, 2**40 + 5, 2**64 - 1, *range(100, 140)]
    for root in (0, 1, 12345, 2**32 + 3, 2**70 + 11):
        for index, stream in enumerate(NOISE_STREAMS):
            ours = seed_states(root, seeds, stream)
            for row, seed in zip(ours, seeds, strict=True):
                expected = np.random.SeedSequence(root, spawn_key=(seed, index)).generate_state(
                    4, np.uint64
                )
                np.testing.assert_array_equal(
                    row, expected, err_msg=f"root {root} seed {seed} {stream}"
                )
