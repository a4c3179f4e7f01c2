"""Shared fixtures: small CSV files built in tmp_path."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
# The test process runs Keras on one backend (TensorFlow unless KERAS_BACKEND says otherwise);
# tests/trainer/backends.py runs code for the other one in a helper process.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# JAX compiles a new model's steps afresh even when an earlier test compiled the same ones: a
# compilation cache shared by the test process, its helpers and subprocesses saves most of that.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "csv2h5-tests-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


@pytest.fixture
def digits_csv(tmp_path: Path) -> Path:
    """A 600-row MNIST-shaped CSV with a label column."""
    import make_digits_csv

    path = tmp_path / "digits.csv"
    make_digits_csv.write_csv(path, rows=600, seed=3, label=True)
    return path


# `pytest --hypothesis-profile=long ...` runs the property tests far longer than CI does (a local soak).
settings.register_profile("long", max_examples=5000)
