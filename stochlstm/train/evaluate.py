"""Trained models under test-time rules, on the simulator's own kernel.

Each model runs :func:`~stochlstm.engine.kernel.run_kernel` (numpy, no torch)
over the run's noise seeds, all rules at once (common random numbers): the
``k``-th noise seed runs test example ``k mod examples`` of the training
seed's fixed test set, as ``stochlstm run`` runs one input sequence per seed.
The linear (or softmax) head is applied to ``h`` at the scored steps. A
seed's loss is its example's squared error (adding) or mean cross-entropy
(copy); the rows give its mean over the seeds, sd and the 95% CI of the mean
(Student's t).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.conditions import Condition
from ..core.weights import LSTMWeights
from ..engine.kernel import run_kernel
from ..engine.statistics import student_t_975
from .tasks import Batch, readout_steps

__all__ = ["HISTOGRAM_BINS", "evaluate_model", "weights_of"]

HISTOGRAM_BINS = 20  # gate-value histograms: equal bins over [0, 1]


def weights_of(arrays: dict[str, np.ndarray]) -> LSTMWeights:
    """The LSTM (no readout) of a saved state dict."""
    return LSTMWeights(
        *(
            np.asarray(arrays[f"lstm.{name}_l0"], dtype=np.float64)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
    )


def evaluate_model(
    arrays: dict[str, np.ndarray],
    task,
    test: Batch,
    rules: Sequence[str],
    seeds: Sequence[int],
    *,
    root_seed: int,
    dtype: str,
) -> tuple[list[dict], list[dict]]:
    """``(rows, histogram)``: a row per rule (n, loss_mean, loss_sd, loss_ci_low,
    loss_ci_high, accuracy_mean for copy) and the counts of the gate
    probabilities under the deterministic rule, per gate and bin."""
    weights = weights_of(arrays)
    examples = test.inputs.shape[1]
    chosen = np.arange(len(seeds)) % examples
    inputs = test.inputs[:, chosen]
    scored = readout_steps(task)
    names = list(dict.fromkeys([*rules, "deterministic"]))
    conditions = {name: Condition(name) for name in names}
    steps = range(len(test.inputs))[scored]
    hidden = np.empty((len(names), len(steps), len(seeds), weights.hidden_size))
    bins = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    counts = {gate: np.zeros(HISTOGRAM_BINS, dtype=np.int64) for gate in ("p_i", "p_f", "p_o")}
    deterministic = names.index("deterministic")

    def consume(index: int, t: int, values: dict[str, np.ndarray]) -> None:
        if t >= steps.start:
            hidden[index, t - steps.start] = values["h"].T
        if index == deterministic:
            for gate, total in counts.items():
                total += np.histogram(values[gate], bins=bins)[0]

    run_kernel(weights, inputs, conditions, list(seeds), consume, root_seed=root_seed, dtype=dtype)
    head_weight = np.asarray(arrays["head.weight"], dtype=np.float64)
    head_bias = np.asarray(arrays["head.bias"], dtype=np.float64)
    rows = []
    for index, name in enumerate(names[: len(rules)]):
        outputs = hidden[index] @ head_weight.T + head_bias  # (L, n, Y)
        losses, accuracy = _per_seed_loss(
            task,
            outputs,
            test.targets[..., chosen] if task.kind == "copy" else test.targets[chosen],
        )
        rows.append({"eval_rule": name, **_mean_ci(losses), **accuracy})
    histogram = [
        {"gate": gate, "bin_low": float(bins[k]), "bin_high": float(bins[k + 1]), "count": int(n)}
        for gate, total in counts.items()
        for k, n in enumerate(total)
    ]
    return rows, histogram


def _per_seed_loss(task, outputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
    if task.kind == "adding":
        return (outputs[-1, :, 0] - targets[:, 0]) ** 2, {}
    shifted = outputs - outputs.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (L, n)
    correct = (outputs.argmax(axis=-1) == targets).mean(axis=0)
    return -picked.mean(axis=0), {"accuracy_mean": float(correct.mean())}


def _mean_ci(values: np.ndarray) -> dict:
    n = len(values)
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if n > 1 else float("nan")
    half = student_t_975(n - 1) * sd / np.sqrt(n) if n > 1 else float("nan")
    return {
        "n": n,
        "loss_mean": mean,
        "loss_sd": sd,
        "loss_ci_low": mean - half,
        "loss_ci_high": mean + half,
    }
