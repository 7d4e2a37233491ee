"""LSTM weights: one immutable object in PyTorch's layout, and every form a user
may give them in.

The layout is ``torch.nn.LSTM``'s (the equations are in :mod:`stochlstm.cell`)::

    weight_ih (4H, X)    weight_hh (4H, H)    bias_ih (4H,)    bias_hh (4H,)
    row blocks, in order: input gate i, forget gate f, cell candidate g, output gate o

    a = weight_ih @ x_t + bias_ih + weight_hh @ h_{t-1} + bias_hh
    a_i, a_f, a_g, a_o = a[0:H], a[H:2H], a[2H:3H], a[3H:4H]

with an optional readout ``y_t = sigmoid(readout_weight @ h_t + readout_bias)``,
``readout_weight (Y, H)``, ``readout_bias (Y,)``.

The forms, each giving an :class:`LSTMWeights`:

- random: :func:`init_uniform`, torch's default initialisation, seeded;
- PyTorch layout: :func:`from_torch`; a saved ``nn.LSTM``: :func:`load_weights`;
- Keras layout: :func:`from_keras`, ``kernel (X, 4H)``, ``recurrent_kernel (H, 4H)``,
  ``bias (4H,)``; Keras' gate order i, f, c, o is torch's, so these are the same
  blocks, transposed;
- the answer's per-gate form: :func:`from_per_gate`, ``W_i, W_f, W_C, W_o`` each
  ``(H, X + H)`` acting on ``[x_t, h_{t-1}]`` (x first), biases ``b_i, b_f, b_C, b_o``;
- the ``model.weights`` block of an experiment file, any of the above:
  :func:`weights_from_mapping`.

Every check raises :class:`WeightsError`, whose message starts with the array or
key as the user wrote it (``W_f``, ``kernel``, ``lstm.weight_hh_l0``, ``file``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LSTMWeights",
    "WeightsError",
    "from_keras",
    "from_per_gate",
    "from_torch",
    "init_uniform",
    "load_weights",
    "save_weights",
    "weights_from_mapping",
]

# Per-gate names, in the order of the row blocks of the PyTorch layout.
_GATES = ("i", "f", "C", "o")
_LSTM_FIELDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_READOUT_FIELDS = ("readout_weight", "readout_bias")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class WeightsError(ValueError):
    """Invalid weights. ``field`` is the offending array or key as the user wrote
    it; ``str(error)`` is one line, ``"<field>: <detail>"``."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def __reduce__(self):  # keep field and detail across processes
        return type(self), (self.field, self.detail)


# --------------------------------------------------------------------------- #
# The weights object
# --------------------------------------------------------------------------- #


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
        arrays = _torch_layout(self._arrays(), names={})
        given = [array for array in arrays.values() if array is not None]
        all_float32 = all(array.dtype == np.float32 for array in given)
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
        dtype = _float_dtype("dtype", dtype)
        if dtype == self.dtype:
            return self
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf ...
            cast = {name: a if a is None else a.astype(dtype) for name, a in self._arrays().items()}
        try:
            return LSTMWeights(**cast)
        except WeightsError as error:  # ... and is reported here
            raise WeightsError(error.field, f"{error.detail} after the cast to {dtype}") from None

    def to_per_gate(self) -> dict[str, np.ndarray]:
        """The answer's form: ``W_i, W_f, W_C, W_o`` each ``(H, X + H)`` acting on
        ``[x_t, h_{t-1}]`` (x first), ``b_* = bias_ih block + bias_hh block``,
        and ``W_y, b_y`` when there is a readout. Inverse of :func:`from_per_gate`."""
        form = {}
        for block, gate in enumerate(_GATES):
            rows = self._gate_rows(block)
            form[f"W_{gate}"] = np.hstack([self.weight_ih[rows], self.weight_hh[rows]])
        for block, gate in enumerate(_GATES):
            rows = self._gate_rows(block)
            form[f"b_{gate}"] = self.bias_ih[rows] + self.bias_hh[rows]
        if self.readout_weight is not None:
            form["W_y"] = self.readout_weight.copy()
            form["b_y"] = self.readout_bias.copy()
        return form

    def to_torch_state_dict(self) -> dict[str, np.ndarray]:
        """Writable copies under ``nn.LSTM``'s parameter names (``weight_ih_l0``, ...);
        the readout is not part of an ``nn.LSTM`` and is left out."""
        return {f"{name}_l0": getattr(self, name).copy() for name in _LSTM_FIELDS}

    def __eq__(self, other):
        if not isinstance(other, LSTMWeights):
            return NotImplemented
        pairs = zip(self._arrays().values(), other._arrays().values(), strict=True)
        return all(_same_array(mine, theirs) for mine, theirs in pairs)

    def __reduce__(self):  # rebuilt through __init__, so unpickled arrays are read-only too
        return type(self), tuple(self._arrays().values())

    def __repr__(self):
        return (
            f"LSTMWeights(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, dtype={self.dtype})"
        )

    def _arrays(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def _gate_rows(self, block: int) -> slice:
        return slice(block * self.hidden_size, (block + 1) * self.hidden_size)


def _same_array(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and np.array_equal(a, b)


# --------------------------------------------------------------------------- #
# Random initialisation
# --------------------------------------------------------------------------- #


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
    dtype = _float_dtype("dtype", dtype)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {
        "weight_ih": (4 * hidden_size, input_size),
        "weight_hh": (4 * hidden_size, hidden_size),
        "bias_ih": (4 * hidden_size,),
        "bias_hh": (4 * hidden_size,),
    }
    if output_size:
        shapes["readout_weight"] = (output_size, hidden_size)
        shapes["readout_bias"] = (output_size,)
    draws = {name: rng.uniform(-bound, bound, size=shape) for name, shape in shapes.items()}
    return LSTMWeights(**{name: draw.astype(dtype) for name, draw in draws.items()})


# --------------------------------------------------------------------------- #
# The forms given as arrays
# --------------------------------------------------------------------------- #


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
    values = {
        "weight_ih": weight_ih,
        "weight_hh": weight_hh,
        "bias_ih": bias_ih,
        "bias_hh": bias_hh,
        "readout_weight": readout_weight,
        "readout_bias": readout_bias,
    }
    sizes = _expected_sizes(input_size, hidden_size)
    return LSTMWeights(**_torch_layout(values, names={}, **sizes))


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
    """Weights of a Keras ``LSTM`` layer (``layer.get_weights()``): ``kernel (X, 4H)``,
    ``recurrent_kernel (H, 4H)``, ``bias (4H,)`` (zeros if missing). Keras' gate
    order i, f, c, o is torch's, so ``weight_ih = kernel.T``, ``weight_hh =
    recurrent_kernel.T`` and ``bias_ih = bias`` (``bias_hh`` zeros). Keras must use
    ``recurrent_activation="sigmoid"`` (its default since TF 2).

    The readout is in this package's orientation, ``readout_weight (Y, H)``
    (the transpose of a Keras ``Dense`` kernel)."""
    values = {
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "readout_weight": readout_weight,
        "readout_bias": readout_bias,
    }
    sizes = _expected_sizes(input_size, hidden_size)
    return LSTMWeights(**_keras_layout(values, names={}, **sizes))


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
    """The answer's form: ``W_i, W_f, W_C, W_o`` each ``(H, X + H)`` acting on
    ``[x_t, h_{t-1}]`` with x FIRST (colah's blog puts h first: swap the column
    blocks for that), biases ``b_* (H,)`` (zeros if missing), readout
    ``W_y (Y, H)``, ``b_y (Y,)``. ``input_size`` says where ``x`` ends.

    The first ``input_size`` columns go to ``weight_ih``, the rest to
    ``weight_hh``; the biases go to ``bias_ih``, and ``bias_hh`` is zeros."""
    values = {
        "W_i": W_i,
        "W_f": W_f,
        "W_C": W_C,
        "W_o": W_o,
        "b_i": b_i,
        "b_f": b_f,
        "b_C": b_C,
        "b_o": b_o,
        "readout_weight": W_y,
        "readout_bias": b_y,
    }
    names = {"readout_weight": "W_y", "readout_bias": "b_y"}
    sizes = _expected_sizes(input_size, hidden_size)
    if sizes["input_size"] is None:
        raise WeightsError("input_size", "required: where x ends in [x_t, h_{t-1}]")
    return LSTMWeights(**_per_gate_layout(values, names, **sizes))


def _torch_layout(values, names, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """The PyTorch-layout arrays, checked; missing biases are zeros."""
    label = _labeller(names)
    meaning = "(4*hidden_size, input_size)"
    weight_ih = _matrix(label("weight_ih"), values["weight_ih"], meaning)
    if hidden_size is None:
        hidden_size = _quarter(label("weight_ih"), weight_ih.shape, axis=0, meaning=meaning)
    if input_size is None:
        input_size = weight_ih.shape[1]
    rows = 4 * hidden_size
    arrays = {
        "weight_ih": _checked(label("weight_ih"), weight_ih, (rows, input_size), meaning),
        "weight_hh": _checked(
            label("weight_hh"),
            values["weight_hh"],
            (rows, hidden_size),
            "(4*hidden_size, hidden_size)",
        ),
    }
    for name in ("bias_ih", "bias_hh"):
        value = values.get(name)
        arrays[name] = _bias(label(name), value, rows, "(4*hidden_size,)", weight_ih.dtype)
    arrays.update(_readout(values, label, hidden_size))
    return arrays


def _keras_layout(values, names, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """A Keras LSTM's arrays, checked in Keras' terms, in the PyTorch layout."""
    label = _labeller(names)
    meaning = "(input_size, 4*hidden_size)"
    kernel = _matrix(label("kernel"), values["kernel"], meaning)
    if hidden_size is None:
        hidden_size = _quarter(label("kernel"), kernel.shape, axis=1, meaning=meaning)
    if input_size is None:
        input_size = kernel.shape[0]
    columns = 4 * hidden_size
    kernel = _checked(label("kernel"), kernel, (input_size, columns), meaning)
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
        **_readout(values, label, hidden_size),
    }


def _per_gate_layout(values, names, input_size, hidden_size=None) -> dict[str, np.ndarray]:
    """The answer's per-gate arrays, checked in its terms, in the PyTorch layout."""
    label = _labeller(names)
    meaning = "(hidden_size, input_size + hidden_size)"
    first = _matrix(label("W_i"), values["W_i"], meaning)
    if hidden_size is None:
        hidden_size = first.shape[0]
        if hidden_size == 0:
            raise WeightsError(label("W_i"), f"has no rows; expected shape {meaning}")
    shape = (hidden_size, input_size + hidden_size)
    matrices = [_checked(label(f"W_{g}"), values[f"W_{g}"], shape, meaning) for g in _GATES]
    biases = [
        _bias(label(f"b_{g}"), values.get(f"b_{g}"), hidden_size, "(hidden_size,)", first.dtype)
        for g in _GATES
    ]
    bias = np.concatenate(biases)
    return {
        "weight_ih": np.concatenate([matrix[:, :input_size] for matrix in matrices]),
        "weight_hh": np.concatenate([matrix[:, input_size:] for matrix in matrices]),
        "bias_ih": bias,
        "bias_hh": np.zeros_like(bias),
        **_readout(values, label, hidden_size),
    }


def _readout(values, label, hidden_size: int) -> dict[str, np.ndarray | None]:
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


# --------------------------------------------------------------------------- #
# Checking one array
# --------------------------------------------------------------------------- #


def _labeller(names: Mapping[str, str]):
    """``label(role)``: the user's name for an array (the role itself by default)."""
    return lambda role: names.get(role, role)


def _as_numbers(name: str, value) -> np.ndarray:
    """``value`` (nested lists, an array or a torch tensor) as an array of real numbers."""
    if value is None:
        raise WeightsError(name, "expected an array of numbers, got None")
    if hasattr(value, "detach"):  # a torch tensor; torch itself need not be imported
        value = _tensor_to_numpy(value)
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
            name, f"expected a 2-D array of shape {meaning}, got shape {_shape(array.shape)}"
        )
    return array


def _quarter(name: str, shape: tuple[int, ...], *, axis: int, meaning: str) -> int:
    """``hidden_size`` from the axis of ``shape`` that is ``4*hidden_size`` long."""
    length = shape[axis]
    if length == 0 or length % 4:
        what = "rows" if axis == 0 else "columns"
        raise WeightsError(
            name,
            f"expected shape {meaning}, got {_shape(shape)}: "
            f"{length} {what} is not 4*hidden_size for a hidden_size >= 1",
        )
    return length // 4


def _checked(name: str, value, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    """``value`` as an array of ``shape`` (described by ``meaning``) holding finite numbers."""
    array = _as_numbers(name, value)
    if array.shape != tuple(shape):
        raise WeightsError(
            name, f"expected shape {_shape(shape)} = {meaning}, got {_shape(array.shape)}"
        )
    _check_finite(name, array)
    return array


def _bias(name: str, value, length: int, meaning: str, dtype) -> np.ndarray:
    """A checked bias vector, or zeros when it is not given."""
    if value is None:
        return np.zeros(length, dtype=dtype)
    return _checked(name, value, (length,), meaning)


def _check_finite(name: str, array: np.ndarray) -> None:
    not_finite = ~np.isfinite(array)
    if not not_finite.any():
        return
    index = tuple(int(i) for i in np.argwhere(not_finite)[0])
    value = array[index]
    what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    where = f"index {index[0]}" if array.ndim == 1 else f"[{', '.join(map(str, index))}]"
    count = int(not_finite.sum())
    more = f" ({count} non-finite values in all)" if count > 1 else ""
    raise WeightsError(name, f"contains {what} at {where}{more}")


def _shape(shape) -> str:
    return str(tuple(int(n) for n in shape))


def _tensor_to_numpy(tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and other dtypes numpy lacks
        return tensor.float().numpy()


def _count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise WeightsError(name, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _expected_sizes(input_size, hidden_size) -> dict[str, int | None]:
    """The sizes to check against, each ``None`` when it is to be read from the arrays."""
    if input_size is not None:
        input_size = _count("input_size", input_size, minimum=0)
    if hidden_size is not None:
        hidden_size = _count("hidden_size", hidden_size, minimum=1)
    return {"input_size": input_size, "hidden_size": hidden_size}


def _float_dtype(name: str, dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in _FLOAT_DTYPES:
        raise WeightsError(name, f"expected float32 or float64, got {dtype!r}")
    return resolved


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #

# A parameter of any layer or direction of an nn.LSTM: 'lstm.weight_hh_l1_reverse'.
_LSTM_PARAMETER_KEY = re.compile(
    r"^(?P<prefix>(?:.+\.)?)(?:weight|bias)_(?P<kind>ih|hh|hr)_l(?P<layer>\d+)(?P<reverse>_reverse)?$"
)
# The input weights of an nn.LSTM ('lstm.weight_ih_l0') or nn.LSTMCell ('cell.weight_ih').
_INPUT_WEIGHT_KEY = re.compile(r"^(?P<prefix>(?:.+\.)?)weight_ih(?P<suffix>(?:_l0)?)$")
# Where a file may hold the readout: (weight key, bias key).
_FILE_READOUT_KEYS = (
    ("readout_weight", "readout_bias"),
    ("W_y", "b_y"),
    ("readout.weight", "readout.bias"),
)
_KERAS_KEYS = ("kernel", "recurrent_kernel", "bias")
_SUFFIXES = (".npz", ".pt", ".pth")


def load_weights(
    path,
    *,
    layout: str = "torch",
    prefix: str | None = None,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> LSTMWeights:
    """Weights from an ``.npz`` file or a PyTorch state dict (``.pt`` / ``.pth``).

    - ``layout="torch"``: ``nn.LSTM`` names, ``weight_ih_l0, weight_hh_l0,
      bias_ih_l0, bias_hh_l0`` (or ``nn.LSTMCell``'s, without ``_l0``); missing
      biases are zeros (``bias=False``). In a bigger model's state dict, or a
      checkpoint dict holding one, the LSTM's keys may carry a prefix
      (``lstm.weight_ih_l0``): found when there is one LSTM, else chosen with
      ``prefix="lstm"``. Only single-layer unidirectional LSTMs without
      projection are supported.
    - ``layout="keras"`` (``.npz`` only): ``kernel, recurrent_kernel, bias``.
    - A readout, with either layout: ``readout_weight, readout_bias`` or
      ``W_y, b_y`` or ``readout.weight, readout.bias`` (an ``nn.Linear`` named
      ``readout``), weight ``(Y, H)``; in a bigger model, beside the LSTM
      (``model.readout.weight`` for ``model.lstm.weight_ih_l0``).

    ``.pt`` files are read with ``torch.load(path, map_location="cpu",
    weights_only=True)``, which never runs code from the file. Other keys are
    ignored. ``input_size`` / ``hidden_size``, when given, are checked.
    """
    path = Path(path)
    if layout not in ("torch", "keras"):
        raise WeightsError("layout", f"expected 'torch' or 'keras', got {layout!r}")
    if not path.is_file():
        raise WeightsError("file", f"not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise WeightsError("file", f"{path}: expected a .npz, .pt or .pth file")
    if layout == "keras" and suffix != ".npz":
        raise WeightsError("layout", f"{path.name} is a PyTorch state dict: use layout 'torch'")
    arrays = _read_npz(path) if suffix == ".npz" else _read_state_dict(path)
    sizes = _expected_sizes(input_size, hidden_size)
    try:
        if layout == "keras":
            return _keras_from_file(arrays, sizes)
        return _torch_from_file(arrays, prefix, sizes)
    except WeightsError as error:
        raise WeightsError(error.field, f"{error.detail} (in {path})") from None


def save_weights(weights: LSTMWeights, path) -> Path:
    """Write ``weights`` to an ``.npz`` file in ``nn.LSTM``'s names (plus
    ``readout_weight``, ``readout_bias``), readable by :func:`load_weights`.
    Written to a temporary name and renamed into place."""
    path = Path(path)
    if path.suffix != ".npz":
        raise WeightsError("file", f"{path}: weights are saved as .npz")
    arrays = weights.to_torch_state_dict()
    if weights.output_size:
        arrays.update(readout_weight=weights.readout_weight, readout_bias=weights.readout_bias)
    partial = path.with_name(f"{path.name}.tmp")
    with open(partial, "wb") as file:
        np.savez(file, **arrays)
    partial.replace(path)
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # also pickled object arrays
        raise WeightsError("file", f"cannot read {path} as .npz: {_first_line(error)}") from None
    raise WeightsError("file", f"{path} holds a single array, not named arrays (use np.savez)")


def _read_state_dict(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise WeightsError(
            "file",
            f"reading {path.name} needs PyTorch: pip install torch, or convert it to .npz "
            "with np.savez(path, **{k: v.numpy() for k, v in state_dict.items()})",
        ) from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupt file, or objects weights_only refuses to unpickle
        raise WeightsError(
            "file", f"cannot read {path} as a PyTorch state dict: {_first_line(error)}"
        ) from None
    if not isinstance(loaded, Mapping):
        raise WeightsError(
            "file",
            f"{path} holds a {type(loaded).__name__}, not a state dict (save lstm.state_dict())",
        )
    return _flatten_tensors(loaded)


def _flatten_tensors(mapping: Mapping, prefix: str = "") -> dict[str, np.ndarray]:
    """The tensors of a (nested) state dict under dotted keys, as numpy arrays."""
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten_tensors(value, f"{name}."))
        elif hasattr(value, "detach"):
            flat[name] = _tensor_to_numpy(value)
        elif isinstance(value, np.ndarray):
            flat[name] = value
    return flat


def _torch_from_file(arrays: dict[str, np.ndarray], prefix: str | None, sizes) -> LSTMWeights:
    prefix, suffix = _find_lstm(arrays, prefix)
    _reject_unsupported(arrays, prefix)
    names = {role: f"{prefix}{role}{suffix}" for role in _LSTM_FIELDS}
    if names["weight_hh"] not in arrays:
        raise WeightsError(names["weight_hh"], "missing beside " + names["weight_ih"])
    values = {role: arrays.get(key) for role, key in names.items()}
    parent = prefix.rstrip(".").rpartition(".")[0]  # "model." for "model.lstm."
    spellings = [tuple(_join(parent, key) for key in pair) for pair in _FILE_READOUT_KEYS]
    readout_values, readout_names = _readout_entries(arrays, spellings)
    return LSTMWeights(
        **_torch_layout({**values, **readout_values}, {**names, **readout_names}, **sizes)
    )


def _find_lstm(arrays: Mapping[str, Any], prefix: str | None) -> tuple[str, str]:
    """The key prefix and suffix of the one LSTM in a state dict:
    ``("lstm.", "_l0")`` for ``lstm.weight_ih_l0``."""
    matches = [m for m in map(_INPUT_WEIGHT_KEY.match, arrays) if m]
    if prefix:
        prefix = prefix if prefix.endswith(".") else f"{prefix}."
    if prefix is not None:
        matches = [m for m in matches if m["prefix"] == prefix]
    if not matches:
        if prefix:
            raise WeightsError("prefix", f"no LSTM under {prefix!r}; keys: {_key_list(arrays)}")
        raise WeightsError("weight_ih_l0", f"no LSTM input weights; keys: {_key_list(arrays)}")
    if len(matches) > 1:
        found = ", ".join(m.string for m in matches)
        raise WeightsError(
            matches[1].string, f"several LSTMs ({found}): choose one with prefix (e.g. 'lstm')"
        )
    return matches[0]["prefix"], matches[0]["suffix"]


def _reject_unsupported(arrays: Mapping[str, Any], prefix: str) -> None:
    """Only single-layer, unidirectional LSTMs without projection."""
    for key in arrays:
        match = _LSTM_PARAMETER_KEY.match(key)
        if not match or match["prefix"] != prefix:
            continue
        if int(match["layer"]) > 0:
            shows = f"a layer {match['layer']} (num_layers > 1)"
        elif match["reverse"]:
            shows = "a reverse direction (bidirectional=True)"
        elif match["kind"] == "hr":
            shows = "a projection (proj_size > 0)"
        else:
            continue
        raise WeightsError(
            key, f"shows {shows}; only single-layer unidirectional LSTMs are supported"
        )


def _keras_from_file(arrays: dict[str, np.ndarray], sizes) -> LSTMWeights:
    for key in ("kernel", "recurrent_kernel"):
        if key not in arrays:
            raise WeightsError(
                key,
                f"missing: a Keras-layout file holds kernel, recurrent_kernel and bias "
                f"(np.savez(path, kernel=..., recurrent_kernel=..., bias=...)); "
                f"keys: {_key_list(arrays)}",
            )
    values = {key: arrays.get(key) for key in _KERAS_KEYS}
    readout_values, readout_names = _readout_entries(arrays, _FILE_READOUT_KEYS)
    return LSTMWeights(**_keras_layout({**values, **readout_values}, readout_names, **sizes))


def _readout_entries(container: Mapping, spellings) -> tuple[dict, dict]:
    """The readout's values and the user's names for them, from the one spelling
    (pair of weight and bias keys) that ``container`` uses."""
    used = [pair for pair in spellings if any(key in container for key in pair)]
    if not used:
        return {}, {}
    if len(used) > 1:
        key = next(key for key in used[1] if key in container)
        first = next(key for key in used[0] if key in container)
        raise WeightsError(key, f"a second readout beside {first}; give one")
    weight_key, bias_key = used[0]
    values = {"readout_weight": container.get(weight_key), "readout_bias": container.get(bias_key)}
    return values, {"readout_weight": weight_key, "readout_bias": bias_key}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _key_list(keys, limit: int = 8) -> str:
    keys = list(keys)
    shown = ", ".join(map(str, keys[:limit]))
    return (shown + f", ... ({len(keys)} in all)") if len(keys) > limit else (shown or "none")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --------------------------------------------------------------------------- #
# The experiment file's `model.weights` block
# --------------------------------------------------------------------------- #

# form: (required keys, optional keys)
_MAPPING_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "random initialisation": (("init",), ()),
    "PyTorch layout": (("weight_ih", "weight_hh"), ("bias_ih", "bias_hh")),
    "Keras layout": (("kernel", "recurrent_kernel"), ("bias",)),
    "per-gate form": (("W_i", "W_f", "W_C", "W_o"), ("b_i", "b_f", "b_C", "b_o")),
    "file": (("file",), ("layout", "prefix")),
}
_MAPPING_READOUT_KEYS = (("W_y", "b_y"), ("readout_weight", "readout_bias"))
# Allowed with every form: the seed (of the random form, and of a readout that
# has to be initialised) and the readout.
_ANY_FORM_KEYS = ("seed", "W_y", "b_y", "readout_weight", "readout_bias")


def weights_from_mapping(
    mapping: Mapping,
    *,
    input_size: int,
    hidden_size: int,
    output_size: int = 0,
    base_dir=".",
) -> LSTMWeights:
    """The ``model.weights`` block of an experiment file as :class:`LSTMWeights`.

    The keys choose the form, exactly one of::

        {init: uniform, seed: 0}                                 init_uniform (seed default 0)
        {weight_ih, weight_hh, bias_ih?, bias_hh?}               PyTorch layout
        {kernel, recurrent_kernel, bias?}                        Keras layout
        {W_i, W_f, W_C, W_o, b_i?, b_f?, b_C?, b_o?}             the answer's form
        {file: weights.npz, layout?: torch|keras, prefix?}       load_weights, relative to base_dir

    plus, with any form, a readout ``W_y, b_y?`` (or ``readout_weight,
    readout_bias?``). If ``output_size > 0`` and no readout is given, the readout
    is the one ``init_uniform(input_size, hidden_size, seed=seed,
    output_size=output_size)`` draws, ``seed`` being the ``seed`` key (default 0).
    The weights must have the given sizes. Errors name the offending key.
    """
    if not isinstance(mapping, Mapping):
        raise WeightsError(
            "weights", f"expected a mapping naming one weight form, got {type(mapping).__name__}"
        )
    input_size = _count("input_size", input_size, minimum=0)
    hidden_size = _count("hidden_size", hidden_size, minimum=1)
    output_size = _count("output_size", output_size, minimum=0)
    form = _mapping_form(mapping)
    seed = _count("seed", mapping.get("seed", 0), minimum=0)
    readout_values, readout_names = _readout_entries(mapping, _MAPPING_READOUT_KEYS)
    values = {**mapping, **readout_values}
    sizes = {"input_size": input_size, "hidden_size": hidden_size}

    if form == "random initialisation":
        init = mapping["init"]
        if init != "uniform":
            raise WeightsError("init", f"unknown initialisation {init!r}; expected 'uniform'")
        weights = _with_readout(init_uniform(seed=seed, **sizes), readout_values, readout_names)
    elif form == "PyTorch layout":
        weights = LSTMWeights(**_torch_layout(values, readout_names, **sizes))
    elif form == "Keras layout":
        weights = LSTMWeights(**_keras_layout(values, readout_names, **sizes))
    elif form == "per-gate form":
        weights = LSTMWeights(**_per_gate_layout(values, readout_names, **sizes))
    else:
        weights = _weights_file(mapping, base_dir, sizes)
        if weights.output_size and readout_values:
            key = next(key for key in readout_names.values() if key in mapping)
            raise WeightsError(key, "the weights file already has a readout; give one")
        weights = _with_readout(weights, readout_values, readout_names)

    if weights.output_size == output_size:
        return weights
    if weights.output_size == 0:
        return _with_readout(weights, _uniform_readout(weights, output_size, seed))
    given_by = next((key for key in readout_names.values() if key in mapping), "file")
    raise WeightsError(
        given_by,
        f"gives a readout of output_size {weights.output_size}, but the model's "
        f"output_size is {output_size} (model.output_size)",
    )


def _mapping_form(mapping: Mapping) -> str:
    """The one form the keys of ``mapping`` give; its required keys present."""
    form_of_key = {
        key: form
        for form, (required, optional) in _MAPPING_FORMS.items()
        for key in required + optional
    }
    chosen = first_key = None
    for key in mapping:
        if key in _ANY_FORM_KEYS:
            continue
        form = form_of_key.get(key)
        if form is None:
            raise WeightsError(
                str(key),
                f"unknown key in the weights{_did_you_mean(key, [*form_of_key, *_ANY_FORM_KEYS])}; "
                f"expected one form: {_forms_summary()}",
            )
        if chosen is None:
            chosen, first_key = form, key
        elif form != chosen:
            raise WeightsError(
                key, f"mixes the {form} with the {chosen} ({first_key}); give exactly one form"
            )
    if chosen is None:
        raise WeightsError("weights", f"no weights given; expected one form: {_forms_summary()}")
    required, _ = _MAPPING_FORMS[chosen]
    for key in required:
        if key not in mapping:
            raise WeightsError(key, f"missing: the {chosen} needs {', '.join(required)}")
    return chosen


def _weights_file(mapping: Mapping, base_dir, sizes) -> LSTMWeights:
    file, prefix = mapping["file"], mapping.get("prefix")
    if not isinstance(file, (str, Path)):
        raise WeightsError("file", f"expected a path, got {file!r}")
    if prefix is not None and not isinstance(prefix, str):
        raise WeightsError("prefix", f"expected a key prefix such as 'lstm', got {prefix!r}")
    path = Path(base_dir) / Path(file).expanduser()
    return load_weights(path, layout=mapping.get("layout", "torch"), prefix=prefix, **sizes)


def _with_readout(weights: LSTMWeights, values: Mapping, names: Mapping | None = None):
    """``weights`` with the readout ``values`` (checked under the user's ``names``)."""
    if not values:
        return weights
    readout = _readout(values, _labeller(names or {}), weights.hidden_size)
    readout = {key: array.astype(weights.dtype) for key, array in readout.items()}
    return dataclasses.replace(weights, **readout)


def _uniform_readout(weights: LSTMWeights, output_size: int, seed) -> dict[str, np.ndarray]:
    """The readout ``init_uniform`` draws for these sizes and seed."""
    sizes = {"input_size": weights.input_size, "hidden_size": weights.hidden_size}
    drawn = init_uniform(**sizes, seed=seed, output_size=output_size)
    return {"readout_weight": drawn.readout_weight, "readout_bias": drawn.readout_bias}


def _did_you_mean(key, known) -> str:
    same_letters = [name for name in known if name.lower() == str(key).lower()]
    close = same_letters or difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _forms_summary() -> str:
    forms = [
        "{" + ", ".join([*required, *(f"{key}?" for key in optional)]) + "}"
        for required, optional in _MAPPING_FORMS.values()
    ]
    readout = "seed?, W_y?, b_y? (or readout_weight?, readout_bias?)"
    return " | ".join(forms) + f"; with any form: {readout}"
