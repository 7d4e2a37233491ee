"""``report.html`` of a training run: what was trained, the final test loss
per arm with its CI over training seeds, the train x test matrix, the gate
saturation and the figures."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from ..experiment.rundir import atomic_write_text
from .figures import matrix_table, seed_mean_ci

__all__ = ["final_losses", "write_training_report"]


def final_losses(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Per (train condition, test rule): the test loss's mean over training
    seeds, with the 95% CI over training seeds."""
    return seed_mean_ci(evaluation, ["train_condition", "eval_rule"], "loss_mean")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)


def write_training_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    evaluation = pd.read_csv(run_dir / "evaluation.csv")
    training = pd.read_csv(run_dir / "training.csv")
    last = training[(training["split"] == "validation")]
    last = last[last["iteration"] == last["iteration"].max()]
    saturation = seed_mean_ci(last, ["condition"], "saturated")
    matrix = matrix_table(evaluation).reset_index()
    figures = sorted((run_dir / "figures").glob("*.png"))
    title = html.escape(
        f"{manifest.get('experiment', run_dir.name)}: training with stochastic gates"
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{padding:2px 8px;text-align:right}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Task: {html.escape(json.dumps(manifest.get('task')))}; "
        f"{manifest.get('train_seeds')} training seeds; evaluation over "
        f"{manifest.get('seeds', {}).get('count')} noise seeds; conditions: "
        f"{html.escape(', '.join(manifest.get('conditions', {})))}.</p>",
        "<p>Each model's test loss is what <code>stochlstm run evaluate.yaml</code> writes "
        "(<code>loss_window</code> in summary.csv); the header of <code>evaluate.yaml</code> "
        "says which options choose a model.</p>",
        "<h2>Test loss per arm and test-time rule (95% CI over training seeds)</h2>",
        _table(final_losses(evaluation)),
        "<h2>Train condition x test-time rule (mean test loss)</h2>",
        _table(matrix),
        "<h2>Saturated gates at the end of training (share of p &lt; 0.1 or &gt; 0.9)</h2>",
        _table(saturation),
        *(
            f"<h2>{html.escape(p.stem)}</h2><img src='figures/{html.escape(p.name)}' width='700'>"
            for p in figures
        ),
        "</body></html>\n",
    ]
    return atomic_write_text(run_dir / "report.html", "\n".join(parts))
