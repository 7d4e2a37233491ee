"""LSTM weights: one immutable object in PyTorch's layout, and the array forms
a user may give them in.

The layout is ``torch.nn.LSTM``'s (the equations are in :mod:`stochlstm.core.cell`)::

    weight_ih (4H, X)    weight_hh (4H, H)    bias_ih (4H,)    bias_hh (4H,)
    row blocks, in order: input gate i, forget gate f, cell candidate g, output gate o

    a = weight_ih @ x_t + bias_ih + weight_hh @ h_{t-1} + bias_hh
    a_i, a_f, a_g, a_o = a[0:H], a[H:2H], a[2H:3H], a[3H:4H]

with an optional readout ``y_t = sigmoid(readout_weight @ h_t + readout_bias)``,
``readout_weight (Y, H)``, ``readout_bias (Y,)``.

The forms, each giving an :class:`LSTMWeights`:

- random: :func:`init_uniform`, torch's default initialisation, seeded;
- PyTorch layout: :func:`from_torch`;
- Keras layout: :func:`from_keras`, ``kernel (X, 4H)``, ``recurrent_kernel (H, 4H)``,
  ``bias (4H,)``; Keras' gate order i, f, c, o is torch's, so these are the same
  blocks, transposed;
- the answer's per-gate form: :func:`from_per_gate`, ``W_i, W_f, W_C, W_o`` each
  ``(H, X + H)`` acting on ``[x_t, h_{t-1}]`` (x first), biases ``b_i, b_f, b_C, b_o``.

Files (``.npz``, PyTorch state dicts) are read by
:mod:`stochlstm.experiment.weight_files`. Every check raises
:class:`WeightsError`, whose message starts with the array or key as the user
wrote it (``W_f``, ``kernel``, ``lstm.weight_hh_l0``, ``file``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import FieldError
from .randomness import generator

__all__ = [
    "LSTMWeights",
    "WeightsError",
    "from_keras",
    "from_per_gate",
    "from_torch",
    "init_uniform",
]

_GATES = ("i", "f", "C", "o")  # the per-gate names of the row blocks, in order
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class WeightsError(FieldError):
    """Invalid weights; ``field`` is the offending array or key as the user wrote it."""


@dataclass(frozen=True, eq=False, repr=False)
class LSTMWeights:
    """Weights of a single-layer LSTM in PyTorch's layout (see the module docstring).

    Construction checks the shapes against each other (the sizes are read from
    ``weight_ih``) and that every value is finite, and stores read-only copies.
    A missing ``readout_bias`` beside a ``readout_weight`` is zeros. The dtype is
    float32 if every array given is float32, else float64.
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    readout_weight: np.ndarray | None = None
    readout_bias: np.ndarray | None = None

    def __post_init__(self):
        arrays = torch_layout(self._arrays(), names={})
        all_float32 = all(a is None or a.dtype == np.float32 for a in arrays.values())
        dtype = np.float32 if all_float32 else np.float64
        for name, array in arrays.items():
            if array is not None:
                array = np.array(array, dtype=dtype, order="C")  # a copy: never the caller's buffer
                array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def input_size(self) -> int:
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]

    @property
    def output_size(self) -> int:
        """Readout width ``Y``; 0 without a readout."""
        return 0 if self.readout_weight is None else self.readout_weight.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def astype(self, dtype) -> LSTMWeights:
        """The same weights as float32 or float64."""
        dtype = _float_dtype(dtype)
        if dtype == self.dtype:
            return self
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf ...
            cast = {name: a if a is None else a.astype(dtype) for name, a in self._arrays().items()}
        try:
            return LSTMWeights(**cast)
        except WeightsError as error:  # ... and is reported here
            raise WeightsError(error.field, f"{error.detail} after the cast to {dtype}") from None

    def with_readout(self, weight, bias=None, *, names: Mapping[str, str] | None = None):
        """These weights with the readout ``weight (Y, H)``, ``bias (Y,)`` (zeros if
        missing), in their dtype; ``names`` are the user's names for the two
        arrays, used in errors."""
        given = {"readout_weight": weight, "readout_bias": bias}
        readout = readout_layout(given, labeller(names or {}), self.hidden_size)
        readout = {key: array.astype(self.dtype) for key, array in readout.items()}
        return dataclasses.replace(self, **readout)

    def to_per_gate(self) -> dict[str, np.ndarray]:
        """The per-gate form, ``b_* = bias_ih block + bias_hh block``, and ``W_y, b_y``
        when there is a readout. Inverse of :func:`from_per_gate`."""
        blocks = zip(_GATES, np.split(self.weight_ih, 4), np.split(self.weight_hh, 4), strict=True)
        form = {f"W_{gate}": np.hstack([ih, hh]) for gate, ih, hh in blocks}
        biases = zip(_GATES, np.split(self.bias_ih, 4), np.split(self.bias_hh, 4), strict=True)
        form |= {f"b_{gate}": ih + hh for gate, ih, hh in biases}
        if self.readout_weight is not None:
            form.update(W_y=self.readout_weight.copy(), b_y=self.readout_bias.copy())
        return form

    def to_torch_state_dict(self) -> dict[str, np.ndarray]:
        """Writable copies under ``nn.LSTM``'s parameter names (``weight_ih_l0``, ...);
        the readout is not part of an ``nn.LSTM`` and is left out."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return {f"{name}_l0": getattr(self, name).copy() for name in names}

    def __eq__(self, other):
        if not isinstance(other, LSTMWeights):
            return NotImplemented
        pairs = zip(self._arrays().values(), other._arrays().values(), strict=True)
        # all arrays of an LSTMWeights have its dtype; a missing readout (None) equals only None
        return self.dtype == other.dtype and all(np.array_equal(a, b) for a, b in pairs)

    def __reduce__(self):  # rebuilt through __init__, so unpickled arrays are read-only too
        return type(self), tuple(self._arrays().values())

    def __repr__(self):
        sizes = f"input_size={self.input_size}, hidden_size={self.hidden_size}"
        return f"LSTMWeights({sizes}, output_size={self.output_size}, dtype={self.dtype})"

    def _arrays(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def init_uniform(
    input_size: int, hidden_size: int, *, seed, output_size: int = 0, dtype=np.float64
) -> LSTMWeights:
    """Random weights from torch's default initialisation distribution, reproducibly.

    Every LSTM parameter is ``U(-k, k)`` with ``k = 1/sqrt(hidden_size)``, as in
    ``torch.nn.LSTM``; the readout (``output_size > 0``) is ``U(-k, k)`` too, as in
    ``torch.nn.Linear(hidden_size, output_size)`` (bound ``1/sqrt(fan_in)``).
    The same distribution as torch, not the same numbers.

    The draws come from ``Generator(PCG64(SeedSequence(seed)))``, in float64, in
    this fixed order, each array filled row-major: ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``, ``readout_weight``, ``readout_bias``. So the same seed
    gives the same LSTM whatever ``output_size`` is, and float32 weights are the
    float64 ones rounded.
    """
    input_size = _count("input_size", input_size, minimum=0)
    hidden_size = _count("hidden_size", hidden_size, minimum=1)
    output_size = _count("output_size", output_size, minimum=0)
    dtype = _float_dtype(dtype)
    rng = generator(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    rows = 4 * hidden_size
    shapes = [(rows, input_size), (rows, hidden_size), (rows,), (rows,)]
    if output_size:
        shapes += [(output_size, hidden_size), (output_size,)]
    draws = [rng.uniform(-bound, bound, size=shape) for shape in shapes]
    return LSTMWeights(*(draw.astype(dtype) for draw in draws))


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
    """Weights in PyTorch's layout (arrays, nested lists or tensors); missing biases
    are zeros. ``input_size`` / ``hidden_size``, when given, are checked; otherwise
    they are read from ``weight_ih``."""
    # weight_ih against the sizes given; LSTMWeights checks the rest against weight_ih
    _first_matrix("weight_ih", weight_ih, axis=0, **expected_sizes(input_size, hidden_size))
    return LSTMWeights(weight_ih, weight_hh, bias_ih, bias_hh, readout_weight, readout_bias)


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
    sizes = expected_sizes(input_size, hidden_size)
    input_size, hidden_size = sizes["input_size"], sizes["hidden_size"]
    if input_size is None:
        raise WeightsError("input_size", "required: where x ends in [x_t, h_{t-1}]")
    meaning = "(hidden_size, input_size + hidden_size)"
    first = _matrix("W_i", W_i, meaning)
    if hidden_size is None:
        hidden_size = first.shape[0]
        if hidden_size == 0:
            raise WeightsError("W_i", f"has no rows; expected shape {meaning}")
    shape = (hidden_size, input_size + hidden_size)
    matrices = zip(_GATES, (W_i, W_f, W_C, W_o), strict=True)
    weights = [_checked(f"W_{gate}", weight, shape, meaning) for gate, weight in matrices]
    vectors = zip(_GATES, (b_i, b_f, b_C, b_o), strict=True)
    biases = [
        _bias(f"b_{gate}", bias, hidden_size, "(hidden_size,)", first.dtype)
        for gate, bias in vectors
    ]
    bias = np.concatenate(biases)
    given = {"readout_weight": W_y, "readout_bias": b_y}
    label = labeller({"readout_weight": "W_y", "readout_bias": "b_y"})
    readout = readout_layout(given, label, hidden_size)
    return LSTMWeights(
        np.concatenate([weight[:, :input_size] for weight in weights]),
        np.concatenate([weight[:, input_size:] for weight in weights]),
        bias,
        np.zeros_like(bias),
        **readout,
    )


def torch_layout(values, names, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """The PyTorch-layout arrays, checked; missing biases are zeros."""
    label = labeller(names)
    weight_ih, hidden_size = _first_matrix(
        label("weight_ih"), values["weight_ih"], input_size, hidden_size, axis=0
    )
    rows = 4 * hidden_size
    hh_meaning = "(4*hidden_size, hidden_size)"
    weight_hh = _checked(label("weight_hh"), values["weight_hh"], (rows, hidden_size), hh_meaning)
    arrays = {"weight_ih": weight_ih, "weight_hh": weight_hh}
    for name in ("bias_ih", "bias_hh"):
        arrays[name] = _bias(
            label(name), values.get(name), rows, "(4*hidden_size,)", weight_ih.dtype
        )
    return arrays | readout_layout(values, label, hidden_size)


def keras_layout(values, names, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """A Keras LSTM's arrays, checked in Keras' terms, in the PyTorch layout."""
    label = labeller(names)
    kernel, hidden_size = _first_matrix(
        label("kernel"), values["kernel"], input_size, hidden_size, axis=1
    )
    columns = 4 * hidden_size
    recurrent_kernel = _checked(
        label("recurrent_kernel"),
        values["recurrent_kernel"],
        (hidden_size, columns),
        "(hidden_size, 4*hidden_size)",
    )
    bias = _bias(label("bias"), values.get("bias"), columns, "(4*hidden_size,)", kernel.dtype)
    return {
        "weight_ih": kernel.T,
        "weight_hh": recurrent_kernel.T,
        "bias_ih": bias,
        "bias_hh": np.zeros_like(bias),
        **readout_layout(values, label, hidden_size),
    }


def readout_layout(values, label, hidden_size: int) -> dict[str, np.ndarray | None]:
    """The optional readout, checked; a missing bias beside a weight is zeros."""
    weight, bias = values.get("readout_weight"), values.get("readout_bias")
    if weight is None:
        if bias is not None:
            raise WeightsError(label("readout_bias"), f"given without {label('readout_weight')}")
        return {"readout_weight": None, "readout_bias": None}
    meaning = "(output_size, hidden_size)"
    weight = _matrix(label("readout_weight"), weight, meaning)
    output_size = weight.shape[0]
    if output_size == 0:
        raise WeightsError(
            label("readout_weight"), "has no rows; leave the readout out for no readout"
        )
    weight = _checked(label("readout_weight"), weight, (output_size, hidden_size), meaning)
    bias = _bias(label("readout_bias"), bias, output_size, "(output_size,)", weight.dtype)
    return {"readout_weight": weight, "readout_bias": bias}


def labeller(names: Mapping[str, str]):
    """``label(role)``: the user's name for an array (the role itself by default)."""
    return lambda role: names.get(role, role)


def _as_numbers(name: str, value) -> np.ndarray:
    """``value`` (nested lists, an array or a torch tensor) as an array of real numbers."""
    if value is None:
        raise WeightsError(name, "expected an array of numbers, got None")
    if hasattr(value, "detach"):  # a torch tensor; torch itself need not be imported
        value = tensor_to_numpy(value)
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        raise WeightsError(name, "rows have different lengths") from None
    if array.dtype.kind not in "iuf":
        raise WeightsError(name, f"expected real numbers, got values of type {array.dtype}")
    return array


def _matrix(name: str, value, meaning: str) -> np.ndarray:
    """The array the sizes are read from: at least it must be 2-D."""
    array = _as_numbers(name, value)
    if array.ndim != 2:
        raise WeightsError(
            name, f"expected a 2-D array of shape {meaning}, got shape {array.shape}"
        )
    return array


def _first_matrix(name: str, value, input_size=None, hidden_size=None, *, axis: int):
    """The first matrix of a layout (``weight_ih``, ``kernel``), checked, and
    ``hidden_size``: it is ``4*hidden_size`` long along ``axis`` and ``input_size``
    along the other, each size as given or else as read from the matrix."""
    meaning = "(4*hidden_size, input_size)" if axis == 0 else "(input_size, 4*hidden_size)"
    matrix = _matrix(name, value, meaning)
    if hidden_size is None:
        length = matrix.shape[axis]
        if length == 0 or length % 4:
            what = "rows" if axis == 0 else "columns"
            raise WeightsError(
                name,
                f"expected shape {meaning}, got {matrix.shape}: "
                f"{length} {what} is not 4*hidden_size for a hidden_size >= 1",
            )
        hidden_size = length // 4
    if input_size is None:
        input_size = matrix.shape[1 - axis]
    shape = (4 * hidden_size, input_size) if axis == 0 else (input_size, 4 * hidden_size)
    return _checked(name, matrix, shape, meaning), hidden_size


def _checked(name: str, value, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    """``value`` as an array of ``shape`` (described by ``meaning``) of finite numbers."""
    array = _as_numbers(name, value)
    if array.shape != shape:
        raise WeightsError(name, f"expected shape {shape} = {meaning}, got {array.shape}")
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        index = np.argwhere(not_finite)[0].tolist()
        value = array[tuple(index)]
        what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        where = f"index {index[0]}" if array.ndim == 1 else str(index)
        count = int(not_finite.sum())
        more = f" ({count} non-finite values in all)" if count > 1 else ""
        raise WeightsError(name, f"contains {what} at {where}{more}")
    return array


def _bias(name: str, value, length: int, meaning: str, dtype) -> np.ndarray:
    if value is None:
        return np.zeros(length, dtype=dtype)
    return _checked(name, value, (length,), meaning)


def tensor_to_numpy(tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and other dtypes numpy lacks
        return tensor.float().numpy()


def _count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise WeightsError(name, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def expected_sizes(input_size, hidden_size) -> dict[str, int | None]:
    """The sizes to check against, each ``None`` when it is to be read from the arrays."""
    if input_size is not None:
        input_size = _count("input_size", input_size, minimum=0)
    if hidden_size is not None:
        hidden_size = _count("hidden_size", hidden_size, minimum=1)
    return {"input_size": input_size, "hidden_size": hidden_size}


def _float_dtype(dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in _FLOAT_DTYPES:
        raise WeightsError("dtype", f"expected float32 or float64, got {dtype!r}")
    return resolved
