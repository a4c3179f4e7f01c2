"""Reading a converted file back as its CSV cells meant them, for comparison with pandas."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Stored:
    """A converted file's columns as values: numbers as float64, categorical codes decoded to their text."""

    def __init__(self, path: Path) -> None:
        with h5py.File(path, "r") as f:
            features = f["features"]
            self.dtype = features.dtype
            self.names = [_text(c) for c in features.attrs["columns"]]
            self.values = features[()]
            self.attrs = {key: features.attrs[key] for key in features.attrs}
            self.vocabularies = {name: [_text(v) for v in values[()]] for name, values in f.get("categories", {}).items()}
            self.target = f["target"][()] if "target" in f else None
            self.classes = (
                [_text(c) if isinstance(c, (bytes, str)) else c.item() for c in f["target"].attrs.get("classes", [])]
                if "target" in f
                else []
            )

    def names_attr(self, key: str) -> list[str]:
        return [_text(c) for c in self.attrs.get(key, [])]

    def column(self, name: str) -> list[object]:
        """A feature column: text (None for empty) if categorical, else float64 (NaN for empty)."""
        values = self.values[:, self.names.index(name)]
        if name in self.vocabularies:
            return [None if np.isnan(code) else self.vocabularies[name][int(code)] for code in values]
        return values.astype(np.float64).tolist()

    def mismatches(self, name: str, expected: list[float]) -> list[tuple[int, float, float]]:
        """Rows where a number column is not ``expected`` (NaN for empty): (row, stored, expected).

        A float32 file holds a value when the float32 of the expected value is stored.
        """
        found = []
        for row, (value, want) in enumerate(zip(self.column(name), expected, strict=True)):
            if np.isnan(want):
                same = np.isnan(value)
            elif self.dtype == np.float32:
                same = np.float32(value) == np.float32(want)
            else:
                same = value == want
            if not same:
                found.append((row, value, want))
        return found

    def labels(self) -> list[object]:
        """The target as the original labels."""
        return [self.classes[int(code)] for code in self.target]


@pytest.fixture
def stored():
    """``stored(path)``: a converted file's columns as values (see Stored)."""
    return Stored
