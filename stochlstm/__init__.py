"""stochlstm: deterministic vs stochastic LSTM gating, side by side.

The cell and its math: :mod:`stochlstm.cell`. Gating rules:
:mod:`stochlstm.gates`. The randomness contract: :mod:`stochlstm.noise`.
"""

from .analysis import Run, RunError, analyze, load_run
from .cell import cell_step
from .condition import NOISE_STREAMS, Condition
from .config import ConfigError, ExperimentConfig, load_experiment, parse_experiment
from .gates import GATE_RULES, Bernoulli, Concrete, Deterministic, Threshold, gate_rule
from .runner import RunInterrupted, plan_run, run_experiment
from .simulate import Simulation, run_kernel, simulate
from .weights import (
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    init_uniform,
    load_weights,
    save_weights,
    weights_from_mapping,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "Run",
    "RunError",
    "RunInterrupted",
    "analyze",
    "load_experiment",
    "load_run",
    "parse_experiment",
    "plan_run",
    "run_experiment",
    "GATE_RULES",
    "NOISE_STREAMS",
    "Bernoulli",
    "Concrete",
    "Condition",
    "Deterministic",
    "LSTMWeights",
    "Simulation",
    "Threshold",
    "WeightsError",
    "cell_step",
    "from_keras",
    "from_per_gate",
    "from_torch",
    "gate_rule",
    "init_uniform",
    "load_weights",
    "save_weights",
    "weights_from_mapping",
    "run_kernel",
    "simulate",
]
