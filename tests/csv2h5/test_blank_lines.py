"""Lines of only spaces and tabs: skipped as empty lines are, on every parse path, as pandas skips them."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, SchemaError
from csv2h5.reader import Dialect
from csv2h5.reader import parse as parse_module
from csv2h5.reader import wide as wide_module
from csv2h5.reader.lines import blank_whitespace_lines

BLANKS = ["", " ", "   ", "\t", " \t ", "\t\t"]


def _stored(out: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    with h5py.File(out, "r") as f:
        features = f["features"][()].astype(np.float64)
        target = f["target"][()] if "target" in f else None
        if target is not None and "classes" in f["target"].attrs:
            target = np.asarray(f["target"].attrs["classes"])[target]
        return features, target, str(f.attrs["sources"])


def _pandas(text: bytes, header: bool, **kwargs) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(text), header=0 if header else None, **kwargs)


def _assert_as_pandas(out: Path, expected: pd.DataFrame, target: bool, report=None) -> None:
    features, labels, sources = _stored(out)
    wanted = expected.iloc[:, :-1] if target else expected
    np.testing.assert_array_equal(features, wanted.to_numpy(np.float64))
    if target:
        np.testing.assert_array_equal(labels.astype(np.int64), expected.iloc[:, -1].to_numpy())
    assert f'"rows": {len(expected)}' in sources
    if report is not None:
        assert report.rows == len(expected) and not report.bad_lines


@st.composite
def numbers_with_blank_lines(draw) -> tuple[bytes, bool, bool]:
    """A small numeric CSV (a header or not, a label or not) with lines of spaces and tabs anywhere."""
    columns = draw(st.integers(1, 3))
    target = columns > 1 and draw(st.booleans())
    header = draw(st.booleans())
    cell = st.one_of(st.integers(-40, 300).map(str), st.integers(-20, 20).map(lambda k: repr(k / 4)))
    rows = [",".join(draw(cell) for _ in range(columns - target)) + (f",{draw(st.integers(0, 2))}" if target else "")]
    rows += [
        ",".join(draw(cell) for _ in range(columns - target)) + (f",{draw(st.integers(0, 2))}" if target else "")
        for _ in range(draw(st.integers(0, 12)))
    ]
    lines = ([",".join(f"c{i}" for i in range(columns))] if header else []) + rows
    for _ in range(draw(st.integers(1, 6))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(BLANKS)))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return (end.join(lines) + draw(st.sampled_from([end, ""]))).encode(), header, target


def _convert_on_path(text: bytes, header: bool, target: str | None, path: str, block_bytes: int, tmp: Path):
    """Convert ``text`` with every block read by one parse path: "any" (the usual order), "text", or "wide"."""
    src, out = tmp / "in.csv", tmp / "out.h5"
    src.write_bytes(text)
    options = ConvertOptions(block_bytes=block_bytes, workers=0, header=header, target=(target,) if target else ())
    with (
        mock.patch.object(parse_module, "parse_typed", (lambda *args: None) if path == "text" else parse_module.parse_typed),
        mock.patch.object(wide_module, "WIDE_COLUMNS", 1 if path == "wide" else wide_module.WIDE_COLUMNS),
    ):
        return convert([src], out, options=options), out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=numbers_with_blank_lines(),
    path=st.sampled_from(["any", "text", "wide"]),
    block_bytes=st.one_of(st.integers(8, 80), st.just(1 << 20)),
)
@example(case=(b"x,y,label\n1,2,0\n   \n3,4,1\n\t\n5,6,0\n  \n", True, True), path="any", block_bytes=1 << 20)
@example(case=(b"x\r\n1\r\n  \r\n2\r\n \t", True, False), path="any", block_bytes=8)
def test_lines_of_spaces_and_tabs_are_skipped_as_pandas_skips_them(case, path, block_bytes):
    text, header, target = case
    with tempfile.TemporaryDirectory() as tmp:
        columns = len(_pandas(text, header).columns)
        report, out = _convert_on_path(text, header, target and str(columns - 1), path, block_bytes, Path(tmp))
        _assert_as_pandas(out, _pandas(text, header), target, report)


@pytest.mark.parametrize("workers", [0, 2])
def test_blank_lines_at_every_block_boundary(tmp_path, workers):
    # Plain files read with parser processes are cut without looking at the bytes (blocks of offsets).
    lines = ["a,b,label"]
    for i in range(60):
        lines += [f"{i},{-i / 4},{i % 3}", BLANKS[i % len(BLANKS)]]
    text = ("\r\n" if workers else "\n").join(lines).encode()
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    for block_bytes in (9, 17, 31):
        out = tmp_path / f"out{block_bytes}.h5"
        report = convert([src], out, options=ConvertOptions(block_bytes=block_bytes, workers=workers, target=("label",)))
        _assert_as_pandas(out, _pandas(text, True), True, report)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_blank_lines_among_quoted_line_breaks_at_every_block_boundary(tmp_path, workers, end):
    # Whether a line of spaces is inside quotes is told by the quotes before it, in any block.
    lines = ["n,w,label"]
    for i in range(40):
        cell = ["a", '"b\n   \nc"', '"  "', '"x\r\n \t\r\ny"', "d e"][i % 5]
        lines += [f"{i},{cell},{i % 2}", BLANKS[i % len(BLANKS)]]
    text = end.join(lines).encode()
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    expected = pd.read_csv(io.BytesIO(text))
    for block_bytes in (7, 29):
        out = tmp_path / f"o{block_bytes}.h5"
        options = ConvertOptions(block_bytes=block_bytes, workers=workers, target=("label",), categorical=("w",))
        report = convert([src], out, options=options)
        with h5py.File(out, "r") as f:
            vocabulary = [v.decode() for v in f["categories/w"][()]]
            assert [vocabulary[int(code)] for code in f["features"][:, 1]] == expected["w"].tolist()
            assert f["features"][:, 0].tolist() == expected["n"].tolist()
        assert report.rows == len(expected) == 40


def test_gzip_input_and_standard_input(tmp_path):
    text = b"   \nx,y,label\n1,2,0\n   \n3,4,1\n\t\n5,6,0\n  \n"
    expected = _pandas(text, True)
    (tmp_path / "in.csv.gz").write_bytes(gzip.compress(text))
    report = convert([tmp_path / "in.csv.gz"], tmp_path / "gz.h5", options=ConvertOptions(block_bytes=12, target=("label",)))
    _assert_as_pandas(tmp_path / "gz.h5", expected, True, report)
    command = [sys.executable, "-m", "csv2h5", "convert", "-", "-o", str(tmp_path / "in.h5"), "-q", "--target", "label"]
    done = subprocess.run(command, input=text, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _assert_as_pandas(tmp_path / "in.h5", expected, True)


@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
@pytest.mark.parametrize("path", ["any", "text", "wide"])
def test_later_errors_name_the_lines_of_the_file(tmp_path, block_bytes, path):
    cases = [
        (b"x,y,label\n  \n1,2,0\n\t\n3,abc,1\n", BadValueError, ":5: column 'y' has 'abc'"),
        (b"x,y,label\n  \n1,2,0\n \r\n3,4,5,1\n", BadLineError, ":5: expected 3 fields as in the header, found 4"),
        (b"x,y,label\n  \n1,2,0\n \n3,4,\n", BadValueError, ":5: target column 'label' is empty"),
    ]
    for text, error, message in cases:
        with pytest.raises(error, match=message):
            _convert_on_path(text, True, "label", path, block_bytes, tmp_path)


@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_a_late_cell_of_another_kind_is_found_past_blank_lines(tmp_path, block_bytes):
    # Found again by the main process (reader.evidence), once the first rows decided the kinds.
    for text, line in [(b"x,y\n1,2\n3,4\n \n\t\n5,abc\n", 6), (b"x\n1\n2\n \n\t\n  \nabc\n", 7)]:
        src = tmp_path / "in.csv"
        src.write_bytes(text)
        with pytest.raises(BadValueError, match=f"in.csv:{line}: .*'abc'"):
            convert([src], tmp_path / "o.h5", options=ConvertOptions(block_bytes=block_bytes, infer_bytes=8, workers=0))


def test_a_forced_dtype_error_has_the_line_after_blank_lines(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,2\n   \n\t\n3,300\n")
    with pytest.raises(BadValueError, match=r"in.csv:5: column 'b' has '300', which int8 cannot hold"):
        convert([src], tmp_path / "o.h5", options=ConvertOptions(dtype="int8", workers=0))


def _text_cells(tmp_path, text: bytes, column: int, block_bytes: int) -> tuple[list[str], int]:
    """Column ``column`` of ``text`` converted with ``w`` categorical: its cells decoded, and the rows reported."""
    src, out = tmp_path / "in.csv", tmp_path / f"o{block_bytes}.h5"
    src.write_bytes(text)
    report = convert([src], out, options=ConvertOptions(block_bytes=block_bytes, workers=0, categorical=("w",)))
    with h5py.File(out, "r") as f:
        vocabulary = [v.decode() for v in f["categories/w"][()]]
        return [vocabulary[int(code)] for code in f["features"][:, column]], report.rows


@pytest.mark.parametrize("block_bytes", [4, 1 << 20])
def test_quoted_spaces_are_a_cell_of_a_one_column_file(tmp_path, block_bytes):
    # As pandas reads it: the quoted line is a row, the unquoted lines of spaces are not.
    text = b'w\na\n"   "\n   \nb\n\t\n'
    cells, rows = _text_cells(tmp_path, text, 0, block_bytes)
    assert cells == _pandas(text, True)["w"].tolist() == ["a", "   ", "b"]
    assert rows == 3


@pytest.mark.parametrize("block_bytes", [4, 1 << 20])
def test_lines_of_spaces_inside_quotes_are_text(tmp_path, block_bytes):
    text = b'n,w\n1,"a\n   \n\t\nb"\n  \n2,c\n'
    cells, _ = _text_cells(tmp_path, text, 1, block_bytes)
    assert cells == _pandas(text, True)["w"].tolist() == ["a\n   \n\t\nb", "c"]


@pytest.mark.parametrize("delimiter", ["\t", " "])
def test_a_line_of_delimiters_is_a_row_of_empty_cells(tmp_path, delimiter):
    # pandas reads a line of tabs in a tab-separated file as a row; a line of the other whitespace is blank.
    other = " " if delimiter == "\t" else "\t"
    text = f"a{delimiter}b\n1{delimiter}2\n{delimiter}\n{other * 3}\n3{delimiter}4\n".encode()
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    report = convert([src], tmp_path / "o.h5", options=ConvertOptions(delimiter=delimiter, workers=0))
    expected = pd.read_csv(io.BytesIO(text), sep=delimiter)
    assert len(expected) == report.rows == 3
    _assert_as_pandas(tmp_path / "o.h5", expected, False)


@pytest.mark.parametrize(
    ("text", "header", "names"),
    [
        (b"   \n\t\nx,y\n1,2\n", True, ()),
        (b" \r\nx,y\r\n1,2\r\n", True, ()),
        (b"  \n1,2\n \n3,4\n", False, ()),
        (b"  \n1,2\n \n3,4\n", False, ("p", "q")),
        (b"\t\n7\n  \n8", False, ()),
    ],
)
def test_lines_of_spaces_before_the_first_line_are_skipped(tmp_path, text, header, names):
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    report = convert([src], tmp_path / "o.h5", options=ConvertOptions(header=header, names=names, workers=0))
    expected = _pandas(text, header)
    with h5py.File(tmp_path / "o.h5", "r") as f:
        columns = [c.decode() if isinstance(c, bytes) else str(c) for c in f["features"].attrs["columns"]]
    assert columns == (list(names) or [str(c) if header else f"c{c}" for c in expected.columns])
    _assert_as_pandas(tmp_path / "o.h5", expected, False, report)


def test_lines_of_spaces_after_skipped_rows_and_among_bad_lines(tmp_path):
    text = b"written by hand\n \t\nx,y\n1,2\n  \n3,4,5\n\t\n6,7\n"
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    for block_bytes in (8, 1 << 20):
        out = tmp_path / f"o{block_bytes}.h5"
        options = ConvertOptions(skip_rows=1, on_bad_lines="warn", block_bytes=block_bytes, workers=0)
        report = convert([src], out, options=options)
        assert report.bad_lines == 1 and report.rows == 2  # line 6 only: lines of spaces are not bad lines
        expected = pd.read_csv(io.BytesIO(text), skiprows=1, on_bad_lines="skip")
        _assert_as_pandas(out, expected, False)


def test_spaces_before_a_comment_make_a_blank_line(tmp_path):
    # The comment stripped, the line is one of spaces: skipped, as a line holding only a comment is.
    # (pandas reads "   #c" as a row whose first cell is the spaces and the others empty.)
    src = tmp_path / "in.csv"
    src.write_bytes(b"x,y\n1,2\n   # a note\n\t#\n3,4\n")
    report = convert([src], tmp_path / "o.h5", options=ConvertOptions(comment="#", workers=0))
    with h5py.File(tmp_path / "o.h5", "r") as f:
        assert f["features"][()].tolist() == [[1, 2], [3, 4]] and report.rows == 2


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_lines_of_spaces_leave_the_delimiter_guessed(tmp_path, delimiter):
    lines = ["  ", "a;b;c", "1;2;3", "   ", "4;5;6", "    ", "7;8;9", " ", "1;1;1"]  # a tab is a cell's end in a TSV
    text = "\n".join(lines).replace(";", delimiter).encode() + b"\n"
    src = tmp_path / "in.csv"
    src.write_bytes(text)
    report = convert([src], tmp_path / "o.h5", options=ConvertOptions(delimiter="auto", workers=0))
    _assert_as_pandas(tmp_path / "o.h5", pd.read_csv(io.BytesIO(text), sep=delimiter), False, report)


def test_a_file_of_blank_lines_is_empty(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"  \n\t\n \r\n   ")
    with pytest.raises(SchemaError, match="is empty"):
        convert([src], tmp_path / "o.h5", options=ConvertOptions(workers=0))
    src.write_bytes(b"a,b\n  \n\t\n")
    with pytest.raises(SchemaError, match="no data rows"):
        convert([src], tmp_path / "o.h5", options=ConvertOptions(workers=0))


def test_blank_lines_are_emptied_with_their_line_ends_kept():
    comma = Dialect(",")
    assert blank_whitespace_lines(b"1,2\n3,4\n", comma) is None
    assert blank_whitespace_lines(b"1, 2\n 3,4 \n", comma) is None
    assert blank_whitespace_lines(b" \t\n1,2\n  \r\n\n3,4\n \t", comma) == b"\n1,2\n\n\n3,4\n"
    # Inside quotes a line of spaces is text; outside, after a closed quote, it is blank.
    assert blank_whitespace_lines(b'1,"a\n  \nb"\n \n"c""",2\n\t\n', comma) == b'1,"a\n  \nb"\n\n"c""",2\n\n'
    assert blank_whitespace_lines(b'1,"a\n  \nb"\n', comma) is None
    # A delimiter is never blank; a lone \r is not a CRLF line end.
    assert blank_whitespace_lines(b"1\t2\n\t\n \n", Dialect("\t")) == b"1\t2\n\t\n\n"
    assert blank_whitespace_lines(b"1,2\n \r \n", comma) is None
