"""The README's seaborn recipe (the mean and 95% CI over all seeds, straight
from summary.csv) runs as printed, on a run directory."""

import re
from pathlib import Path

import matplotlib.image

from tests.summary_reference import small_run

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_recipe_draws_the_summary_means(tmp_path, monkeypatch):
    section = README.read_text(encoding="utf-8").split("### Your own figures from summary.csv")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'so.Band(), ymin="ci_low", ymax="ci_high"' in code
    small_run(tmp_path / "results" / "answer-example", seeds=30, hidden_size=2, steps=5)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md recipe", "exec"), {})
    image = matplotlib.image.imread(tmp_path / "h_unit1.png")
    assert image.shape[0] > 200 and image.shape[1] > 300
