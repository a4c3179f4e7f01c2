"""String cells as numbers: the cast every parse path's string columns go through, read as pandas reads them."""

from __future__ import annotations

import numpy as np

from .buffers import arrow_array, string_bytes, to_numpy
from .kernels import (
    all_true,
    any_true,
    binary_length,
    cast,
    fill_null,
    if_else,
    is_null,
    match_substring,
    match_substring_regex,
    replace_substring,
    smallest,
    utf8_trim_whitespace,
)
from .missing import missing_number_cells
from .rounding import refuse_rounded_integers

_NOT_A_NUMBER = "\x00"  # stands for a cell that cannot be a number, whatever its text
NO_MISSING = np.zeros(0)  # no --na-values number


class NotANumber(Exception):
    """A cell of a string column that is not a number: its row and text."""

    def __init__(self, row: int, cell: str) -> None:
        super().__init__(row, cell)
        self.row = row
        self.cell = cell


def to_numbers(
    column, *, fill: float | None = None, decimal: str = ".", missing: np.ndarray = NO_MISSING
) -> tuple[np.ndarray, int]:
    """Convert a pyarrow string column to int64 or float64: (values, how many cells are empty).

    An integer column with empty cells comes back as float64 with NaN, unless ``fill``
    is a whole number: then it is filled as integers (a float would round beyond 2**53).
    With ``decimal`` ",", 70,5 is 70.5 and 70.5 is not a number (as pandas' ``decimal=","``).
    A cell whose value is one of ``missing`` (--na-values numbers: reader.missing) is empty.

    Raises:
        NotANumber: for the first cell that is neither empty nor a decimal number.
    """
    import pyarrow as pa

    column = original = utf8_trim_whitespace(column)  # " 6 " is 6, as pandas reads it
    if decimal != ".":
        column = _with_decimal_point(column, decimal)
    nulls = is_null(column)
    has_null = bool(any_true(nulls).as_py()) if len(column) else False
    # pyarrow reads "0x1F" as 31; pandas and Python's float() call it text. Decimal only:
    # a hex-looking cell is usually an identifier, not a quantity.
    text = string_bytes(column) if len(column) else None  # the cells' bytes, looked at by both checks
    hex_like = bool(len(column)) and _some_hex_like(column, text)
    # A failed cast costs ten times a successful one: try int64 only where every cell looks like one.
    int_like = not len(column) or _all_int_like(column, text)
    for target_type in (pa.int64(), pa.float64()) if int_like else (pa.float64(),):
        if hex_like:
            break
        try:
            converted = cast(column, target_type) if target_type != pa.int64() else _integers(column, text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        integral_fill = fill is not None and float(fill).is_integer()
        if target_type == pa.int64() and has_null and integral_fill:
            converted = fill_null(converted, _scalar(np.array([int(fill)])))
        # int64 with empty cells comes back as float64 with NaN; float64 as is
        values = to_numpy(converted)
        empty = column.null_count
        if missing.size and (hit := missing_number_cells(values, missing)).any():
            values = values.copy() if values.dtype.kind == "i" and integral_fill else values.astype(np.float64)
            values[hit] = int(fill) if values.dtype.kind == "i" else np.nan
            empty += int(np.count_nonzero(hit))
        if values.dtype.kind == "f":
            refuse_rounded_integers(column, values)
        return values, empty
    for row, cell in enumerate(column.to_pylist()):  # noqa: B007 - the row is named after the loop
        if cell is None:
            continue
        if cell == _NOT_A_NUMBER:  # a cell with a decimal point where the decimal mark is a comma
            break
        if not cell.isascii() or "_" in cell:  # float() reads "1_000" and Arabic-Indic digits; pyarrow does not
            break
        try:
            float(cell)
        except ValueError:
            break
    else:  # pragma: no cover - pyarrow rejected a cell Python accepts (e.g. "1_0")
        row = 0
    raise NotANumber(row, original[row].as_py())


def _scalar(values):
    """The arrow scalar of the one value of a list of str or a numpy array.

    Not ``pa.scalar``, nor a Python value handed to a kernel (pyarrow makes it one with
    ``pa.scalar``): that imports pandas, 0.15-0.3 s of a small file's conversion.
    """
    return arrow_array(values)[0]


# The regular expressions below cost more than the cast they guard (0.5 ms each per 4 MiB block of
# HIGGS-shaped labels): the bytes of the cells answer first where they can. Both answers are exact:
# a hex-looking cell holds an x or X, and a column of integers holds no byte but signs and digits
# (and where it holds no sign either, its cells are integers unless one is empty text).
_INTEGER_BYTES = b"+-0123456789"


def _integers(column, text: bytes | None):
    """A column of integer cells (``_all_int_like``) as int64: pyarrow refuses a leading + (+1), which pandas reads."""
    import pyarrow as pa

    try:
        return cast(column, pa.int64())
    except pa.ArrowInvalid:
        if text is not None and b"+" not in text:
            raise
    return cast(replace_substring(column, "+", ""), pa.int64())  # a + is only ever a sign here


def _some_hex_like(column, text: bytes | None) -> bool:
    """Whether some cell starts as a hexadecimal number does (0x1F, -0X2); ``text``: the cells' bytes, or None."""
    if text is not None and b"x" not in text and b"X" not in text:
        return False
    return bool(any_true(match_substring_regex(column, r"^[+-]?0[xX]")).as_py())


def _all_int_like(column, text: bytes | None) -> bool:
    """Whether every non-empty cell is written as an integer (digits, a sign before them); ``text`` as above."""
    if text is not None:
        if text[:64].translate(None, _INTEGER_BYTES) or text.translate(None, _INTEGER_BYTES):  # decimals: at once
            return False
        if b"+" not in text and b"-" not in text:  # digits alone (no sign misplaced): each cell that has some
            shortest = smallest(binary_length(column)).as_py()
            return shortest is None or shortest > 0
    return all_true(match_substring_regex(column, r"^[+-]?[0-9]+$")).as_py() is not False


def _with_decimal_point(column, decimal: str):
    """Cells with ``decimal`` as their decimal mark, rewritten with a point for pyarrow's cast.

    A cell holding a point is no number then (1.5 where 70,5 is 70.5): it becomes a
    cell that no cast reads, so it is reported as text, as pandas reads it.
    """
    dotted = match_substring(column, ".")
    return if_else(dotted, _scalar([_NOT_A_NUMBER]), replace_substring(column, decimal, "."))
