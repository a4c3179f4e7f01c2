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
from .buffers import arrow_array, to_bools, to_numpy
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
from .kernels import dictionary_encode, filtered, is_null, is_valid
from .lines import bad_line_error, record_lines
from .missing import missing_labels, missing_numbers
from .numbers import NO_MISSING, NotANumber, to_numbers
from .plan import BlockColumns, ParsePlan
from .rounding import RoundedInteger

NO_TARGET_ADVICE = "fill in the missing labels, or pass --on-bad-lines skip (or warn) to leave the rows with no target out"


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


def classify(column, *, fill: float | None, decimal: str = ".", missing: np.ndarray = NO_MISSING) -> FeatureColumn:
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
    table, lines, bad, no_target = _records(block, data, plan)
    rows = table.num_rows
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
    return BlockColumns(
        features, target, categories, widened, bad, lines, first_row_line, cells, refusal, filled_integers, no_target
    )


def _records(block: TextBlock, data: bytes, plan: ParsePlan) -> tuple[object, np.ndarray, list[tuple[int, int]], int]:
    """The block's used columns as strings, the line of each row, the bad lines skipped, and how many had no target.

    A line with the wrong number of fields is refused, or skipped with --on-bad-lines skip or warn;
    so is a row with no target (``rows_without_target``) under those, and left out of the table.
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
    if table.num_rows != lines.size:  # pragma: no cover - both parsers follow RFC 4180; a mismatch is a bug
        raise RuntimeError(f"{block.source}:{block.first_line}: parsed {table.num_rows} rows but counted {lines.size} records")
    no_target = 0
    if plan.target and plan.on_bad_lines != "error":
        none = rows_without_target(table, plan)
        if none.any():
            no_target = int(np.count_nonzero(none))
            bad = sorted(bad + [(int(line), len(plan.names)) for line in lines[none]])
            table, lines = filtered(table, arrow_array(~none)), lines[~none]
    return table, lines, bad, no_target


def rows_without_target(table, plan: ParsePlan) -> np.ndarray:
    """Which rows of a block's table (target columns as strings) have no target: an empty cell, or a --na-values number."""
    none = np.zeros(table.num_rows, dtype=bool)
    numbers = missing_numbers(plan.dialect.na_values).size > 0  # text spellings are empty cells already
    for col in plan.target:
        column = table.column(plan.names[col])
        if column.null_count:
            none |= to_bools(is_null(column))
        if numbers:
            try:
                values = to_numbers(column, decimal=plan.dialect.decimal)[0]
            except (NotANumber, RoundedInteger):  # text labels
                continue
            none[missing_labels(values, plan.dialect.na_values)] = True
    return none


def _target(block: TextBlock, table, lines: np.ndarray, plan: ParsePlan) -> np.ndarray:
    """The target columns' values (one column, or a row of them), raising for an empty label or mixed booleans."""
    parts = []
    for col in plan.target:
        name = plan.names[col]
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(to_bools(is_null(column)))[0])
            raise BadValueError(f"{block.source}:{int(lines[row])}: target column {name!r} is empty; {NO_TARGET_ADVICE}")
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
                f" a missing value by --na-values; {NO_TARGET_ADVICE}"
            )
    return parts[0] if len(parts) == 1 else np.column_stack(parts)
