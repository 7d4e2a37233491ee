"""The bundled experiments validate, and regenerate the committed results.

On the platform that produced them (same numpy version, platform string and
BLAS, as recorded in the run's manifest) the regenerated summary and
trajectories must be the same bytes. On another platform BLAS and libm may
round differently in the last bits, so numbers are compared with a relative
tolerance of 1e-9 (absolute 1e-12): rounding differences stay many orders of
magnitude below it, while any change to the model, the noise or the
statistics moves the numbers by far more.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stochlstm import load_experiment, run_experiment
from stochlstm.experiment.rundir import package_versions

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
COMPARED = ("summary.csv", "trajectories.csv")
RTOL, ATOL = 1e-9, 1e-12


def test_there_are_bundled_experiments():
    names = {path.stem for path in EXPERIMENTS}
    assert {
        "answer-example",
        "forget-memory",
        "literal-forget",
        "epidemic",
        "temperature-sweep",
        "zoneout-vs-bernoulli",
        "divergence-scale",
    } <= names


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_validates_and_says_what_it_asks(experiment):
    config = load_experiment(experiment)
    assert config.name == experiment.stem
    assert experiment.read_text().startswith("# Question:")
    assert config.description


def same_platform(manifest: dict) -> bool:
    here = package_versions()
    recorded = manifest.get("versions", {})
    return all(recorded.get(key) == here.get(key) for key in ("numpy", "platform", "python"))


def assert_tables_match(regenerated: Path, committed: Path, exact: bool) -> None:
    if exact:
        assert regenerated.read_bytes() == committed.read_bytes(), f"{committed.name} differs"
        return
    new, old = pd.read_csv(regenerated), pd.read_csv(committed)
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    for column in old.columns:
        if pd.api.types.is_numeric_dtype(old[column]):
            np.testing.assert_allclose(
                new[column], old[column], rtol=RTOL, atol=ATOL, err_msg=column
            )
        else:
            assert (new[column].astype(str) == old[column].astype(str)).all(), column


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_regenerating_reproduces_the_committed_results(experiment, tmp_path):
    committed = ROOT / "results" / experiment.stem
    if not (committed / "manifest.json").exists():
        pytest.fail(f"no committed results for {experiment.stem}: run stochlstm run {experiment}")
    manifest = json.loads((committed / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    if load_experiment(experiment).train is not None:
        pytest.skip("trains models (stochlstm train): reruns are tested in tests/train")
    outcome = run_experiment(experiment, out=tmp_path, figures=False)
    exact = same_platform(manifest)
    for name in COMPARED:
        assert_tables_match(outcome.path / name, committed / name, exact)
