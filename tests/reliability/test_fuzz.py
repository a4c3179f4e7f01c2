"""Fuzzing against oracles that are not the converter.

Valid CSV text (integers, decimals, missing-value spellings, quoted and padded numbers,
CRLF, blank lines, lines of spaces) must convert, and every cell must come back as Python reads its
text: an integer as ``int(text)``, a decimal as ``float(text)``, exactly, or, in a
float32 file, as the float32's shortest text (``float(str(np.float32(stored))) ==
float(text)``: 0.1), a missing-value spelling as NaN. Text with one bad cell or line of a known kind at a
known line must fail with the project's one-line error naming that line (and the
column, for a cell that is not a number), leaving no output.

CI runs Hypothesis' default number of examples; for a long local run:
``pytest --hypothesis-profile=long tests/reliability/test_fuzz.py`` (see tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pandas_missing import PANDAS_DEFAULT_NA

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, Csv2H5Error, InputError

FLOAT64_EXACT = 2**53  # integers up to this size have an exact float64


@dataclasses.dataclass(frozen=True)
class Table:
    """CSV text with the meaning of every data cell, row by row."""

    text: str
    cells: list[list[str]]  # unquoted cell text as written, data rows only
    lines: list[int]  # the physical line of each data row


def _spell_integer(draw, value: int, *, plus: bool) -> str:
    text = str(value)
    if value >= 0 and draw(st.integers(0, 5)) == 0:
        text = draw(st.sampled_from(["+", "0", "00"] if plus else ["0", "00"])) + text  # "+5", "05": the integer 5
    return text


# Powers of two just under a power of ten (9.765625e-4 = 2**-10): just above them float32's
# spacing (2**-23 of the value) is wider than that of 7-digit decimals (1e-6 / 9.77 of it).
COARSE_POWERS = [k for k in range(-60, 61) if float(f"{2.0**k:e}"[:8]) > 8.4]


def _spell_decimal(draw, digits: int) -> str:
    """A decimal of about ``digits`` significant digits, in one of the usual spellings."""
    sign = draw(st.sampled_from(["", "", "-"]))
    if draw(st.booleans()):  # just above a power of two, where float32 is coarsest: 7 digits are too many there
        power = 2.0 ** draw(st.sampled_from(COARSE_POWERS))
        exponent = math.floor(math.log10(power)) - digits + 1
        mantissa = max(1, round(power / 10.0**exponent) + draw(st.integers(-3, 30)))
        return f"{sign}{mantissa}e{exponent}"
    mantissa = draw(st.integers(10 ** (digits - 1), 10**digits - 1))
    exponent = draw(st.integers(-12, 12))
    style = draw(st.sampled_from(["e", "E", "point"]))
    if style == "point":
        scale = draw(st.integers(1, digits + 3))  # digits after the point
        whole, fraction = divmod(mantissa, 10**scale)
        return f"{sign}{whole}.{fraction:0{scale}d}"
    text = str(mantissa)
    return f"{sign}{text[0]}.{text[1:]}{style}{exponent}" if digits > 1 else f"{sign}{text}{style}{exponent}"


@st.composite
def valid_tables(draw) -> Table:
    columns = draw(st.integers(1, 4))
    # Each file draws its kinds of cell: integer-only files must stay integer, and a file's
    # decimals share one precision so that float32 (<= 6 digits) and float64 both occur.
    kinds = draw(st.sets(st.sampled_from(["byte", "int", "bigint", "decimal", "na", "inf"]), min_size=1))
    if "bigint" in kinds and kinds & {"decimal", "na", "inf"}:
        kinds.discard("bigint")  # no float holds every integer beyond 2**53: refused (test_convert.py)
    digits = draw(st.sampled_from([1, 2, 3, 5, 6, 6, 7, 7, 8, 9]))  # 6 fit float32, 7 no longer: the boundary
    # pyarrow reads "+5" as a decimal (its value exact), so a column of them is not an integer
    # column, and integers beyond 2**53 cannot share the file with it.
    plus = "bigint" not in kinds

    def cell() -> str:
        kind = draw(st.sampled_from(sorted(kinds)))
        if kind == "byte":
            text = _spell_integer(draw, draw(st.integers(0, 255)), plus=plus)
        elif kind == "int":
            value = draw(st.one_of(st.integers(-(2**24), 2**24), st.integers(-FLOAT64_EXACT, FLOAT64_EXACT)))
            text = _spell_integer(draw, value, plus=plus)  # up to 2**24 a float32 holds them
        elif kind == "bigint":
            text = str(draw(st.integers(-(2**63), 2**63 - 1)))
        elif kind == "decimal":
            text = _spell_decimal(draw, digits)
        elif kind == "inf":
            text = draw(st.sampled_from(["inf", "-inf", "Inf", "+inf"]))
        else:
            # In a one-column file an empty cell is a blank line, which is skipped.
            text = draw(st.sampled_from(PANDAS_DEFAULT_NA[1:] if columns == 1 else PANDAS_DEFAULT_NA))
        return text

    def written(text: str) -> str:
        if text and draw(st.integers(0, 7)) == 0:
            return f'"{text}"'  # a quoted number is still a number
        if text and text not in PANDAS_DEFAULT_NA and draw(st.integers(0, 7)) == 0:
            return f" {text} "  # padding around a number, as pandas reads it
        return text

    lines = [",".join(f"c{i}" for i in range(columns))]
    cells, numbers = [], []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "", " ", "\t ", "   "])))  # blank: skipped, but counted in line numbers
        row = [cell() for _ in range(columns)]
        cells.append(row)
        numbers.append(len(lines) + 1)
        lines.append(",".join(written(text) for text in row))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from([end, ""]))
    return Table(text, cells, numbers)


def _meaning(text: str) -> int | float:
    """What Python reads in a cell: NaN for a missing-value spelling, else int(text) or float(text)."""
    if text in PANDAS_DEFAULT_NA:
        return float("nan")
    try:
        return int(text)
    except ValueError:
        return float(text)


def _holds(stored: np.generic, expected: int | float) -> bool:
    """Whether a stored cell gives back the text's value: exactly (Python compares int and float
    exactly: 2**53 + 1 != 2.0**53), or for float32 as its shortest decimal text (0.1)."""
    if isinstance(expected, float) and np.isnan(expected):
        return stored.dtype.kind == "f" and bool(np.isnan(stored))
    if stored.item() == expected:
        return True
    return stored.dtype == np.float32 and float(str(stored)) == expected


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=valid_tables(), block_bytes=st.sampled_from([16, 1 << 20]))
# Two 7-digit decimals that one float32 cannot tell apart: float32 only when <= 6 digits.
@example(table=Table("c0,c1\n9.765628e-4,9.765629e-4\n", [["9.765628e-4", "9.765629e-4"]], [2]), block_bytes=1 << 20)
def test_valid_csv_converts_to_what_python_reads(table, block_bytes):
    with tempfile.TemporaryDirectory() as work:
        src, out = Path(work) / "in.csv", Path(work) / "out.h5"
        src.write_bytes(table.text.encode("utf-8"))
        convert([src], out, options=ConvertOptions(block_bytes=block_bytes, workers=0))
        with h5py.File(out, "r") as f:
            stored = f["features"][()]
    assert stored.shape == (len(table.cells), len(table.cells[0]))
    for row, (texts, line) in enumerate(zip(table.cells, table.lines)):
        for column, text in enumerate(texts):
            assert _holds(stored[row, column], _meaning(text)), (
                f"line {line}, column c{column}: {text!r} stored as {stored[row, column]!r}"
            )


# Cells that pandas does not read as numbers; Python's float() reads the last two ("1_000" and
# Arabic-Indic digits), which must not confuse the search for the bad cell.
NOT_A_NUMBER = ["abc", "0x1F", "1.5.5", "--1", "1e", "e5", "12abc", "nan nan", "1_000", "\u0661\u0662"]


@st.composite
def invalid_tables(draw) -> tuple[str, int, int, str, type[Csv2H5Error]]:
    """(text, line, column, what, error) for a valid table with one bad cell or line."""
    table = draw(valid_tables())
    row = draw(st.integers(0, len(table.cells) - 1))
    columns = len(table.cells[0])
    column = draw(st.integers(0, columns - 1))
    kind = draw(st.sampled_from(["text", "more fields", "fewer fields", "bad utf-8"]))
    cells = [list(r) for r in table.cells]
    if kind == "text":
        bad = draw(st.sampled_from(NOT_A_NUMBER))
        cells[row][column] = bad
        error, what = BadValueError, f"column 'c{column}' has {bad!r}, which is not a number"
    elif kind == "more fields":
        cells[row].append("7")
        error, what = BadLineError, f"expected {columns} fields as in the header, found {columns + 1}"
    elif kind == "fewer fields" and columns > 1:
        cells[row] = ["1"] * (columns - 1)  # not empty cells: one empty field is a blank line
        error, what = BadLineError, f"expected {columns} fields as in the header, found {columns - 1}"
    else:
        cells[row][column] = "1\udcff"  # a lone byte 0xFF: not UTF-8
        error, what = InputError, "not valid UTF-8"
    lines = table.text.split("\n")
    line = table.lines[row]
    lines[line - 1] = ",".join(cells[row]) + ("\r" if lines[line - 1].endswith("\r") else "")
    return "\n".join(lines), line, column, what, error


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=invalid_tables(), block_bytes=st.sampled_from([16, 1 << 20]))
def test_one_bad_cell_fails_naming_its_line_and_column(case, block_bytes):
    text, line, column, what, error = case
    with tempfile.TemporaryDirectory() as work:
        src, out = Path(work) / "in.csv", Path(work) / "out.h5"
        src.write_bytes(text.encode("utf-8", "surrogateescape"))
        with pytest.raises(Csv2H5Error) as caught:
            convert([src], out, options=ConvertOptions(block_bytes=block_bytes, workers=0))
        message = str(caught.value)
        assert type(caught.value) is error, message
        assert message.startswith(f"{src}:{line}: "), (line, message)
        assert what in message, (what, message)
        assert "\n" not in message and len(message) < 400
        assert sorted(p.name for p in Path(work).iterdir()) == ["in.csv"]
