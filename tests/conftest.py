"""Shared fixtures: small CSV files built in tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture
def digits_csv(tmp_path: Path) -> Path:
    """A 600-row MNIST-shaped CSV with a label column."""
    import make_digits_csv

    path = tmp_path / "digits.csv"
    make_digits_csv.write_csv(path, rows=600, seed=3, label=True)
    return path

# `pytest --hypothesis-profile=long ...` runs the property tests far longer than CI does (a local soak).
settings.register_profile("long", max_examples=5000)
