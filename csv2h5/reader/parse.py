"""Turning one block of CSV lines into checked arrays: the fast path, else the general one."""

from __future__ import annotations

import numpy as np

from ..errors import BadValueError, excerpt
from ..schema import smallest_dtype, unrepresentable, value_range
from ..stats import ColumnStats
from .blocks import TextBlock, strip_comments
from .digits import as_slice, parse_digits
from .plan import ParsedBlock, ParsePlan
from .text import parse_general


def parse_block(block: TextBlock, plan: ParsePlan) -> ParsedBlock:
    """Turn one block of CSV lines into arrays, checking every cell."""
    data = block.text()
    if plan.dialect.comment:
        data = strip_comments(data, plan.dialect.comment)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    ncol = len(plan.names)
    table = None
    if not plan.categorical and len(plan.dialect.delimiter.encode()) == 1:
        table = parse_digits(data, ncol, plan.dialect.delimiter.encode()[0])
    lines = None
    if table is not None:
        features = table[:, as_slice(plan.features)]
        target = table[:, list(plan.target)] if plan.target else None
        if target is not None and target.shape[1] == 1:
            target = target[:, 0]
        categories: dict[int, list[str]] = {}
        widened: list[str] = []
        bad: list[tuple[int, int]] = []
    else:
        features, target, categories, widened, bad, lines = parse_general(block, data, plan)
    if plan.fill is not None and features.dtype.kind == "f":
        features = np.where(np.isnan(features), plan.fill, features)
    numeric_cols = [j for j in range(features.shape[1]) if j not in categories]
    numeric = features if not categories else features[:, numeric_cols]
    if plan.dtype != "auto":
        _check_forced_dtype(numeric, np.dtype(plan.dtype), block, plan, lines, numeric_cols)
    vr = value_range(numeric)
    if not categories and vr.integral:
        # Only whole numbers travel narrowed; decimals stay float64 until the file's
        # dtype is known (float32 -> float64 would not give back the text's value).
        features = features.astype(smallest_dtype(vr), copy=False)
    return ParsedBlock(
        index=block.index,
        source=block.source,
        rows=features.shape[0],
        features=features,
        value_range=vr,
        stats=ColumnStats.of(features),
        target=target,
        categories=categories,
        bad_lines=bad,
        int_columns_with_empty=widened,
        target_lines=lines if target is not None and target.dtype == object else None,
    )


def _check_forced_dtype(values: np.ndarray, dtype: np.dtype, block: TextBlock, plan: ParsePlan,
                        lines: np.ndarray | None, numeric_cols: list[int]) -> None:
    bad = unrepresentable(values, dtype)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    line = int(lines[row]) if lines is not None else block.first_line + row
    name = plan.names[plan.features[numeric_cols[col]]]
    value = values[row, col]
    shown = "an empty cell" if isinstance(value, float) and np.isnan(value) else repr(excerpt(_format_number(value)))
    advice = "pass --fill VALUE or a float --dtype" if shown == "an empty cell" else "pass a wider --dtype, or --dtype auto"
    raise BadValueError(f"{block.source}:{line}: column {name!r} has {shown}, which {dtype.name} cannot hold exactly; {advice}")


def _format_number(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(float(value)) < 2**53:
        return str(int(value))
    return str(value.item() if hasattr(value, "item") else value)
