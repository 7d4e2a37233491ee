"""stochlstm: deterministic vs stochastic LSTM gating, side by side.

The cell and its math: :mod:`stochlstm.core.cell`. The layers, each importing
only those before it: :mod:`stochlstm.core` (the science), :mod:`stochlstm.engine`
(many seeds at once), :mod:`stochlstm.experiment` (the experiment file and the
run), :mod:`stochlstm.analysis` (metrics, figures, report) and
:mod:`stochlstm.cli`. The names below are the Python API.
"""

__version__ = "0.1.0"

from .analysis.compare import compare_runs, plot_comparison, write_comparison
from .analysis.pipeline import analyze, run_experiment
from .analysis.run import Run, RunError, load_run
from .analysis.runs import list_runs
from .core.cell import cell_step
from .core.conditions import Condition
from .core.gates import GATE_RULES, Bernoulli, Concrete, Deterministic, Threshold, gate_rule
from .core.randomness import NOISE_STREAMS
from .core.weights import (
    LSTMWeights,
    WeightsError,
    from_keras,
    from_per_gate,
    from_torch,
    from_torch_state_dict,
    init_uniform,
)
from .engine.kernel import run_kernel
from .engine.simulate import Simulation, simulate
from .experiment.load import load_experiment, parse_experiment
from .experiment.plan import plan_run
from .experiment.problems import ConfigError
from .experiment.progress import ProgressEvent
from .experiment.run import RunInterrupted
from .experiment.schema import ExperimentConfig
from .experiment.weight_files import build_weights, load_weights, save_weights
from .train import train_experiment

__all__ = [
    "GATE_RULES",
    "NOISE_STREAMS",
    "Bernoulli",
    "Concrete",
    "Condition",
    "ConfigError",
    "Deterministic",
    "ExperimentConfig",
    "LSTMWeights",
    "ProgressEvent",
    "Run",
    "RunError",
    "RunInterrupted",
    "Simulation",
    "Threshold",
    "WeightsError",
    "analyze",
    "build_weights",
    "cell_step",
    "compare_runs",
    "from_keras",
    "from_per_gate",
    "from_torch",
    "from_torch_state_dict",
    "gate_rule",
    "init_uniform",
    "list_runs",
    "load_experiment",
    "load_run",
    "load_weights",
    "parse_experiment",
    "plan_run",
    "plot_comparison",
    "run_experiment",
    "run_kernel",
    "save_weights",
    "simulate",
    "train_experiment",
    "write_comparison",
]
