"""Property: generated CSV text converts to exactly the values its cells spell, whatever the block size.

The oracle never asks the converter: the expected value of a cell is Python's
``int()`` or ``float()`` of its text (NaN for an empty cell), and where the file
stores float32 the test checks for itself that float32 was allowed, i.e. that
one reading gives every cell's value back: the float32 itself (a float32 written
out in full, ``%.18e``), or its shortest decimal (``0.1``), which numpy prints.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pandas_missing import PANDAS_DEFAULT_NA

from csv2h5 import ConvertOptions, convert

float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
CELLS = {
    "small": st.integers(0, 300).map(str),
    "int": st.integers(-(2**40), 2**40).map(str),
    "short": st.builds(lambda m, e: repr(float(f"{m}e{e}")), st.integers(-99999, 99999), st.integers(-9, 6)),
    "fixed": st.builds(lambda m, d: f"{m / 10**d:.{d}f}", st.integers(-(10**6), 10**6), st.integers(0, 4)),
    "sci": st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-9, 9)),
    "float32_full": float32s.map(lambda x: f"{x:.18e}"),
    "repr": st.floats(allow_nan=False, allow_infinity=True).map(repr),
}
MIXED = st.one_of(*CELLS.values())


def _dress(draw, cell: str, allow_empty: bool) -> str:
    """Spell a cell as files do: maybe empty, one of pandas' missing spellings, quoted, or with spaces around it."""
    how = draw(st.sampled_from(["plain"] * 6 + ["quoted", "spaces"] + (["empty", "missing"] if allow_empty else [])))
    if how == "missing":
        return draw(
            st.sampled_from(PANDAS_DEFAULT_NA[1:]).map(lambda spelling: draw(st.sampled_from([spelling, f'"{spelling}"'])))
        )
    return {"plain": cell, "quoted": f'"{cell}"', "spaces": f" {cell} ", "empty": ""}[how]


@st.composite
def csv_texts(draw):
    ncols = draw(st.integers(1, 6))
    nrows = draw(st.integers(1, 25))
    kinds = draw(st.lists(st.sampled_from([*CELLS, "mixed"]), min_size=ncols, max_size=ncols))
    # With one column an empty cell is a blank line, which is skipped rather than read as NaN.
    rows = [[_dress(draw, draw(CELLS.get(k, MIXED)), ncols > 1) for k in kinds] for _ in range(nrows)]
    header = draw(st.booleans())
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ([",".join(f"c{i}" for i in range(ncols))] if header else []) + [",".join(r) for r in rows]
    return newline.join(lines) + newline, header, rows


def _value(cell: str) -> float | int:
    if cell.strip('"') in PANDAS_DEFAULT_NA:  # pandas' missing spellings, as written (quoted or not)
        return float("nan")
    text = cell.strip().strip('"').strip()
    if text == "":
        return float("nan")
    try:
        return int(text)
    except ValueError:
        return float(text)


def _check_stored(stored: np.ndarray, cells: list[list[str]], readings: str) -> None:
    """Assert the stored array gives back every cell's value, by the oracle in the module docstring."""
    expected = [[_value(c) for c in row] for row in cells]
    assert stored.shape == (len(cells), len(cells[0]))
    if stored.dtype.kind in "iu":
        assert all(isinstance(v, int) or float(v).is_integer() for row in expected for v in row)
        assert stored.tolist() == [[int(v) for v in row] for row in expected]
        return
    want = np.array(expected, dtype=np.float64)  # float() of an int's text is exact below 2**53
    assert all(abs(v) < 2**53 for row in expected for v in row if isinstance(v, int))
    if stored.dtype == np.float64:
        assert np.array_equal(stored, want, equal_nan=True)
        return
    assert stored.dtype == np.float32
    as_float32 = np.array_equal(stored.astype(np.float64), want, equal_nan=True)
    # numpy prints the shortest decimal that reads back as the same float32
    as_decimal = all(np.isnan(w) if np.isnan(w) else float(str(np.float32(s))) == w for s, w in zip(stored.ravel(), want.ravel()))
    assert as_float32 or as_decimal, "float32 chosen, but no one reading gives every value back"
    if "exact" not in readings.split(", "):
        assert as_decimal, f"the file says its float32 values read as {readings!r}"
    if "shortest decimal" not in readings.split(", "):
        assert as_float32, f"the file says its float32 values read as {readings!r}"


def _convert(text: str, header: bool, block_bytes: int) -> tuple[np.ndarray, str]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        src.write_text(text, newline="")
        out = Path(tmp) / "out.h5"
        convert([src], out, options=ConvertOptions(header=header, block_bytes=block_bytes, workers=0))
        with h5py.File(out, "r") as f:
            return f["features"][()], str(f["features"].attrs.get("float32_values", ""))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=csv_texts(), block_bytes=st.sampled_from([16, 100, 4096, 1 << 20]))
# 7 significant digits are too many for float32: these two would become one float32.
@example(case=("a\n9.765628e-4\n9.765629e-4\n", True, [["9.765628e-4"], ["9.765629e-4"]]), block_bytes=1 << 20)
# float32 values written in full and short decimals need two readings: float64, whatever the block size.
@example(case=("a\n1.000000014901161194e-01\n0.1\n", True, [["1.000000014901161194e-01"], ["0.1"]]), block_bytes=16)
def test_cells_convert_to_the_values_they_spell(case, block_bytes):
    text, header, cells = case
    stored, readings = _convert(text, header, block_bytes)
    _check_stored(stored, cells, readings)


def test_the_check_rejects_a_float32_that_loses_a_digit():
    """The oracle itself: a 7-digit decimal stored as float32 does not read back."""
    cells = [["9.765628e-4"], ["9.765629e-4"]]
    stored = np.array([[9.765628e-4], [9.765629e-4]], dtype=np.float32)
    try:
        _check_stored(stored, cells, "shortest decimal")
    except AssertionError:
        return
    raise AssertionError("a float32 that cannot give back 7 digits passed the check")


def test_matches_pandas_on_a_decimal_table(tmp_path):
    """pandas reads the same numbers (the formats of public tables: repr floats, %.18e, 2 decimals)."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=300),
            "b": rng.normal(size=300).astype(np.float32).astype(np.float64),
            "c": np.round(rng.lognormal(size=300), 2),
            "d": rng.integers(0, 9, size=300),
        }
    )
    src = tmp_path / "t.csv"
    lines = ["a,b,c,d"] + [f'{a!r},{b:.18e},{c!r},"{d}"' for a, b, c, d in table.itertuples(index=False)]
    src.write_text("\n".join(lines) + "\n")
    for block_bytes in (512, 1 << 20):
        convert([src], tmp_path / "t.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0, overwrite=True))
        with h5py.File(tmp_path / "t.h5", "r") as f:
            got = f["features"][()]
        assert got.dtype == np.float64
        assert np.array_equal(got, pd.read_csv(src).to_numpy(dtype=np.float64))


def test_wide_rows_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, size=(20, 1000))
    src = tmp_path / "wide.csv"
    pd.DataFrame(table).to_csv(src, index=False)
    convert([src], tmp_path / "wide.h5", options=ConvertOptions(block_bytes=5000))
    with h5py.File(tmp_path / "wide.h5") as f:
        assert np.array_equal(f["features"][()], table)
