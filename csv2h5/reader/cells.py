"""What the cells of a string column are (numbers, booleans, text, dates) and their values.

A feature column whose kind the user did not fix is classified block by block
from its non-empty cells, as bit flags the main process unites over blocks
(see :mod:`csv2h5.kinds`): ``NUMBERS`` (every such cell a decimal number),
``BOOLEANS`` (``true``/``false`` in any letter case), ``TEXT`` (anything else;
a column with booleans beside other cells has both flags).

Booleans and dates are read with spaces around them trimmed, as numbers are;
text stays byte for byte as written.
"""

from __future__ import annotations

import itertools

import numpy as np

from .buffers import arrow_array, to_bools, to_numpy
from .kernels import (
    all_true,
    any_true,
    cast,
    dictionary_encode,
    drop_null,
    filtered,
    is_in,
    is_valid,
    match_substring,
    match_substring_regex,
    take,
    utf8_lower,
    utf8_trim_whitespace,
)

NUMBERS, BOOLEANS, TEXT = 1, 2, 4  # kinds of non-empty cell found in a column, as bit flags
DATELIKE = 8  # beside TEXT: every text cell is an ISO-8601 date or date-time (worth suggesting --datetime)
DECIMAL_COMMA = 16  # beside TEXT: every cell is a number, some written with a decimal comma (70,5: --decimal ,)
GROUPED = 32  # beside DECIMAL_COMMA: every comma groups digits by three (1,234), as a thousands separator would
# Beside TEXT: every text cell is a placeholder for a missing value (``missing_mark``: ?, -, n/a) and some
# other cell a number: a column of numbers whose missing cells want --na-values, not codes.
PLACEHOLDERS = 64


def _spellings(word: str) -> list[str]:
    """``word`` in every letter case: true, True, TRUE, tRuE, ..."""
    return ["".join(letters) for letters in itertools.product(*((c.lower(), c.upper()) for c in word))]


TRUE_SPELLINGS = _spellings("true")
FALSE_SPELLINGS = _spellings("false")

# ISO 8601 as CSV exports write it: a date, optionally a time (T or a space, hours, minutes,
# seconds, up to 9 fraction digits) and a UTC offset (Z, +hh, +hhmm, +hh:mm).
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
ISO_DATETIME = rf"^{_DATE}(?:{_TIME}{_OFFSET}?)?$"
_WITH_OFFSET = rf"^{_DATE}{_TIME}{_OFFSET}$"


class NotADate(Exception):
    """A cell of a --datetime column that is not an ISO-8601 date or date-time: its row and text."""

    def __init__(self, row: int, cell: str) -> None:
        super().__init__(row, cell)
        self.row = row
        self.cell = cell


class MixedBooleans(Exception):
    """A column with booleans beside other cells: the row and text of the first cell that is not one."""

    def __init__(self, row: int, cell: str) -> None:
        super().__init__(row, cell)
        self.row = row
        self.cell = cell


def _lowered(column):
    """The cells as booleans are compared: in lower case, without the whitespace around them."""
    return utf8_lower(utf8_trim_whitespace(column))


def _among(lowered, words: list[str]) -> np.ndarray:
    # is_in, not equal(.., "true"): a Python scalar makes pyarrow import pandas
    return to_bools(is_in(lowered, value_set=arrow_array(words)))


def boolean_mask(column) -> np.ndarray:
    """Which cells of a string column are true or false (any letter case, spaces around allowed)."""
    return _among(_lowered(column), ["true", "false"])


def booleans(column) -> np.ndarray | None:
    """1.0 for true, 0.0 for false, NaN for empty cells; None unless every non-empty cell is a boolean.

    Raises:
        MixedBooleans: the column has booleans and other cells.
    """
    if not len(column):
        return None
    valid = to_bools(is_valid(column))
    lowered = _lowered(column)  # once, for both questions below
    is_boolean = _among(lowered, ["true", "false"])
    if not is_boolean.any():
        return None
    others = valid & ~is_boolean
    if others.any():
        row = int(np.flatnonzero(others)[0])
        raise MixedBooleans(row, column[row].as_py())
    truth = _among(lowered, ["true"])
    return np.where(valid, truth.astype(np.float64), np.nan)


def looks_like_dates(column) -> bool:
    """Whether every non-empty cell is an ISO-8601 date or date-time (and there is one)."""
    cells = drop_null(utf8_trim_whitespace(column))
    return len(cells) > 0 and bool(all_true(match_substring_regex(cells, ISO_DATETIME)).as_py())


# A number with a decimal comma (70,5 or -0,25e3), or a plain integer beside such numbers.
_COMMA_NUMBER = r"^[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?$"


def looks_like_decimal_commas(column) -> bool:
    """Whether every non-empty cell is a number written with a decimal comma, or an integer (and one has a comma)."""
    cells = drop_null(utf8_trim_whitespace(column))
    return (
        len(cells) > 0
        and bool(any_true(match_substring(cells, ",")).as_py())
        and bool(all_true(match_substring_regex(cells, _COMMA_NUMBER)).as_py())
    )


# Digits grouped by three after the first one to three: 1,234 and 12,345,678 (US thousands) or 1,234 (a decimal).
_GROUPED_NUMBER = r"^[+-]?\d{1,3}(,\d{3})+$"


def comma_number_flags(column) -> int:
    """``DECIMAL_COMMA`` for a text column of numbers with decimal commas, with ``GROUPED`` when every comma
    groups digits by three (1,234: perhaps a thousands separator); 0 for other text."""
    if not looks_like_decimal_commas(column):
        return 0
    cells = drop_null(utf8_trim_whitespace(column))
    with_comma = filtered(cells, match_substring(cells, ","))
    grouped = bool(all_true(match_substring_regex(with_comma, _GROUPED_NUMBER)).as_py())
    return DECIMAL_COMMA | (GROUPED if grouped else 0)


# A number as pyarrow's float parser reads one, spaces around allowed (a decimal point; a comma for --decimal ,).
NUMBER_TEXT = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(?i:inf|infinity|nan)\s*$"
_COMMA_NUMBER_TEXT = NUMBER_TEXT.replace(r"\.", ",")
# Words written for a missing value beside pandas' own spellings (which are missing already): any letter case.
_MISSING_WORDS = {"na", "n/a", "n.a.", "n.a", "nan", "null", "none", "nil", "missing", "unknown", "undefined"}
_MAX_PLACEHOLDERS = 3  # distinct placeholder spellings a column of numbers may hold


def missing_mark(cell: str) -> str | None:
    """The cell without spaces around it if it looks written for a missing value, else None.

    A few punctuation marks ("?" in UCI's tables, "-", "--") or a word such as n/a or unknown.
    """
    mark = cell.strip()
    if mark.lower() in _MISSING_WORDS or (mark and len(mark) <= 3 and not any(c.isalnum() for c in mark)):
        return mark
    return None


def placeholder_flags(column, decimal: str = ".") -> int:
    """``PLACEHOLDERS`` for a text column whose every cell is a number or a placeholder (``missing_mark``), else 0."""
    cells = drop_null(utf8_trim_whitespace(column))
    number = to_bools(match_substring_regex(cells, NUMBER_TEXT if decimal == "." else _COMMA_NUMBER_TEXT))
    if number.all() or not number.any():  # no text, or no numbers
        return 0
    odd = dictionary_encode(filtered(cells, arrow_array(~number))).combine_chunks().dictionary
    if len(odd) > _MAX_PLACEHOLDERS:
        return 0
    return PLACEHOLDERS if all(missing_mark(cell) is not None for cell in odd.to_pylist()) else 0


def seconds_since_epoch(column) -> np.ndarray:
    """ISO-8601 dates and date-times as float64 seconds since 1970-01-01 UTC (NaN for empty cells).

    A value without a UTC offset is read as UTC. Fractions of a second are kept to
    the nanosecond for years 1678-2261, to the microsecond for years 1-9999; the
    float64 result holds them to about a microsecond for dates of this century.

    Raises:
        NotADate: for the first non-empty cell that is not one.
    """
    cells = utf8_trim_whitespace(column)
    valid = to_bools(is_valid(cells))
    # Empty cells (nulls) count as dates here and as without an offset below; no fill_null(.., True):
    # a Python scalar makes pyarrow import pandas.
    iso = to_bools(match_substring_regex(cells, ISO_DATETIME)) | ~valid
    if not iso.all():
        row = int(np.flatnonzero(~iso)[0])
        raise NotADate(row, column[row].as_py())
    aware = to_bools(match_substring_regex(cells, _WITH_OFFSET))
    seconds = np.full(len(cells), np.nan)
    for rows, zone in ((np.flatnonzero(valid & ~aware), None), (np.flatnonzero(valid & aware), "UTC")):
        if rows.size:
            seconds[rows] = _timestamps(take(cells, arrow_array(rows)), zone, rows, column)
    return seconds


def _timestamps(cells, zone: str | None, rows: np.ndarray, column) -> np.ndarray:
    """Seconds since the epoch of ISO cells that all have (zone "UTC") or all lack an offset."""
    seconds = _cast_seconds(cells, zone)
    if seconds is not None:
        return seconds
    # Cell by cell: units differ (a 9-digit fraction beside a year past 2262), or a date the
    # calendar lacks, such as 2021-02-30.
    out = np.empty(len(cells))
    for i, cell in enumerate(cells.to_pylist()):
        one = _cast_seconds(arrow_array([cell]), zone)
        if one is None:
            row = int(rows[i])
            raise NotADate(row, column[row].as_py())
        out[i] = one[0]
    return out


def _cast_seconds(cells, zone: str | None) -> np.ndarray | None:
    """Seconds since the epoch through pyarrow's ISO-8601 parser, or None if a cell does not parse."""
    import pyarrow as pa

    for unit, per_second in (("ns", 10**9), ("us", 10**6)):  # ns first: its range ends in 2262
        try:
            ticks = to_numpy(cast(cast(cells, pa.timestamp(unit, zone)), pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        whole, part = np.divmod(ticks, per_second)
        return whole.astype(np.float64) + part / per_second  # one rounding: exact for whole seconds
    return None
