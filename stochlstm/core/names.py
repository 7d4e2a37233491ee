"""The names the toolkit uses, once: quantities of the cell, gates, the derived
per-seed quantities and the columns of a run's tables. The same names are the
DataFrame columns, the experiment file's keys and the words of the README.
"""

from __future__ import annotations

__all__ = [
    "CELL_QUANTITIES",
    "DERIVED_QUANTITIES",
    "DERIVED_SOURCES",
    "GATES",
    "LOSS_QUANTITIES",
    "METRICS_COLUMNS",
    "RESERVED_COLUMNS",
    "STATES",
    "STATISTICS",
    "SUMMARY_COLUMNS",
    "SUMMARY_KEYS",
    "TARGETS_COLUMNS",
    "TRAJECTORY_KEYS",
]

# What one step of the cell yields (see stochlstm.core.cell); ``y`` only with a readout.
CELL_QUANTITIES: tuple[str, ...] = ("p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h", "y")
# A realised gate by its short name, and its key in a condition; its probability is ``p_<short>``.
GATES: dict[str, str] = {"i": "input", "f": "forget", "o": "output"}
STATES: tuple[str, ...] = ("c", "h")

# Per-seed quantities the recorder derives from the cell's (see stochlstm.engine.recorder):
# dev_* (value minus the baseline's), div_* (RMS of dev_* over units), retention,
# sat_* (saturated probability), flip_* (binary gate that disagrees with rounding).
# With targets (see stochlstm.engine.loss): loss (per step), loss_window (its mean
# over the loss window) and dev_loss_window (minus the baseline's at the same seed).
LOSS_QUANTITIES: tuple[str, ...] = ("loss", "loss_window", "dev_loss_window")
# fmt: off
DERIVED_QUANTITIES: tuple[str, ...] = (
    "dev_c", "dev_h", "div_c", "div_h", "retention", "retention_theory",
    "sat_i", "sat_f", "sat_o", "flip_i", "flip_f", "flip_o", *LOSS_QUANTITIES,
)
# fmt: on
# The cell quantities each derived quantity is formed from: ``record.derived: auto``
# (the default) keeps a derived quantity when all of them are recorded.
DERIVED_SOURCES: dict[str, tuple[str, ...]] = {
    "dev_c": ("c",),
    "dev_h": ("h",),
    "div_c": ("c",),
    "div_h": ("h",),
    "retention": ("f",),
    "retention_theory": ("p_f",),
    **{f"sat_{gate}": (f"p_{gate}",) for gate in GATES},
    **{f"flip_{gate}": (gate, f"p_{gate}") for gate in GATES},
}

STATISTICS: tuple[str, ...] = ("n", "mean", "sd", "se", "ci_low", "ci_high", "min", "max")
SUMMARY_KEYS: tuple[str, ...] = ("condition", "quantity", "t", "unit")
SUMMARY_COLUMNS: tuple[str, ...] = (*SUMMARY_KEYS, *STATISTICS)
TRAJECTORY_KEYS: tuple[str, ...] = ("condition", "seed", "t", "unit")
METRICS_COLUMNS: tuple[str, ...] = (
    "condition",
    "metric",
    "quantity",
    "t",
    "unit",
    "value",
    "ci_low",
    "ci_high",
)
# targets.csv (with targets whose values are the same at every seed): the loss,
# the target of output ``unit`` at step t (unit -1: a class index), and 1 where t
# is in the loss window, else 0.
TARGETS_COLUMNS: tuple[str, ...] = ("loss", "t", "unit", "target", "in_window")
# Columns of the run's tables: a sweep column never takes one of these names.
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {
        *SUMMARY_COLUMNS,
        *TRAJECTORY_KEYS,
        *METRICS_COLUMNS,
        *TARGETS_COLUMNS,
        *CELL_QUANTITIES,
        "x",
    }
)
