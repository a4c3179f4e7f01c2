"""Integers beyond 2**53 beside columns that make a block's features float: the refusal, and what would store them."""

from __future__ import annotations

import numpy as np

from ..errors import excerpt
from ..schema import FLOAT64_MAX_EXACT_INT
from .blocks import TextBlock
from .cells import BOOLEANS
from .plan import ParsePlan


def integers_beside_floats(
    block: TextBlock,
    table,
    lines: np.ndarray,
    plan: ParsePlan,
    int_parts: dict[int, np.ndarray],
    categories: dict[int, list[str]],
    widened: list[str],
    cells: np.ndarray,
) -> str | None:
    """The refusal for integers beyond 2**53 in a block whose other columns need floats, or None.

    Features share one dtype, and the others' decimals, empty cells or codes make it a float,
    which holds no such integer exactly. Said after the column kinds are checked: a text cell
    in a column that takes none is the cause to fix first. Where the others are floats only for
    their empty cells (``widened``: integers among them; or empty alone), --fill VALUE keeps them
    integer, and is named too. ``cells``: the kinds of cell each feature holds (reader.cells flags).
    """
    for j, values in int_parts.items():
        beyond = np.flatnonzero((values > FLOAT64_MAX_EXACT_INT) | (values < -FLOAT64_MAX_EXACT_INT))
        if not beyond.size:
            continue
        name = plan.names[plan.features[j]]
        floats = [k for k in range(len(plan.features)) if k not in int_parts]
        unfilled = [k for k in floats if not _only_empty_cells_float(k, table, plan, categories, widened)]
        other = (unfilled or floats)[0]  # the column a --fill would not make integer, if there is one
        other_name = plan.names[plan.features[other]]
        holds = _what_makes_float(plan.features[other], other in categories, cells[other], plan)
        holds, fill = (holds, "") if unfilled else ("empty cells", "--fill VALUE, ")
        row = int(beyond[0])
        cell = table.column(name)[row].as_py()
        return (
            f"{block.source}:{int(lines[row])}: column {name!r} has {excerpt(str(cell))!r}, an integer beyond"
            f" 2**53, while column {other_name!r} holds {holds}; features share one dtype and no float holds"
            f" that integer exactly: {fill}--drop {name}, or --drop {other_name}"
        )
    return None


def _only_empty_cells_float(k: int, table, plan: ParsePlan, categories: dict[int, list[str]], widened: list[str]) -> bool:
    """Whether feature ``k`` is float only for its empty cells, which --fill fills: integers among them, or empty alone.

    Not a category's, a boolean's or a date's (a fill leaves them empty).
    """
    col = plan.features[k]
    if k in categories or col in plan.datetime or col in plan.boolean:
        return False
    name = plan.names[col]
    return name in widened or table.column(name).null_count == table.num_rows


def _what_makes_float(col: int, coded: bool, found: int, plan: ParsePlan) -> str:
    """What a float feature column holds, in a message's words: text (codes), dates, booleans, or numbers."""
    if coded:
        return "text"
    if col in plan.datetime:
        return "dates"
    if col in plan.boolean or found & BOOLEANS:  # read as 1.0, 0.0 and NaN (empty)
        return "true/false values (stored as floats: 1.0, 0.0, NaN when empty)"
    return "decimals or empty cells"
