"""Trained models under test-time rules: ``stochlstm run`` of the run directory's
``evaluate.yaml``, in this process.

:func:`evaluation_yaml` writes the experiment file that evaluates one trained
model (``model.weights.file``, the training seed's test set as ``inputs``, the
task's ``targets``, a condition per test-time rule); :func:`evaluate_model`
plans it with the overrides of one model (``--set model.weights.file=...``,
``--set inputs.seed=...``) and runs it through the simulator's own plan,
kernel, recorder and statistics (:mod:`stochlstm.experiment.plan`,
:mod:`stochlstm.engine`), so that its ``loss_window`` rows are the numbers
``stochlstm run evaluate.yaml`` writes to ``summary.csv``, to the bit. A seed's
loss is its test example's squared error (adding), mean squared error over
the test steps (forecasts) or mean cross-entropy over the answer (copy).
Beside the loss, one pass counts the gate probabilities under the
deterministic rule (the histograms) and, for copy, the share of symbols
answered right.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from ..engine.kernel import run_kernel
from ..experiment.load import load_experiment
from ..experiment.plan import plan_run
from ..experiment.tables import Accumulator
from ..experiment.task_forms import task_sizes

__all__ = [
    "EVALUATION_RECORD",
    "HISTOGRAM_BINS",
    "evaluate_model",
    "evaluation_yaml",
    "overrides_of",
]

HISTOGRAM_BINS = 20  # gate-value histograms: equal bins over [0, 1]
# What the in-process evaluation records (the loss does not depend on it).
EVALUATION_RECORD = ("record.quantities=[y]", "record.seeds=0", "record.derived=[loss_window]")
_GATES = ("p_i", "p_f", "p_o")


def _inputs_and_targets(task, run_dir: Path) -> tuple[dict, dict]:
    """The ``inputs`` and ``targets`` blocks of the test set of training seed 0."""
    if task.kind in ("adding", "copy"):
        inputs = {**task.model_dump(mode="json"), "seed": 0, "per_seed": True}
        loss = "mse" if task.kind == "adding" else "cross_entropy"
        return inputs, {"kind": "task", "loss": loss}
    if task.csv is not None:
        csv = task.csv
        inputs = {
            "kind": "csv",
            "file": os.path.relpath(csv.file, run_dir),
            "columns": [csv.column],
            "normalize": {"fit_rows": {"start": 0, "stop": csv.test}},
        }
        targets = {"kind": "inputs", "shift": 1, "loss": "mse", "loss_from": csv.test - 1}
        return inputs, targets
    epidemic = task.epidemic.model_dump(mode="json")
    inputs = {"kind": "epidemic", **epidemic, "steps": epidemic["steps"] + 1}
    inputs.update(seed=0, per_seed=True)
    return inputs, {"kind": "inputs", "shift": 1, "loss": "mse"}


def evaluation_yaml(config, run_dir: Path) -> str:
    """The experiment file that evaluates the deterministic arm's model of
    training seed 0 of ``config`` (a train block) from ``run_dir``."""
    train = config.train
    task = train.task
    input_size, output_size, readout = task_sizes(task)
    inputs, targets = _inputs_and_targets(task, run_dir)
    first_arm = next(iter(config.conditions))
    rules = list(dict.fromkeys(["deterministic", *train.evaluate.under]))
    data = {
        "name": f"{config.name}-evaluate",
        "description": f"A model trained by stochlstm train ({config.name}) on its test set.",
        "seeds": config.model_dump(mode="json")["seeds"],
        "root_seed": config.root_seed,
        "dtype": config.dtype,
        "model": {
            "input_size": input_size,
            "hidden_size": config.model.hidden_size,
            "output_size": output_size,
            "readout": readout,
            "weights": {"file": f"weights/{first_arm}/seed-0.npz"},
        },
        "inputs": inputs,
        "targets": targets,
        "conditions": {rule: {} if rule == "deterministic" else {"gates": rule} for rule in rules},
        "output": {"figure_formats": list(config.output.figure_formats)},
    }
    seed = " --set inputs.seed=<k>" if inputs.get("per_seed") else ""
    path = Path(run_dir) / "evaluate.yaml"
    header = (
        f"# One model of the run directory of `stochlstm train` ({config.name}) under each\n"
        "# test-time rule, over the noise seeds; summary.csv's loss_window rows are that\n"
        "# model's rows of evaluation.csv. The first arm's model of training seed 0:\n"
        f"#   stochlstm run {path}\n"
        "# another (paths relative to this file):\n"
        f"#   stochlstm run {path} --set model.weights.file=weights/<arm>/seed-<k>.npz{seed}\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return header + body


def overrides_of(config, condition: str, train_seed: int) -> list[str]:
    """The ``--set`` options that make ``evaluate.yaml`` evaluate one model."""
    overrides = [f"model.weights.file=weights/{condition}/seed-{train_seed}.npz"]
    if not (config.train.task.kind == "forecast" and config.train.task.csv is not None):
        overrides.append(f"inputs.seed={train_seed}")
    return overrides


class _Tally:
    """What one pass counts beside the run's recorder: the gate probabilities
    under the deterministic rule (``counts``, per gate and bin) and, with class
    targets, the right answers in the loss window per condition (``correct``)."""

    def __init__(self, names: Sequence[str], window: tuple[int, int], classes: bool):
        self.deterministic = list(names).index("deterministic")
        self.window, self.classes = window, classes
        self.bins = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
        self.counts = np.zeros((len(_GATES), HISTOGRAM_BINS), dtype=np.int64)
        self.correct = np.zeros(len(names))

    def consumer(self, recorder, targets):
        """The kernel's consumer for one batch: ``recorder``, then the counts."""
        first, last = self.window

        def consume(index: int, t: int, values: dict[str, np.ndarray]) -> None:
            recorder(index, t, values)
            if index == self.deterministic:
                for k, gate in enumerate(_GATES):
                    self.counts[k] += np.histogram(values[gate], bins=self.bins)[0]
            if self.classes and first <= t <= last:
                answers = targets[t, :, 0] if targets.ndim == 3 else targets[t, 0]
                chosen = values["y"].argmax(axis=0)
                self.correct[index] += np.count_nonzero(chosen == answers)

        return consume


def evaluate_model(
    experiment: Path, overrides: Sequence[str], rules: Sequence[str]
) -> tuple[list[dict], list[dict]]:
    """``(rows, histogram)`` of one model: a row per rule in ``rules`` (n,
    loss_mean, loss_sd, loss_ci_low, loss_ci_high; accuracy_mean for copy) and
    the counts of the gate probabilities under the deterministic rule, per
    gate and bin."""
    config = load_experiment(experiment, overrides=[*overrides, *EVALUATION_RECORD])
    plan = plan_run(config)
    point = plan.points[0]
    names = list(point.conditions)
    loss = point.record.loss
    classes = loss.encoding == "classes"
    tally = _Tally(names, loss.window, classes)
    accumulator = Accumulator()
    for task in plan.tasks:
        seeds = list(task.seeds)
        recorder = point.recorder(seeds)
        run_kernel(
            point.weights,
            point.inputs(seeds),
            point.conditions,
            seeds,
            tally.consumer(recorder, point.targets(seeds) if classes else None),
            root_seed=point.root_seed,
            initial_state=point.initial_state,
            dtype=np.dtype(point.dtype),
            layer=point.record.layer,
        )
        accumulator.fold(task, recorder.record)
    first, last = loss.window
    rows = []
    for rule in rules:
        table = accumulator.stats[(0, rule, "loss_window")].table()
        row = {"eval_rule": rule, "n": int(table["n"][0, 0])}
        for column in ("mean", "sd", "ci_low", "ci_high"):
            row[f"loss_{column}"] = float(table[column][0, 0])
        if classes:
            answers = len(plan.seeds) * (last - first + 1)
            row["accuracy_mean"] = float(tally.correct[names.index(rule)] / answers)
        rows.append(row)
    bins = tally.bins
    histogram = [
        {"gate": gate, "bin_low": float(bins[b]), "bin_high": float(bins[b + 1]), "count": int(n)}
        for k, gate in enumerate(_GATES)
        for b, n in enumerate(tally.counts[k])
    ]
    return rows, histogram
