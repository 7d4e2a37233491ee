"""LSTM weights: one immutable object in PyTorch's layout, and the array forms
a user may give them in.

The layout is ``torch.nn.LSTM``'s (the equations are in :mod:`stochlstm.core.cell`),
one set of arrays per layer ``k`` (``weight_ih_l{k}``, ... in a state dict)::

    weight_ih (4H, X)    weight_hh (4H, H)    bias_ih (4H,)    bias_hh (4H,)    layer 0
    weight_ih (4H, H)    ...                                                     layer k > 0
    row blocks, in order: input gate i, forget gate f, cell candidate g, output gate o

    a = weight_ih @ x_t + bias_ih + weight_hh @ h_{t-1} + bias_hh
    a_i, a_f, a_g, a_o = a[0:H], a[H:2H], a[2H:3H], a[3H:4H]

where the input ``x_t`` of layer ``k > 0`` is ``h_t`` of layer ``k - 1``, with an
optional readout on the last layer's ``h_t``: ``readout_weight (Y, H)``,
``readout_bias (Y,)`` and its kind, ``sigmoid`` (the default), ``linear`` or
``softmax``.

The forms, each giving an :class:`LSTMWeights`:

- random: :func:`init_uniform`, torch's default initialisation, seeded;
- PyTorch layout: :func:`from_torch` (one layer), :func:`from_torch_state_dict`
  (an ``nn.LSTM``'s state dict, any number of layers), :meth:`LSTMWeights.from_layers`;
- Keras layout: :func:`from_keras`, ``kernel (X, 4H)``, ``recurrent_kernel (H, 4H)``,
  ``bias (4H,)``; Keras' gate order i, f, c, o is torch's, so these are the same
  blocks, transposed;
- the answer's per-gate form: :func:`from_per_gate`, ``W_i, W_f, W_C, W_o`` each
  ``(H, X + H)`` acting on ``[x_t, h_{t-1}]`` (x first), biases ``b_i, b_f, b_C, b_o``.

Files (``.npz``, PyTorch state dicts) are read by
:mod:`stochlstm.experiment.weight_files`. The checks are
:mod:`stochlstm.core.weight_layouts`; every one raises :class:`WeightsError`,
whose message starts with the array or key as the user wrote it (``W_f``,
``kernel``, ``lstm.weight_hh_l1``, ``file``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .randomness import generator
from .weight_layouts import (
    READOUT_KINDS,
    WeightsError,
    count,
    expected_sizes,
    first_matrix,
    float_dtype,
    keras_layout,
    labeller,
    per_gate_layout,
    readout_layout,
    torch_layer,
)

__all__ = [
    "LAYER_ARRAYS",
    "READOUT_KINDS",
    "LSTMWeights",
    "LayerWeights",
    "WeightsError",
    "from_keras",
    "from_per_gate",
    "from_torch",
    "from_torch_state_dict",
    "init_uniform",
]

_GATES = ("i", "f", "C", "o")  # the per-gate names of the row blocks, in order
LAYER_ARRAYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True, eq=False, repr=False)
class LayerWeights:
    """One layer's arrays, read-only, of one dtype: ``weight_ih (4H, X_k)``,
    ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``. Made (and
    checked) by :class:`LSTMWeights`."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    @property
    def input_size(self) -> int:
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in LAYER_ARRAYS}


class LSTMWeights:
    """Weights of an LSTM of one or more layers in PyTorch's layout, and its
    readout (see the module docstring).

    ``LSTMWeights(weight_ih, weight_hh, bias_ih, bias_hh, readout_weight,
    readout_bias)`` is a one-layer LSTM; ``upper_layers`` adds layers 1, 2, ...
    (each a :class:`LayerWeights`, a mapping of its four arrays, or a sequence of
    them), as does :meth:`from_layers`. ``weight_ih`` ... are layer 0's
    (``nn.LSTM``'s ``weight_ih_l0``); ``layers`` holds every layer's.

    Construction checks the shapes against each other (the sizes are read from
    layer 0's ``weight_ih``) and that every value is finite, and stores read-only
    copies. Missing biases are zeros (``readout_bias`` beside a ``readout_weight``
    too). The dtype is float32 if every array given is float32, else float64.
    ``readout_kind`` is ``sigmoid``, ``linear`` or ``softmax``.
    """

    __slots__ = ("layers", "readout_bias", "readout_kind", "readout_weight")

    def __init__(
        self,
        weight_ih,
        weight_hh,
        bias_ih=None,
        bias_hh=None,
        readout_weight=None,
        readout_bias=None,
        *,
        upper_layers: Sequence = (),
        readout_kind: str = "sigmoid",
    ):
        first = {"weight_ih": weight_ih, "weight_hh": weight_hh}
        first |= {"bias_ih": bias_ih, "bias_hh": bias_hh}
        given = [first, *(_layer_values(layer, k) for k, layer in enumerate(upper_layers, 1))]
        layers = [torch_layer(first, labeller({}))]
        hidden = layers[0]["weight_hh"].shape[1]
        for k, values in enumerate(given[1:], 1):
            label = _layer_label(k)
            layers.append(torch_layer(values, label, hidden, hidden, input_name="hidden_size"))
        values = {"readout_weight": readout_weight, "readout_bias": readout_bias}
        readout = readout_layout(values, labeller({}), hidden)
        if readout_kind not in READOUT_KINDS:
            expected = ", ".join(READOUT_KINDS)
            raise WeightsError("readout_kind", f"expected one of {expected}, got {readout_kind!r}")
        arrays = [a for layer in layers for a in layer.values()]
        arrays += [a for a in readout.values() if a is not None]
        dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
        layers = tuple(LayerWeights(**{n: _frozen(a, dtype) for n, a in x.items()}) for x in layers)
        readout = {name: _frozen(a, dtype) for name, a in readout.items()}
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "readout_weight", readout["readout_weight"])
        object.__setattr__(self, "readout_bias", readout["readout_bias"])
        object.__setattr__(self, "readout_kind", readout_kind)

    @classmethod
    def from_layers(
        cls, layers: Sequence, readout_weight=None, readout_bias=None, *, readout_kind="sigmoid"
    ) -> LSTMWeights:
        """Weights of ``layers`` (each a :class:`LayerWeights`, a mapping of
        ``weight_ih, weight_hh, bias_ih, bias_hh`` or a sequence of them), bottom first."""
        if not layers:
            raise WeightsError("layers", "at least one layer is needed")
        first, *upper = layers
        readout = {"readout_weight": readout_weight, "readout_bias": readout_bias}
        return cls(
            **_layer_values(first, 0), **readout, upper_layers=upper, readout_kind=readout_kind
        )

    def __setattr__(self, name, value):
        raise AttributeError(f"LSTMWeights is immutable: cannot set {name}")

    @property
    def weight_ih(self) -> np.ndarray:
        return self.layers[0].weight_ih

    @property
    def weight_hh(self) -> np.ndarray:
        return self.layers[0].weight_hh

    @property
    def bias_ih(self) -> np.ndarray:
        return self.layers[0].bias_ih

    @property
    def bias_hh(self) -> np.ndarray:
        return self.layers[0].bias_hh

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def output_size(self) -> int:
        """Readout width ``Y``; 0 without a readout."""
        return 0 if self.readout_weight is None else self.readout_weight.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def astype(self, dtype) -> LSTMWeights:
        """The same weights as float32 or float64."""
        dtype = float_dtype(dtype)
        if dtype == self.dtype:
            return self
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf ...
            layers = [{n: a.astype(dtype) for n, a in x.arrays().items()} for x in self.layers]
            readout = [a if a is None else a.astype(dtype) for a in self._readout()]
        try:
            return LSTMWeights.from_layers(layers, *readout, readout_kind=self.readout_kind)
        except WeightsError as error:  # ... and is reported here
            raise WeightsError(error.field, f"{error.detail} after the cast to {dtype}") from None

    def with_readout(self, weight, bias=None, *, names: Mapping[str, str] | None = None):
        """These weights with the readout ``weight (Y, H)``, ``bias (Y,)`` (zeros if
        missing), in their dtype and of their readout kind; ``names`` are the user's
        names for the two arrays, used in errors."""
        given = {"readout_weight": weight, "readout_bias": bias}
        readout = readout_layout(given, labeller(names or {}), self.hidden_size)
        readout = [a.astype(self.dtype) for a in readout.values()]
        layers = [x.arrays() for x in self.layers]
        return LSTMWeights.from_layers(layers, *readout, readout_kind=self.readout_kind)

    def with_readout_kind(self, kind: str) -> LSTMWeights:
        """These weights with the readout applying ``kind`` (sigmoid, linear, softmax)."""
        layers = [x.arrays() for x in self.layers]
        return LSTMWeights.from_layers(layers, *self._readout(), readout_kind=kind)

    def to_per_gate(self) -> dict[str, np.ndarray]:
        """The per-gate form of a one-layer LSTM, ``b_* = bias_ih block + bias_hh
        block``, and ``W_y, b_y`` when there is a readout. Inverse of :func:`from_per_gate`."""
        if self.num_layers > 1:
            raise WeightsError(
                "num_layers",
                f"the per-gate form holds one layer; these weights have {self.num_layers}",
            )
        blocks = zip(_GATES, np.split(self.weight_ih, 4), np.split(self.weight_hh, 4), strict=True)
        form = {f"W_{gate}": np.hstack([ih, hh]) for gate, ih, hh in blocks}
        biases = zip(_GATES, np.split(self.bias_ih, 4), np.split(self.bias_hh, 4), strict=True)
        form |= {f"b_{gate}": ih + hh for gate, ih, hh in biases}
        if self.readout_weight is not None:
            form.update(W_y=self.readout_weight.copy(), b_y=self.readout_bias.copy())
        return form

    def to_torch_state_dict(self) -> dict[str, np.ndarray]:
        """Writable copies under ``nn.LSTM``'s parameter names (``weight_ih_l0``, ...,
        ``bias_hh_l{L-1}``); the readout is not part of an ``nn.LSTM`` and is left out."""
        return {
            f"{name}_l{k}": array.copy()
            for k, layer in enumerate(self.layers)
            for name, array in layer.arrays().items()
        }

    def __eq__(self, other):
        if not isinstance(other, LSTMWeights):
            return NotImplemented
        mine, theirs = self._all_arrays(), other._all_arrays()
        # all arrays of an LSTMWeights have its dtype; a missing readout (None) equals only None
        return (
            self.dtype == other.dtype
            and self.readout_kind == other.readout_kind
            and len(mine) == len(theirs)
            and all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):  # rebuilt through __init__, so unpickled arrays are read-only too
        layers = [x.arrays() for x in self.layers]
        return _rebuild, (layers, *self._readout(), self.readout_kind)

    def __repr__(self):
        sizes = f"input_size={self.input_size}, hidden_size={self.hidden_size}"
        if self.num_layers > 1:
            sizes += f", num_layers={self.num_layers}"
        readout = f"output_size={self.output_size}"
        if self.output_size and self.readout_kind != "sigmoid":
            readout += f", readout_kind={self.readout_kind}"
        return f"LSTMWeights({sizes}, {readout}, dtype={self.dtype})"

    def _readout(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self.readout_weight, self.readout_bias

    def _all_arrays(self) -> list[np.ndarray | None]:
        return [a for x in self.layers for a in x.arrays().values()] + list(self._readout())


def _rebuild(layers, readout_weight, readout_bias, readout_kind) -> LSTMWeights:
    return LSTMWeights.from_layers(layers, readout_weight, readout_bias, readout_kind=readout_kind)


def _frozen(array, dtype):
    if array is None:
        return None
    array = np.array(array, dtype=dtype, order="C")  # a copy: never the caller's buffer
    array.setflags(write=False)
    return array


def _layer_label(k: int):
    """The names of layer ``k``'s arrays in errors: ``weight_ih``, or ``weight_ih_l1`` above 0."""
    return labeller({}) if k == 0 else (lambda role: f"{role}_l{k}")


def _layer_values(layer, k: int) -> dict:
    """A layer given as :class:`LayerWeights`, a mapping or a sequence, as a mapping."""
    if isinstance(layer, LayerWeights):
        return layer.arrays()
    if isinstance(layer, Mapping):
        unknown = sorted(set(layer) - set(LAYER_ARRAYS))
        if unknown:
            expected = ", ".join(LAYER_ARRAYS)
            raise WeightsError(f"layers[{k}]", f"unknown key {unknown[0]!r}; expected {expected}")
        for role in ("weight_ih", "weight_hh"):
            if layer.get(role) is None:
                raise WeightsError(f"{role}_l{k}" if k else role, "missing")
        return dict(layer)
    values = list(layer)
    if not 2 <= len(values) <= 4:
        raise WeightsError(f"layers[{k}]", f"expected 2 to 4 arrays ({', '.join(LAYER_ARRAYS)})")
    return dict(zip(LAYER_ARRAYS, values, strict=False))


def init_uniform(
    input_size: int,
    hidden_size: int,
    *,
    seed,
    output_size: int = 0,
    num_layers: int = 1,
    readout_kind: str = "sigmoid",
    dtype=np.float64,
) -> LSTMWeights:
    """Random weights from torch's default initialisation distribution, reproducibly.

    Every LSTM parameter is ``U(-k, k)`` with ``k = 1/sqrt(hidden_size)``, as in
    ``torch.nn.LSTM``; the readout (``output_size > 0``) is ``U(-k, k)`` too, as in
    ``torch.nn.Linear(hidden_size, output_size)`` (bound ``1/sqrt(fan_in)``).
    The same distribution as torch, not the same numbers.

    The draws come from ``Generator(PCG64(SeedSequence(seed)))``, in float64, in
    this fixed order, each array filled row-major: layer 0's ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``, then layer 1's, ..., then
    ``readout_weight``, ``readout_bias``. So the same seed gives the same layer 0
    whatever ``num_layers``, the same LSTM whatever ``output_size``, and float32
    weights are the float64 ones rounded.
    """
    input_size = count("input_size", input_size, minimum=0)
    hidden_size = count("hidden_size", hidden_size, minimum=1)
    output_size = count("output_size", output_size, minimum=0)
    num_layers = count("num_layers", num_layers, minimum=1)
    dtype = float_dtype(dtype)
    rng = generator(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    rows = 4 * hidden_size

    def draw(shape):
        return rng.uniform(-bound, bound, size=shape).astype(dtype)

    layers = []
    for k in range(num_layers):
        inputs = input_size if k == 0 else hidden_size
        shapes = [(rows, inputs), (rows, hidden_size), (rows,), (rows,)]
        layers.append([draw(shape) for shape in shapes])
    readout = [draw((output_size, hidden_size)), draw((output_size,))] if output_size else []
    return LSTMWeights.from_layers(layers, *readout, readout_kind=readout_kind)


def from_torch(
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    readout_weight=None,
    readout_bias=None,
    *,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> LSTMWeights:
    """One layer in PyTorch's layout (arrays, nested lists or tensors); missing biases
    are zeros. ``input_size`` / ``hidden_size``, when given, are checked; otherwise
    they are read from ``weight_ih``."""
    # weight_ih against the sizes given; LSTMWeights checks the rest against weight_ih
    first_matrix("weight_ih", weight_ih, axis=0, **expected_sizes(input_size, hidden_size))
    return LSTMWeights(weight_ih, weight_hh, bias_ih, bias_hh, readout_weight, readout_bias)


_STATE_DICT_KEY = re.compile(r"^(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)$")


def from_torch_state_dict(
    state_dict: Mapping, readout_weight=None, readout_bias=None, *, readout_kind="sigmoid"
) -> LSTMWeights:
    """The weights of an ``nn.LSTM``'s ``state_dict()`` (tensors or arrays, any
    number of layers, unidirectional, without projection), with an optional
    readout (an ``nn.Linear`` head's ``weight`` and ``bias``). Inverse of
    :meth:`LSTMWeights.to_torch_state_dict`."""
    layers: dict[int, dict] = {}
    for key, value in state_dict.items():
        match = _STATE_DICT_KEY.match(str(key))
        if not match:
            raise WeightsError(
                str(key), "not a parameter of a unidirectional nn.LSTM (weight_ih_l0, ...)"
            )
        layers.setdefault(int(match["layer"]), {})[match["name"]] = value
    for k in range(len(layers)):
        if k not in layers or "weight_ih" not in layers[k]:
            raise WeightsError(
                f"weight_ih_l{k}", f"missing in a state dict of {len(layers)} layers"
            )
        if "weight_hh" not in layers[k]:
            raise WeightsError(f"weight_hh_l{k}", f"missing beside weight_ih_l{k}")
    ordered = [layers[k] for k in range(len(layers))]
    return LSTMWeights.from_layers(ordered, readout_weight, readout_bias, readout_kind=readout_kind)


def from_keras(
    kernel,
    recurrent_kernel,
    bias=None,
    readout_weight=None,
    readout_bias=None,
    *,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> LSTMWeights:
    """Weights of a Keras ``LSTM`` layer (``layer.get_weights()``), which must use
    ``recurrent_activation="sigmoid"`` (its default since TF 2); ``bias`` (zeros if
    missing) goes to ``bias_ih``, and ``bias_hh`` is zeros. The readout is in this
    package's orientation, ``readout_weight (Y, H)``, the transpose of a ``Dense`` kernel."""
    values = {
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "readout_weight": readout_weight,
        "readout_bias": readout_bias,
    }
    return LSTMWeights(**keras_layout(values, {}, **expected_sizes(input_size, hidden_size)))


def from_per_gate(
    W_i,
    W_f,
    W_C,
    W_o,
    b_i=None,
    b_f=None,
    b_C=None,
    b_o=None,
    *,
    input_size: int,
    hidden_size: int | None = None,
    W_y=None,
    b_y=None,
) -> LSTMWeights:
    """The answer's per-gate form, with x FIRST in ``[x_t, h_{t-1}]`` (colah's blog
    puts h first: swap the column blocks for that), readout ``W_y (Y, H)``, ``b_y (Y,)``.
    The first ``input_size`` columns go to ``weight_ih``, the rest to ``weight_hh``;
    the biases (zeros if missing) go to ``bias_ih``, and ``bias_hh`` is zeros."""
    values = {"W_i": W_i, "W_f": W_f, "W_C": W_C, "W_o": W_o}
    values |= {"b_i": b_i, "b_f": b_f, "b_C": b_C, "b_o": b_o, "W_y": W_y, "b_y": b_y}
    return LSTMWeights(**per_gate_layout(values, **expected_sizes(input_size, hidden_size)))
