"""A one-page ``report.html`` per run: what was run, the comparison table and
the figures, linked (``figures/<name>.png``), not embedded, so the page stays
small and the figures are stored once."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from ..experiment.rundir import atomic_path
from .metrics import METRICS
from .run import Run, load_run
from .table import comparison_grid

__all__ = ["write_report"]

_CAPTIONS = {  # by figure name prefix, in the order the report shows them
    "loss": "What each gating costs the readout: each condition's loss over the loss window "
    "(mean over seeds, 95% CI; diamonds: the loss of the seed-averaged prediction) and the "
    "forecasts over the window.",
    "trajectories": "State trajectories per unit: the deterministic path (dashed black, on top), "
    "the mean of each stochastic condition with its 95% confidence band, and a few sample paths "
    "(faint).",
    "divergence": "Divergence from the deterministic path: RMS over units of the deviation from "
    "the deterministic state at the same seed, mean over seeds with its 95% CI.",
    "final_states": "Final states over all seeds: mean, ±1 sd and 95% CI per condition and unit; "
    "the recorded sample paths as faint dots.",
    "gates": "Mean gate probability vs mean realised gate per step and unit, and their difference.",
    "survival": "Memory survival: realised share of the cell content kept since step 0 (solid) vs "
    "the product of keep probabilities (dotted), on a log axis where it decays.",
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
table.comparison th{text-align:left}
dl.glossary{font-size:.85em;color:#444}dl.glossary dt{font-family:monospace;float:left;width:15em}
dl.glossary dd{margin-left:16em}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}code{font-size:.9em}
p.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
"""


def _text(value) -> str:
    return html.escape(str(value))


def _figure_key(path: Path) -> tuple[int, str]:
    ranks = (k for k, prefix in enumerate(_CAPTIONS) if path.stem.startswith(prefix))
    return next(ranks, len(_CAPTIONS)), path.stem


def _caption(path: Path) -> str:
    for prefix, caption in _CAPTIONS.items():
        if path.stem.startswith(prefix):
            rest = path.stem[len(prefix) :].lstrip("_")
            return f"{caption} ({rest})" if rest else caption
    return path.stem


def _model_line(model) -> str:
    """``input_size = 1, hidden_size = 24, num_layers = 2, output_size = 1, readout = linear``:
    the layers when there are several, the readout's kind when there is one."""
    sizes = ["input_size", "hidden_size", "output_size"]
    if model.num_layers > 1:
        sizes.insert(2, "num_layers")
    line = ", ".join(f"{size} = {getattr(model, size)}" for size in sizes)
    return line + (f", readout = {model.readout.kind}" if model.output_size else "")


def _facts(run: Run) -> list[tuple[str, str]]:
    """What was run, and with what. Not when: the start and finish times are in
    manifest.json, so that the same run gives the same page."""
    config, manifest, model = run.config, run.manifest, run.config.model
    seeds = config.seed_list()
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        shown = f"{seeds[0]} … {seeds[-1]}"
    else:
        shown = ", ".join(map(str, seeds[:8])) + (", …" if len(seeds) > 8 else "")
    inputs = config.inputs.model_dump(mode="json", exclude_none=True)
    facts = [
        ("status", run.status),
        ("seeds", f"{len(seeds)} ({shown})"),
        ("root_seed", str(config.root_seed)),
        ("dtype", config.dtype),
        ("model", _model_line(model)),
        ("inputs", json.dumps({k: v for k, v in inputs.items() if not isinstance(v, list)})),
        ("baseline", run.baseline),
    ]
    if manifest.get("command"):
        facts.append(("command", str(manifest["command"])))
    if isinstance(manifest.get("versions"), Mapping):
        facts.append(("versions", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())))
    return facts


def _glossary(shown) -> list[str]:
    """The metrics ``shown``, and those their meanings name, in the metrics' order."""
    names = set(shown)
    for metric in list(names):
        names.update(m for m in METRICS if re.search(rf"\b{m}\b", METRICS[metric]))
    return [m for m in METRICS if m in names]


def _figure_files(run: Run) -> list[Path]:
    """The figures to show: the PNGs in ``figures/``, else the SVGs, else the PDFs."""
    for suffix in ("png", "svg", "pdf"):
        found = sorted(run.figures_dir.glob(f"*.{suffix}"), key=_figure_key)
        if found:
            return found
    return []


def _figures_html(figures: list[Path], page_dir: Path) -> list[str]:
    if not figures:
        return [
            '<p class="note">No figures were drawn for this run: it ran with '
            "<code>--no-figures</code> or <code>output.figures: false</code>, or no figure "
            "applies to the quantities it recorded. Draw them with "
            "<code>stochlstm plot RUN_DIR</code>, which also brings this page up to date.</p>"
        ]
    parts = []
    for path in figures:
        href = _text(quote(Path(os.path.relpath(path, page_dir)).as_posix(), safe="/=,.-_"))
        caption = _text(_caption(path))
        if path.suffix == ".pdf":
            parts.append(f'<p><a href="{href}">{_text(path.name)}</a>: {caption}</p>')
        else:
            parts.append(
                f'<figure><a href="{href}"><img src="{href}" alt="{caption}" loading="lazy"></a>'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    return parts


def write_report(
    run: Run | str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    allow_incomplete: bool = False,
) -> Path:
    """Write ``report.html`` into the run directory (or to ``out``) and return its path.

    The figures are the PNGs in ``figures/`` (else the SVGs, else links to the
    PDFs), linked by their path relative to the page; with none, the page says
    how to draw them. The page is a function of the run's files (no times, no
    random names): two identical runs give the same bytes.
    """
    if not isinstance(run, Run):
        run = load_run(run, allow_incomplete=allow_incomplete)
    target = Path(out) if out is not None else run.path / "report.html"
    grid = comparison_grid(run.metrics, run.baseline, sweep=run.sweep_columns)
    status = "status-complete" if run.status == "complete" else "status-other"

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
        css = f' class="{status}"' if key == "status" else ""
        parts.append(f"<dt>{_text(key)}</dt><dd{css}>{_text(value)}</dd>")
    parts += ["</dl>", "<h2>Conditions</h2><ul>"]
    for name, condition in run.config.build_conditions().items():
        mark = " <em>(baseline)</em>" if name == run.baseline else ""
        parts.append(f"<li><code>{_text(name)}</code>{mark}: {_text(condition.describe())}</li>")
    parts += ["</ul>", "<h2>How different are the conditions?</h2>"]
    if grid.empty:
        parts.append("<p>No comparison metrics: the run recorded none of their quantities.</p>")
    else:
        parts.append(grid.to_html(border=0, classes="comparison"))
        parts.append(
            "<p><small>Each cell is <code>value [95% CI]</code> from metrics.csv, under the "
            "same <code>metric</code> and <code>quantity</code>; a value without brackets has "
            "no CI (a share of cells) or is exact (every seed gave it); – means none."
            "</small></p>"
        )
        parts.append('<dl class="glossary">')
        for metric in _glossary(grid.index.get_level_values("metric")):
            parts.append(f"<dt>{_text(metric)}</dt><dd>{_text(METRICS[metric])}</dd>")
        parts.append("</dl>")

    parts.append("<h2>Figures</h2>")
    parts += _figures_html(_figure_files(run), target.parent)
    parts.append(
        "<footer><small>Written by stochlstm from summary.csv and metrics of this run."
        "</small></footer></body></html>"
    )

    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return target
