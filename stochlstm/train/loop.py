"""Training one model: one condition (arm) and one training seed, in chunks of
iterations that start and end on a :class:`TaskState` of plain arrays.

A chunk rebuilds the model and the optimizer from the state, trains, and
returns the new state, so a task can stop after any chunk (a checkpoint)
and continue in another process with the same numbers: the data and the gate
noise of iteration ``k`` are functions of the training seed and ``k``
(:mod:`stochlstm.train.noise`), and Adam's moments and step count travel in
the state.

Every ``validate_every`` iterations (and before the first and after the
last) the task records the mean training loss since the last record (split
``train``) and the loss on the fixed validation set (split ``validation``),
measured under the arm's own rule as it is used at that point (bernoulli and
concrete gates on the validation set's own fixed noise, concrete at the
current temperature, zoneout's expectation), with the share of saturated
gate probabilities (below 0.1 or above 0.9, the Gumbel-gate paper's
measure) over the input, forget and output gates. With ``keep: best`` the
weights of the record with the lowest validation loss travel in the state
too (``best.*``) and are the ones written (early stopping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.conditions import Condition
from ..core.weights import init_uniform
from .noise import TRAINING, VALIDATION, batch_seeds, batch_uniforms, data_generator, noise_root
from .tasks import Batch, make_problem

__all__ = [
    "TaskState",
    "TrainJob",
    "advance",
    "initial_state",
    "kept_iteration",
    "model_arrays",
    "temperature_at",
]

SATURATION = 0.1  # a gate probability below 0.1 or above 0.9 is saturated


@dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs to train one arm at one training seed."""

    condition_name: str
    condition: Condition
    train_seed: int
    task: Any  # AddingTask | CopyTask | ForecastTask (stochlstm.experiment.task_forms)
    input_size: int
    hidden_size: int
    output_size: int
    readout: str  # linear | softmax
    init_seed: int
    iterations: int
    batch_size: int
    optimizer: str
    lr: float
    temperature: tuple[float, float] | None
    validation_examples: int
    validate_every: int
    dtype: str
    threads: int
    series: np.ndarray | None = field(default=None, compare=False)  # a CSV forecast's
    keep: str = "last"  # or "best": the weights of the lowest validation loss


@dataclass
class TaskState:
    """A task between chunks: ``arrays`` (the model's state dict as numpy, then
    ``optimizer.<k>.<name>``), iterations done, and the rows recorded so far."""

    arrays: dict[str, np.ndarray]
    iteration: int = 0
    rows: list[dict] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)  # since the last record


def temperature_at(job: TrainJob, iteration: int) -> float | None:
    """The concrete gates' temperature at ``iteration`` (None: the condition's own)."""
    if job.temperature is None:
        return None
    start, end = job.temperature
    fraction = iteration / max(1, job.iterations - 1)
    return float(start * (end / start) ** fraction)


def initial_state(job: TrainJob) -> TaskState:
    """The model before training: ``init_uniform(seed=init_seed + train_seed)``."""
    weights = init_uniform(
        job.input_size,
        job.hidden_size,
        seed=job.init_seed + job.train_seed,
        output_size=job.output_size,
    )
    dtype = np.dtype(job.dtype)
    arrays = {
        "lstm.weight_ih_l0": weights.weight_ih,
        "lstm.weight_hh_l0": weights.weight_hh,
        "lstm.bias_ih_l0": weights.bias_ih,
        "lstm.bias_hh_l0": weights.bias_hh,
        "head.weight": weights.readout_weight,
        "head.bias": weights.readout_bias,
    }
    return TaskState({k: np.asarray(v, dtype=dtype) for k, v in arrays.items()})


BEST = "best."  # arrays of the best model so far (keep: best): its state dict, loss, iteration


def model_arrays(state: TaskState) -> dict[str, np.ndarray]:
    """The model's state dict (``lstm.*``, ``head.*``) of a task state: the kept
    best one when training keeps the best (``best.*``), else the current one."""
    best = {
        k[len(BEST) :]: v
        for k, v in state.arrays.items()
        if k.startswith(BEST) and k not in (f"{BEST}loss", f"{BEST}iteration")
    }
    if best:
        return best
    return {k: v for k, v in state.arrays.items() if not k.startswith(("optimizer.", BEST))}


def kept_iteration(state: TaskState) -> int:
    """The iteration whose weights :func:`model_arrays` gives."""
    kept = state.arrays.get(f"{BEST}iteration")
    return state.iteration if kept is None else int(kept)


def advance(job: TrainJob, state: TaskState, until: int) -> TaskState:
    """Train from ``state.iteration`` up to iteration ``until`` (exclusive)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    try:
        return _Trainer(job, state).run(until)
    finally:
        torch.set_num_threads(threads)


class _Trainer:
    def __init__(self, job: TrainJob, state: TaskState):
        import torch

        from .cell import TrainingModel

        self.torch, self.job = torch, job
        self.dtype = getattr(torch, job.dtype)
        self.model = TrainingModel(job.input_size, job.hidden_size, job.output_size, self.dtype)
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                parameter.copy_(torch.tensor(state.arrays[name]))
        parameters = list(self.model.parameters())
        if job.optimizer == "adam":
            self.optimizer = torch.optim.Adam(parameters, lr=job.lr)
        else:
            self.optimizer = torch.optim.SGD(parameters, lr=job.lr)
        saved = {}
        for index, _ in enumerate(parameters):
            prefix = f"optimizer.{index}."
            entries = {k[len(prefix) :]: v for k, v in state.arrays.items() if k.startswith(prefix)}
            if entries:
                saved[index] = {
                    k: torch.tensor(v) if v.ndim == 0 else torch.from_numpy(v.copy())
                    for k, v in entries.items()
                }
        if saved:
            groups = self.optimizer.state_dict()["param_groups"]
            self.optimizer.load_state_dict({"state": saved, "param_groups": groups})
        self.state = TaskState(
            dict(state.arrays), state.iteration, list(state.rows), list(state.train_losses)
        )
        self.streams = job.condition.noise_streams
        self.problem = make_problem(job.task, job.series)
        self.validation = self.problem.batch(
            data_generator(job.train_seed, "validation"), job.validation_examples, "validation"
        )

    def tensor(self, array: np.ndarray):
        return self.torch.from_numpy(np.asarray(array, dtype=np.dtype(self.job.dtype)))

    def uniforms(self, purpose: int, seeds: list[int], n_steps: int) -> dict:
        root = noise_root(self.job.train_seed, purpose)
        draws = batch_uniforms(
            root, seeds, self.streams, n_steps, self.job.hidden_size, np.dtype(self.job.dtype)
        )
        return {stream: self.torch.from_numpy(values) for stream, values in draws.items()}

    def loss(self, outputs, batch: Batch):
        """The task's loss on ``batch`` (a tensor) and accuracy (a float, or None)."""
        torch = self.torch
        scored = outputs[batch.scored]
        if self.job.readout == "linear":
            return torch.mean((scored - self.tensor(batch.targets)) ** 2), None
        labels = torch.from_numpy(np.asarray(batch.targets, dtype=np.int64))
        logits = scored.reshape(-1, scored.shape[-1])
        loss = torch.nn.functional.cross_entropy(logits, labels.reshape(-1))
        accuracy = float((logits.argmax(1) == labels.reshape(-1)).double().mean())
        return loss, accuracy

    def run(self, until: int) -> TaskState:
        job, state = self.job, self.state
        if state.iteration == 0 and not state.rows:
            self.record(0)
        for iteration in range(state.iteration, min(until, job.iterations)):
            batch = self.problem.batch(
                data_generator(job.train_seed, "train", iteration), job.batch_size
            )
            seeds = batch_seeds(iteration, job.batch_size)
            uniforms = self.uniforms(TRAINING, seeds, len(batch.inputs))
            outputs, _ = self.model(
                self.tensor(batch.inputs),
                job.condition,
                uniforms,
                temperature=temperature_at(job, iteration),
            )
            loss, _ = self.loss(outputs, batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            state.train_losses.append(float(loss.detach()))
            state.iteration = iteration + 1
            if state.iteration % job.validate_every == 0 or state.iteration == job.iterations:
                self.record(state.iteration)
        return self.snapshot()

    def record(self, iteration: int) -> None:
        """Rows of the ``train`` and ``validation`` splits at ``iteration``."""
        torch, job, state = self.torch, self.job, self.state
        validation = self.validation
        with torch.no_grad():
            seeds = list(range(job.validation_examples))
            uniforms = self.uniforms(VALIDATION, seeds, len(validation.inputs))
            temperature = temperature_at(job, max(0, iteration - 1))
            outputs, gates = self.model(
                self.tensor(validation.inputs),
                job.condition,
                uniforms,
                temperature=temperature,
                expected=True,
                keep_gates=True,
            )
            loss, accuracy = self.loss(outputs, validation)
            probs = torch.cat([g.reshape(-1) for g in gates.values()])
            saturated = float(((probs < SATURATION) | (probs > 1 - SATURATION)).double().mean())
        if job.keep == "best":
            self.keep_if_best(iteration, float(loss))
        base = {
            "condition": job.condition_name,
            "train_seed": job.train_seed,
            "iteration": iteration,
        }
        if state.train_losses:
            train_loss = float(np.mean(state.train_losses))
            state.rows.append(
                {**base, "split": "train", "loss": train_loss, "accuracy": None, "saturated": None}
            )
            state.train_losses = []
        state.rows.append(
            {
                **base,
                "split": "validation",
                "loss": float(loss),
                "accuracy": accuracy,
                "saturated": saturated,
            }
        )

    def keep_if_best(self, iteration: int, loss: float) -> None:
        """Keep the model's weights when ``loss`` is the lowest validation loss yet."""
        arrays = self.state.arrays
        best = arrays.get(f"{BEST}loss")
        if best is not None and not loss < float(best):
            return
        for name, parameter in self.model.named_parameters():
            arrays[f"{BEST}{name}"] = parameter.detach().numpy().copy()
        arrays[f"{BEST}loss"] = np.array(loss)
        arrays[f"{BEST}iteration"] = np.array(iteration)

    def snapshot(self) -> TaskState:
        arrays = {
            name: parameter.detach().numpy().copy()
            for name, parameter in self.model.named_parameters()
        }
        for index, entries in self.optimizer.state_dict()["state"].items():
            for name, value in entries.items():
                arrays[f"optimizer.{index}.{name}"] = value.detach().numpy().copy()
        state = self.state
        arrays |= {k: v for k, v in state.arrays.items() if k.startswith(BEST)}
        return TaskState(arrays, state.iteration, list(state.rows), list(state.train_losses))
