"""One training iteration (forward + backward + Adam step), side by side in one
process: the toolkit's training cell (deterministic, and bernoulli with the
straight-through estimator) against ``nn.LSTM`` + ``nn.Linear``; batch 256,
100 steps, hidden 64, float32, the loss at the last step (as the adding problem).

Targets (issue 15): deterministic cell <= 2x nn.LSTM; bernoulli <= 1.3x the
deterministic cell. Prints the median time of each, the ratios and the machine's
load average (the numbers mean little on a busy machine).

    python benchmarks/bench_train.py [--threads 1] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

from stochlstm.core.conditions import Condition
from stochlstm.train.cell import TrainingModel
from stochlstm.train.noise import batch_uniforms, noise_root

BATCH, STEPS, HIDDEN, INPUTS = 256, 100, 64, 2


class TorchLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(INPUTS, HIDDEN)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, inputs):
        return self.head(self.lstm(inputs)[0])


def timed(steps: dict, repeats: int) -> dict[str, float]:
    """The median seconds of each step, the steps taken in turn in every round
    (so that a change of the machine's load falls on all of them alike)."""
    for step in steps.values():
        step()  # warm up
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.Generator(np.random.PCG64(0))
    inputs = torch.from_numpy(rng.random((STEPS, BATCH, INPUTS), dtype=np.float32))
    targets = torch.from_numpy(rng.random((BATCH, 1), dtype=np.float32))
    bernoulli = Condition("bernoulli")
    draws = batch_uniforms(
        noise_root(0), range(BATCH), bernoulli.noise_streams, STEPS, HIDDEN, np.float32
    )
    uniforms = {k: torch.from_numpy(v) for k, v in draws.items()}

    def iteration(model, forward):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            loss = torch.mean((forward(model)[-1] - targets) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    reference = TorchLSTM()

    def toolkit_model() -> TrainingModel:
        """A model of its own per case, from nn.LSTM's initial weights."""
        model = TrainingModel(INPUTS, HIDDEN, 1, dtype=torch.float32)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(dict(reference.named_parameters())[name])
        return model

    deterministic, stochastic = toolkit_model(), toolkit_model()
    cases = {
        "nn.LSTM + nn.Linear": iteration(reference, lambda m: m(inputs)),
        "toolkit deterministic": iteration(deterministic, lambda m: m(inputs, Condition())[0]),
        "toolkit bernoulli (ST)": iteration(
            stochastic, lambda m: m(inputs, bernoulli, uniforms)[0]
        ),
    }
    load_before = os.getloadavg()
    seconds = timed(cases, args.repeats)
    load_after = os.getloadavg()
    print(
        f"batch {BATCH}, {STEPS} steps, hidden {HIDDEN}, float32, {args.threads} thread(s), torch {torch.__version__}"
    )
    for name, value in seconds.items():
        print(
            f"  {name:<24} {value * 1e3:8.1f} ms per iteration (median of {args.repeats}, taken in turn)"
        )
    det = seconds["toolkit deterministic"] / seconds["nn.LSTM + nn.Linear"]
    st = seconds["toolkit bernoulli (ST)"] / seconds["toolkit deterministic"]
    print(
        f"  deterministic cell / nn.LSTM: {det:.2f}x (target <= 2x: {'met' if det <= 2 else 'missed'})"
    )
    print(
        f"  bernoulli ST / deterministic: {st:.2f}x (target <= 1.3x: {'met' if st <= 1.3 else 'missed'})"
    )
    print(
        f"  load average (1, 5, 15 min) before {load_before}, after {load_after}; {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
