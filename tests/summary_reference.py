"""Test data: the run-directory contract computed plainly from full simulation arrays.

:func:`summary_frame` is the reference for ``summary.csv``: numpy over the
complete ``(T, B, H)`` arrays of :func:`stochlstm.simulate`, no streaming, no
blocks. The streaming runner must agree with it (to rounding) on every row it
writes; a runner that records a subset of units or steps must agree with the
matching rows of this frame (``div_*`` is over *all* units and ``retention*``
over *all* steps, whatever is recorded).

Per (condition, quantity, t, unit): ``n`` seeds, ``mean``, ``sd`` (ddof=1),
``se = sd / sqrt(n)``, ``ci = mean ± t(0.975, n-1) se`` with the exact Student
quantile (:func:`t_critical`), ``min``, ``max``. Where every seed has the same
value, the mean is that value and ``sd`` is exactly 0.

Quantities, in this order: the recorded cell quantities (``p_i, i, p_f, f, g,
p_o, o, c, h[, y]``), then the derived per-seed ones:

- ``dev_c``, ``dev_h`` (not for the baseline): value minus the baseline's at the same seed;
- ``div_c``, ``div_h`` (not for the baseline), ``unit = -1``: sqrt(mean over units of dev²);
- ``retention``: cumulative product over steps of the keep factor (``f``; ``1 - f`` under erase);
- ``retention_theory``: the same product of keep probabilities (``p_f``; ``1 - p_f``);
- ``sat_i/f/o``: ``1[p < 0.1 or p > 0.9]``;
- ``flip_i/f/o`` (binary gates only: bernoulli, threshold): ``1[gate != 1[p > 0.5]]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from stochlstm import Condition, init_uniform, simulate

CELL_QUANTITIES = ("p_i", "i", "p_f", "f", "g", "p_o", "o", "c", "h", "y")
DERIVED = (
    "dev_c",
    "dev_h",
    "div_c",
    "div_h",
    "retention",
    "retention_theory",
    "sat_i",
    "sat_f",
    "sat_o",
    "flip_i",
    "flip_f",
    "flip_o",
)
GATES = {"i": "input", "f": "forget", "o": "output"}
STATS = ("n", "mean", "sd", "se", "ci_low", "ci_high", "min", "max")

SMALL_CONDITIONS = {
    "deterministic": Condition(),
    "bernoulli": Condition("bernoulli"),
    "forget-bernoulli": Condition(forget="bernoulli"),
}


# --------------------------------------------------------------------------- Student t


def _t_two_sided_cdf(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:
        total, term = 0.0, math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= cos2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + sin * total)
    total, term = 1.0, 1.0
    for k in range(1, (df - 2) // 2 + 1):
        term *= cos2 * (2 * k - 1) / (2 * k)
        total += term
    return sin * total


@cache
def t_critical(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (NaN if df < 1).

    Bisection on the closed-form CDF up to df = 5000 (relative error below
    1e-12); above, the Cornish-Fisher series, whose error there is below 1e-15.
    """
    if df < 1:
        return math.nan
    if df > 5000:
        z = 1.959963984540054
        return (
            z
            + (z**3 + z) / (4 * df)
            + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
        )
    low, high = 0.0, 100.0
    for _ in range(200):
        middle = (low + high) / 2
        if _t_two_sided_cdf(middle, df) < 0.95:
            low = middle
        else:
            high = middle
        if high - low <= 4e-16 * high:
            break
    return (low + high) / 2


# --------------------------------------------------------------------------- summary


def cell_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Across-seed statistics of ``values (T, B, K)``: each ``(T, K)``."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[1]
    low, high = values.min(axis=1), values.max(axis=1)
    mean = values.mean(axis=1)
    sd = values.std(axis=1, ddof=1) if n > 1 else np.full_like(mean, np.nan)
    constant = low == high
    mean[constant] = low[constant]
    if n > 1:
        sd[constant] = 0.0
    se = sd / np.sqrt(n)
    half = t_critical(n - 1) * se
    return {
        "n": np.full(mean.shape, n),
        "mean": mean,
        "sd": sd,
        "se": se,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "min": low,
        "max": high,
    }


def derived_values(
    sim, conditions: Mapping[str, Condition], baseline: str
) -> dict[str, dict[str, np.ndarray]]:
    """Derived per-seed quantities of each condition: ``(T, B, H)``; ``div_*``: ``(T, B, 1)``."""
    base = sim[baseline]
    result = {}
    for name in sim.conditions:
        arrays, condition, derived = sim[name], conditions[name], {}
        if name != baseline:
            for state in ("c", "h"):
                derived[f"dev_{state}"] = arrays[state] - base[state]
            for state in ("c", "h"):
                deviation = derived[f"dev_{state}"]
                derived[f"div_{state}"] = np.sqrt(np.mean(deviation**2, axis=2, keepdims=True))
        erase = condition.forget_semantics == "erase"
        keep = 1 - arrays["f"] if erase else arrays["f"]
        keep_prob = 1 - arrays["p_f"] if erase else arrays["p_f"]
        derived["retention"] = np.cumprod(keep, axis=0)
        derived["retention_theory"] = np.cumprod(keep_prob, axis=0)
        for short in GATES:
            prob = arrays[f"p_{short}"]
            derived[f"sat_{short}"] = ((prob < 0.1) | (prob > 0.9)).astype(np.float64)
        for short, gate in GATES.items():
            if getattr(condition, gate).name in ("bernoulli", "threshold"):
                prob = arrays[f"p_{short}"]
                derived[f"flip_{short}"] = (arrays[short] != (prob > 0.5)).astype(np.float64)
        result[name] = derived
    return result


def default_baseline(conditions: Mapping[str, Condition]) -> str:
    """The first condition whose gates are all deterministic."""
    for name, condition in conditions.items():
        if condition.is_deterministic:
            return name
    raise ValueError("no deterministic condition")


def summary_frame(
    sim,
    conditions: Mapping[str, Condition],
    *,
    baseline: str | None = None,
    sweep: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The contract's ``summary.csv`` of a full :class:`~stochlstm.simulate.Simulation`."""
    baseline = baseline or default_baseline(conditions)
    derived = derived_values(sim, conditions, baseline)
    frames = []
    for name in sim.conditions:
        quantities = {q: sim[name][q] for q in CELL_QUANTITIES if q in sim.quantities}
        quantities.update({q: derived[name][q] for q in DERIVED if q in derived[name]})
        for quantity, values in quantities.items():
            stats = cell_stats(values)
            n_steps, width = stats["mean"].shape
            t, unit = np.meshgrid(np.arange(n_steps), np.arange(width), indexing="ij")
            if quantity.startswith("div_"):
                unit = np.full_like(unit, -1)
            frame = pd.DataFrame(
                {"condition": name, "quantity": quantity, "t": t.ravel(), "unit": unit.ravel()}
            )
            for stat in STATS:
                frame[stat] = stats[stat].ravel()
            frames.append(frame)
    summary = pd.concat(frames, ignore_index=True)
    return _with_sweep(summary, sweep)


def trajectories_frame(
    sim, *, seeds=None, every: int = 1, sweep: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """The contract's ``trajectories.csv``: the sample paths of ``seeds`` (default:
    the first five), every ``every``-th step."""
    seeds = list(sim.seeds[:5]) if seeds is None else list(seeds)
    frame = sim.to_frame()
    frame = frame[frame["seed"].isin(seeds) & (frame["t"] % every == 0)].reset_index(drop=True)
    return _with_sweep(frame, sweep)


def _with_sweep(frame: pd.DataFrame, sweep) -> pd.DataFrame:
    if not sweep:
        return frame
    columns = {key: [value] * len(frame) for key, value in sweep.items()}
    return pd.concat([pd.DataFrame(columns), frame], axis=1)


# --------------------------------------------------------------------------- run directories


def condition_config(condition: Condition) -> dict:
    """A condition as the experiment file gives it (rules without parameters)."""
    config = {gate: getattr(condition, gate).name for gate in GATES.values()}
    if condition.forget_semantics != "standard":
        config["forget_semantics"] = condition.forget_semantics
    return config


def write_run_dir(
    path,
    summary: pd.DataFrame,
    trajectories: pd.DataFrame | None = None,
    *,
    name: str = "small",
    description: str = "A small test run.",
    conditions: Mapping[str, Condition] = SMALL_CONDITIONS,
    baseline: str | None = None,
    seeds=100,
    hidden_size: int = 3,
    steps: int = 30,
    sweep: Mapping[str, list] | None = None,
    status: str = "complete",
    trajectories_format: str = "csv",
) -> Path:
    """A run directory of :func:`small_simulation`'s experiment: summary.csv,
    trajectories.csv (or .parquet), resolved.yaml and manifest.json."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    summary.to_csv(path / "summary.csv", index=False)
    if trajectories is not None:
        if trajectories_format == "parquet":
            trajectories.to_parquet(path / "trajectories.parquet", index=False)
        else:
            trajectories.to_csv(path / "trajectories.csv", index=False)
    config = {
        "name": name,
        "description": description,
        "seeds": seeds,
        "root_seed": 0,
        "baseline": baseline or default_baseline(conditions),
        "model": {"input_size": 2, "hidden_size": hidden_size, "weights": {"init": "uniform"}},
        "inputs": {"kind": "gaussian", "steps": steps, "seed": 1},
        "conditions": {key: condition_config(c) for key, c in conditions.items()},
        **({"sweep": dict(sweep)} if sweep else {}),
    }
    (path / "resolved.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    manifest = {
        "status": status,
        "tool": "stochlstm",
        "seeds": {"count": seeds},
        "command": "stochlstm run experiment.yaml",
    }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


def small_simulation(
    *,
    seeds=100,
    hidden_size=3,
    steps=30,
    input_size=2,
    conditions: Mapping[str, Condition] = SMALL_CONDITIONS,
    weight_seed=0,
):
    """The small standard simulation: random weights, Gaussian inputs shared by
    all seeds (the experiment :func:`write_run_dir` describes)."""
    weights = init_uniform(input_size, hidden_size, seed=weight_seed)
    inputs = np.random.Generator(np.random.PCG64(1)).normal(size=(steps, input_size))
    return simulate(weights, inputs, dict(conditions), seeds=seeds, root_seed=0)


def small_run(
    path,
    *,
    seeds=100,
    hidden_size=3,
    steps=30,
    paths=5,
    status="complete",
    description="A small test run.",
    name="small",
    trajectories_format="csv",
    conditions: Mapping[str, Condition] = SMALL_CONDITIONS,
) -> Path:
    """Simulate :func:`small_simulation` and write it as a run directory at ``path``."""
    sim = small_simulation(seeds=seeds, hidden_size=hidden_size, steps=steps, conditions=conditions)
    return write_run_dir(
        path,
        summary_frame(sim, conditions),
        trajectories_frame(sim, seeds=range(paths)),
        name=name,
        description=description,
        conditions=conditions,
        seeds=seeds,
        hidden_size=hidden_size,
        steps=steps,
        status=status,
        trajectories_format=trajectories_format,
    )


def copy_run(source, target) -> Path:
    """A copy of the files of the run directory ``source`` at ``target``."""
    target.mkdir()
    for path in source.iterdir():
        if path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
    return target
