"""The typed path: pyarrow parses every numeric column straight to float64, in one pass.

This is the fast path for decimal data. It reads a block only where the result
is the one the text path would give, and otherwise rejects it (returns None) so
the text path reads it instead, with its exact messages:

- a cell that is not a plain decimal number (text, ``0x1F``, Unicode spaces, a
  byte-order mark): pyarrow's float parser refuses it;
- a ragged line (too many or too few fields);
- a whole number of magnitude 2**53 or more, which float64 may have rounded
  (the text path keeps such integers exact, or says why it cannot);
- an empty target cell.

Text columns (``--categorical`` features, targets) are read as strings and
handled by the text path's helpers, so labels and codes are the same either way.
Which arrow type each kind of column is read as is decided in ``_column_types``.
"""

from __future__ import annotations

import numpy as np

from ..schema import FLOAT64_MAX_EXACT_INT
from .arrow import read_table, to_numpy
from .blocks import TextBlock
from .plan import BlockColumns, ParsePlan
from .text import category_codes, target_values, whole_numbers_with_empty


def _column_types(plan: ParsePlan) -> dict[int, object]:
    """The arrow type each used column is parsed as: numbers as float64, text as strings."""
    import pyarrow as pa

    types: dict[int, object] = {i: pa.float64() for i in plan.features}
    for i in (*plan.categorical, *plan.target):
        types[i] = pa.string()
    return types


def _beyond_exact_integers(features: np.ndarray) -> bool:
    """Whether any finite value is 2**53 or more in magnitude (a float64 parse may have rounded it)."""
    if features.size == 0:
        return False
    low, high = features.min(), features.max()  # NaN in either: check value by value below
    if -FLOAT64_MAX_EXACT_INT < low and high < FLOAT64_MAX_EXACT_INT:
        return False
    magnitude = np.abs(features)
    return bool(np.any((magnitude >= FLOAT64_MAX_EXACT_INT) & (magnitude < np.inf)))


def parse_typed(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns | None:
    """Parse a block with numeric columns typed as float64, or None where the text path must read it."""
    import pyarrow as pa

    try:  # no handler for ragged lines: pyarrow stops at the first, and the text path reports it
        table = read_table(data, plan, _column_types(plan), on_invalid_row=None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a cell that is not a number, a ragged line, ...
        return None
    features = np.empty((table.num_rows, len(plan.features)), dtype=np.float64)
    numeric: list[int] = []
    categories: dict[int, list[str]] = {}
    widened: list[str] = []
    for j, col in enumerate(plan.features):
        column = table.column(plan.names[col])
        if col in plan.categorical:
            features[:, j], categories[j] = category_codes(column)
            continue
        numeric.append(j)
        features[:, j] = to_numpy(column)  # empty cells (nulls) become NaN
        if column.null_count and plan.fill is None and whole_numbers_with_empty(features[:, j]):
            widened.append(plan.names[col])
    if _beyond_exact_integers(features if not categories else features[:, numeric]):
        return None
    target = None
    if plan.target:
        columns = [table.column(plan.names[col]) for col in plan.target]
        if any(column.null_count for column in columns):
            return None
        parts = [target_values(column) for column in columns]
        target = parts[0] if len(parts) == 1 else np.column_stack(parts)
    # pyarrow skips blank lines (and the lines left by stripped comments) as the text path does
    first_row_line = block.first_line + len(data) - len(data.lstrip(b"\n"))
    return BlockColumns(features, target, categories, widened, [], None, first_row_line)
