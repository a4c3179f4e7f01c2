"""The typed parse path and its fallback, the text path: same files, same error messages."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pandas_missing import PANDAS_DEFAULT_NA

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, Csv2H5Error, InputError
from csv2h5.reader import Dialect, ParsePlan
from csv2h5.reader import parse as parse_module
from csv2h5.reader import typed as typed_module
from csv2h5.reader import wide as wide_module
from csv2h5.reader.arrow import NA_VALUES

ODD_CELLS = st.sampled_from(
    [
        "",
        "NA",
        "nan",
        "NaN",
        "-nan",
        "null",
        "inf",
        "-inf",
        "Infinity",
        "+5",
        ".5",
        "5.",
        "1e5",
        "1.0",
        "-0.0",
        '"2.5"',
        '""',
        '"NA"',
        " 7 ",
        "\t8",
        "9007199254740993",
        "99999999999999999999",
        "1e400",
        "0x1F",
        "abc",
        "1\u00a0",
        "\ufeff1",
        "1.5.5",
        *PANDAS_DEFAULT_NA,  # each of pandas' missing spellings, among numbers
    ]
)
KINDS = {
    "small": st.integers(-300, 300).map(str),
    "big": st.integers(-(2**64), 2**64).map(str),  # beyond 2**53 float64 rounds: the text path keeps them
    "float32_full": st.floats(allow_nan=False, width=32).map(lambda x: f"{x:.18e}"),
    "repr": st.floats(allow_nan=False).map(repr),
    "odd": ODD_CELLS,
}


@st.composite
def csv_texts(draw) -> tuple[str, bool]:
    """A header, 2-4 columns each of one kind with an odd cell now and then, and a small label column."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=2, max_size=4))

    def cell(kind: str) -> str:
        return draw(ODD_CELLS) if draw(st.integers(0, 9)) == 0 else draw(KINDS[kind])

    rows = [",".join(cell(k) for k in kinds) + f",{draw(st.integers(0, 2))}" for _ in range(draw(st.integers(1, 20)))]
    header = ",".join(f"c{i}" for i in range(len(kinds))) + ",label"
    return "\n".join([header] + rows) + "\n", draw(st.booleans())


def _outcome(
    text: str, *, block_bytes: int, typed: bool, target: bool, wide: bool = False, every_spelling: bool = False
) -> object:
    """The converted arrays and attributes, or the error message (``wide``: every block tries the wide path;
    ``every_spelling``: every block is read with all of pandas' missing spellings, never with the empty one alone)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(
            typed_module,
            "missing_spellings",
            (lambda data, plan: NA_VALUES + plan.dialect.na_values) if every_spelling else typed_module.missing_spellings,
        ),
        mock.patch.object(parse_module, "parse_typed", parse_module.parse_typed if typed else lambda *args: None),
        mock.patch.object(wide_module, "WIDE_COLUMNS", 1 if wide else wide_module.WIDE_COLUMNS),
    ):
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.h5"
        src.write_text(text)
        options = ConvertOptions(block_bytes=block_bytes, workers=0, target=("label",) if target else ())
        try:
            report = convert([src], out, options=options)
        except Csv2H5Error as exc:
            return type(exc).__name__, str(exc).replace(tmp, "")
        with h5py.File(out, "r") as f:
            result = {
                name: f[name][()]
                for name in ("features", "stats/mean", "stats/std", "stats/min", "stats/max", "stats/nan_count", "target")
                if name in f
            }
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=csv_texts(), block_bytes=st.sampled_from([32, 1 << 20]))
def test_blocks_read_with_only_empty_cells_missing_make_the_same_file_or_error(case, block_bytes):
    # A block without an N or n is read with the empty cell as the only missing spelling: the
    # same file, or the same error, as with all of pandas' spellings (blocks of 32 bytes: some
    # blocks with a spelling, some without).
    text, target = case
    chosen = _outcome(text, block_bytes=block_bytes, typed=True, target=target)
    every = _outcome(text, block_bytes=block_bytes, typed=True, target=target, every_spelling=True)
    assert _same(chosen, every), (chosen, every)


def test_every_missing_spelling_but_the_empty_one_holds_an_n():
    # What lets a block without the bytes N and n be read with only empty cells missing.
    assert sorted(NA_VALUES) == sorted(PANDAS_DEFAULT_NA)
    assert all("N" in spelling or "n" in spelling for spelling in PANDAS_DEFAULT_NA if spelling)
    plan = ParsePlan(("a", "b"), Dialect(","), (0, 1), (), ())
    assert typed_module.missing_spellings(b"1,2\n,3\n", plan) == ("",)
    for spelling in PANDAS_DEFAULT_NA[1:]:
        assert typed_module.missing_spellings(f"1,{spelling}\n".encode(), plan) == NA_VALUES
    # The user's own spellings (--na-values) keep the fast path only where none of them occurs either.
    own = ParsePlan(("a", "b"), Dialect(",", na_values=("?", "-9")), (0, 1), (), ())
    assert typed_module.missing_spellings(b"1,2\n,3\n", own) == ("",)
    # A whole number is read written both ways, as pandas reads it (-9 and -9.0).
    assert typed_module.missing_spellings(b"1,2\n?,3\n", own) == NA_VALUES + ("?", "-9", "-9.0")
    assert typed_module.missing_spellings(b"1,-9\n", own) == NA_VALUES + ("?", "-9", "-9.0")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=csv_texts(), block_bytes=st.sampled_from([32, 1 << 20]), line_end=st.sampled_from(["\n", "\r\n", "\n\n"]))
def test_the_wide_path_makes_the_same_file_or_error_as_the_column_paths(case, block_bytes, line_end):
    text, target = case
    text = text.replace("\n", line_end)
    row_major = _outcome(text, block_bytes=block_bytes, typed=True, target=target, wide=True)
    by_column = _outcome(text, block_bytes=block_bytes, typed=True, target=target)
    assert _same(row_major, by_column), (row_major, by_column)


@st.composite
def tables_with_text(draw) -> str:
    """Columns of numbers, booleans (any spelling), words and mixes of them, with empty cells."""
    cells = {
        "number": st.integers(-5, 5).map(str),
        "float": st.floats(-9, 9).map(repr),
        "boolean": st.sampled_from(["true", "False", " TRUE", "fAlSe"]),
        "word": st.sampled_from(["a", "b c", "é"]),
        "empty": st.sampled_from(["", "NA"]),
    }
    kinds = draw(st.lists(st.sampled_from(sorted(cells)), min_size=1, max_size=4))
    rows = [
        ",".join(draw(cells[draw(st.sampled_from([k, k, k, "empty", "word"]))]) for k in kinds)
        for _ in range(draw(st.integers(1, 12)))
    ]
    return "\n".join([",".join(f"c{i}" for i in range(len(kinds)))] + rows) + "\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=tables_with_text(), block_bytes=st.sampled_from([16, 1 << 20]))
# A boolean column with an empty cell in a block with text: the text path once named it among the integer
# columns that empty cells made float, the typed and wide paths did not.
@example(text="c0,c1,c2,c3\ntrue,true,a,\ntrue,true,,true\ntrue,,true, TRUE\n", block_bytes=16)
def test_the_wide_path_reads_booleans_and_text_as_the_column_paths(text, block_bytes):
    outcomes = []
    for wide in (True, False):
        with tempfile.TemporaryDirectory() as tmp, mock.patch.object(wide_module, "WIDE_COLUMNS", 1 if wide else 10**9):
            src, out = Path(tmp) / "in.csv", Path(tmp) / "out.h5"
            src.write_text(text)
            try:
                report = convert(
                    [src], out, options=ConvertOptions(block_bytes=block_bytes, infer_bytes=40, workers=0, categorical=("auto",))
                )
            except Csv2H5Error as exc:
                outcomes.append((type(exc).__name__, str(exc).replace(tmp, "")))
                continue
            with h5py.File(out, "r") as f:
                outcomes.append(
                    (
                        f["features"][()],
                        {k: str(v) for k, v in f["features"].attrs.items()},
                        {k: f["categories"][k][()].tolist() for k in f.get("categories", {})},
                        report.empty_cell_columns,
                    )
                )
    if isinstance(outcomes[0][0], str):
        assert outcomes[0] == outcomes[1]
    else:
        assert np.array_equal(outcomes[0][0], outcomes[1][0], equal_nan=True) and outcomes[0][1:] == outcomes[1][1:]


def test_the_wide_path_reads_numbers_text_and_dates_without_the_column_paths(tmp_path):
    src = tmp_path / "w.csv"
    rows = [f"{i / 7!r},,{'NA' if i % 5 == 0 else i},{'ab'[i % 2]}x,2024-01-{i % 28 + 1:02d},{'yn'[i % 2]}" for i in range(300)]
    src.write_text("a,empty,b,word,day,label\r\n" + "\r\n\r\n".join(rows) + "\r\n")
    options = ConvertOptions(block_bytes=512, workers=0, target=("label",), categorical=("word",), datetime=("day",))
    with (
        mock.patch.object(wide_module, "WIDE_COLUMNS", 1),
        mock.patch.object(parse_module, "parse_typed", side_effect=AssertionError("typed path used")),
        mock.patch.object(parse_module, "parse_text", side_effect=AssertionError("text path used")),
    ):
        convert([src], tmp_path / "w.h5", options=options)
    with h5py.File(tmp_path / "w.h5", "r") as f:
        x = f["features"][()]
        assert x[:, 0].tolist() == [i / 7 for i in range(300)] and np.isnan(x[:, 1]).all()
        assert np.array_equal(x[:, 2], [np.nan if i % 5 == 0 else i for i in range(300)], equal_nan=True)
        assert [f["categories/word"][int(c)].decode() for c in x[:, 3]] == [f"{'ab'[i % 2]}x" for i in range(300)]
        assert x[:3, 4].tolist() == [1704067200.0, 1704153600.0, 1704240000.0]  # 2024-01-01, -02, -03 UTC
        assert f["target"][()].tolist() == [1 - i % 2 for i in range(300)]  # classes n, y


def test_plain_decimals_never_reach_the_text_path(tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("a,b,label\n" + "".join(f"{i / 7!r},{i * 1e-7:.18e},{i % 2}\n" for i in range(500)))
    with mock.patch.object(parse_module, "parse_text", side_effect=AssertionError("text path used")):
        convert([src], tmp_path / "d.h5", options=ConvertOptions(block_bytes=1024, workers=0, target=("label",)))
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f["features"][:, 0].tolist() == [i / 7 for i in range(500)]


GOOD = "".join(f"{i},{i / 3!r},{i % 3}\n" for i in range(40))  # lines 2..41


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
@pytest.mark.parametrize(
    "bad, error, message",
    [
        ("1.5,abc,0", BadValueError, r"in\.csv:42: column 'b' has 'abc', which is not a number; pass --categorical b"),
        ("0x1F,2.5,0", BadValueError, r"in\.csv:42: column 'a' has '0x1F', which is not a number"),
        ("1.5, NA,0", BadValueError, r"in\.csv:42: column 'b' has 'NA', which is not a number"),
        ("1.5,2.5,0,9", BadLineError, r"in\.csv:42: expected 3 fields as in the header, found 4 \(a trailing delimiter\?\)"),
        ("1.5,2.5,", BadValueError, r"in\.csv:42: target column 'y' is empty"),
        (
            "9007199254740993,2.5,0",
            BadValueError,
            r"in\.csv:42: column 'a' has '9007199254740993', an integer beyond 2\*\*53,"
            r" while column 'b' holds decimals or empty cells; .* --drop a, or --drop b",
        ),
        ("9007199254740993,abc,0", BadValueError, r"in\.csv:42: column 'b' has 'abc', which is not a number"),  # the cause first
        ("1.5,\xff,0", InputError, r"in\.csv:42: not valid UTF-8 text"),
    ],
)
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

    from csv2h5.reader.buffers import to_numpy

    floats = pa.chunked_array([pa.array([1.5, None, 3.0, 4.0])[1:], pa.array([None, 8.0, 9.0])[1:]])
    assert np.array_equal(to_numpy(floats), [np.nan, 3.0, 4.0, 8.0, 9.0], equal_nan=True)
    ints = pa.array([5, 6, 2**60, None], pa.int64())
    assert to_numpy(ints[:3]).tolist() == [5, 6, 2**60] and to_numpy(ints[:3]).dtype == np.int64
    assert np.array_equal(to_numpy(ints[1:]), [6.0, 2.0**60, np.nan], equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.text(alphabet="+-0123456789xX. e", max_size=6) | st.none(), max_size=8), skip=st.integers(0, 3))
def test_integer_and_hex_looks_agree_with_the_regular_expressions(cells, skip):
    import re

    import pyarrow as pa

    from csv2h5.reader import numbers
    from csv2h5.reader.buffers import string_bytes

    column = pa.array(cells, type=pa.string()).slice(min(skip, len(cells)))  # a slice: offsets into the buffers
    values = [v for v in column.to_pylist() if v is not None]
    for text in (string_bytes(column), None):  # the bytes' answer where they give one, and the expressions alone
        assert numbers._all_int_like(column, text) == all(re.fullmatch(r"[+-]?[0-9]+", v) for v in values)
        assert numbers._some_hex_like(column, text) == any(re.match(r"[+-]?0[xX]", v) for v in values)
