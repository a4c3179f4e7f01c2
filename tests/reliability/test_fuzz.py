"""Fuzzing: generated CSV text, garbage included, converts exactly or fails with the project's own error."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import Csv2H5Error
from csv2h5.reader import NA_VALUES

CELL = st.one_of(
    st.integers(-300, 300).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(["", " ", "nan", "NA", "inf", "-inf", "1e5", "0x1F", "abc", '"1,2"', '"a""b"', "1.5.5", "--1",
                     "\ufeff1", "é", "1 ", " 2"]),
)
# Not a bare "\r": we read it as whitespace inside a line (RFC 4180 ends lines with "\n" or "\r\n"),
# pandas as a line end; CRLF endings are generated below.
JUNK = st.text(alphabet=st.sampled_from(list('0123456789,;"\n\t .-eaé') + ["\x00"]), max_size=60)


@st.composite
def csv_texts(draw) -> str:
    columns = draw(st.integers(1, 4))
    header = ",".join(f"c{i}" for i in range(columns))
    lines = [header]
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(JUNK))  # a line of garbage
        else:
            width = columns + draw(st.sampled_from([0, 0, 0, 0, 1, -1]))
            lines.append(",".join(draw(CELL) for _ in range(max(width, 0))))
    end = draw(st.sampled_from(["\n", "\r\n", ""]))
    return end.join(lines) + end if end else "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), block_bytes=st.sampled_from([16, 1 << 20]))
def test_generated_csv_converts_exactly_or_fails_cleanly(text, block_bytes):
    with tempfile.TemporaryDirectory() as work:
        src, out = Path(work) / "in.csv", Path(work) / "out.h5"
        src.write_bytes(text.encode("utf-8"))
        try:
            convert([src], out, options=ConvertOptions(block_bytes=block_bytes, workers=0))
        except Csv2H5Error as exc:
            message = str(exc)
            assert message and "\n" not in message.strip() and len(message) < 600
            assert not out.exists()
            return
        with h5py.File(out, "r") as f:
            raw = f["features"][()]
        cells = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
        expected = np.vectorize(_number, otypes=[np.float64])(cells.to_numpy(str)) if cells.size else np.zeros(cells.shape)
        assert raw.shape == expected.shape
        if raw.dtype.kind in "iu":  # an integer type only when every cell is an integer it holds
            info = np.iinfo(raw.dtype)
            assert np.all(np.isfinite(expected)) and np.all(expected == np.round(expected))
            assert np.all((expected >= info.min) & (expected <= info.max))
            assert np.array_equal(raw.astype(np.float64), expected)
        else:  # float32 or float64: the nearest value of the stored type to each cell's decimal
            assert np.array_equal(raw, expected.astype(raw.dtype), equal_nan=True)


def _number(cell: str) -> float:
    """What a cell means: a missing-value spelling is NaN, anything else must be a number."""
    text = cell.strip()
    return float("nan") if text in NA_VALUES else float(text)
