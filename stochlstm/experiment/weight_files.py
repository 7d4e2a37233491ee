"""Weight files (``.npz``, PyTorch state dicts), and the experiment file's
``model.weights`` block, as :class:`~stochlstm.core.weights.LSTMWeights`. Errors
are :class:`~stochlstm.core.weights.WeightsError`, naming the offending key or array.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..core.weights import (
    LSTMWeights,
    WeightsError,
    expected_sizes,
    from_keras,
    from_per_gate,
    from_torch,
    init_uniform,
    keras_layout,
    tensor_to_numpy,
    torch_layout,
)
from .forms import (
    KerasWeights,
    PerGateWeights,
    RandomWeights,
    TorchWeights,
    WeightsSpec,
    form_keys,
)

__all__ = ["build_weights", "load_weights", "save_weights"]

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
    if suffix not in (".npz", ".pt", ".pth"):
        raise WeightsError("file", f"{path}: expected a .npz, .pt or .pth file")
    if layout == "keras" and suffix != ".npz":
        raise WeightsError("layout", f"{path.name} is a PyTorch state dict: use layout 'torch'")
    arrays = _read_npz(path) if suffix == ".npz" else _read_state_dict(path)
    sizes = expected_sizes(input_size, hidden_size)
    try:
        if layout == "keras":
            names, to_torch_layout = _keras_names(arrays), keras_layout
        else:
            names, to_torch_layout = _lstm_names(arrays, prefix), torch_layout
        values = {role: arrays.get(key) for role, key in names.items()}
        return LSTMWeights(**to_torch_layout(values, names, **sizes))
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
            flat[name] = tensor_to_numpy(value)
        elif isinstance(value, np.ndarray):
            flat[name] = value
    return flat


def _lstm_names(arrays: Mapping, prefix: str | None) -> dict[str, str]:
    """The keys of the one LSTM in a state dict, and of a readout beside it, by role."""
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
    prefix, suffix = matches[0]["prefix"], matches[0]["suffix"]
    _reject_unsupported(arrays, prefix)
    roles = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    names = {role: f"{prefix}{role}{suffix}" for role in roles}
    if names["weight_hh"] not in arrays:
        raise WeightsError(names["weight_hh"], "missing beside " + names["weight_ih"])
    parent = prefix.rstrip(".").rpartition(".")[0]  # "model" for "model.lstm."
    return names | _readout_names(arrays, f"{parent}." if parent else "")


def _reject_unsupported(arrays: Mapping, prefix: str) -> None:
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


def _keras_names(arrays: Mapping) -> dict[str, str]:
    for key in ("kernel", "recurrent_kernel"):
        if key not in arrays:
            raise WeightsError(
                key,
                f"missing: a Keras-layout file holds kernel, recurrent_kernel and bias "
                f"(np.savez(path, kernel=..., recurrent_kernel=..., bias=...)); "
                f"keys: {_key_list(arrays)}",
            )
    keys = ("kernel", "recurrent_kernel", "bias")
    return {key: key for key in keys} | _readout_names(arrays, parent="")


def _readout_names(arrays: Mapping, parent: str) -> dict[str, str]:
    """The keys of the readout beside ``parent`` (``"model."``), in the one
    spelling of :data:`_FILE_READOUT_KEYS` the file uses; none without a readout."""
    spellings = [[parent + key for key in pair] for pair in _FILE_READOUT_KEYS]
    used = [pair for pair in spellings if any(key in arrays for key in pair)]
    if len(used) > 1:
        key = next(key for key in used[1] if key in arrays)
        first = next(key for key in used[0] if key in arrays)
        raise WeightsError(key, f"a second readout beside {first}; give one")
    return dict(zip(("readout_weight", "readout_bias"), used[0], strict=True)) if used else {}


def _key_list(keys, limit: int = 8) -> str:
    keys = list(keys)
    shown = ", ".join(map(str, keys[:limit]))
    return (shown + f", ... ({len(keys)} in all)") if len(keys) > limit else (shown or "none")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def build_weights(
    spec: WeightsSpec, *, input_size: int, hidden_size: int, output_size: int = 0
) -> LSTMWeights:
    """The ``model.weights`` block of an experiment file as weights of the model's
    sizes; errors name the offending key. A readout comes from the block (``W_y, b_y``
    or ``readout_weight, readout_bias``) or the file; if ``output_size > 0`` and neither
    gives one, it is the one ``init_uniform(input_size, hidden_size, seed=seed,
    output_size=output_size)`` draws, ``seed`` being the block's (default 0).
    """
    sizes = {"input_size": input_size, "hidden_size": hidden_size}
    arrays = {key: getattr(spec, key) for key in form_keys(type(spec))}
    readout_weight, readout_bias, names = spec.readout()
    readout_key = None  # the user's name for the readout the block gives, if any
    if readout_weight is not None or readout_bias is not None:
        role = "readout_weight" if readout_weight is not None else "readout_bias"
        readout_key = names.get(role, role)
    if isinstance(spec, RandomWeights):
        weights = init_uniform(seed=spec.seed, **sizes)
    elif isinstance(spec, TorchWeights):
        weights = from_torch(**arrays, **sizes)
    elif isinstance(spec, KerasWeights):
        weights = from_keras(**arrays, **sizes)
    elif isinstance(spec, PerGateWeights):
        weights = from_per_gate(**arrays, **sizes)
    else:  # FileWeights
        weights = load_weights(spec.file, layout=spec.layout, prefix=spec.prefix, **sizes)
        if weights.output_size and readout_key:
            raise WeightsError(readout_key, "the weights file already has a readout; give one")
    if readout_key:
        weights = weights.with_readout(readout_weight, readout_bias, names=names)
    if weights.output_size == output_size:
        return weights
    if weights.output_size == 0:
        drawn = init_uniform(**sizes, seed=spec.seed or 0, output_size=output_size)
        return weights.with_readout(drawn.readout_weight, drawn.readout_bias)
    raise WeightsError(
        readout_key or "file",
        f"gives a readout of output_size {weights.output_size}, but the model's "
        f"output_size is {output_size} (model.output_size)",
    )
