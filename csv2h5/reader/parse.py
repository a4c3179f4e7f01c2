"""Turning one block of CSV lines into checked arrays.

Four paths, tried in order: small non-negative integers (``digits``), blocks of
many columns read row-major (``wide``), numeric columns parsed straight to
numbers (``typed``), and string columns converted one by one (``text``: the
fallback for anything the others reject, and the one that finds the cells of
the error messages). Whichever path read the block, the checks that
follow are the same, so the result does not depend on the path.
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np

from ..errors import BadValueError, excerpt, number_text
from ..schema import FLOAT64_MAX_EXACT_INT, ValueRange, past_exact, smallest_dtype, unrepresentable, value_range
from ..stats import ColumnStats
from .blocks import TextBlock
from .cells import BOOLEANS, NUMBERS
from .digits import DIGITS_MAX_VALUE, as_slice, parse_digits
from .evidence import block_data, cell_text
from .lines import blank_whitespace_lines, record_lines
from .missing import missing_numbers, small_integers
from .plan import BlockColumns, ParsedBlock, ParsePlan
from .text import parse_text
from .typed import parse_typed
from .wide import parse_wide


def _parse_columns(block: TextBlock, data: bytes, plan: ParsePlan) -> tuple[BlockColumns, bytes]:
    """The block's columns, and the bytes they were read from (``block_data``'s, lines of only whitespace emptied).

    With more than one column, a line of only spaces is one field where the header
    has more, which every fast path refuses: such lines are looked for only in a
    block they refuse, so the others pay nothing. With one column it is a cell to
    every parser, and is looked for in every block (``block_data``).
    """
    parsed = _fast_paths(block, data, plan)
    if parsed is None and len(plan.names) > 1:
        blanked = blank_whitespace_lines(data, plan.dialect)
        if blanked is not None:
            data = blanked
            parsed = _fast_paths(block, data, plan)
    return parsed or parse_text(block, data, plan), data


def _fast_paths(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns | None:
    if not plan.fixed and len(plan.dialect.delimiter.encode()) == 1:
        table = parse_digits(data, len(plan.names), plan.dialect.delimiter.encode()[0])
        if table is not None and _holds_missing_number(table, plan):  # the typed path makes them missing
            table = None
        if table is not None:
            target = table[:, list(plan.target)] if plan.target else None
            if target is not None and target.shape[1] == 1:
                target = target[:, 0]
            cells = np.full(len(plan.features), NUMBERS if table.shape[0] else 0, dtype=np.uint8)
            return BlockColumns(table[:, as_slice(plan.features)], target, {}, [], [], None, block.first_line, cells)
    return parse_wide(block, data, plan) or parse_typed(block, data, plan)


def _holds_missing_number(table: np.ndarray, plan: ParsePlan) -> bool:
    """Whether a table of digits holds the value of a --na-values spelling (999 for 999.0): looked at only given one."""
    if not plan.dialect.na_values:
        return False
    small = small_integers(missing_numbers(plan.dialect.na_values), DIGITS_MAX_VALUE)
    return bool(small.size) and bool(np.isin(table, small).any())


def parse_block(block: TextBlock, plan: ParsePlan) -> ParsedBlock:
    """Turn one block of CSV lines into arrays, checking every cell."""
    commented: list[tuple[int, int]] = []  # records skipped for a comment right after a closing quote
    parsed, data = _parse_columns(block, block_data(block, plan, commented), plan)
    features, categories = parsed.features, parsed.categories
    numeric_cols = [j for j in range(features.shape[1]) if j not in categories]
    # Number cells read as floats of 2**53 or more: whole, but perhaps the rounding of the integer written,
    # so no exact integer. Found before a --fill goes in: cells as read only.
    rounded = past_exact(features[:, numeric_cols]) if features.dtype.kind == "f" and numeric_cols else None
    filled = None
    if plan.fill is not None:
        features, filled = _filled(features, plan, categories, parsed.cells)
    numeric = features if not categories else features[:, numeric_cols]
    if plan.dtype != "auto":
        _check_forced_dtype(numeric, np.dtype(plan.dtype), block, data, plan, parsed, numeric_cols, rounded)
    vr = value_range(numeric)
    if rounded is not None and vr.integral:  # 9007199254740993.0 reads as 2**53: no integer to store exactly
        vr = dataclasses.replace(vr, integral=False, low=0, high=0)
    if not categories and vr.integral:
        if features.dtype.kind == "f":
            # Whole numbers are judged as integers however the text spelled them ("7", "7.0", "7e0").
            vr = value_range(features.astype(np.int64))
        features = features.astype(smallest_dtype(vr), copy=False)
    stats = ColumnStats.of(features)  # of the values as read: a float32 of 0.1 is not 0.1
    if not categories and not vr.integral and vr.float32_exact:
        # Half the bytes to send back. The value range says how the float32 values read
        # back, should the file need float64 after all (see featurerows.widen_values).
        features = features.astype(np.float32, order="C")
    features = np.ascontiguousarray(features)  # rows, as they are written (the typed path fills columns)
    return ParsedBlock(
        index=block.index,
        source=block.source,
        rows=features.shape[0],
        features=features,
        value_range=vr,
        stats=stats,
        target=parsed.target,
        categories=categories,
        bad_lines=sorted(parsed.bad_lines + commented) if commented else parsed.bad_lines,
        commented_lines=len(commented),
        no_target_lines=parsed.no_target_lines,
        took_fill=parsed.filled_integers or bool(filled is not None and filled.any()),
        int_columns_with_empty=parsed.int_columns_with_empty,
        first_row_line=parsed.first_row_line,
        cells=parsed.cells,
        refusal=parsed.refusal,
        filled=filled,
        whole_if_filled=_whole_if_filled(features, vr, stats, parsed.int_columns_with_empty, plan),
    )


def _whole_if_filled(
    features: np.ndarray, vr: ValueRange, stats: ColumnStats, int_columns_with_empty: list[str], plan: ParsePlan
) -> bool:
    """Whether every value of the block is an integer once --fill goes into the empty cells of ``int_columns_with_empty``.

    From the block's figures, but for a pass over the columns not listed where some are.
    """
    if features.dtype.kind in "iu":
        return True
    if not int_columns_with_empty:  # the number columns' range says; a missing category is NaN among codes
        return vr.integral and not stats.nan_count.any()
    names = set(int_columns_with_empty)
    others = np.array([plan.names[col] not in names for col in plan.features])
    if stats.nan_count[others].any():  # empty cells a fill leaves empty, or beside decimals
        return False
    has = stats.count > 0
    if (np.maximum(np.abs(stats.min[has]), np.abs(stats.max[has])) > FLOAT64_MAX_EXACT_INT).any():
        return False
    return all(bool((column == np.rint(column)).all()) for column in features[:, others].T)


def _filled(
    features: np.ndarray, plan: ParsePlan, categories: dict[int, list[str]], cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``features`` with the empty cells of number columns set to ``plan.fill``, and which columns took it.

    A missing category, boolean or date stays missing (NaN): any code is some
    value's, 0 and 1 are false and true, and any number is some date (--fill 0:
    the first category, false, 1970-01-01). A column whose cells in this block
    are booleans is one of booleans, though the plan may not know it yet; one of
    only empty cells took the fill (the parse paths fill integer columns
    themselves), whatever the plan learns of it later.
    """
    kept = {*plan.boolean, *plan.datetime}
    fillable = np.ones(features.shape[1], dtype=bool)
    fillable[[*categories, *(j for j, col in enumerate(plan.features) if col in kept or cells[j] & BOOLEANS)]] = False
    took = fillable & (cells == 0) if features.shape[0] else np.zeros_like(fillable)
    if features.dtype.kind == "f":
        empty = np.isnan(features) & fillable
        features = np.where(empty, plan.fill, features)
        took |= empty.any(axis=0)
    return features, took


def _check_forced_dtype(
    values: np.ndarray,
    dtype: np.dtype,
    block: TextBlock,
    data: bytes,
    plan: ParsePlan,
    parsed: BlockColumns,
    numeric_cols: list[int],
    rounded: np.ndarray | None = None,
) -> None:
    bad = unrepresentable(values, dtype)
    if rounded is not None and dtype.kind in "iu":  # an integer dtype would store a rounding as exact
        bad = bad | rounded
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    lines = parsed.lines
    if lines is None:  # the fast paths skip line numbering; the block had no bad lines to skip
        lines = record_lines(data, block.first_line, plan, block.source)[0]
    line = int(lines[row])
    position = plan.features[numeric_cols[col]]
    name = plan.names[position]
    value = values[row, col]
    empty = isinstance(value, float) and np.isnan(value)
    shown = "an empty cell" if empty else repr(excerpt(_format_number(value)))
    if position in plan.datetime and not empty:  # the cell is a date: say which, not only its seconds
        when = datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
        shown = f"{when.isoformat(sep=' ').replace('+00:00', ' UTC')} ({shown.strip(chr(39))} seconds since 1970)"
    elif not empty:  # as written: 9223372036854775808, not the float it reads as
        shown = repr(excerpt(cell_text(data, plan, row, position)))
    if not empty:
        advice = _wider_dtype(value, dtype, name)
    elif position in plan.datetime or position in plan.boolean or parsed.cells[numeric_cols[col]] & BOOLEANS:
        advice = "pass a float --dtype (--fill fills number columns only: a missing boolean or date stays NaN)"
    else:
        advice = "pass --fill VALUE or a float --dtype"
    raise BadValueError(f"{block.source}:{line}: column {name!r} has {shown}, which {dtype.name} cannot hold exactly; {advice}")


def _wider_dtype(value: object, dtype: np.dtype, name: str) -> str:
    """What to pass for a cell ``dtype`` cannot hold: a wider --dtype; a float one for a decimal in an integer dtype.

    Beyond int64 no --dtype holds a whole number exactly: float64 rounds it, or the column is left out or stored as codes.
    """
    whole = bool(np.isfinite(value) and value == np.rint(value))
    if dtype.kind not in "iu" or (whole and dtype != np.int64):
        return "pass a wider --dtype, or --dtype auto"
    if not whole:
        return "pass a float --dtype, or --dtype auto"
    return f"pass --dtype float64 (its values rounded), --drop {name}, or --categorical {name} to store it as codes"


def _format_number(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return number_text(value)
    return str(value.item() if hasattr(value, "item") else value)
