"""The weight layouts an LSTM is given in, checked: PyTorch's (one layer of
``nn.LSTM``), Keras', the readout; and the checks of single arrays they use
(numbers, shape, finite). Every check raises :class:`WeightsError`, whose
message starts with the array or key as the user wrote it (``W_f``,
``kernel``, ``lstm.weight_hh_l1``). The object these arrays make is
:class:`stochlstm.core.weights.LSTMWeights`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import FieldError

__all__ = [
    "READOUT_KINDS",
    "WeightsError",
    "as_numbers",
    "bias_vector",
    "checked",
    "count",
    "expected_sizes",
    "first_matrix",
    "float_dtype",
    "keras_layout",
    "labeller",
    "matrix",
    "per_gate_layout",
    "readout_layout",
    "tensor_to_numpy",
    "torch_layer",
]

# The readout's activation (see stochlstm.core.cell): y = sigmoid(z), y = z or y = softmax(z).
READOUT_KINDS: tuple[str, ...] = ("sigmoid", "linear", "softmax")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_GATES = ("i", "f", "C", "o")  # the per-gate names of the row blocks, in order


class WeightsError(FieldError):
    """Invalid weights; ``field`` is the offending array or key as the user wrote it."""


def torch_layer(
    values, label, input_size=None, hidden_size=None, *, input_name: str = "input_size"
) -> dict[str, np.ndarray]:
    """``weight_ih, weight_hh, bias_ih, bias_hh`` of one layer, checked (the sizes
    as given, else read from ``weight_ih``); missing biases are zeros. ``input_name``
    says what the layer's input is in messages (``hidden_size`` above layer 0)."""
    weight_ih, hidden_size = first_matrix(
        label("weight_ih"),
        values["weight_ih"],
        input_size,
        hidden_size,
        axis=0,
        input_name=input_name,
    )
    rows = 4 * hidden_size
    hh_meaning = "(4*hidden_size, hidden_size)"
    weight_hh = checked(label("weight_hh"), values["weight_hh"], (rows, hidden_size), hh_meaning)
    arrays = {"weight_ih": weight_ih, "weight_hh": weight_hh}
    for name in ("bias_ih", "bias_hh"):
        arrays[name] = bias_vector(
            label(name), values.get(name), rows, "(4*hidden_size,)", weight_ih.dtype
        )
    return arrays


def keras_layout(values, names, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """A Keras LSTM's arrays, checked in Keras' terms, in the PyTorch layout."""
    label = labeller(names)
    kernel, hidden_size = first_matrix(
        label("kernel"), values["kernel"], input_size, hidden_size, axis=1
    )
    columns = 4 * hidden_size
    recurrent_kernel = checked(
        label("recurrent_kernel"),
        values["recurrent_kernel"],
        (hidden_size, columns),
        "(hidden_size, 4*hidden_size)",
    )
    bias = bias_vector(label("bias"), values.get("bias"), columns, "(4*hidden_size,)", kernel.dtype)
    return {
        "weight_ih": kernel.T,
        "weight_hh": recurrent_kernel.T,
        "bias_ih": bias,
        "bias_hh": np.zeros_like(bias),
        **readout_layout(values, label, hidden_size),
    }


def per_gate_layout(values, input_size=None, hidden_size=None) -> dict[str, np.ndarray]:
    """The answer's per-gate arrays (``W_i, W_f, W_C, W_o`` on ``[x_t, h_{t-1}]``,
    x first; ``b_*``; readout ``W_y, b_y``), checked, in the PyTorch layout: the
    first ``input_size`` columns go to ``weight_ih``, the rest to ``weight_hh``;
    the biases (zeros if missing) to ``bias_ih``, and ``bias_hh`` is zeros."""
    sizes = expected_sizes(input_size, hidden_size)
    input_size, hidden_size = sizes["input_size"], sizes["hidden_size"]
    if input_size is None:
        raise WeightsError("input_size", "required: where x ends in [x_t, h_{t-1}]")
    meaning = "(hidden_size, input_size + hidden_size)"
    first = matrix("W_i", values["W_i"], meaning)
    if hidden_size is None:
        hidden_size = first.shape[0]
        if hidden_size == 0:
            raise WeightsError("W_i", f"has no rows; expected shape {meaning}")
    shape = (hidden_size, input_size + hidden_size)
    weights = [checked(f"W_{gate}", values[f"W_{gate}"], shape, meaning) for gate in _GATES]
    biases = [
        bias_vector(f"b_{gate}", values[f"b_{gate}"], hidden_size, "(hidden_size,)", first.dtype)
        for gate in _GATES
    ]
    bias = np.concatenate(biases)
    given = {"readout_weight": values["W_y"], "readout_bias": values["b_y"]}
    label = labeller({"readout_weight": "W_y", "readout_bias": "b_y"})
    readout = readout_layout(given, label, hidden_size)
    return {
        "weight_ih": np.concatenate([weight[:, :input_size] for weight in weights]),
        "weight_hh": np.concatenate([weight[:, input_size:] for weight in weights]),
        "bias_ih": bias,
        "bias_hh": np.zeros_like(bias),
        **readout,
    }


def readout_layout(values, label, hidden_size: int) -> dict[str, np.ndarray | None]:
    """The optional readout, checked; a missing bias beside a weight is zeros."""
    weight, bias = values.get("readout_weight"), values.get("readout_bias")
    if weight is None:
        if bias is not None:
            raise WeightsError(label("readout_bias"), f"given without {label('readout_weight')}")
        return {"readout_weight": None, "readout_bias": None}
    meaning = "(output_size, hidden_size)"
    weight = matrix(label("readout_weight"), weight, meaning)
    output_size = weight.shape[0]
    if output_size == 0:
        raise WeightsError(
            label("readout_weight"), "has no rows; leave the readout out for no readout"
        )
    weight = checked(label("readout_weight"), weight, (output_size, hidden_size), meaning)
    bias = bias_vector(label("readout_bias"), bias, output_size, "(output_size,)", weight.dtype)
    return {"readout_weight": weight, "readout_bias": bias}


def labeller(names: Mapping[str, str]):
    """``label(role)``: the user's name for an array (the role itself by default)."""
    return lambda role: names.get(role, role)


def as_numbers(name: str, value) -> np.ndarray:
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


def matrix(name: str, value, meaning: str) -> np.ndarray:
    """The array the sizes are read from: at least it must be 2-D."""
    array = as_numbers(name, value)
    if array.ndim != 2:
        raise WeightsError(
            name, f"expected a 2-D array of shape {meaning}, got shape {array.shape}"
        )
    return array


def first_matrix(
    name: str, value, input_size=None, hidden_size=None, *, axis: int, input_name="input_size"
):
    """The first matrix of a layout (``weight_ih``, ``kernel``), checked, and
    ``hidden_size``: it is ``4*hidden_size`` long along ``axis`` and ``input_size``
    (called ``input_name``) along the other, each size as given or else as read
    from the matrix."""
    meaning = f"(4*hidden_size, {input_name})" if axis == 0 else "(input_size, 4*hidden_size)"
    array = matrix(name, value, meaning)
    if hidden_size is None:
        length = array.shape[axis]
        if length == 0 or length % 4:
            what = "rows" if axis == 0 else "columns"
            raise WeightsError(
                name,
                f"expected shape {meaning}, got {array.shape}: "
                f"{length} {what} is not 4*hidden_size for a hidden_size >= 1",
            )
        hidden_size = length // 4
    if input_size is None:
        input_size = array.shape[1 - axis]
    shape = (4 * hidden_size, input_size) if axis == 0 else (input_size, 4 * hidden_size)
    return checked(name, array, shape, meaning), hidden_size


def checked(name: str, value, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    """``value`` as an array of ``shape`` (described by ``meaning``) of finite numbers."""
    array = as_numbers(name, value)
    if array.shape != shape:
        raise WeightsError(name, f"expected shape {shape} = {meaning}, got {array.shape}")
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        index = np.argwhere(not_finite)[0].tolist()
        value = array[tuple(index)]
        what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        where = f"index {index[0]}" if array.ndim == 1 else str(index)
        n_bad = int(not_finite.sum())
        more = f" ({n_bad} non-finite values in all)" if n_bad > 1 else ""
        raise WeightsError(name, f"contains {what} at {where}{more}")
    return array


def bias_vector(name: str, value, length: int, meaning: str, dtype) -> np.ndarray:
    if value is None:
        return np.zeros(length, dtype=dtype)
    return checked(name, value, (length,), meaning)


def tensor_to_numpy(tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and other dtypes numpy lacks
        return tensor.float().numpy()


def count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise WeightsError(name, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def expected_sizes(input_size, hidden_size) -> dict[str, int | None]:
    """The sizes to check against, each ``None`` when it is to be read from the arrays."""
    if input_size is not None:
        input_size = count("input_size", input_size, minimum=0)
    if hidden_size is not None:
        hidden_size = count("hidden_size", hidden_size, minimum=1)
    return {"input_size": input_size, "hidden_size": hidden_size}


def float_dtype(dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in _FLOAT_DTYPES:
        raise WeightsError("dtype", f"expected float32 or float64, got {dtype!r}")
    return resolved
