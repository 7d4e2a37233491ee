"""Tiny complete runs made by :func:`stochlstm.run_experiment`, with real
manifests, for the tests of the tools that read several runs."""

from __future__ import annotations

from pathlib import Path

from stochlstm import run_experiment
from stochlstm.experiment.rundir import file_sha256

TINY = """\
name: tiny
seeds: 60
model:
  input_size: 1
  hidden_size: 3
  weights: {init: uniform, seed: 0}
inputs: {kind: sine, amplitude: 1.0, period: 6, steps: 8}
conditions:
  deterministic: {}
  bernoulli: {gates: bernoulli}
  forget-only: {forget: bernoulli}
record: {seeds: 2}
output: {figures: false}
"""


def tiny_run(folder: Path, *overrides: str, text: str = TINY) -> Path:
    """Run the tiny experiment (with ``overrides``) into ``folder``; its run directory."""
    experiment = folder / "tiny.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    experiment.write_text(text)
    return run_experiment(experiment, out=folder, overrides=list(overrides)).path


def tree_checksums(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``folder``."""
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
