"""The forms the experiment file's ``model.weights`` and ``inputs`` take, each
a member of a discriminated union: pydantic chooses the form from the keys
given and reports that form's errors. Building them is
:mod:`stochlstm.experiment.weight_files` and :mod:`stochlstm.experiment.inputs`.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .fields import (
    FilePath,
    Matrix,
    NonNegativeInt,
    PositiveInt,
    Strict,
    UniqueList,
    Vector,
    fail,
    infected_at_most_population,
    key_of,
    numbers,
    one_of,
    stop_after_start,
    union,
)
from .target_forms import NormalizeSpec
from .task_forms import AddingInputs, CopyInputs

__all__ = ["INPUT_KINDS", "WEIGHT_FORMS", "InputsSpec", "WeightsSpec", "form_keys"]


class _WeightsForm(Strict):
    """Keys every form of ``model.weights`` takes: a readout (``W_y, b_y`` or
    ``readout_weight, readout_bias``) and the ``seed`` a missing readout is drawn from."""

    form: ClassVar[str]
    seed: NonNegativeInt | None = None
    W_y: Matrix | None = None
    b_y: Vector | None = None
    readout_weight: Matrix | None = None
    readout_bias: Vector | None = None

    @model_validator(mode="after")
    def _one_readout(self):
        answers = [key for key in ("W_y", "b_y") if getattr(self, key) is not None]
        torchs = [
            key for key in ("readout_weight", "readout_bias") if getattr(self, key) is not None
        ]
        if answers and torchs:
            fail(f"a second readout beside {answers[0]}; give one", key=torchs[0])
        return self

    def readout(self) -> tuple[Matrix | None, Vector | None, dict[str, str]]:
        """The readout given, if any, with the user's names for its arrays."""
        if self.readout_weight is not None or self.readout_bias is not None:
            return self.readout_weight, self.readout_bias, {}
        return self.W_y, self.b_y, {"readout_weight": "W_y", "readout_bias": "b_y"}


class RandomWeights(_WeightsForm):
    form: ClassVar[str] = "random initialisation"
    init: Literal["uniform"]
    seed: NonNegativeInt = 0


# A layer's array in nn.LSTM's names: 'weight_ih_l1'.
_LAYER_KEY = re.compile(r"^(?P<role>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)$")
_LAYER_VALUES = {"weight": TypeAdapter(Matrix), "bias": TypeAdapter(Vector)}


class TorchWeights(_WeightsForm):
    """Layer 0 as ``weight_ih, weight_hh, bias_ih, bias_hh`` (or with ``_l0``), and
    layer ``k > 0`` as ``weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}``,
    kept as extra keys (so the resolved config writes them back by these names)."""

    model_config = ConfigDict(extra="allow")

    form: ClassVar[str] = "PyTorch layout"
    weight_ih: Matrix
    weight_hh: Matrix
    bias_ih: Vector | None = None
    bias_hh: Vector | None = None

    @model_validator(mode="before")
    @classmethod
    def _layer_zero_names(cls, value):
        """``weight_ih_l0`` ... are layer 0's ``weight_ih`` ..."""
        if not isinstance(value, dict):
            return value
        value = dict(value)
        for role in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if f"{role}_l0" in value:
                if role in value:
                    fail(f"a second {role} beside {role}_l0; give one", key=f"{role}_l0")
                value[role] = value.pop(f"{role}_l0")
        return value

    @model_validator(mode="after")
    def _layer_keys(self):
        for key, value in (self.model_extra or {}).items():
            match = _LAYER_KEY.match(key)
            if not match:
                allowed = ", ".join([*type(self).model_fields, "weight_ih_l<k> ... (layer k >= 1)"])
                fail(f"unknown key {key!r}; allowed keys: {allowed}", key=key)
            try:
                checked = _LAYER_VALUES[key.partition("_")[0]].validate_python(value, strict=True)
            except ValidationError:
                shape = (
                    "a list of rows of numbers" if key.startswith("weight") else "a list of numbers"
                )
                fail(f"expected {shape}", key=key)
            self.model_extra[key] = checked
        return self

    def upper_layers(self) -> dict[int, dict[str, list]]:
        """``{k: {role: array}}`` of the layers ``k > 0`` given."""
        layers: dict[int, dict[str, list]] = {}
        for key, value in sorted((self.model_extra or {}).items()):
            match = _LAYER_KEY.match(key)
            layers.setdefault(int(match["layer"]), {})[match["role"]] = value
        return dict(sorted(layers.items()))


class KerasWeights(_WeightsForm):
    form: ClassVar[str] = "Keras layout"
    kernel: Matrix
    recurrent_kernel: Matrix
    bias: Vector | None = None


class PerGateWeights(_WeightsForm):
    form: ClassVar[str] = "per-gate form"
    W_i: Matrix
    W_f: Matrix
    W_C: Matrix
    W_o: Matrix
    b_i: Vector | None = None
    b_f: Vector | None = None
    b_C: Vector | None = None
    b_o: Vector | None = None


class FileKeys(Strict):
    """The state-dict prefixes of the LSTM (``lstm.``) and of the readout's
    ``nn.Linear`` (``head.``); found in the file when left out."""

    lstm: str | None = None
    readout: str | None = None


class FileWeights(_WeightsForm):
    form: ClassVar[str] = "file"
    file: FilePath
    layout: Literal["torch", "keras"] = "torch"
    keys: FileKeys = FileKeys()
    ignore: Annotated[list[Annotated[str, Field(min_length=1)]], UniqueList] = []


WEIGHT_FORMS = (RandomWeights, TorchWeights, KerasWeights, PerGateWeights, FileWeights)
COMMON_WEIGHT_KEYS: tuple[str, ...] = tuple(_WeightsForm.model_fields)


def form_keys(form: type[_WeightsForm]) -> list[str]:
    """The keys that make a mapping this form of weights."""
    return [key for key in form.model_fields if key not in COMMON_WEIGHT_KEYS]


def _weights_form(value) -> str | None:
    """The one form whose keys ``value`` has (None for none, or several)."""
    if isinstance(value, _WeightsForm):
        return value.form
    if not isinstance(value, dict):
        return None
    forms = {form.form for form in WEIGHT_FORMS for key in form_keys(form) if key in value}
    if any(isinstance(key, str) and _LAYER_KEY.match(key) for key in value):
        forms.add(TorchWeights.form)
    return forms.pop() if len(forms) == 1 else None


WeightsSpec = union({form.form: form for form in WEIGHT_FORMS}, _weights_form, "weights_form")


class ConstantInputs(Strict):
    kind: Literal["constant"]
    value: numbers()
    steps: PositiveInt


class SequenceInputs(Strict):
    kind: Literal["sequence"]
    values: Annotated[list[numbers()], Field(min_length=1)]


class GaussianInputs(Strict):
    kind: Literal["gaussian"]
    mean: numbers() = 0.0
    sd: numbers(ge=0) = 1.0
    steps: PositiveInt
    seed: NonNegativeInt = 0
    per_seed: bool = False


class SineInputs(Strict):
    kind: Literal["sine"]
    amplitude: numbers() = 1.0
    period: numbers(gt=0)
    phase: numbers() = 0.0
    offset: numbers() = 0.0
    steps: PositiveInt


class EpidemicInputs(Strict):
    kind: Literal["epidemic"]
    population: PositiveInt
    infected: NonNegativeInt = 1
    beta: Annotated[float, Field(ge=0)]
    gamma: Annotated[float, Field(ge=0)]
    steps: PositiveInt
    seed: NonNegativeInt = 0
    per_seed: bool = False
    observe: Literal["new_cases", "infected"] = "new_cases"
    scale: one_of(
        "expected population, max, none or a positive number",
        string=Literal["population", "max", "none"],
        number=Annotated[float, Field(gt=0)],
    ) = "population"

    _at_most_population = field_validator("infected")(infected_at_most_population)


class CsvInputs(Strict):
    kind: Literal["csv"]
    file: FilePath
    columns: Annotated[list[str], Field(min_length=1), UniqueList]
    start: NonNegativeInt | None = None
    stop: NonNegativeInt | None = None
    normalize: NormalizeSpec = "none"

    _after_start = field_validator("stop")(stop_after_start)


INPUT_KINDS = {
    "constant": ConstantInputs,
    "sequence": SequenceInputs,
    "gaussian": GaussianInputs,
    "sine": SineInputs,
    "epidemic": EpidemicInputs,
    "csv": CsvInputs,
    "adding": AddingInputs,  # a task's examples (stochlstm.experiment.task_forms)
    "copy": CopyInputs,
}
InputsSpec = union(INPUT_KINDS, key_of("kind"), "input_kind")
