"""The walkthrough under examples/ runs as a script, and what it prints and
draws is what its runs hold."""

import runpy
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

WALKTHROUGH = Path(__file__).parents[1] / "examples" / "walkthrough.py"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")  # seaborn 0.13 on pandas 3
def test_walkthrough_runs_and_prints_the_metrics_of_its_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    names = runpy.run_path(str(WALKTHROUGH), run_name="__main__")
    printed = capsys.readouterr().out
    work = tmp_path / "walkthrough"
    run_dir = work / "results" / "my-question"

    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[(metrics["metric"] == "divergence_mean") & (metrics["quantity"] == "h")]
    expected = rows.set_index("condition")["value"].sort_values(ascending=False)
    shown = names["divergence_mean_h"]["value"]
    pd.testing.assert_series_equal(shown, expected, check_names=False)
    assert list(expected.index) != [] and "deterministic" not in expected.index
    for condition, value in expected.items():  # each printed, with its value
        line = next(x for x in printed.splitlines() if x.startswith(f"{condition} "))
        assert f"{value:.4f}" in line.split()

    summary = pd.read_csv(run_dir / "summary.csv")
    assert summary.query("quantity == 'div_h'")["n"].eq(500).all()  # every seed, not the paths
    assert (work / "divergence_h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    comparison = pd.read_csv(work / "compare" / "comparison.csv")
    one = comparison.query("condition == 'bernoulli' and metric == 'divergence_mean'")
    one = one.query("quantity == 'h'").iloc[0]
    wider = pd.read_csv(work / "results" / "hidden-32" / "my-question" / "summary.csv")
    div_h = wider.query("condition == 'bernoulli' and quantity == 'div_h'")["mean"]
    assert one["value_b"] == pytest.approx(div_h.mean(), rel=1e-12)  # averaged over steps
    assert one["value_a"] == expected["bernoulli"]
    assert (work / "compare" / "divergence.png").is_file()
    assert list(names["runs"]["name"]) == ["hidden-32/my-question", "my-question"]
