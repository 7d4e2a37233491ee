"""Weight files (``.npz``, PyTorch state dicts), and the experiment file's
``model.weights`` block, as :class:`~stochlstm.core.weights.LSTMWeights`. Errors
are :class:`~stochlstm.core.weights.WeightsError`, naming the offending key or array.

A file is read completely: every array is the LSTM's, the readout's, or
listed under ``ignore``; any other array refuses the file, by name. Which
keys are which is :mod:`stochlstm.experiment.state_dict_keys`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..core.weight_layouts import (
    expected_sizes,
    keras_layout,
    labeller,
    readout_layout,
    tensor_to_numpy,
    torch_layer,
)
from ..core.weights import (
    LAYER_ARRAYS,
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    init_uniform,
)
from .forms import (
    FileWeights,
    KerasWeights,
    PerGateWeights,
    RandomWeights,
    TorchWeights,
    WeightsSpec,
    form_keys,
)
from .state_dict_keys import (
    keras_keys,
    key_list,
    lstm_keys,
    normalise_prefix,
    readout_candidates,
    readout_keys,
    without_ignored,
)

__all__ = ["build_weights", "load_weights", "save_weights"]


def load_weights(
    path,
    *,
    layout: str = "torch",
    keys: Mapping[str, str | None] | None = None,
    ignore: Sequence[str] = (),
    num_layers: int | None = None,
    output_size: int | None = None,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> LSTMWeights:
    """Weights from an ``.npz`` file or a PyTorch state dict (``.pt`` / ``.pth``),
    every array of which is used or ignored.

    - ``layout="torch"``: ``nn.LSTM``'s names, ``weight_ih_l{k}, weight_hh_l{k},
      bias_ih_l{k}, bias_hh_l{k}`` for each layer ``k`` (or ``nn.LSTMCell``'s,
      without ``_l0``); missing biases are zeros (``bias=False``). In a bigger
      model's state dict, or a checkpoint dict holding one, the keys carry a
      prefix (``lstm.weight_ih_l0``): ``keys={"lstm": "lstm."}`` names it, and
      without it the one LSTM of the file is taken. Unidirectional LSTMs
      without projection only.
    - ``layout="keras"`` (``.npz`` only): ``kernel, recurrent_kernel, bias``.
    - The readout, an ``nn.Linear`` head (``weight (Y, H)``, ``bias``):
      ``keys={"readout": "head."}`` names its prefix; without it, the one of
      ``readout.``, ``head.``, ``fc.``, ``linear.``, ``out.``, ``output.``
      (beside the LSTM: ``model.head.`` for ``model.lstm.``) or the pairs
      ``readout_weight, readout_bias`` and ``W_y, b_y`` that the file has.
    - ``ignore``: keys, or prefixes ending in ``.``, of arrays to leave out
      (also of the search for the LSTM and the readout). Any other array that
      is neither the LSTM's nor the readout's is an error naming it.

    ``.pt`` files are read with ``torch.load(path, map_location="cpu",
    weights_only=True)``, which never runs code from the file. ``num_layers``,
    ``input_size``, ``hidden_size``, when given, are checked; so is
    ``output_size``: 0 refuses a readout in the file, more requires one.
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
    keys = {role: normalise_prefix(prefix) for role, prefix in (keys or {}).items()}
    try:
        arrays = without_ignored(arrays, ignore)
        return _weights_of(
            arrays, layout, keys, num_layers, output_size, expected_sizes(input_size, hidden_size)
        )
    except WeightsError as error:
        raise WeightsError(error.field, f"{error.detail} (in {path})") from None


def _weights_of(arrays, layout, keys, num_layers, output_size, sizes) -> LSTMWeights:
    """The weights the (not ignored) ``arrays`` of a file hold, all of them used."""
    names, lstm_prefix = _lstm_names(arrays, layout, keys.get("lstm"), num_layers)
    layers = []
    for k, layer in enumerate(names):
        values = {role: arrays[key] for role, key in layer.items()}
        if layout == "keras":
            layers.append(keras_layout(values, layer, **sizes))
        elif k == 0:
            layers.append(torch_layer(values, labeller(layer), **sizes))
        else:
            hidden = layers[0]["weight_hh"].shape[1]
            label = labeller(layer)
            layers.append(torch_layer(values, label, hidden, hidden, input_name="hidden_size"))
    readout = readout_keys(arrays, lstm_prefix, keys.get("readout"))
    used = {key for layer in names for key in layer.values()} | set(readout.values())
    unused = [key for key in arrays if key not in used]
    if unused:
        raise WeightsError(
            "file",
            f"arrays used by neither the LSTM nor the readout: {key_list(unused)}; "
            "map them with keys (lstm, readout) or list them under ignore",
        )
    hidden = layers[0]["weight_hh"].shape[1]
    values = {role: arrays[key] for role, key in readout.items()}
    checked = readout_layout(values, labeller(readout), hidden)
    _check_readout(readout, checked["readout_weight"], lstm_prefix, output_size)
    lstm = [{role: layer[role] for role in LAYER_ARRAYS} for layer in layers]
    return LSTMWeights.from_layers(lstm, *checked.values())


def _lstm_names(arrays, layout, prefix, num_layers) -> tuple[list[dict[str, str]], str]:
    """The keys of each layer, by role, and the LSTM's prefix."""
    if layout == "torch":
        names = lstm_keys(arrays, prefix, num_layers)
        weight_ih = names[0]["weight_ih"]
        return names, weight_ih.removesuffix("weight_ih_l0").removesuffix("weight_ih")
    if num_layers not in (None, 1):
        raise WeightsError(
            "layout", f"a Keras-layout file holds one layer; model.num_layers is {num_layers}"
        )
    return [keras_keys(arrays, prefix)], prefix or ""


def _check_readout(keys: Mapping, weight, lstm_prefix: str, output_size: int | None) -> None:
    """With ``output_size`` given, the file's readout must be there (> 0) or not (0)."""
    if output_size is None:
        return
    if output_size == 0 and keys:
        found = ", ".join(keys.values())
        raise WeightsError(
            "file",
            f"gives a readout ({found}) of output_size {weight.shape[0]}, but the model's "
            f"output_size is 0: set model.output_size, or list {found} under ignore",
        )
    if output_size and not keys:
        looked = ", ".join(weight for weight, _ in readout_candidates(lstm_prefix))
        raise WeightsError(
            "file",
            f"has no readout (looked for {looked}), but model.output_size is {output_size}: "
            "name it with keys.readout (e.g. 'head.'), or set model.output_size: 0",
        )
    if output_size and weight.shape[0] != output_size:
        raise WeightsError(
            keys["readout_weight"],
            f"gives a readout of output_size {weight.shape[0]}, but the model's "
            f"output_size is {output_size} (model.output_size)",
        )


def save_weights(weights: LSTMWeights, path) -> Path:
    """Write ``weights`` to an ``.npz`` file in ``nn.LSTM``'s names (every layer's,
    plus ``readout_weight``, ``readout_bias``), readable by :func:`load_weights`
    (the readout's kind is not saved: the experiment file states it).
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# Keys of a file block that are no array of the file: errors about them keep their field.
_FILE_BLOCK_FIELDS = ("file", "layout", "keys.lstm", "keys.readout")


def build_weights(
    spec: WeightsSpec,
    *,
    input_size: int,
    hidden_size: int,
    output_size: int = 0,
    num_layers: int = 1,
    readout_kind: str = "sigmoid",
) -> LSTMWeights:
    """The ``model.weights`` block of an experiment file as weights of the model's
    sizes and readout kind; errors name the offending key (an array of a file is
    named in the message, the field being ``file``).

    A readout comes from the block (``W_y, b_y`` or ``readout_weight,
    readout_bias``) or the file. With a file, a missing readout when
    ``output_size > 0`` is an error. With the other forms it is the one
    ``init_uniform(input_size, hidden_size, seed=seed, output_size=output_size,
    num_layers=num_layers)`` draws, ``seed`` being the block's (default 0).
    """
    sizes = {"input_size": input_size, "hidden_size": hidden_size}
    arrays = {key: getattr(spec, key) for key in form_keys(type(spec))}
    readout_weight, readout_bias, names = spec.readout()
    readout_key = None  # the user's name for the readout the block gives, if any
    if readout_weight is not None or readout_bias is not None:
        role = "readout_weight" if readout_weight is not None else "readout_bias"
        readout_key = names.get(role, role)
    if isinstance(spec, RandomWeights):
        weights = init_uniform(seed=spec.seed, num_layers=num_layers, **sizes)
    elif isinstance(spec, TorchWeights):
        weights = _inline_torch(spec, arrays, num_layers, sizes)
    elif isinstance(spec, KerasWeights | PerGateWeights):
        first = "kernel" if isinstance(spec, KerasWeights) else "W_i"
        if num_layers > 1:
            raise WeightsError(
                first,
                f"the {spec.form} gives one layer, but model.num_layers is {num_layers}: "
                "give the PyTorch layout (weight_ih_l1, ...) or a file",
            )
        make = from_keras if isinstance(spec, KerasWeights) else from_per_gate
        weights = make(**arrays, **sizes)
    else:
        weights = _file_weights(spec, num_layers, None if readout_key else output_size, sizes)
        if weights.output_size and readout_key:
            raise WeightsError(readout_key, "the weights file already has a readout; give one")
    if readout_key:
        weights = weights.with_readout(readout_weight, readout_bias, names=names)
    if weights.output_size != output_size:
        if weights.output_size:
            raise WeightsError(
                readout_key or "file",
                f"gives a readout of output_size {weights.output_size}, but the model's "
                f"output_size is {output_size} (model.output_size)",
            )
        seed = spec.seed or 0
        drawn = init_uniform(**sizes, seed=seed, output_size=output_size, num_layers=num_layers)
        weights = weights.with_readout(drawn.readout_weight, drawn.readout_bias)
    return weights.with_readout_kind(readout_kind)


def _inline_torch(spec: TorchWeights, arrays, num_layers: int, sizes) -> LSTMWeights:
    """Layer 0 from ``weight_ih, ...``, layers ``k > 0`` from ``weight_ih_l{k}, ...``."""
    weights = from_torch(**arrays, **sizes)
    upper = spec.upper_layers()
    for k in range(1, num_layers):
        if k not in upper:
            raise WeightsError(f"weight_ih_l{k}", f"missing: model.num_layers is {num_layers}")
    for k, layer in upper.items():
        if k >= num_layers:
            key = f"{min(layer, key=LAYER_ARRAYS.index)}_l{k}"
            raise WeightsError(key, f"given, but model.num_layers is {num_layers}")
    if not upper:
        return weights
    return LSTMWeights.from_layers([weights.layers[0], *(upper[k] for k in sorted(upper))])


def _file_weights(spec: FileWeights, num_layers, output_size, sizes) -> LSTMWeights:
    """The file's weights; an error about one of its arrays is the field ``file``'s."""
    try:
        return load_weights(
            spec.file,
            layout=spec.layout,
            keys=spec.keys.model_dump(),
            ignore=spec.ignore,
            num_layers=num_layers,
            output_size=output_size,
            **sizes,
        )
    except WeightsError as error:
        if error.field in _FILE_BLOCK_FIELDS or error.field.startswith("ignore["):
            raise
        raise WeightsError("file", f"{error.field}: {error.detail}") from None
