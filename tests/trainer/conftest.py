"""Small csv2h5 files for the trainer tests, built with the real converter."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from backends import BACKENDS, close_helpers

from csv2h5 import ConvertOptions, convert

ROWS, FEATURES, CLASSES = 103, 12, 3


def make_file(
    tmp_path: Path, *, compression: str = "none", rows: int = ROWS, chunk_rows: int | None = 8, seed: int = 0, target: bool = True
) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write a CSV of random bytes and a label, convert it; return (path, x, class codes)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(rows, FEATURES))
    y = rng.integers(0, CLASSES, size=rows)
    y[: min(rows, 2)] = [0, 1][: min(rows, 2)]  # at least two classes: training refuses one
    csv = tmp_path / f"data_{compression}_{rows}_{seed}.csv"
    lines = [",".join([f"f{i}" for i in range(FEATURES)] + (["label"] if target else []))]
    lines += [",".join(map(str, list(r) + ([int(t)] if target else []))) for r, t in zip(x, y)]
    csv.write_text("\n".join(lines) + "\n")
    out = csv.with_suffix(".h5")
    convert(
        [csv],
        out,
        options=ConvertOptions(
            target=("label",) if target else (), chunk_rows=chunk_rows, compression=compression, overwrite=True
        ),
    )
    codes = np.searchsorted(np.unique(y), y)  # stored codes index the sorted labels
    return out, x.astype(np.uint8), codes


@pytest.fixture(scope="session")
def make_data():
    """Factory fixture: make_data(tmp_path, rows=..., chunk_rows=..., compression=..., ...)."""
    return make_file


@pytest.fixture
def data(tmp_path):
    return make_file(tmp_path)


@pytest.fixture
def lzf_data(tmp_path):
    return make_file(tmp_path, compression="lzf")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each Keras backend in turn (see backends.py for how the other one runs)."""
    return request.param


@pytest.fixture(scope="session", autouse=True)
def _backend_helpers():
    """Stop the other backend's helper process when the session ends."""
    yield
    close_helpers()
