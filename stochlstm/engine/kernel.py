"""The kernel: the cell's steps for many seeds and conditions at once.

The math is in :mod:`stochlstm.core.cell`; this module runs it vectorised over
seeds. State is kept feature-major, ``(H, B)`` with ``B`` seeds, so that each
gate is one contiguous block of rows, and every operation writes into
preallocated buffers. Two identities keep the step cheap:

- the weight rows are reordered to input, forget, output, candidate and
  negated on the gate rows, so one product gives ``-a`` for the three gates
  in one block, and ``sigmoid(a) = 1 / (1 + exp(-a))`` is one ``exp`` and two
  cheap passes over it (``exp`` costs less than ``tanh``, in float64 by far);
- inputs shared by all seeds are projected once, before the loop, and added
  to ``W_hh h_{t-1}``; inputs that differ per seed take one product per step,
  ``[W_hh | W_ih | b]`` on ``[h_{t-1}; x_t; 1]`` (measured faster than two
  products and an add; the precomputed projection is faster still). A layer
  above the first takes the second way, its ``x_t`` the ``h_t`` of the layer below.

Each layer has its own uniforms (:func:`stochlstm.core.randomness.stream_key`),
drawn for the conditions that act on it.

BLAS runs single-threaded inside the kernel (its threads only pay for the
largest products): the cores run groups of seeds, each a kernel of its own
(:mod:`stochlstm.engine.threads`). The uniforms (:mod:`stochlstm.core.randomness`)
are drawn once per block of steps for all conditions (common random numbers),
each seed's steps in a row of its own. A stream that one condition reads is
compared in that drawn layout, a strided ``(H, B)`` view per step; a stream
that several conditions read is first copied into the step layout
``(steps, H, B)``, once (per uniform, from drawn rows to gates: one reader
1.6 ns strided, 2.1 ns copied; two readers 3.4 ns strided, 2.8 ns copied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..core.conditions import Condition
from ..core.gates import GateRule
from ..core.randomness import NOISE_STREAMS, SeedBatchNoise
from ..core.weights import LayerWeights, LSTMWeights
from .statistics import SEED_BLOCK

__all__ = [
    "NOISE_BLOCK_MIN_STEPS",
    "as_conditions",
    "check_inputs",
    "initial_columns",
    "record_layer",
    "run_kernel",
]

# Uniforms drawn at once, all streams and seeds: at most this many bytes (4M
# float64 or 8M float32 values), but at least NOISE_BLOCK_MIN_STEPS steps. Each
# generator call draws a block's steps of one seed and costs ~1 us of its own:
# at hidden 64, calls of 8 steps drew at ~2x the generator's peak rate, 32 steps
# at 1.2-1.3x, 128 steps at 1.05x. At 1,000 seeds and 3 streams a float32 block
# is 43 steps.
_NOISE_BLOCK_BYTES = 32 << 20
NOISE_BLOCK_MIN_STEPS = 8


def noise_block_steps(
    n_streams: int, hidden: int, batch: int, n_steps: int, dtype=np.float64
) -> int:
    """How many steps of uniforms the kernel draws at once."""
    per_step = max(1, n_streams * hidden * batch * np.dtype(dtype).itemsize)
    return min(n_steps, max(NOISE_BLOCK_MIN_STEPS, _NOISE_BLOCK_BYTES // per_step))


def as_conditions(conditions) -> dict[str, Condition]:
    if isinstance(conditions, Condition):
        return {"condition": conditions}
    conditions = dict(conditions)
    if not conditions:
        raise ValueError("at least one condition is needed")
    for name, condition in conditions.items():
        if not isinstance(condition, Condition):
            raise TypeError(f"condition {name!r} is not a Condition: {condition!r}")
    return conditions


def initial_columns(value, name: str, hidden: int, batch: int, dtype) -> np.ndarray:
    """An initial state as ``(H, B)``, from None (zeros), ``(H,)`` or ``(B, H)``."""
    if value is None:
        return np.zeros((hidden, batch), dtype=dtype)
    value = np.asarray(value, dtype=np.float64)
    if value.shape == (hidden,):
        return np.repeat(value[:, None], batch, axis=1).astype(dtype)
    if value.shape == (batch, hidden):
        return np.ascontiguousarray(value.T, dtype=dtype)
    raise ValueError(
        f"initial_state.{name}: expected shape ({hidden},) or ({batch}, {hidden}), got {value.shape}"
    )


def _matmul(
    matrix: np.ndarray, columns: np.ndarray, out: np.ndarray, blocks: list[slice]
) -> np.ndarray:
    """``matrix @ columns`` per block of :data:`SEED_BLOCK` columns: BLAS rounds by the
    number of columns (float32 in particular), so each seed gets the same bits in any batch."""
    if len(blocks) == 1:
        return np.matmul(matrix, columns, out=out)
    for block in blocks:
        np.matmul(matrix, columns[:, block], out=out[:, block])
    return out


class _LayerKernel:
    """The weights of one layer, prepared for the feature-major step. Layer 0
    reads the run's ``inputs``; a layer above it (``inputs`` None) the ``h`` of
    the layer below, handed to :meth:`preactivation` each step."""

    def __init__(self, layer: LayerWeights, inputs: np.ndarray | None, batch: int, dtype):
        hidden = layer.hidden_size
        self.hidden, self.batch, self.dtype = hidden, batch, np.dtype(dtype)
        self.blocks = [slice(start, start + SEED_BLOCK) for start in range(0, batch, SEED_BLOCK)]
        # the gate blocks i, f, g, o taken as i, f, o, g; -1 on the gate rows
        order = np.arange(4 * hidden).reshape(4, hidden)[[0, 1, 3, 2]].ravel()
        row_scale = np.repeat([-1.0, -1.0, -1.0, 1.0], hidden)
        weight_hh, weight_ih = layer.weight_hh[order], layer.weight_ih[order]
        # the biases summed in the wider of the weights' and the run's dtype: float32
        # weights in a float64 run are summed in float64 (torch's float64 LSTM does too)
        sum_dtype = np.result_type(layer.bias_ih.dtype, self.dtype)
        bias = (layer.bias_ih.astype(sum_dtype) + layer.bias_hh.astype(sum_dtype))[order, None]
        if inputs is not None and inputs.ndim == 2:  # (T, X) shared by all seeds
            self.stack_rows = hidden
            self.stacked = np.ascontiguousarray(weight_hh * row_scale[:, None], dtype=dtype)
            projection = (inputs @ weight_ih.T + bias.T) * row_scale  # (T, 4H)
            self.projection = np.ascontiguousarray(projection[:, :, None], dtype=dtype)
        else:  # (T, B, X): one sequence per seed, or the layer below's h
            self.stack_rows = hidden + layer.input_size + 1
            stacked = np.hstack([weight_hh, weight_ih, bias]) * row_scale[:, None]
            self.stacked = np.ascontiguousarray(stacked, dtype=dtype)
            self.projection = None
            self.inputs = None
            if inputs is not None:  # (T, X, B)
                self.inputs = np.ascontiguousarray(inputs.transpose(0, 2, 1), dtype=dtype)

    def new_stack(self, h0: np.ndarray) -> np.ndarray:
        """The column buffer ``(rows, B)``: ``h`` in the first H rows (then
        ``x_t`` and a row of ones when inputs differ per seed)."""
        stack = np.empty((self.stack_rows, self.batch), dtype=self.dtype)
        stack[: self.hidden] = h0
        if self.projection is None:
            stack[-1] = 1
        return stack

    def preactivation(self, t: int, stack: np.ndarray, out: np.ndarray, x=None) -> np.ndarray:
        """The preactivation ``(4H, B)``, negated on the gate rows, from the stack
        (and ``x (X, B)``, the layer below's ``h``, above layer 0)."""
        if self.projection is None:
            stack[self.hidden : -1] = self.inputs[t] if x is None else x
        _matmul(self.stacked, stack, out, self.blocks)
        if self.projection is not None:
            out += self.projection[t]
        return out


class _LayerState:
    """The state and work buffers of one condition on one layer over a batch of seeds."""

    def __init__(self, condition: Condition, kernel: _LayerKernel, h0, c0):
        hidden, batch, dtype = kernel.hidden, kernel.batch, kernel.dtype
        self.condition, self.kernel = condition, kernel

        def buffer(rows=hidden):
            return np.empty((rows, batch), dtype=dtype)

        self.stack, self.stack_next = kernel.new_stack(h0), kernel.new_stack(h0)
        self.c, self.c_next = c0.copy(), buffer()
        self.scaled_preact, self.activations = buffer(4 * hidden), buffer(4 * hidden)
        self.product, self.cell_output = buffer(), buffer()
        self.gate_out = {g: buffer() for g in ("input", "forget", "output")}
        self.keep = buffer() if condition.forget_semantics == "erase" else None
        self.candidate = buffer() if condition.candidate == "binary" else None
        needs_preact = any(getattr(condition, g).needs_preact for g in self.gate_out)
        self.preact = buffer() if needs_preact else None
        self.mask = np.empty((hidden, batch), dtype=bool)

    def _gate(self, name: str, rule: GateRule, block: int, prob, uniform):
        preact = None
        if rule.needs_preact:
            rows = slice(block * self.kernel.hidden, (block + 1) * self.kernel.hidden)
            preact = np.negative(self.scaled_preact[rows], out=self.preact)
        return rule(prob, preact=preact, uniform=uniform, out=self.gate_out[name])

    def step(self, t: int, noise: Mapping[str, np.ndarray], x=None) -> dict[str, np.ndarray]:
        """Advance one step; ``noise`` maps a stream to this step's ``(H, B)``
        uniforms, ``x`` is the layer below's ``h`` (above layer 0)."""
        condition, hidden = self.condition, self.kernel.hidden
        preact = self.kernel.preactivation(t, self.stack, self.scaled_preact, x)
        gates, activations = 3 * hidden, self.activations
        probs = np.exp(preact[:gates], out=activations[:gates])  # exp(-a)
        probs += 1
        np.reciprocal(probs, out=probs)
        candidate = np.tanh(preact[gates:], out=activations[gates:])
        input_prob = activations[:hidden]
        forget_prob = activations[hidden : 2 * hidden]
        output_prob = activations[2 * hidden : gates]

        if condition.candidate == "binary":
            candidate = _stochastic_sign(candidate, noise["candidate"], self.candidate)
        input_gate = self._gate("input", condition.input, 0, input_prob, noise.get("input"))
        forget_gate = self._gate("forget", condition.forget, 1, forget_prob, noise.get("forget"))
        output_gate = self._gate("output", condition.output, 2, output_prob, noise.get("output"))

        keep = forget_gate
        if condition.forget_semantics == "erase":
            keep = np.subtract(1, forget_gate, out=self.keep)
        cell = np.multiply(keep, self.c, out=self.c_next)
        cell += np.multiply(input_gate, candidate, out=self.product)
        if condition.zoneout.c > 0:
            np.less(noise["zoneout_c"], condition.zoneout.c, out=self.mask)
            np.copyto(cell, self.c, where=self.mask)

        cell_output = np.tanh(cell, out=self.cell_output)
        if condition.cell_output == "binary":
            cell_output = _stochastic_sign(cell_output, noise["cell_output"], cell_output)
        hidden_state = np.multiply(output_gate, cell_output, out=self.stack_next[:hidden])
        if condition.zoneout.h > 0:
            np.less(noise["zoneout_h"], condition.zoneout.h, out=self.mask)
            np.copyto(hidden_state, self.stack[:hidden], where=self.mask)

        self.c, self.c_next = cell, self.c
        self.stack, self.stack_next = self.stack_next, self.stack
        return {
            "p_i": input_prob,
            "i": input_gate,
            "p_f": forget_prob,
            "f": forget_gate,
            "g": candidate,
            "p_o": output_prob,
            "o": output_gate,
            "c": cell,
            "h": hidden_state,
        }


class _Readout:
    """``y = f(W_y h + b_y)`` of the last layer's ``h (H, B)`` into ``(Y, B)``."""

    def __init__(self, weights: LSTMWeights, blocks: list[slice], dtype):
        self.weight = np.ascontiguousarray(weights.readout_weight, dtype=dtype)
        self.bias = np.asarray(weights.readout_bias, dtype=dtype)[:, None]
        self.kind, self.blocks = weights.readout_kind, blocks

    def __call__(self, hidden_state: np.ndarray, out: np.ndarray) -> np.ndarray:
        y = _matmul(self.weight, hidden_state, out, self.blocks)
        y += self.bias
        if self.kind == "sigmoid":  # 1 / (1 + exp(-z)) = (1 + tanh(z / 2)) / 2
            y *= 0.5
            np.tanh(y, out=y)
            y *= 0.5
            y += 0.5
        elif self.kind == "softmax":  # exp(z - max z) / sum, over the outputs
            y -= y.max(axis=0, keepdims=True)
            np.exp(y, out=y)
            y /= y.sum(axis=0, keepdims=True)
        return y


class _ConditionState:
    """One condition over a batch of seeds: its state on every layer, bottom
    first, and the readout of the last."""

    def __init__(self, condition: Condition, kernels, readout: _Readout | None, h0, c0, layer):
        self.condition = condition
        self.layers = [
            _LayerState(condition.on_layer(k), kernel, h0, c0) for k, kernel in enumerate(kernels)
        ]
        self.readout, self.layer = readout, layer
        self.y = None
        if readout is not None:
            self.y = np.empty((readout.weight.shape[0], kernels[0].batch), dtype=kernels[0].dtype)

    def step(self, t: int, noise: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Advance every layer one step; ``noise[k]`` is layer ``k``'s. The values
        of the recorded layer, and ``y``."""
        below = None
        for k, state in enumerate(self.layers):
            values = state.step(t, noise[k], below)
            below = values["h"]
            if k == self.layer:
                recorded = values
        if self.readout is not None:
            recorded["y"] = self.readout(below, self.y)
        return recorded


def _stochastic_sign(mean, uniform, out):
    """±1 with expectation ``mean``: ``+1`` where ``u < (1 + mean) / 2`` (in place on ``out``)."""
    half = np.multiply(mean, 0.5, out=out)
    half += 0.5
    np.less(uniform, half, out=out)
    out *= 2
    out -= 1
    return out


def check_inputs(inputs, weights: LSTMWeights, batch: int) -> np.ndarray:
    inputs = np.asarray(inputs, dtype=np.float64)
    x_size = weights.input_size
    if inputs.shape[1:] in ((x_size,), (batch, x_size)):
        return inputs
    raise ValueError(
        f"inputs: expected shape (steps, {x_size}) or (steps, {batch}, {x_size}), got {inputs.shape}"
    )


def run_kernel(
    weights: LSTMWeights,
    inputs: np.ndarray,
    conditions: Mapping[str, Condition] | Condition,
    seeds: Sequence[int],
    consumer: Callable[[int, int, dict[str, np.ndarray]], None],
    *,
    root_seed: int = 0,
    initial_state: Mapping[str, np.ndarray] | None = None,
    dtype=np.float64,
    layer: int | None = None,
) -> None:
    """Run every condition over ``seeds`` and hand each step to ``consumer``.

    ``consumer(condition_index, t, values)`` receives, for every condition and
    step (t increasing within a condition), the step's quantities of ``layer``
    (default: the last) as ``(H, B)`` arrays, and the readout ``y`` of the last
    layer as ``(Y, B)``, in the order of ``seeds``. The arrays are views into
    work buffers: copy what you keep. The initial state (``(H,)`` or ``(B, H)``)
    is every layer's.
    """
    conditions = as_conditions(conditions)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("at least one seed is needed")
    if len(seeds) == 1:
        # BLAS takes a matrix-vector path for one column, whose rounding differs
        # from the matrix-matrix path of larger batches: run the seed twice so
        # that a seed's numbers are the same bits alone and inside any batch.
        inputs = np.asarray(inputs)
        if inputs.ndim == 3:
            inputs = np.repeat(inputs, 2, axis=1)
        initial_state = {
            name: (np.repeat(value, 2, axis=0) if np.ndim(value) == 2 else value)
            for name, value in (initial_state or {}).items()
        }
        seeds, consume_both = seeds * 2, consumer

        def consumer(index: int, t: int, values: dict[str, np.ndarray]) -> None:
            consume_both(index, t, {q: v[:, :1] for q, v in values.items()})

    # exp(-a) overflows to inf for a < -709 (float64): the gate is then exactly 0.
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore"):
        _run(weights, inputs, conditions, seeds, consumer, root_seed, initial_state, dtype, layer)


def record_layer(weights: LSTMWeights, layer: int | None) -> int:
    """The layer whose quantities are recorded: ``layer``, or the last by default."""
    n_layers = weights.num_layers
    layer = n_layers - 1 if layer is None else int(layer)
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} does not exist: the layers are 0..{n_layers - 1}")
    return layer


class _LayerNoise:
    """The uniforms of one layer: the streams its conditions read, drawn a block
    of steps at a time; a stream several conditions read copied to the step layout."""

    def __init__(self, conditions, layer, root_seed, seeds, hidden, dtype):
        on_layer = [c.on_layer(layer) for c in conditions]
        readers = {s: sum(s in c.noise_streams for c in on_layer) for s in NOISE_STREAMS}
        self.streams = [s for s in NOISE_STREAMS if readers[s]]
        self.readers, self.shape, self.dtype = readers, (hidden, len(seeds)), dtype
        self.noise = None
        if self.streams:
            self.noise = SeedBatchNoise(root_seed, seeds, self.streams, hidden, dtype, layer)
        self.first_step: dict[str, np.ndarray] = {}

    def allocate(self, block_steps: int) -> None:
        self.step_layout = {
            s: np.empty((block_steps, *self.shape), dtype=self.dtype)
            for s in self.streams
            if self.readers[s] > 1
        }

    def next_block(self, n_steps: int, first: bool, keep_first: bool) -> list[dict]:
        """Each step's ``{stream: (H, B)}`` of the next ``n_steps`` steps."""
        block = self.noise.next_block(n_steps) if self.noise else {}
        for stream, buffer in self.step_layout.items():
            np.copyto(buffer[:n_steps], block[stream])
            block[stream] = buffer[:n_steps]
        if first and keep_first:
            self.first_step = {stream: draws[0].copy() for stream, draws in block.items()}
        return [{stream: draws[k] for stream, draws in block.items()} for k in range(n_steps)]


def _run(
    weights, inputs, conditions, seeds, consumer, root_seed, initial_state, dtype, layer
) -> None:
    batch, hidden = len(seeds), weights.hidden_size
    inputs = check_inputs(inputs, weights, batch)
    layer = record_layer(weights, layer)
    n_steps = inputs.shape[0]
    kernels = [
        _LayerKernel(weights_k, inputs if k == 0 else None, batch, dtype)
        for k, weights_k in enumerate(weights.layers)
    ]
    dtype = kernels[0].dtype
    readout = _Readout(weights, kernels[0].blocks, dtype) if weights.output_size else None
    initial_state = initial_state or {}
    h0 = initial_columns(initial_state.get("h"), "h", hidden, batch, dtype)
    c0 = initial_columns(initial_state.get("c"), "c", hidden, batch, dtype)
    states = [
        _ConditionState(condition, kernels, readout, h0, c0, layer)
        for condition in conditions.values()
    ]

    layer_noise = [
        _LayerNoise(conditions.values(), k, root_seed, seeds, hidden, dtype)
        for k in range(weights.num_layers)
    ]
    n_streams = sum(len(noise.streams) for noise in layer_noise)
    block_steps = noise_block_steps(n_streams, hidden, batch, n_steps, dtype)
    for noise in layer_noise:
        noise.allocate(block_steps)
    keep_first = any(c.noise == "fixed" for c in conditions.values())

    for block_start in range(0, n_steps, block_steps):
        steps = range(block_start, min(n_steps, block_start + block_steps))
        per_layer = [
            noise.next_block(len(steps), block_start == 0, keep_first) for noise in layer_noise
        ]
        per_step = list(zip(*per_layer, strict=True))  # per step: each layer's noise
        first_step = [noise.first_step for noise in layer_noise]
        for index, state in enumerate(states):
            fixed = state.condition.noise == "fixed"
            for t, step_noise in zip(steps, per_step, strict=True):
                consumer(index, t, state.step(t, first_step if fixed else step_noise))
