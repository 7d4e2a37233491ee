"""Fixtures shared by the tests: PyTorch for the comparisons that need it."""

import pytest


@pytest.fixture
def torch():
    """PyTorch, or a skip for the tests that compare against it (CI installs it)."""
    return pytest.importorskip("torch")
