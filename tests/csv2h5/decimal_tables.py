"""Decimal CSVs for the parallel-conversion tests, and the stored features read back as the numbers they stand for."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd


def decimal_csv(path: Path, rows: int, columns: int = 12, seed: int = 0, decimals: int = 6) -> pd.DataFrame:
    """A CSV of ``columns`` normal decimals rounded to ``decimals`` places and a 3-class target ``y``; its frame."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, columns)).round(decimals), columns=[f"x{i}" for i in range(columns)])
    frame["y"] = rng.integers(0, 3, size=rows)
    frame.to_csv(path, index=False)
    return frame


def stored(f: h5py.File) -> np.ndarray:
    """The features as the numbers they stand for (float32 values stand for their shortest decimals)."""
    values = f["features"][()]
    return values.astype(str).astype(np.float64) if values.dtype == np.float32 else values.astype(np.float64)
