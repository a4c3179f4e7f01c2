"""The typed parse path and its fallback, the text path: same files, same error messages."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, Csv2H5Error, InputError
from csv2h5.reader import parse as parse_module

ODD_CELLS = st.sampled_from([
    "", "NA", "nan", "NaN", "-nan", "null", "inf", "-inf", "Infinity", "+5", ".5", "5.", "1e5", "1.0", "-0.0",
    '"2.5"', '""', '"NA"', " 7 ", "\t8", "9007199254740993", "99999999999999999999", "1e400", "0x1F", "abc",
    "1\u00a0", "\ufeff1", "1.5.5",
])
KINDS = {
    "small": st.integers(-300, 300).map(str),
    "big": st.integers(-(2**64), 2**64).map(str),  # beyond 2**53 float64 rounds: the text path keeps them
    "float32_full": st.floats(allow_nan=False, width=32).map(lambda x: "%.18e" % x),
    "repr": st.floats(allow_nan=False).map(repr),
    "odd": ODD_CELLS,
}


@st.composite
def csv_texts(draw) -> tuple[str, bool]:
    """A header, 2-4 columns each of one kind with an odd cell now and then, and a small label column."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=2, max_size=4))

    def cell(kind: str) -> str:
        return draw(ODD_CELLS) if draw(st.integers(0, 9)) == 0 else draw(KINDS[kind])

    rows = [",".join(cell(k) for k in kinds) + ",%d" % draw(st.integers(0, 2)) for _ in range(draw(st.integers(1, 20)))]
    header = ",".join(f"c{i}" for i in range(len(kinds))) + ",label"
    return "\n".join([header] + rows) + "\n", draw(st.booleans())


def _outcome(text: str, *, block_bytes: int, typed: bool, target: bool) -> object:
    """The converted arrays and attributes, or the error message."""
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(
            parse_module, "parse_typed", parse_module.parse_typed if typed else lambda *args: None):
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.h5"
        src.write_text(text)
        options = ConvertOptions(block_bytes=block_bytes, workers=0, target=("label",) if target else ())
        try:
            report = convert([src], out, options=options)
        except Csv2H5Error as exc:
            return type(exc).__name__, str(exc).replace(tmp, "")
        with h5py.File(out, "r") as f:
            result = {name: f[name][()] for name in ("features", "stats/mean", "stats/std", "stats/min", "stats/max",
                                                    "stats/nan_count", "target") if name in f}
            result["attrs"] = {k: str(v) for k, v in f["features"].attrs.items()}
            result["classes"] = str(f["target"].attrs["classes"]) if "target" in f else None
        result["report"] = (report.rows, report.dtype, report.widened, report.empty_cell_columns, report.bad_lines)
        return result


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=csv_texts(), block_bytes=st.sampled_from([32, 1 << 20]))
def test_typed_and_text_paths_make_the_same_file_or_error(case, block_bytes):
    text, target = case
    typed = _outcome(text, block_bytes=block_bytes, typed=True, target=target)
    fallback = _outcome(text, block_bytes=block_bytes, typed=False, target=target)
    assert _same(typed, fallback), (typed, fallback)


def test_plain_decimals_never_reach_the_text_path(tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("a,b,label\n" + "".join(f"{i / 7!r},{i * 1e-7:.18e},{i % 2}\n" for i in range(500)))
    with mock.patch.object(parse_module, "parse_text", side_effect=AssertionError("text path used")):
        convert([src], tmp_path / "d.h5", options=ConvertOptions(block_bytes=1024, workers=0, target=("label",)))
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f["features"][:, 0].tolist() == [i / 7 for i in range(500)]


GOOD = "".join(f"{i},{i / 3!r},{i % 3}\n" for i in range(40))  # lines 2..41


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
@pytest.mark.parametrize("bad, error, message", [
    ("1.5,abc,0", BadValueError, r"in\.csv:42: column 'b' has 'abc', which is not a number; pass --categorical b"),
    ("0x1F,2.5,0", BadValueError, r"in\.csv:42: column 'a' has '0x1F', which is not a number"),
    ("1.5, NA,0", BadValueError, r"in\.csv:42: column 'b' has 'NA', which is not a number"),
    ("1.5,2.5,0,9", BadLineError, r"in\.csv:42: expected 3 fields as in the header, found 4 \(a trailing delimiter\?\)"),
    ("1.5,2.5,", BadValueError, r"in\.csv:42: target column 'y' is empty"),
    ("9007199254740993,2.5,0", BadValueError, r"column 'a' has integers beyond 2\*\*53 while other columns have decimals"),
    ("1.5,\xff,0", InputError, r"in\.csv:42: not valid UTF-8 text"),
])
def test_the_fallback_words_the_errors(tmp_path, block_bytes, bad, error, message):
    src = tmp_path / "in.csv"
    src.write_bytes(("a,b,y\n" + GOOD + bad + "\n" + GOOD).encode("latin-1"))
    with pytest.raises(error, match=message):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(target=("y",), block_bytes=block_bytes, workers=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_a_forced_dtype_error_has_the_line_after_blank_lines(tmp_path, block_bytes):
    """The typed path does not number lines; an error finds the line when it needs it."""
    src = tmp_path / "in.csv"
    src.write_text("a,b\n-1,2\n\n\n-2,3\n-3,300\n")  # signs: not the small-integer path
    with pytest.raises(BadValueError, match=r"in\.csv:6: column 'b' has '300', which int8 cannot hold exactly"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(dtype="int8", block_bytes=block_bytes, workers=0))


def test_numbers_from_arrow_buffers_respect_offsets_and_empty_cells():
    import pyarrow as pa

    from csv2h5.reader.arrow import to_numpy

    floats = pa.chunked_array([pa.array([1.5, None, 3.0, 4.0])[1:], pa.array([None, 8.0, 9.0])[1:]])
    assert np.array_equal(to_numpy(floats), [np.nan, 3.0, 4.0, 8.0, 9.0], equal_nan=True)
    ints = pa.array([5, 6, 2**60, None], pa.int64())
    assert to_numpy(ints[:3]).tolist() == [5, 6, 2**60] and to_numpy(ints[:3]).dtype == np.int64
    assert np.array_equal(to_numpy(ints[1:]), [6.0, 2.0**60, np.nan], equal_nan=True)
