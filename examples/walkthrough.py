# %% [markdown]
# # Your own question: which gate's sampling matters most?
#
# From a new experiment file to a figure that answers it. A random LSTM of 8
# units reads a sine wave for 100 steps; over 500 seeds we sample one gate at
# a time (`1[u < p]` instead of `p`) and see how far each takes the cell from
# the deterministic path. Then the same question for 32 units, side by side.
#
# This file is a script and a notebook at once: `python examples/walkthrough.py`
# runs it; Jupyter (with jupytext) and VS Code open its `# %%` cells as a
# notebook. Everything it writes goes to `walkthrough/` in the current folder,
# and a second run replaces it. Each step names the command that does the same
# in a shell.

# %%
from pathlib import Path

import seaborn.objects as so

import stochlstm

WORK = Path("walkthrough")
WORK.mkdir(exist_ok=True)

# %% [markdown]
# ## 1. The experiment file
#
# Five conditions, named as you like: the deterministic cell (the baseline
# every other condition is measured against), all three gates sampled, and
# each gate sampled alone. `record.quantities: [c, h]` keeps the states only;
# summaries always use all 500 seeds, `record.seeds` is how many sample paths
# are kept besides. The README's "The experiment file" lists every key.

# %%
EXPERIMENT = WORK / "my-question.yaml"
EXPERIMENT.write_text(
    """\
name: my-question
description: Which gate's sampling moves the cell furthest from the deterministic path?
seeds: 500
model:
  input_size: 1
  hidden_size: 8
  weights: {init: uniform, seed: 0}
inputs: {kind: sine, amplitude: 1.0, period: 25, steps: 100}
conditions:
  deterministic: {}
  bernoulli: {gates: bernoulli}
  forget-only: {forget: bernoulli}
  input-only: {input: bernoulli}
  output-only: {output: bernoulli}
record: {quantities: [c, h], seeds: 5}
output: {figures: false}
"""
)

# %% [markdown]
# ## 2. Check it
#
# `stochlstm validate walkthrough/my-question.yaml --plan`: a mistake is
# reported with its line and field, before anything runs.

# %%
config = stochlstm.load_experiment(EXPERIMENT)
print(stochlstm.plan_run(config).describe())

# %% [markdown]
# ## 3. Run it
#
# `stochlstm run walkthrough/my-question.yaml --out walkthrough/results --force`
# writes the run directory `walkthrough/results/my-question/`.

# %%
outcome = stochlstm.run_experiment(EXPERIMENT, out=WORK / "results", force=True)
print(outcome)

# %% [markdown]
# ## 4. The metrics
#
# `stochlstm analyze walkthrough/results/my-question` computes every
# comparison with the baseline and writes `metrics.csv`: one row per value,
# with its 95% CI. `divergence_mean` of `h` is the root mean square over
# units of `h − h_deterministic` at the same seed, averaged over steps and
# seeds: the larger, the further that condition strays.

# %%
run = stochlstm.load_run(outcome.path)
metrics = stochlstm.analyze(run)
divergence_mean_h = (
    metrics.query("metric == 'divergence_mean' and quantity == 'h'")
    .set_index("condition")[["value", "ci_low", "ci_high"]]
    .sort_values("value", ascending=False)
)
print(divergence_mean_h.to_string(float_format="{:.4f}".format))

# %% [markdown]
# ## 5. A figure: the mean over all seeds with its 95% band
#
# `summary.csv` holds, per condition, quantity, step and unit, the mean over
# *all* seeds and its CI (`ci_low`, `ci_high`); `div_h` is the divergence of
# `h` per seed (unit -1: over all units). seaborn's own intervals would only
# see the few recorded sample paths; these bands are over all 500 seeds.
# (`stochlstm plot walkthrough/results/my-question` draws the standard figures.)

# %%
divergence = run.summary.query("quantity == 'div_h'")
plot = (
    so.Plot(divergence, x="t", y="mean", color="condition")
    .add(so.Band(), ymin="ci_low", ymax="ci_high")
    .add(so.Line())
    .label(
        x="step t",
        y="RMS over units of h − h_det",
        color="condition",
        title="Divergence from the deterministic cell, mean over 500 seeds ± 95% CI",
    )
    .layout(size=(8, 4))
)
FIGURE = WORK / "divergence_h.png"
plot.save(FIGURE, dpi=100, bbox_inches="tight")
plot  # noqa: B018 (in a notebook, the figure)

# %% [markdown]
# ## 6. Another setting, side by side
#
# `stochlstm run walkthrough/my-question.yaml --set model.hidden_size=32 --out walkthrough/results/hidden-32`,
# then `stochlstm compare walkthrough/results/my-question walkthrough/results/hidden-32/my-question --out walkthrough/compare`:
# the metrics of both runs matched row by row (`difference` is b − a), and a
# figure of both runs' divergence per condition.

# %%
wider = stochlstm.run_experiment(
    EXPERIMENT,
    out=WORK / "results" / "hidden-32",
    overrides=["model.hidden_size=32"],
    force=True,
)
comparison = stochlstm.compare_runs(run, wider.path)
columns = ["condition", "value_a", "value_b", "difference"]
print(
    comparison.query("metric == 'divergence_mean' and quantity == 'h'")[columns].to_string(
        index=False
    )
)
written, _ = stochlstm.write_comparison(run, wider.path, WORK / "compare")
print(*written, sep="\n")

# %% [markdown]
# ## 7. What is in the results folder
#
# `stochlstm runs walkthrough/results`: every run with its status, seeds and
# conditions.

# %%
runs = stochlstm.list_runs(WORK / "results")
print(runs[["name", "status", "seeds", "conditions"]].to_string(index=False))
