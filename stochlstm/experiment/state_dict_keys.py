"""Which arrays of a weights file are what: the LSTM's layers, the readout,
and what is left over.

A file is a flat mapping of dotted keys to arrays (a state dict, flattened;
an ``.npz``). The LSTM is found by its input weights of layer 0
(``{prefix}weight_ih_l0``, or ``nn.LSTMCell``'s ``{prefix}weight_ih``), under
the prefix ``keys.lstm`` names or, by default, the one such key in the file
(``weight_ih_l0``, ``lstm.weight_ih_l0``, ``rnn.weight_ih_l0``,
``model.lstm.weight_ih_l0``). Its layers are ``_l0``, ``_l1``, ...

The readout is an ``nn.Linear`` head, ``{prefix}weight`` and ``{prefix}bias``,
under the prefix ``keys.readout`` names or, by default, the one of
:data:`READOUT_PREFIXES` beside the LSTM (``model.head.`` for
``model.lstm.``) that the file has, or the flat pairs ``readout_weight,
readout_bias`` and ``W_y, b_y`` (what :func:`~stochlstm.experiment.weight_files.save_weights`
writes). Errors are :class:`~stochlstm.core.weights.WeightsError` naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..core.weights import LAYER_ARRAYS, WeightsError

__all__ = [
    "READOUT_PREFIXES",
    "key_list",
    "keras_keys",
    "lstm_keys",
    "normalise_prefix",
    "readout_keys",
    "without_ignored",
]

# nn.Linear heads found beside the LSTM without keys.readout, in this order.
READOUT_PREFIXES: tuple[str, ...] = ("readout.", "head.", "fc.", "linear.", "out.", "output.")
# Flat readout pairs (weight key, bias key), beside the LSTM too.
_FLAT_READOUTS = (("readout_weight", "readout_bias"), ("W_y", "b_y"))

# A parameter of any layer or direction of an nn.LSTM: 'lstm.weight_hh_l1_reverse'.
_LSTM_PARAMETER_KEY = re.compile(
    r"^(?P<prefix>(?:.+\.)?)(?:weight|bias)_(?P<kind>ih|hh|hr)_l(?P<layer>\d+)(?P<reverse>_reverse)?$"
)
# The input weights of an nn.LSTM ('lstm.weight_ih_l0') or nn.LSTMCell ('cell.weight_ih').
_INPUT_WEIGHT_KEY = re.compile(r"^(?P<prefix>(?:.+\.)?)weight_ih(?P<suffix>(?:_l0)?)$")


def normalise_prefix(prefix: str | None) -> str | None:
    """``"lstm"`` and ``"lstm."`` are both the prefix ``"lstm."``; ``""`` is no prefix."""
    if prefix is None or prefix == "" or prefix.endswith("."):
        return prefix
    return f"{prefix}."


def without_ignored(arrays: Mapping, ignore: Sequence[str]) -> dict:
    """``arrays`` without the keys ``ignore`` lists: a key, or a prefix ending in
    ``.`` for every key under it. An entry that matches nothing is an error."""
    kept = dict(arrays)
    for index, entry in enumerate(ignore):
        if entry.endswith("."):
            matched = [key for key in kept if key.startswith(entry)]
        else:
            matched = [entry] if entry in kept else []
        if not matched:
            raise WeightsError(
                f"ignore[{index}]",
                f"{entry!r} matches no array of the file; keys: {key_list(kept)}",
            )
        for key in matched:
            del kept[key]
    return kept


def lstm_keys(arrays: Mapping, prefix: str | None, num_layers: int | None) -> list[dict[str, str]]:
    """The keys of the LSTM's layers, bottom first: ``[{role: key}]`` with roles
    ``weight_ih, weight_hh`` and, when the file has them, ``bias_ih, bias_hh``.
    ``num_layers``, when given, must be the file's."""
    matches = [m for m in map(_INPUT_WEIGHT_KEY.match, arrays) if m]
    if prefix is not None:
        matches = [m for m in matches if m["prefix"] == prefix]
    if not matches:
        if prefix is not None:
            wanted = f"{prefix}weight_ih_l0"
            raise WeightsError(
                "keys.lstm", f"no LSTM under {prefix!r} (no {wanted}); keys: {key_list(arrays)}"
            )
        raise WeightsError("weight_ih_l0", f"no LSTM input weights; keys: {key_list(arrays)}")
    if len(matches) > 1:
        found = ", ".join(m.string for m in matches)
        raise WeightsError(
            matches[1].string, f"several LSTMs ({found}): choose one with keys.lstm (e.g. 'lstm.')"
        )
    prefix, suffix = matches[0]["prefix"], matches[0]["suffix"]
    file_layers = _file_layers(arrays, prefix) if suffix else 1
    if num_layers is not None and num_layers != file_layers:
        if num_layers > file_layers:
            key, detail = f"{prefix}weight_ih_l{file_layers}", "missing"
        else:
            key, detail = f"{prefix}weight_ih_l{num_layers}", "present"
        raise WeightsError(
            key,
            f"{detail}: the file's LSTM has {_layers(file_layers)}, "
            f"but model.num_layers is {num_layers}",
        )
    layers = []
    for k in range(file_layers):
        end = f"_l{k}" if suffix else ""
        names = {role: f"{prefix}{role}{end}" for role in LAYER_ARRAYS}
        if names["weight_hh"] not in arrays:
            raise WeightsError(names["weight_hh"], "missing beside " + names["weight_ih"])
        layers.append(
            {role: key for role, key in names.items() if key in arrays or "weight" in role}
        )
    return layers


def _file_layers(arrays: Mapping, prefix: str) -> int:
    """How many layers the nn.LSTM under ``prefix`` has: ``weight_ih_l0 ..
    weight_ih_l{L-1}``; a reverse direction or a projection is refused."""
    layers = set()
    for key in arrays:
        match = _LSTM_PARAMETER_KEY.match(key)
        if not match or match["prefix"] != prefix:
            continue
        if match["reverse"]:
            shows = "a reverse direction (bidirectional=True)"
        elif match["kind"] == "hr":
            shows = "a projection (proj_size > 0)"
        else:
            layers.add(int(match["layer"]))
            continue
        raise WeightsError(key, f"shows {shows}; only unidirectional LSTMs are supported")
    count = len(layers)
    gap = next((k for k in range(count) if k not in layers), None)
    if gap is not None:
        raise WeightsError(
            f"{prefix}weight_ih_l{gap}", f"missing, though the file has layers up to {max(layers)}"
        )
    return count


def keras_keys(arrays: Mapping, prefix: str | None) -> dict[str, str]:
    """The keys of a Keras LSTM layer: ``kernel, recurrent_kernel`` and ``bias``."""
    prefix = prefix or ""
    names = {role: f"{prefix}{role}" for role in ("kernel", "recurrent_kernel", "bias")}
    for role in ("kernel", "recurrent_kernel"):
        if names[role] not in arrays:
            raise WeightsError(
                names[role],
                f"missing: a Keras-layout file holds kernel, recurrent_kernel and bias "
                f"(np.savez(path, kernel=..., recurrent_kernel=..., bias=...)); "
                f"keys: {key_list(arrays)}",
            )
    return {role: key for role, key in names.items() if key in arrays or role != "bias"}


def readout_keys(arrays: Mapping, lstm_prefix: str, prefix: str | None) -> dict[str, str]:
    """The keys of the readout, ``{"readout_weight": key, "readout_bias": key}``
    (no bias key for a head without bias); ``{}`` when the file has none (and
    ``keys.readout`` names none)."""
    if prefix is not None:
        weight, bias = f"{prefix}weight", f"{prefix}bias"
        if weight not in arrays:
            raise WeightsError(
                "keys.readout",
                f"no readout under {prefix!r} (no {weight}); keys: {key_list(arrays)}",
            )
        return _pair(arrays, weight, bias)
    present = [pair for pair in readout_candidates(lstm_prefix) if pair[0] in arrays]
    if len(present) > 1:
        found = ", ".join(weight for weight, _ in present)
        raise WeightsError(
            present[1][0],
            f"several readouts ({found}): choose one with keys.readout (e.g. 'head.')",
        )
    return _pair(arrays, *present[0]) if present else {}


def readout_candidates(lstm_prefix: str) -> list[tuple[str, str]]:
    """The (weight, bias) keys a readout is looked for under, beside the LSTM."""
    parent = lstm_prefix.rstrip(".").rpartition(".")[0]  # "model" for "model.lstm."
    parent = f"{parent}." if parent else ""
    heads = [(f"{parent}{head}weight", f"{parent}{head}bias") for head in READOUT_PREFIXES]
    return heads + [(parent + weight, parent + bias) for weight, bias in _FLAT_READOUTS]


def _pair(arrays: Mapping, weight: str, bias: str) -> dict[str, str]:
    pair = {"readout_weight": weight}
    return pair | ({"readout_bias": bias} if bias in arrays else {})


def _layers(count: int) -> str:
    return "1 layer" if count == 1 else f"{count} layers"


def key_list(keys, limit: int = 8) -> str:
    keys = list(keys)
    shown = ", ".join(map(str, keys[:limit]))
    return (shown + f", ... ({len(keys)} in all)") if len(keys) > limit else (shown or "none")
