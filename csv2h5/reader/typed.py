"""The typed path: pyarrow parses every numeric column straight to float64, in one pass.

This is the fast path for decimal data. It reads a block only where the result
is the one the text path would give, and otherwise rejects it (returns None) so
the text path reads it instead, with its exact messages:

- a cell that is not a plain decimal number (text, booleans, ``0x1F``, Unicode
  spaces, a byte-order mark): pyarrow's float parser refuses it;
- a cell of a boolean column that is not true or false (pyarrow's bool parser,
  told every letter case of both, refuses it);
- a ragged line (too many or too few fields);
- a whole number of magnitude 2**53 or more, which float64 may have rounded
  (the text path keeps such integers exact, or says why it cannot);
- an empty target cell (under ``--on-bad-lines skip`` or ``warn`` its row is left
  out here instead, as the text path leaves it out), a cell of a ``--datetime``
  column that is not a date, true/false labels beside other labels.

Text columns (categorical features, dates, targets) are read as strings and
handled by the text path's helpers, so labels, codes and seconds are the same
either way. Which arrow type each kind of column is read as is decided in
``_column_types``; ``typed_columns`` turns typed columns into a block's arrays,
for the wide path too.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ..schema import past_exact
from .arrow import missing_spellings, read_table
from .blocks import TextBlock
from .buffers import arrow_array, to_numpy
from .cells import BOOLEANS, NUMBERS, MixedBooleans, NotADate, seconds_since_epoch
from .kernels import cast, filtered
from .lines import record_lines, row_lines_unquoted
from .missing import missing_labels, missing_number_cells, missing_numbers
from .plan import BlockColumns, ParsePlan
from .text import RoundedInteger, category_codes, classify, rows_without_target, target_values


def _column_types(plan: ParsePlan) -> dict[int, object]:
    """The arrow type each used column is parsed as: numbers as float64, booleans as bool, text as strings."""
    import pyarrow as pa

    types: dict[int, object] = {i: pa.float64() for i in plan.features}
    for i in plan.boolean:
        types[i] = pa.bool_()
    for i in (*plan.categorical, *plan.datetime, *plan.target):
        types[i] = pa.string()
    return types


def parse_typed(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns | None:
    """Parse a block with numeric columns typed as float64, or None where the text path must read it."""
    import pyarrow as pa

    types = _column_types(plan)
    try:  # no handler for ragged lines: pyarrow stops at the first, and the text path reports it
        table = read_table(data, plan, types, on_invalid_row=None, null_values=missing_spellings(data, plan))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a cell that is not a number, a ragged line, ...
        return None
    position = {col: i for i, col in enumerate(sorted(types))}  # the table holds the used columns in CSV order
    skipped = _without_target(block, data, plan, table)
    if skipped is False:
        return None
    if skipped is None:
        return typed_columns(plan, table.num_rows, lambda col: table.column(position[col]), first_row_line(block, data))
    table, lines, bad = skipped
    first = int(lines[0]) if lines.size else block.first_line
    parsed = typed_columns(plan, table.num_rows, lambda col: table.column(position[col]), first)
    if parsed is not None:
        parsed.bad_lines, parsed.lines, parsed.no_target_lines = bad, lines, len(bad)
    return parsed


def _without_target(block: TextBlock, data: bytes, plan: ParsePlan, table):
    """The table without its rows that have no target, the lines of those kept and of those left out (as bad lines).

    Under --on-bad-lines skip or warn only, as the text path leaves them out; None: no such row;
    False: the text path must read the block.
    """
    if not plan.target or plan.on_bad_lines == "error":
        return None
    none = rows_without_target(table, plan)
    if not none.any():
        return None
    if plan.dialect.quotechar.encode() in data:
        lines, bad, _ = record_lines(data, block.first_line, plan, block.source)
    else:  # pyarrow read no ragged line: a record is a line
        lines, bad = row_lines_unquoted(data, block.first_line), []
    if bad or lines.size != table.num_rows:  # pragma: no cover - both parsers follow RFC 4180
        return False
    return filtered(table, arrow_array(~none)), lines[~none], [(int(line), len(plan.names)) for line in lines[none]]


def first_row_line(block: TextBlock, data: bytes) -> int:
    """The line of a block's first row: pyarrow skips blank lines (and the lines stripped comments leave)."""
    return block.first_line + data[: len(data) - len(data.lstrip(b"\r\n"))].count(b"\n")


def typed_columns(
    plan: ParsePlan, rows: int, column_of, first_line: int, numbers: np.ndarray | None = None, classified: Collection[int] = ()
) -> BlockColumns | None:
    """A block's arrays from columns read typed (``_column_types``), or None where the text path must read it.

    Args:
        plan: the parse plan.
        rows: rows in the block.
        column_of: CSV position -> that column as a pyarrow array (float64, bool or string).
        first_line: the line of the block's first row.
        numbers: the number columns (those not categorical, datetime, boolean or
            ``classified``) already as a (rows, count) float64 array, in feature order;
            None: read them through ``column_of``.
        classified: feature columns given as strings whose kind their cells say
            (text.classify), as the text path reads them.
    """
    import pyarrow as pa

    # Column by column (order="F"): each column is one contiguous copy, and the checks and
    # statistics that follow run down columns; parse_block hands the rows on row by row.
    features = np.empty((rows, len(plan.features)), dtype=np.float64, order="F")
    cells = np.zeros(len(plan.features), dtype=np.uint8)
    categories: dict[int, list[str]] = {}
    widened: list[int] = []  # feature positions of integer columns that empty cells made float
    filled_integers = False  # --fill in empty cells of integer columns read as strings (classify fills them)
    positions = np.asarray(plan.features, dtype=np.int64)
    special = np.isin(positions, [*plan.categorical, *plan.datetime, *plan.boolean, *classified])
    numeric = np.flatnonzero(~special)
    if numbers is None:
        for j in numeric:
            features[:, j] = to_numpy(column_of(int(positions[j])))  # empty cells (nulls) become NaN
    elif numeric.size == len(plan.features):
        features = numbers if numbers.flags.writeable else numbers.copy()  # a view of arrow's buffer is read-only
    else:
        features[:, numeric] = numbers
    missing = missing_numbers(plan.dialect.na_values)
    if missing.size and numeric.size:  # -9.99e2 and -999.0 are missing by --na-values -999, as -999 is
        _make_missing(features, numeric, missing)
    categorical, datetime, boolean = set(plan.categorical), set(plan.datetime), set(plan.boolean)
    for j in np.flatnonzero(special):
        col = int(positions[j])
        column = column_of(col)
        if col in categorical:
            features[:, j], categories[j] = category_codes(column)
        elif col in datetime:
            try:
                features[:, j] = seconds_since_epoch(column)
            except NotADate:  # the text path says where
                return None
        elif pa.types.is_boolean(column.type):
            features[:, j] = to_numpy(cast(column, pa.float64()))
            cells[j] = BOOLEANS if column.null_count < len(column) else 0
        else:  # strings (the wide path): booleans expected, or cells of any kind
            try:
                found = classify(
                    column, fill=None if col in boolean else plan.fill, decimal=plan.dialect.decimal, missing=missing
                )
            except RoundedInteger:  # the text path says where
                return None
            if found.values.dtype.kind == "i" and past_exact(found.values) is not None:
                return None  # integers a float64 would round: the text path keeps them exact or says why not
            features[:, j], cells[j] = found.values, found.cells
            filled_integers |= found.values.dtype.kind == "i" and found.empty_cells > 0
            if found.vocabulary is not None:
                categories[j] = found.vocabulary
            if found.whole_with_empty and col not in boolean:  # as a column read as float64 would say
                widened.append(int(j))
    number_values = features if numeric.size == len(plan.features) else features[:, numeric]
    if past_exact(number_values) is not None:
        return None
    empty = np.isnan(number_values)
    if rows:
        cells[numeric] = np.where(empty.all(axis=0), 0, NUMBERS)
    target = typed_target(plan, column_of)
    if target is False:
        return None
    widened += whole_numbers_with_empty_columns(number_values, empty, numeric, plan)
    names = [plan.names[plan.features[j]] for j in sorted(widened)]  # in column order, as the text path lists them
    return BlockColumns(features, target, categories, names, [], None, first_line, cells, filled_integers=filled_integers)


def _make_missing(features: np.ndarray, numeric: np.ndarray, missing: np.ndarray) -> None:
    """Empty (NaN) the cells of the ``numeric`` feature positions whose value is one of ``missing``, in place."""
    part = features[:, numeric]
    hit = missing_number_cells(part, missing)
    if hit.any():
        part[hit] = np.nan
        features[:, numeric] = part


def whole_numbers_with_empty_columns(numbers: np.ndarray, empty: np.ndarray, numeric: np.ndarray, plan: ParsePlan) -> list[int]:
    """Feature positions of the number columns holding only whole numbers and some empty cells (integers made float)."""
    if plan.fill is not None or not numbers.size:
        return []
    has_empty = empty.any(axis=0)
    if not has_empty.any():
        return []
    whole = (empty | (numbers == np.rint(numbers))).all(axis=0) & ~empty.all(axis=0)  # only empty cells: no integers
    return [int(numeric[k]) for k in np.flatnonzero(has_empty & whole)]


def typed_target(plan: ParsePlan, column_of) -> np.ndarray | None | bool:
    """The target of a block read with string target columns; False where the text path must read it."""
    if not plan.target:
        return None
    columns = [column_of(col) for col in plan.target]
    if any(column.null_count for column in columns):
        return False
    try:
        parts = [target_values(column, plan.dialect.decimal) for column in columns]
    except MixedBooleans:
        return False
    if any(missing_labels(part, plan.dialect.na_values).size for part in parts):  # the text path refuses them
        return False
    return parts[0] if len(parts) == 1 else np.column_stack(parts)
