"""The randomness contract: each seed's uniforms are its own streams, drawn
the same way in blocks and in any batch, float64 draws for float64 runs and
float32 draws for float32 runs."""

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
def test_every_seed_of_a_batch_gets_its_own_stream_in_the_run_dtype(dtype):
    """Block after block (a larger block after a smaller one reallocates the
    rows), every seed's uniforms are ``Generator.random(dtype=dtype)`` of its own
    stream, the same numbers as drawn alone."""
    seeds = list(range(1000, 1300))
    noise = SeedBatchNoise(root_seed=2, seeds=seeds, streams=["input"], hidden_size=3, dtype=dtype)
    drawn = np.concatenate([noise.next_block(n)["input"].copy() for n in (4, 2, 7)])  # (13, H, B)
    assert drawn.dtype == dtype
    for column in (0, 255, 256, 299):
        expected = uniforms(2, seeds[column], "input", 13, 3, dtype=dtype)
        np.testing.assert_array_equal(drawn[:, :, column], expected)


def test_float32_uniforms_are_numpys_float32_draws_of_the_stream():
    """The float32 contract stated as NumPy: 24-bit draws, two per PCG64 step,
    not the float64 draws rounded."""
    expected = (
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(5, spawn_key=(3, 1))))
        .random(4 * 8, dtype=np.float32)
        .reshape(4, 8)
    )
    np.testing.assert_array_equal(uniforms(5, 3, "forget", 4, 8, dtype=np.float32), expected)
    float64 = uniforms(5, 3, "forget", 4, 8)
    assert not np.array_equal(expected, float64.astype(np.float32))
    np.testing.assert_array_equal(expected * 2.0**24, np.floor(expected * 2.0**24))


def test_float32_uniforms_stay_below_one():
    """``u < p`` must hold for ``p = 1``: float32 draws are at most ``1 - 2**-24``."""
    noise = SeedBatchNoise(0, range(64), ["input"], hidden_size=64, dtype=np.float32)
    block = noise.next_block(200)["input"]
    assert block.dtype == np.float32
    assert block.max() < 1.0 and block.min() >= 0.0


def test_other_dtypes_are_refused():
    with pytest.raises(ValueError, match="float32 or float64"):
        SeedBatchNoise(0, [1], ["input"], hidden_size=2, dtype=np.float16)


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_layer_has_its_own_streams_and_layer_0_keeps_the_one_layer_streams(dtype):
    """Layer 0: SeedSequence(root, spawn_key=(seed, stream)), as before layers existed;
    layer k > 0: spawn_key=(seed, stream, k). Batches draw the same numbers."""
    seeds = [4, 2**33 + 1]

    def numpy_draws(seed, spawn_key):
        sequence = np.random.SeedSequence(7, spawn_key=spawn_key)
        draws = np.random.Generator(np.random.PCG64(sequence)).random(5 * 3, dtype=dtype)
        return draws.reshape(5, 3)

    for layer, key_tail in ((0, (1,)), (1, (1, 1)), (2, (1, 2))):
        noise = SeedBatchNoise(7, seeds, ["forget"], hidden_size=3, dtype=dtype, layer=layer)
        block = noise.next_block(5)["forget"]
        for column, seed in enumerate(seeds):
            expected = numpy_draws(seed, (seed, *key_tail))
            np.testing.assert_array_equal(uniforms(7, seed, "forget", 5, 3, dtype, layer), expected)
            np.testing.assert_array_equal(block[:, :, column], expected)
    assert not np.array_equal(
        uniforms(7, 4, "forget", 5, 3), uniforms(7, 4, "forget", 5, 3, layer=1)
    )
