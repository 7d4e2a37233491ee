"""The vectorised kernel: against torch.nn.LSTM, against the plain reference
cell for every option, and the randomness contract."""

import numpy as np
import pytest

from stochlstm import Condition, from_torch, init_uniform, simulate
from stochlstm.core.cell import unroll
from stochlstm.core.randomness import uniforms

BERNOULLI = Condition("bernoulli")


def shared_inputs(steps=12, input_size=3, seed=0):
    return np.random.Generator(np.random.PCG64(seed)).normal(size=(steps, input_size))


# ---------------------------------------------------------------- torch


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize(
    "input_size,hidden_size,batch,steps", [(1, 1, 1, 5), (3, 5, 17, 30), (8, 64, 50, 40)]
)
def test_deterministic_simulation_equals_torch_lstm(
    torch, dtype, atol, input_size, hidden_size, batch, steps
):
    rng = np.random.Generator(np.random.PCG64(hidden_size))
    weights = from_torch(
        rng.uniform(-0.5, 0.5, (4 * hidden_size, input_size)),
        rng.uniform(-0.5, 0.5, (4 * hidden_size, hidden_size)),
        rng.uniform(-0.5, 0.5, 4 * hidden_size),
        rng.uniform(-0.5, 0.5, 4 * hidden_size),
    )
    inputs = rng.normal(size=(steps, batch, input_size))
    h0, c0 = rng.normal(size=(2, batch, hidden_size))
    sim = simulate(
        weights, inputs, Condition(), seeds=batch, initial_state={"h": h0, "c": c0}, dtype=dtype
    )
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    lstm = torch.nn.LSTM(input_size, hidden_size).to(torch_dtype)
    with torch.no_grad():
        for name, value in weights.to_torch_state_dict().items():
            getattr(lstm, name).copy_(torch.from_numpy(np.asarray(value)))
        output, (h_n, c_n) = lstm(
            torch.from_numpy(inputs).to(torch_dtype),
            (
                torch.from_numpy(h0[None]).to(torch_dtype),
                torch.from_numpy(c0[None]).to(torch_dtype),
            ),
        )
    ours = sim["condition"]
    assert ours["h"].dtype == dtype
    np.testing.assert_allclose(ours["h"], output.numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(ours["c"][-1], c_n[0].numpy(), rtol=0, atol=atol * 10)


# ---------------------------------------------------------------- reference cell

OPTIONS = {
    "deterministic": Condition(),
    "bernoulli": BERNOULLI,
    "threshold": Condition("threshold"),
    "concrete": Condition("concrete", temperature=0.7),
    "forget-only": Condition(forget="bernoulli"),
    "erase": Condition("bernoulli", forget_semantics="erase"),
    "zoneout": Condition(zoneout={"c": 0.3, "h": 0.2}),
    "binary-units": Condition(candidate="binary", cell_output="binary"),
    "fixed-noise": Condition("bernoulli", noise="fixed", zoneout={"h": 0.1}),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_equals_reference_cell_for_every_option(dtype):
    weights = init_uniform(3, 6, seed=2, output_size=2)
    inputs = shared_inputs(steps=15)
    seeds = [3, 11, 12, 40]
    h0 = np.linspace(-0.5, 0.5, 6)
    sim = simulate(
        weights, inputs, OPTIONS, seeds, root_seed=9, initial_state={"h": h0}, dtype=dtype
    )
    batch_inputs = np.repeat(inputs[:, None, :], len(seeds), axis=1)
    for name, condition in OPTIONS.items():
        draws = {
            stream: np.stack([uniforms(9, s, stream, 15, 6, dtype) for s in seeds], axis=1)
            for stream in condition.noise_streams
        }
        if condition.noise == "fixed":
            draws = {stream: np.repeat(d[:1], 15, axis=0) for stream, d in draws.items()}
        expected = unroll(
            weights, batch_inputs, np.tile(h0, (4, 1)), np.zeros((4, 6)), condition, draws
        )
        tolerance = 1e-12 if dtype == np.float64 else 2e-5
        for quantity in ("p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h", "y"):
            np.testing.assert_allclose(
                sim[name][quantity],
                expected[quantity],
                rtol=0,
                atol=tolerance,
                err_msg=f"{name}: {quantity}",
            )


# ---------------------------------------------------------------- randomness contract


def test_seed_alone_equals_seed_inside_a_large_batch():
    """float64: the same bits for every quantity, alone, in a pair, in a large batch."""
    dtype = np.float64
    weights = init_uniform(3, 8, seed=0)
    inputs = shared_inputs(steps=20)
    conditions = {"stochastic": BERNOULLI, "zoneout": Condition(zoneout={"c": 0.2, "h": 0.1})}
    alone = simulate(weights, inputs, conditions, [7], root_seed=4, dtype=dtype)
    pair = simulate(weights, inputs, conditions, [7, 8], root_seed=4, dtype=dtype)
    batch = simulate(weights, inputs, conditions, range(2000), root_seed=4, dtype=dtype)
    for name in conditions:
        for quantity in alone.quantities:
            np.testing.assert_array_equal(alone[name][quantity][:, 0], batch[name][quantity][:, 7])
            np.testing.assert_array_equal(pair[name][quantity][:, 0], batch[name][quantity][:, 7])


def test_float32_seed_alone_follows_seed_inside_a_batch():
    """float32 BLAS rounds differently by batch width: states agree to rounding,
    gate samples agree except where u is within rounding of p (none here)."""
    weights = init_uniform(3, 8, seed=0)
    inputs = shared_inputs(steps=20)
    alone = simulate(weights, inputs, BERNOULLI, [7], root_seed=4, dtype=np.float32)
    batch = simulate(weights, inputs, BERNOULLI, range(600), root_seed=4, dtype=np.float32)
    for gate in ("i", "f", "o"):
        np.testing.assert_array_equal(
            alone["condition"][gate][:, 0], batch["condition"][gate][:, 7]
        )
    np.testing.assert_allclose(
        alone["condition"]["c"][:, 0], batch["condition"]["c"][:, 7], atol=1e-6
    )


@pytest.mark.parametrize(
    "conditions",
    [
        {"bernoulli": BERNOULLI},  # one reader: compared in the drawn layout
        {"bernoulli": BERNOULLI, "concrete": Condition("concrete", temperature=0.5)},  # copied
    ],
)
def test_batch_width_does_not_change_a_seed_block(conditions):
    """Seeds in the same block of 256 give the same bits whatever the batch width
    (float32 too): what makes a run's outputs independent of its batch size."""
    weights = init_uniform(3, 8, seed=0)
    inputs = shared_inputs(steps=10)
    wide = simulate(weights, inputs, conditions, range(1024), dtype=np.float32)
    narrow = simulate(weights, inputs, conditions, range(256, 512), dtype=np.float32)
    for name in conditions:
        for quantity in wide.quantities:
            np.testing.assert_array_equal(wide[name][quantity][:, 256:512], narrow[name][quantity])


def test_float32_gates_compare_each_seeds_own_float32_uniforms_across_blocks():
    """At 1,100 seeds (groups of 512 and 588), hidden 64 and three streams a
    float32 block of uniforms is 85 or 74 steps: over 90 steps, across a block
    boundary and in both layouts (a stream read by one condition, or by
    several), every gate sample is exactly ``u < p`` with ``u`` its seed's
    float32 stream and ``p`` the run's own."""
    weights = init_uniform(3, 64, seed=1)
    inputs = shared_inputs(steps=90)
    conditions = {"bernoulli": BERNOULLI, "forget-only": Condition(forget="bernoulli")}
    sim = simulate(weights, inputs, conditions, range(1100), root_seed=6, dtype=np.float32)
    checked = [0, 555, 1099]
    gates = {"bernoulli": ("i", "f", "o"), "forget-only": ("f",)}
    streams = {"i": "input", "f": "forget", "o": "output"}
    for name, names in gates.items():
        for gate in names:
            draws = [uniforms(6, s, streams[gate], 90, 64, np.float32) for s in checked]
            expected = np.stack(draws, axis=1) < sim[name]["p_" + gate][:, checked]
            np.testing.assert_array_equal(sim[name][gate][:, checked], expected, f"{name} {gate}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_do_not_change_a_simulation(dtype):
    """Groups of seeds in threads give the same bits as one thread, with per-seed
    inputs and initial states sliced to each group."""
    rng = np.random.Generator(np.random.PCG64(5))
    n_seeds, hidden = 600, 4
    weights = init_uniform(3, hidden, seed=0, output_size=2)
    inputs = rng.normal(size=(9, n_seeds, 3))
    initial = {"h": rng.normal(size=(n_seeds, hidden)), "c": rng.normal(size=(n_seeds, hidden))}
    conditions = OPTIONS
    runs = [
        simulate(
            weights,
            inputs,
            conditions,
            range(n_seeds),
            initial_state=initial,
            dtype=dtype,
            threads=threads,
        )
        for threads in (1, 3)
    ]
    for name in conditions:
        for quantity in runs[0].quantities:
            np.testing.assert_array_equal(runs[0][name][quantity], runs[1][name][quantity])


def test_per_seed_shapes_are_checked_before_seeds_are_grouped():
    weights = init_uniform(3, 4, seed=0)
    with pytest.raises(ValueError, match="inputs: expected shape"):
        simulate(weights, np.zeros((5, 700, 3)), Condition(), range(600), threads=2)
    with pytest.raises(ValueError, match="initial_state.h"):
        simulate(
            weights,
            np.zeros((5, 3)),
            Condition(),
            range(600),
            initial_state={"h": np.zeros((700, 4))},
            threads=2,
        )


def test_same_seed_twice_is_identical_and_different_seeds_differ():
    weights = init_uniform(2, 5, seed=0)
    inputs = shared_inputs(steps=10, input_size=2)
    first = simulate(weights, inputs, BERNOULLI, [1, 2], root_seed=0)
    again = simulate(weights, inputs, BERNOULLI, [1, 2], root_seed=0)
    for quantity in first.quantities:
        np.testing.assert_array_equal(first["condition"][quantity], again["condition"][quantity])
    gates = first["condition"]["f"]
    assert not np.array_equal(gates[:, 0], gates[:, 1])
    other_root = simulate(weights, inputs, BERNOULLI, [1, 2], root_seed=1)
    assert not np.array_equal(other_root["condition"]["f"], gates)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_noise_does_not_depend_on_the_other_conditions(dtype):
    """Common random numbers: the forget uniforms are the same whichever arms run
    (read in the drawn layout alone, copied to the step layout together)."""
    weights = init_uniform(3, 4, seed=0)
    inputs = shared_inputs(steps=8)
    forget_only = {"forget": Condition(forget="bernoulli")}
    alone = simulate(weights, inputs, forget_only, range(30), dtype=dtype)
    together = simulate(weights, inputs, {**OPTIONS, **forget_only}, range(30), dtype=dtype)
    np.testing.assert_array_equal(alone["forget"]["f"], together["forget"]["f"])
    np.testing.assert_array_equal(alone["forget"]["c"], together["forget"]["c"])
    # At t = 0 every condition starts from the same state, so the same uniforms
    # give the same forget samples under all-gates bernoulli and forget-only.
    np.testing.assert_array_equal(together["bernoulli"]["f"][0], together["forget"]["f"][0])


def test_float32_run_follows_float64_run_in_distribution():
    """Deterministic states agree to float32 rounding. Gate samples come from
    float32 draws, other numbers than the float64 ones: the first step's forget
    gates (the same p_f for every seed) differ sample by sample but fire at the
    same rate. Per unit, the two rates over 4,000 seeds differ by less than 4.4
    standard errors (false alarm 1.1e-5 per unit, 9e-5 for the 8 units)."""
    weights = init_uniform(3, 8, seed=0)
    inputs = shared_inputs(steps=30)
    conditions = {"deterministic": Condition(), "stochastic": BERNOULLI}
    double = simulate(weights, inputs, conditions, range(4000))
    single = simulate(weights, inputs, conditions, range(4000), dtype=np.float32)
    np.testing.assert_allclose(
        single["deterministic"]["h"], double["deterministic"]["h"], atol=1e-5
    )
    first_single = single["stochastic"]["f"][0]  # (B, H): p_f is the same for every seed
    first_double = double["stochastic"]["f"][0]
    assert not np.array_equal(first_single, first_double)
    prob = double["stochastic"]["p_f"][0, 0]  # (H,)
    difference = first_single.mean(axis=0) - first_double.mean(axis=0)
    se = np.sqrt(2 * prob * (1 - prob) / 4000)
    assert np.all(np.abs(difference) < 4.4 * se)


def test_to_frame_is_tidy():
    weights = init_uniform(2, 3, seed=0, output_size=1)
    sim = simulate(weights, np.ones((4, 2)), {"det": Condition(), "sto": BERNOULLI}, [10, 20])
    frame = sim.to_frame()
    assert len(frame) == 2 * 2 * 4 * 3
    row = frame.query("condition == 'sto' and seed == 20 and t == 3 and unit == 1").iloc[0]
    assert row["c"] == sim["sto"]["c"][3, 1, 1]
    assert row["y"] == sim["sto"]["y"][3, 1, 0]
    assert list(frame.columns[:4]) == ["condition", "seed", "t", "unit"]


def test_concrete_with_tiny_temperature_is_bernoulli_in_simulation():
    weights = init_uniform(3, 6, seed=3)
    inputs = shared_inputs(steps=25)
    conditions = {
        "bernoulli": BERNOULLI,
        "concrete": Condition("concrete", temperature=1e-9),
    }
    sim = simulate(weights, inputs, conditions, range(200), root_seed=2)
    for quantity in ("i", "f", "o", "c", "h"):
        np.testing.assert_array_equal(sim["concrete"][quantity], sim["bernoulli"][quantity])


# ---------------------------------------------------------------- stacked layers, readouts

LAYERED = {
    "deterministic": Condition(),
    "bernoulli": BERNOULLI,
    "upper-bernoulli": Condition("bernoulli", layers=[1]),
    "lower-zoneout": Condition(zoneout={"c": 0.3, "h": 0.2}, layers=[0]),
    "binary-fixed": Condition(candidate="binary", noise="fixed", forget="bernoulli"),
}


@pytest.mark.parametrize("kind", ["sigmoid", "linear", "softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_kernel_equals_reference_cell_with_each_layers_own_noise(dtype, kind):
    weights = init_uniform(3, 6, seed=2, output_size=3, num_layers=2, readout_kind=kind)
    inputs = shared_inputs(steps=15)
    seeds, n_steps = [3, 11, 12, 40], 15
    h0 = np.linspace(-0.5, 0.5, 6)
    batch_inputs = np.repeat(inputs[:, None, :], len(seeds), axis=1)
    for layer in (0, 1):
        sim = simulate(
            weights,
            inputs,
            LAYERED,
            seeds,
            root_seed=9,
            initial_state={"h": h0},
            dtype=dtype,
            layer=layer,
        )
        for name, condition in LAYERED.items():
            draws = []
            for k in (0, 1):
                streams = condition.on_layer(k).noise_streams
                steps_drawn = 1 if condition.noise == "fixed" else n_steps
                layer_draws = {
                    stream: np.stack(
                        [uniforms(9, s, stream, n_steps, 6, dtype, layer=k) for s in seeds], axis=1
                    )[:steps_drawn]
                    for stream in streams
                }
                draws.append(
                    {
                        stream: np.repeat(d, n_steps // len(d), axis=0)
                        for stream, d in layer_draws.items()
                    }
                )
            expected = unroll(
                weights,
                batch_inputs,
                np.tile(h0, (4, 1)),
                np.zeros((4, 6)),
                condition,
                draws,
                layer=layer,
            )
            tolerance = 1e-12 if dtype == np.float64 else 2e-5
            for quantity in ("p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h", "y"):
                np.testing.assert_allclose(
                    sim[name][quantity],
                    expected[quantity],
                    rtol=0,
                    atol=tolerance,
                    err_msg=f"{name}, layer {layer}: {quantity}",
                )


def test_a_condition_on_the_upper_layer_leaves_the_lower_layer_deterministic():
    weights = init_uniform(2, 5, seed=3, num_layers=2, output_size=1)
    inputs = shared_inputs(steps=12, input_size=2)
    conditions = {"deterministic": Condition(), "upper": Condition("bernoulli", layers=[1])}
    lower = simulate(weights, inputs, conditions, 50, layer=0)
    upper = simulate(weights, inputs, conditions, 50)  # the last layer by default
    assert upper.layer == 1 and lower.layer == 0
    for quantity in lower.quantities:  # y: the last layer's readout, whichever is recorded
        if quantity != "y":
            np.testing.assert_array_equal(
                lower["upper"][quantity], lower["deterministic"][quantity]
            )
    assert set(np.unique(upper["upper"]["f"])) == {0.0, 1.0}
    assert not np.array_equal(upper["upper"]["y"], upper["deterministic"]["y"])
    with pytest.raises(ValueError, match=r"layer 2 does not exist: the layers are 0\.\.1"):
        simulate(weights, inputs, conditions, 2, layer=2)


def torch_model(torch, weights, dtype):
    """nn.LSTM(num_layers) and an nn.Linear head holding ``weights``."""
    lstm = torch.nn.LSTM(weights.input_size, weights.hidden_size, num_layers=weights.num_layers)
    head = torch.nn.Linear(weights.hidden_size, weights.output_size)
    lstm, head = lstm.to(dtype), head.to(dtype)
    with torch.no_grad():
        for name, value in weights.to_torch_state_dict().items():
            getattr(lstm, name).copy_(torch.from_numpy(value))
        head.weight.copy_(torch.from_numpy(weights.readout_weight.copy()))
        head.bias.copy_(torch.from_numpy(weights.readout_bias.copy()))
    return lstm, head


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_deterministic_readouts_of_stacked_lstms_equal_torch(torch, num_layers, dtype, atol):
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    inputs = shared_inputs(steps=25, input_size=2)
    for kind, outputs, head_of in (
        ("linear", 1, lambda z: z),
        ("softmax", 4, lambda z: torch.softmax(z, dim=-1)),
    ):
        weights = init_uniform(
            2, 7, seed=num_layers, output_size=outputs, num_layers=num_layers, readout_kind=kind
        ).astype(dtype)
        sim = simulate(weights, inputs, Condition(), seeds=3, dtype=dtype)
        lstm, head = torch_model(torch, weights, torch_dtype)
        with torch.no_grad():
            output, _ = lstm(torch.from_numpy(inputs[:, None, :]).to(torch_dtype))
            expected = head_of(head(output)).numpy()[:, 0]
        assert sim["condition"]["y"].dtype == dtype
        for seed in range(3):
            np.testing.assert_allclose(sim["condition"]["y"][:, seed], expected, rtol=0, atol=atol)


def test_float32_weights_in_a_float64_run_sum_their_biases_in_float64(torch):
    """float32 weights, cast exactly to float64: the run in float64 equals torch's
    float64 LSTM on the cast weights to 1e-12 (summing the biases in float32 first
    would leave errors of about 1e-8)."""
    rng = np.random.Generator(np.random.PCG64(5))
    weights = init_uniform(1, 24, seed=7, output_size=1, num_layers=2, readout_kind="linear")
    weights = weights.astype(np.float32)
    inputs = rng.normal(size=(40, 1))
    sim = simulate(weights, inputs, Condition(), seeds=1, dtype=np.float64)
    lstm, head = torch_model(torch, weights.astype(np.float64), torch.float64)
    with torch.no_grad():
        output, _ = lstm(torch.from_numpy(inputs[:, None, :]))
        expected = head(output).numpy()[:, 0]
    np.testing.assert_allclose(sim["condition"]["y"][:, 0], expected, rtol=0, atol=1e-12)


def test_stacked_per_seed_inputs_follow_the_reference_and_a_seed_is_the_same_in_any_batch():
    weights = init_uniform(2, 5, seed=4, num_layers=3, output_size=2, readout_kind="softmax")
    rng = np.random.Generator(np.random.PCG64(6))
    inputs = rng.normal(size=(8, 600, 2))
    conditions = {"bernoulli": BERNOULLI, "middle": Condition(zoneout={"h": 0.3}, layers=[1])}
    batch = simulate(weights, inputs, conditions, range(600), root_seed=1, layer=1)
    alone = simulate(weights, inputs[:, 7:8], conditions, [7], root_seed=1, layer=1)
    for name, condition in conditions.items():
        draws = [
            {
                stream: np.stack([uniforms(1, 7, stream, 8, 5, layer=k)], axis=1)
                for stream in condition.on_layer(k).noise_streams
            }
            for k in range(3)
        ]
        expected = unroll(
            weights, inputs[:, 7:8], np.zeros((1, 5)), np.zeros((1, 5)), condition, draws, layer=1
        )
        for quantity in batch.quantities:
            np.testing.assert_array_equal(alone[name][quantity][:, 0], batch[name][quantity][:, 7])
            np.testing.assert_allclose(
                batch[name][quantity][:, 7], expected[quantity][:, 0], rtol=0, atol=1e-12
            )
