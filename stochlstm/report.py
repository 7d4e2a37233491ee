"""A one-page, self-contained ``report.html`` per run: what was run, the
comparison table and the figures (embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .analysis import Run, atomic_path, load_run
from .metrics import comparison_columns, comparison_table

__all__ = ["write_report"]

_FIGURE_ORDER = ("trajectories", "divergence", "final_states", "gates", "survival")
_CAPTIONS = {
    "trajectories": "State trajectories per unit: the deterministic path (dashed black), the mean "
    "of each stochastic condition with its 95% confidence band, and a few sample paths.",
    "divergence": "Divergence from the deterministic path: RMS over units of the deviation from "
    "the deterministic state at the same seed, mean over seeds with its 95% CI.",
    "final_states": "Final-state distributions over the recorded sample paths; the dashed bar is "
    "the deterministic value.",
    "gates": "Mean gate probability vs mean realised gate per step and unit, and their difference.",
    "survival": "Memory survival: realised share of the cell content kept since step 0 (solid) vs "
    "the product of keep probabilities (dashed).",
}
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}.description{color:#444;margin-top:0}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.status-complete{color:#1a7f37}.status-other{color:#b3261e;font-weight:600}
table.comparison{border-collapse:collapse;font-size:.85em;margin:1em 0}
table.comparison th,table.comparison td{border-bottom:1px solid #ddd;padding:.3em .6em;
text-align:right}
table.comparison th:first-child,table.comparison td:first-child{text-align:left}
dl.glossary{font-size:.85em;color:#444}dl.glossary dt{font-family:monospace;float:left;width:11em}
dl.glossary dd{margin-left:12em}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}code{font-size:.9em}
"""


def _text(value) -> str:
    return html.escape(str(value), quote=True)


def _seeds(value) -> str:
    """A short description of a seeds entry (a count, a list or {start, count})."""
    if isinstance(value, bool) or value is None:
        return "–"
    if isinstance(value, int):
        return f"{value} (0 … {value - 1})" if value > 0 else "0"
    if isinstance(value, Mapping) and "count" in value:
        count = int(value["count"])
        first = int(value.get("first", value.get("start", 0)))
        last = int(value.get("last", first + count - 1))
        return f"{count} ({first} … {last})"
    if isinstance(value, list | tuple):
        shown = ", ".join(str(v) for v in value[:8])
        return f"{len(value)} ({shown}{', …' if len(value) > 8 else ''})"
    return str(value)


def _compact(value) -> str:
    if isinstance(value, Mapping) and not value:
        return "all gates deterministic"
    try:
        return json.dumps(value, sort_keys=False, default=str)
    except TypeError:
        return str(value)


def _figure_key(path: Path) -> tuple[int, str]:
    stem = path.stem
    for rank, prefix in enumerate(_FIGURE_ORDER):
        if stem.startswith(prefix):
            return rank, stem
    return len(_FIGURE_ORDER), stem


def _caption(path: Path) -> str:
    stem = path.stem
    for prefix, caption in _CAPTIONS.items():
        if stem.startswith(prefix):
            rest = stem[len(prefix) :].lstrip("_")
            return f"{caption}{f' ({rest})' if rest else ''}"
    return stem


def _facts(run: Run) -> list[tuple[str, str]]:
    config, manifest = run.config, run.manifest
    facts = [("status", run.status)]
    seeds = config.get("seeds", manifest.get("seeds"))
    if seeds is not None:
        facts.append(("seeds", _seeds(seeds)))
    for key in ("root_seed", "dtype"):
        if key in config:
            facts.append((key, str(config[key])))
    model = config.get("model")
    if isinstance(model, Mapping):
        sizes = [
            f"{k} = {model[k]}" for k in ("input_size", "hidden_size", "output_size") if k in model
        ]
        if sizes:
            facts.append(("model", ", ".join(sizes)))
    inputs = config.get("inputs")
    if isinstance(inputs, Mapping):
        facts.append(
            ("inputs", _compact({k: v for k, v in inputs.items() if not isinstance(v, list)}))
        )
    if run.baseline is not None:
        facts.append(("baseline", run.baseline))
    for key in ("started", "finished", "created"):
        if key in manifest:
            facts.append((key, str(manifest[key])))
    command = manifest.get("command") or manifest.get("command_line")
    if command:
        facts.append(("command", " ".join(command) if isinstance(command, list) else str(command)))
    versions = manifest.get("versions")
    if isinstance(versions, Mapping):
        facts.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    return facts


def _table_html(table: pd.DataFrame) -> str:
    shown = table.copy()
    shown["baseline"] = shown["baseline"].map({True: "yes", False: ""})
    return shown.to_html(
        index=False,
        escape=True,
        border=0,
        classes="comparison",
        na_rep="–",
        float_format=lambda v: f"{v:.4g}",
    )


def write_report(
    run: Run | str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    allow_incomplete: bool = False,
) -> Path:
    """Write ``report.html`` into the run directory (or to ``out``) and return its path.

    The figures are the PNGs in ``figures/``; when there are none they are drawn
    first (PNG only). The page is self-contained: figures are embedded.
    """
    from .plots import draw_figures  # plots imports analysis; keep this module light to import

    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    figures = []
    for suffix in ("png", "svg"):  # PNG when there are any, else SVG, else draw PNGs
        if not figures and run.figures_dir.exists():
            figures = sorted(run.figures_dir.glob(f"*.{suffix}"), key=_figure_key)
    if not figures:
        figures = sorted(draw_figures(run, formats=("png",)), key=_figure_key)

    table = comparison_table(run.metrics, run.baseline)
    glossary = comparison_columns()
    status_class = "status-complete" if run.status == "complete" else "status-other"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(run.name)} — stochlstm report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_text(run.name)}</h1>",
    ]
    if run.description:
        parts.append(f'<p class="description">{_text(run.description)}</p>')
    parts.append('<dl class="facts">')
    for key, value in _facts(run):
        css = f' class="{status_class}"' if key == "status" else ""
        parts.append(f"<dt>{_text(key)}</dt><dd{css}>{_text(value)}</dd>")
    parts.append("</dl>")

    conditions = run.config.get("conditions")
    if isinstance(conditions, Mapping) and conditions:
        parts.append("<h2>Conditions</h2><ul>")
        for name, spec in conditions.items():
            mark = " <em>(baseline)</em>" if name == run.baseline else ""
            parts.append(f"<li><code>{_text(name)}</code>{mark}: {_text(_compact(spec))}</li>")
        parts.append("</ul>")

    parts.append("<h2>How different are the conditions?</h2>")
    parts.append(_table_html(table))
    parts.append('<dl class="glossary">')
    for column in table.columns:
        if column in glossary:
            parts.append(f"<dt>{_text(column)}</dt><dd>{_text(glossary[column])}</dd>")
    parts.append("</dl>")

    if figures:
        parts.append("<h2>Figures</h2>")
    for path in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
        caption = _caption(path)
        parts.append(
            f'<figure><img src="data:{mime};base64,{data}" alt="{_text(caption)}">'
            f"<figcaption>{_text(caption)}</figcaption></figure>"
        )
    parts.append(
        "<footer><small>Written by stochlstm from summary.csv and metrics of this run."
        "</small></footer></body></html>"
    )

    target = Path(out) if out is not None else run.path / "report.html"
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return target
