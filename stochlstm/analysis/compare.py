"""Two runs side by side: their metrics in one table, their divergence in one figure.

>>> table = compare_runs("results/my-question", "results/hidden-32/my-question")  # doctest: +SKIP
>>> table.query("metric == 'divergence_mean' and quantity == 'h'")               # doctest: +SKIP

The main use is one experiment run with different settings (``--set
model.hidden_size=32 --out results/hidden-32``): the rows of the two runs'
metrics (``metrics.csv``, or computed from ``summary.csv`` when a run has
none) are matched on ``condition, metric, quantity, t, unit`` and the sweep
columns the two runs share. A sweep column of one run only is kept, named
``<column>_a`` or ``<column>_b``; its rows are matched with each row of the
other run. ``mean_field_gap_max`` is matched without its ``t`` and ``unit``,
which say where the largest gap lies and differ between runs.

The difference (``b − a``) has no interval of its own: two runs of one
experiment share their seeds, so their errors are correlated in a way their
summaries do not record. Compare the two intervals instead.

Nothing is written into either run directory: :func:`write_comparison`
refuses an output folder inside one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..core.names import STATES
from ..experiment.rundir import atomic_path
from .run import Run, RunError, load_run
from .table import HEADLINE_METRICS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "COMPARISON_COLUMNS",
    "check_out_dir",
    "compare_runs",
    "comparison_summary_text",
    "default_out_dir",
    "headline_rows",
    "plot_comparison",
    "run_labels",
    "settings_difference",
    "write_comparison",
]

KEYS = ("condition", "metric", "quantity", "t", "unit")
SIDES = ("a", "b")
STYLES = {"a": "-", "b": "--"}  # run b dashed: two equal curves stay visible
# What each column of compare_runs holds (besides the shared sweep columns).
COMPARISON_COLUMNS = {
    "condition": "the condition, present in both runs",
    "metric": "the metric (see metrics.csv)",
    "quantity": "the state (c, h) or gate (i, f, o) the metric is about",
    "t": "the step; empty: over all steps",
    "unit": "the unit; empty: over all units",
    "value_a": "the value in run a",
    "ci_low_a": "lower bound of its 95% CI",
    "ci_high_a": "upper bound of its 95% CI",
    "value_b": "the value in run b",
    "ci_low_b": "lower bound of its 95% CI",
    "ci_high_b": "upper bound of its 95% CI",
    "difference": "value_b − value_a",
}
# Metrics whose t and unit say where a value lies rather than which cell it is of.
LOCATED_METRICS = ("mean_field_gap_max",)
# The metrics printed by comparison_summary_text (their overall rows) are the
# comparison table's (HEADLINE_METRICS, from .table); all go to the CSV.
DIVERGENCE = "divergence"  # the metric drawn by plot_comparison: div_c, div_h per t
MAX_PANEL_ROWS = 8  # (sweep point, condition) rows of the comparison figure
MAX_SETTINGS = 12  # differing settings listed by comparison_summary_text
CSV_NAME, FIGURE_STEM = "comparison.csv", "divergence"


def _as_run(run: Run | str | os.PathLike, verify: bool) -> Run:
    return run if isinstance(run, Run) else load_run(run, verify=verify)


def compare_runs(
    a: Run | str | os.PathLike, b: Run | str | os.PathLike, *, verify: bool = True
) -> pd.DataFrame:
    """The metrics of runs ``a`` and ``b`` side by side, one row per matched
    metric value; the columns are the shared sweep columns, those of one run
    only (``<column>_a``, ``<column>_b``) and :data:`COMPARISON_COLUMNS`, in
    the row order of run ``a``.

    Paths are read with :func:`~stochlstm.analysis.run.load_run` (``verify``:
    checksums checked). Raises :class:`~stochlstm.analysis.run.RunError` when
    the runs have no condition in common besides the baseline (every metric
    compares a condition with the baseline), or no metric value.
    """
    run_a, run_b = _as_run(a, verify), _as_run(b, verify)
    metrics = {"a": run_a.metrics, "b": run_b.metrics}
    conditions = {side: list(pd.unique(m["condition"])) for side, m in metrics.items()}
    baselines = {run_a.baseline, run_b.baseline}
    if not (set(conditions["a"]) & set(conditions["b"])) - baselines:
        raise RunError(
            f"{run_a.path} and {run_b.path} have no condition in common besides the baseline "
            f"(a: {', '.join(conditions['a'])}; b: {', '.join(conditions['b'])}); "
            "compare two runs of one experiment"
        )
    shared = [c for c in run_a.sweep_columns if c in run_b.sweep_columns]
    own = {
        "a": [c for c in run_a.sweep_columns if c not in shared],
        "b": [c for c in run_b.sweep_columns if c not in shared],
    }
    sides = {}
    for side, frame in metrics.items():
        located = frame["metric"].isin(LOCATED_METRICS)
        frame = frame.assign(
            t=frame["t"].mask(located, pd.NA), unit=frame["unit"].mask(located, pd.NA)
        )
        renamed = {c: f"{c}_{side}" for c in ("value", "ci_low", "ci_high", *own[side])}
        sides[side] = frame.rename(columns=renamed)
    table = sides["a"].merge(sides["b"], on=[*shared, *KEYS], how="inner")
    if table.empty:
        raise RunError(
            f"{run_a.path} and {run_b.path} have no metric value in common "
            "(their sweep points, steps or quantities differ)"
        )
    table["difference"] = table["value_b"] - table["value_a"]
    columns = [
        *shared,
        *(f"{c}_a" for c in own["a"]),
        *(f"{c}_b" for c in own["b"]),
        *COMPARISON_COLUMNS,
    ]
    return table[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- labels


def run_labels(a: str | os.PathLike, b: str | os.PathLike) -> tuple[str, str]:
    """Short names that tell two run directories apart: their last path parts,
    as few as differ (``my-question`` and ``hidden-32/my-question`` for
    ``results/my-question`` and ``results/hidden-32/my-question``)."""
    parts = [Path(os.path.normpath(p)).parts or (".",) for p in (a, b)]
    for k in range(1, max(map(len, parts)) + 1):
        labels = [Path(*p[-k:]).as_posix() for p in parts]
        if labels[0] != labels[1]:
            return labels[0], labels[1]
    return f"{parts[0][-1]} (a)", f"{parts[1][-1]} (b)"  # the same run twice


def default_out_dir(a: str | os.PathLike, b: str | os.PathLike) -> Path:
    """``compare-<a>-vs-<b>`` in the current folder, from :func:`run_labels`."""

    def safe(label: str) -> str:
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", label).strip("_")

    label_a, label_b = run_labels(a, b)
    return Path(f"compare-{safe(label_a)}-vs-{safe(label_b)}")


# --------------------------------------------------------------------------- settings


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flat(inner, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): value}


def settings_difference(a: Run, b: Run) -> list[tuple[str, Any, Any]]:
    """``(field, value in a, value in b)`` for each field of the resolved
    configs that differs (``model.hidden_size``, ``seeds``, ...); a field only
    one has is None in the other."""
    flat_a, flat_b = (_flat(r.config.model_dump(mode="json")) for r in (a, b))
    fields = list(flat_a) + [k for k in flat_b if k not in flat_a]
    return [(k, flat_a.get(k), flat_b.get(k)) for k in fields if flat_a.get(k) != flat_b.get(k)]


def _short(value: Any, most: int = 40) -> str:
    text = str(value)
    return text if len(text) <= most else text[: most - 1] + "…"


# --------------------------------------------------------------------------- text


def _interval(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return "–"
    if pd.isna(low) or pd.isna(high) or low == high == value:
        return f"{value:.4g}"
    return f"{value:.4g} [{low:.4g}, {high:.4g}]"


def headline_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The overall rows (over all steps and units) of the headline metrics,
    or every overall row if none of those is present."""
    overall = table[table["t"].isna() & table["unit"].isna()]
    headline = overall[overall["metric"].isin(HEADLINE_METRICS)]
    return headline if len(headline) else overall


def comparison_summary_text(
    table: pd.DataFrame,
    labels: tuple[str, str],
    *,
    settings: Sequence[tuple[str, Any, Any]] = (),
    every_row: bool = False,
) -> str:
    """A comparison (:func:`compare_runs`) as plain text: who is a and b, the
    settings that differ, and the headline rows (``every_row``: all rows),
    each value with its 95% CI, and the difference."""
    lines = [f"a: {labels[0]}", f"b: {labels[1]}"]
    if settings:
        lines.append("settings that differ (a | b):")
        for name, value_a, value_b in settings[:MAX_SETTINGS]:
            lines.append(f"  {name}: {_short(value_a)} | {_short(value_b)}")
        if len(settings) > MAX_SETTINGS:
            lines.append(f"  … and {len(settings) - MAX_SETTINGS} more")
    rows = table if every_row else headline_rows(table)
    keys = [c for c in table.columns if c not in COMPARISON_COLUMNS] + ["condition"]
    keys += ["metric", "quantity"] + (["t", "unit"] if every_row else [])
    shown = rows[keys].astype("object").where(rows[keys].notna(), "–")
    for side in SIDES:
        shown[f"{side} [95% CI]"] = [
            _interval(*values)
            for values in rows[[f"value_{side}", f"ci_low_{side}", f"ci_high_{side}"]].itertuples(
                index=False
            )
        ]
    shown["b − a"] = rows["difference"].map(lambda v: "–" if pd.isna(v) else f"{v:+.4g}")
    lines.append("")
    lines.append(shown.to_string(index=False))
    what = "every matched row" if every_row else "headline metrics over all steps and units"
    lines.append(f"\n{len(rows):,} of {len(table):,} matched rows shown ({what})")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figure


def plot_comparison(
    a: Run | str | os.PathLike,
    b: Run | str | os.PathLike,
    *,
    labels: tuple[str, str] | None = None,
    quantities: Sequence[str] = STATES,
    verify: bool = True,
    max_rows: int = MAX_PANEL_ROWS,
) -> Figure:
    """The divergence from each run's baseline over time (metric
    ``divergence``: ``div_c``, ``div_h``, mean over seeds with its 95% CI band),
    both runs in each panel (a solid, b dashed); one row of panels per condition (and shared sweep
    point) in both runs, one column per quantity. A sweep column of one run
    only gives that run a line per value."""
    import seaborn as sns
    from matplotlib.patches import Patch

    from .figures._style import MEAN_LINE, curve, figure, integer_steps, legend
    from .figures._style import point_text as point_name

    runs = {"a": _as_run(a, verify), "b": _as_run(b, verify)}
    labels = labels or run_labels(runs["a"].path, runs["b"].path)
    where = f"{runs['a'].path}, {runs['b'].path}"
    shared = [c for c in runs["a"].sweep_columns if c in runs["b"].sweep_columns]
    rows = {s: r.metrics[r.metrics["metric"] == DIVERGENCE] for s, r in runs.items()}
    quantities = [q for q in quantities if any((f["quantity"] == q).any() for f in rows.values())]
    if not quantities:
        raise RunError(f"{where}: no divergence rows (record.derived leaves out div_c and div_h)")
    panels = _panels(rows, shared, point_name)
    if not panels:
        raise RunError(f"{where}: no condition with divergence rows in both runs")
    shown = panels[:max_rows]
    arms = []  # (side, point of the sweep columns of that run only, label)
    for side, name in zip(SIDES, labels, strict=True):
        own = [c for c in runs[side].sweep_columns if c not in shared]
        for values in _distinct(rows[side], own):
            point = dict(zip(own, values, strict=True))
            arms.append((side, point, f"{side}: {name}{point_name(point)}"))
    colors = sns.color_palette("colorblind", len(arms))
    size = (4.4 * len(quantities) + 0.6, 2.5 * len(shown) + 1.4)
    with figure(len(shown), len(quantities), size, sharex=True, sharey="col") as (fig, axes):
        for (point, condition, title), panel_row in zip(shown, axes, strict=True):
            for ax, quantity in zip(panel_row, quantities, strict=True):
                for (side, own, label), color in zip(arms, colors, strict=True):
                    arm = _point_rows(rows[side], {**point, **own}, condition)
                    arm = arm[arm["quantity"] == quantity].sort_values("t")
                    line = dict(color=color, label=label, **MEAN_LINE, linestyle=STYLES[side])
                    curve(ax, arm, "value", f"_band {label}", **line)
                ax.set_title(f"{title}: {quantity}", fontsize="medium")
                ax.set(ylabel=f"divergence of {quantity}", ylim=(0, None))
                integer_steps(ax)
        for ax in axes[-1]:
            ax.set_xlabel("step t")
        handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
        band = Patch(color="grey", alpha=0.3, label="95% CI of the mean over seeds")
        legend(fig, [*handles.values(), band], ncol=min(3, len(handles) + 1))
        more = (
            f"\n{len(shown)} of {len(panels)} panel rows shown" if len(shown) < len(panels) else ""
        )
        fig.suptitle(
            "Divergence from each run's baseline, mean over seeds ± 95% CI\n"
            f"(RMS over units of the state minus the baseline's, at the same seed){more}"
        )
    return fig


def _panels(rows: dict[str, pd.DataFrame], shared: list[str], point_name) -> list[tuple]:
    """``(sweep point, condition, title)`` of each row of panels: the conditions
    of run a that run b has too, per shared sweep point; a condition whose
    divergence is the same at every point, in both runs, once."""

    panels = []
    for condition in pd.unique(rows["a"]["condition"]):
        mine = {side: frame[frame["condition"] == condition] for side, frame in rows.items()}
        points = [dict(zip(shared, v, strict=True)) for v in _distinct(mine["a"], shared)]
        points = [p for p in points if not _point_rows(mine["b"], p, condition).empty]
        if len(points) > 1 and all(_same_at_every_point(f, shared) for f in mine.values()):
            every = ", ".join(shared)
            panels.append((points[0], condition, f"{condition} (the same at every {every})"))
        else:
            panels += [(p, condition, f"{condition}{point_name(p)}") for p in points]
    return panels


def _same_at_every_point(frame: pd.DataFrame, shared: list[str]) -> bool:
    """Whether the values of ``frame`` (one condition) are the same at every
    point of the ``shared`` sweep columns (a condition the sweep does not touch)."""
    wide = frame.set_index([*shared, "quantity", "t"])["value"].unstack(shared)
    return bool(wide.nunique(axis=1, dropna=False).le(1).all())


def _distinct(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """The distinct rows of ``columns`` in order of appearance; ``[()]`` for no columns."""
    if not columns:
        return [()]
    return list(frame[columns].drop_duplicates().itertuples(index=False, name=None))


# --------------------------------------------------------------------------- files


def check_out_dir(out: str | os.PathLike, runs: Sequence[Run]) -> None:
    """A :class:`~stochlstm.analysis.run.RunError` when ``out`` is, or lies
    inside, one of the ``runs``' directories, is another run directory, or is a file."""
    out = Path(out)
    resolved = out.resolve()
    for run in runs:
        run_dir = run.path.resolve()
        if resolved == run_dir or run_dir in resolved.parents:
            raise RunError(
                f"{out}: inside the run directory {run.path}; a comparison is never written "
                "into a run (choose another --out)"
            )
    if (out / "manifest.json").exists():
        raise RunError(f"{out}: a run directory; choose another --out for the comparison")
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: not a directory")


def write_comparison(
    a: Run | str | os.PathLike,
    b: Run | str | os.PathLike,
    out: str | os.PathLike,
    *,
    table: pd.DataFrame | None = None,
    labels: tuple[str, str] | None = None,
    verify: bool = True,
) -> tuple[list[Path], str | None]:
    """Write ``<out>/comparison.csv`` (:func:`compare_runs`) and
    ``<out>/divergence.png`` (:func:`plot_comparison`), each atomically; return
    the files written and, when the figure could not be drawn, why.

    Raises :class:`~stochlstm.analysis.run.RunError` when ``out`` lies inside
    either run directory or is one."""
    run_a, run_b = _as_run(a, verify), _as_run(b, verify)
    out = Path(out)
    check_out_dir(out, (run_a, run_b))
    table = compare_runs(run_a, run_b) if table is None else table
    out.mkdir(parents=True, exist_ok=True)
    csv = out / CSV_NAME
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    try:
        fig = plot_comparison(run_a, run_b, labels=labels)
    except RunError as error:
        return [csv], str(error)
    from .figures._style import save

    return [csv, *save(fig, out, FIGURE_STEM, ["png"])], None


def _point_rows(frame: pd.DataFrame, point: dict, condition: str) -> pd.DataFrame:
    """The rows of ``condition`` at the sweep ``point`` (a missing value matches NaN)."""
    frame = frame[frame["condition"] == condition]
    for key, value in point.items():
        frame = frame[frame[key].isna() if pd.isna(value) else frame[key] == value]
    return frame
