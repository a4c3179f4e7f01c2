"""The text path: pyarrow reads the used columns as strings, then each becomes numbers, booleans or codes.

It is the fallback for every block the other paths reject (text, booleans,
hex-looking cells, unusual whitespace, ragged lines, integers beyond 2**53); it
numbers the lines, so it words the errors of bad lines and cells. Whether text
or booleans are allowed in a column is not its decision: it reports the kinds
of cell it found (``classify``) and the main process decides (csv2h5.kinds).
The helpers for string columns (categories, booleans, targets) serve the other
paths too.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import BadValueError, excerpt
from .arrow import arrow_failure, read_table
from .big_integers import integers_beside_floats
from .blocks import TextBlock
from .buffers import arrow_array, string_bytes, to_bools, to_numpy
from .cells import (
    BOOLEANS,
    DATELIKE,
    NUMBERS,
    TEXT,
    MixedBooleans,
    NotADate,
    boolean_mask,
    booleans,
    comma_number_flags,
    looks_like_dates,
    placeholder_flags,
    seconds_since_epoch,
)
from .kernels import (
    all_true,
    any_true,
    binary_length,
    cast,
    dictionary_encode,
    fill_null,
    filtered,
    if_else,
    is_null,
    is_valid,
    match_substring,
    match_substring_regex,
    replace_substring,
    smallest,
    utf8_trim_whitespace,
)
from .lines import bad_line_error, record_lines
from .missing import missing_labels, missing_number_cells, missing_numbers
from .plan import BlockColumns, ParsePlan
from .rounding import RoundedInteger, refuse_rounded_integers

_NOT_A_NUMBER = "\x00"  # stands for a cell that cannot be a number, whatever its text
_NONE_MISSING = np.zeros(0)  # no --na-values number


class NotANumber(Exception):
    """A cell of a string column that is not a number: its row and text."""

    def __init__(self, row: int, cell: str) -> None:
        super().__init__(row, cell)
        self.row = row
        self.cell = cell


def to_numbers(
    column, *, fill: float | None = None, decimal: str = ".", missing: np.ndarray = _NONE_MISSING
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


def category_codes(column) -> tuple[np.ndarray, list[str]]:
    """Block-local codes (float64, NaN for empty cells) and vocabulary of a string column."""
    encoded = dictionary_encode(column).combine_chunks()
    codes = to_numpy(encoded.indices).astype(np.float64)  # nulls become NaN
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]


def target_values(column, decimal: str = ".") -> np.ndarray:
    """A target column as numbers (int64 or float64), as bool for true/false labels, else as text (object).

    Raises:
        MixedBooleans: the labels are booleans beside other text.
    """
    try:
        return to_numbers(column, decimal=decimal)[0]
    except (NotANumber, RoundedInteger):  # labels kept as their text, never rounded
        pass
    truth = booleans(column)
    if truth is not None:
        return truth.astype(bool)
    return np.asarray(column.to_pylist(), dtype=object)


@dataclasses.dataclass(slots=True)
class FeatureColumn:
    """One feature column of a block as values, and what its cells were."""

    values: np.ndarray  # numbers, 0/1 for booleans, block-local codes for text (NaN: empty)
    cells: int  # cells.NUMBERS | BOOLEANS | TEXT | DATELIKE found among the non-empty cells
    vocabulary: list[str] | None = None  # when ``values`` are codes
    whole_with_empty: bool = False  # integers that empty cells made float
    empty_cells: int = 0  # of a column of numbers: its empty cells, those missing by --na-values too


def classify(column, *, fill: float | None, decimal: str = ".", missing: np.ndarray = _NONE_MISSING) -> FeatureColumn:
    """Read a string column whose kind is not fixed: numbers, else booleans, else text codes.

    A column with booleans beside other cells gives NaN values and both flags;
    whether that, or text, is allowed is the main process's decision.

    Raises:
        RoundedInteger: an integer beyond 2**53 among empty cells or decimals.
    """
    try:
        values, empty = to_numbers(column, fill=fill, decimal=decimal, missing=missing)
    except NotANumber:
        pass
    else:
        found = NUMBERS if len(column) > empty else 0
        whole = bool(empty) and values.dtype.kind == "f" and fill is None and whole_numbers_with_empty(values)
        return FeatureColumn(values, found, whole_with_empty=whole, empty_cells=empty)
    try:
        truth = booleans(column)
    except MixedBooleans:  # which kind the other cells are: numbers, or text
        valid = to_bools(is_valid(column))
        others = filtered(column, arrow_array(valid & ~boolean_mask(column)))
        try:
            to_numbers(others, decimal=decimal)
            found = BOOLEANS | NUMBERS
        except (NotANumber, RoundedInteger):
            found = BOOLEANS | TEXT
        return FeatureColumn(np.full(len(column), np.nan), found)
    if truth is not None:
        return FeatureColumn(truth, BOOLEANS)
    codes, vocabulary = category_codes(column)
    found = TEXT | (DATELIKE if looks_like_dates(column) else 0) | placeholder_flags(column, decimal)
    if decimal == ".":
        found |= comma_number_flags(column)
    return FeatureColumn(codes, found, vocabulary)


def whole_numbers_with_empty(values: np.ndarray) -> bool:
    """Whether a float column holds whole numbers and NaN (not NaN alone): integers that empty cells made float."""
    return bool(not (empty := np.isnan(values)).all() and np.all(empty | (values == np.rint(values))))


def parse_text(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns:
    """Parse a block through string columns, raising the project's error for the first bad line or cell it can judge.

    Cells of another kind than their column's are not judged here: they are
    reported in the block's ``cells`` flags for the main process.
    """
    import pyarrow as pa

    lines, bad, bad_pos = record_lines(data, block.first_line, plan, block.source)
    if bad and plan.on_bad_lines == "error":
        line, fields = bad[0]
        raise bad_line_error(block, data, line, fields, plan)
    if bad_pos:
        lines = np.delete(lines, bad_pos)
    used = sorted(set(plan.features) | set(plan.target))
    try:
        table = read_table(
            data, plan, {i: pa.string() for i in used}, on_invalid_row=lambda row: "skip"
        )  # counted and reported by record_lines
    except Exception as exc:  # pyarrow.ArrowInvalid: the one failure left after our own line checks
        raise arrow_failure(block, data, exc) from None
    rows = table.num_rows
    if rows != lines.size:  # pragma: no cover - both parsers follow RFC 4180; a mismatch is a bug
        raise RuntimeError(f"{block.source}:{block.first_line}: parsed {rows} rows but counted {lines.size} records")
    features = np.empty((rows, len(plan.features)), dtype=np.float64)
    cells = np.zeros(len(plan.features), dtype=np.uint8)
    categories: dict[int, list[str]] = {}
    widened: list[str] = []
    int_parts: dict[int, np.ndarray] = {}
    refusal, filled_integers = None, False
    categorical, datetime, boolean = set(plan.categorical), set(plan.datetime), set(plan.boolean)
    missing = missing_numbers(plan.dialect.na_values)
    for j, col in enumerate(plan.features):
        name = plan.names[col]
        column = table.column(name)
        if col in categorical:
            features[:, j], categories[j] = category_codes(column)
            continue
        if col in datetime:
            try:
                features[:, j] = seconds_since_epoch(column)
            except NotADate as bad:
                raise BadValueError(
                    f"{block.source}:{int(lines[bad.row])}: column {name!r} has {excerpt(bad.cell)!r}, which is not an"
                    " ISO-8601 date or date-time (such as 2024-05-31, 2024-05-31 14:30 or 2024-05-31T14:30:00+02:00);"
                    f" fix the cell, or leave {name} out of --datetime"
                ) from None
            continue
        try:
            found = classify(column, fill=None if col in boolean else plan.fill, decimal=plan.dialect.decimal, missing=missing)
        except RoundedInteger as big:
            beyond = (  # int64 holds the others exactly: they are read as floats only beside empty cells or decimals
                "outside int64 (-2**63 to 2**63 - 1), which float64 would round: no dtype holds it exactly"
                if not -(2**63) <= int(big.cell) < 2**63
                else "beyond 2**53 that no float holds exactly, among empty cells or decimals"
            )
            raise BadValueError(
                f"{block.source}:{int(lines[big.row])}: column {name!r} has {excerpt(big.cell)!r}, an integer {beyond};"
                f" pass --drop {name}, or --categorical {name} to store it as codes"
            ) from None
        cells[j] = found.cells
        if found.vocabulary is not None:
            categories[j] = found.vocabulary
        if found.whole_with_empty and col not in boolean:  # as the typed and wide paths say
            widened.append(name)
        if found.values.dtype.kind == "i":  # its empty cells, if any, took --fill as integers (to_numbers)
            int_parts[j], filled_integers = found.values, filled_integers or found.empty_cells > 0
        features[:, j] = found.values
    if int_parts and all(j in int_parts for j in range(len(plan.features))):
        features = (
            np.column_stack([int_parts[j] for j in range(len(plan.features))])
            if rows
            else np.zeros((0, len(plan.features)), np.int64)
        )
    elif int_parts:
        refusal = integers_beside_floats(block, table, lines, plan, int_parts, categories, widened, cells)
    target = _target(block, table, lines, plan) if plan.target else None
    first_row_line = int(lines[0]) if lines.size else block.first_line
    return BlockColumns(features, target, categories, widened, bad, lines, first_row_line, cells, refusal, filled_integers)


def _target(block: TextBlock, table, lines: np.ndarray, plan: ParsePlan) -> np.ndarray:
    """The target columns' values (one column, or a row of them), raising for an empty label or mixed booleans."""
    parts = []
    for col in plan.target:
        name = plan.names[col]
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(to_bools(is_null(column)))[0])
            raise BadValueError(
                f"{block.source}:{int(lines[row])}: target column {name!r} is empty; drop or fill the rows with no target"
            )
        try:
            parts.append(target_values(column, plan.dialect.decimal))
        except MixedBooleans as mixed:
            raise BadValueError(
                f"{block.source}:{int(lines[mixed.row])}: target column {name!r} has {excerpt(mixed.cell)!r} among"
                " true/false labels; make every label true or false, or none of them"
            ) from None
        if (rows := missing_labels(parts[-1], plan.dialect.na_values)).size:
            raise BadValueError(
                f"{block.source}:{int(lines[rows[0]])}: target column {name!r} has {excerpt(column[int(rows[0])].as_py())!r},"
                " a missing value by --na-values; drop or fill the rows with no target"
            )
    return parts[0] if len(parts) == 1 else np.column_stack(parts)
