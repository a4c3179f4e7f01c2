"""Finding cells again for an error message: the main process re-reads one block.

Parser processes report only which kinds of cell a column holds (reader.cells
flags); the words of an error (the line, the cell) are looked up here, on the
error path only, so the parse itself does not number lines or keep cells.
"""

from __future__ import annotations

import numpy as np

from .arrow import read_table
from .blocks import TextBlock
from .cells import BOOLEANS, NUMBERS, TEXT
from .comments import strip_comments
from .lines import blank_whitespace_lines, record_lines
from .plan import ParsePlan
from .text import rows_without_target


def block_data(block: TextBlock, plan: ParsePlan, skipped: list[tuple[int, int]] | None = None) -> bytes:
    """A block's bytes as the parse paths read them: comments stripped, line ends made \\n outside quotes.

    With --on-bad-lines skip or warn, a record with a comment right after a closing quote is
    emptied (``strip_comments``), and its (line, fields) appended to ``skipped`` if given.

    In a one-column file, lines of only spaces and tabs are emptied too. In others the
    parse empties them where it finds some (parse._parse_columns); read again here,
    such a line is a record of one field, which the rows found here leave out as well.
    """
    data = block.text()
    if plan.dialect.comment:
        # Under skip or warn such records are emptied, asked for their lines or not: the rows are those the parse keeps.
        found = None if plan.on_bad_lines == "error" else [] if skipped is None else skipped
        data = strip_comments(
            data, plan.dialect, source=block.source, first_line=block.first_line, names=plan.names, skipped=found
        )
    if b"\r" in data and plan.dialect.quotechar.encode() not in data:
        # No quoted cells to keep byte for byte: line ends become \n for the fast paths. Elsewhere
        # the parsers take \r\n as a line end themselves and keep a quoted \r\n as written.
        data = data.replace(b"\r\n", b"\n")
    if len(plan.names) == 1:
        data = blank_whitespace_lines(data, plan.dialect) or data
    return data


def row_lines(block: TextBlock, plan: ParsePlan, data: bytes | None = None) -> np.ndarray:
    """The physical line of each row of a block (the rows kept: bad lines and rows with no target skipped are left out)."""
    data = block_data(block, plan) if data is None else data
    lines = _record_lines(block, plan, data)
    none = _without_target(data, plan)
    return lines if none is None else lines[~none]


def _record_lines(block: TextBlock, plan: ParsePlan, data: bytes) -> np.ndarray:
    """The physical line of each record of a block with the right number of fields."""
    lines, _, bad_pos = record_lines(data, block.first_line, plan, block.source)
    return np.delete(lines, bad_pos) if bad_pos else lines


def _without_target(data: bytes, plan: ParsePlan) -> np.ndarray | None:
    """Which of those records have no target, skipped by --on-bad-lines skip or warn (text.parse_text); None: no such row."""
    import pyarrow as pa

    if not plan.target or plan.on_bad_lines == "error":
        return None
    table = read_table(data, plan, {col: pa.string() for col in plan.target}, on_invalid_row=lambda row: "skip")
    none = rows_without_target(table, plan)
    return none if none.any() else None


def cell_kind(cell: str, decimal: str = ".") -> int:
    """The kind of one non-empty cell, as reader.cells flags: BOOLEANS, NUMBERS or TEXT."""
    stripped = cell.strip()
    if stripped.lower() in ("true", "false"):
        return BOOLEANS
    if decimal != ".":  # 70,5 is a number, 70.5 is not (as the parsers read them)
        if "." in stripped:
            return TEXT
        stripped = stripped.replace(decimal, ".")
    if stripped.isascii() and "_" not in stripped and not stripped.lower().startswith(("0x", "+0x", "-0x")):
        try:
            float(stripped)
            return NUMBERS
        except ValueError:
            pass
    return TEXT


def first_cells(block: TextBlock, plan: ParsePlan, wanted: dict[int, int]) -> dict[int, tuple[int, str]]:
    """For each CSV column in ``wanted`` (position -> cells flags), the line and text of its first cell of those kinds.

    The text is shown as it was judged: without the spaces around it. Columns
    with no such cell in the block are left out of the result.
    """
    import pyarrow as pa

    if not wanted:
        return {}
    data = block_data(block, plan)
    lines = _record_lines(block, plan, data)
    none = _without_target(data, plan)
    columns = sorted(wanted)
    table = read_table(data, plan, {i: pa.string() for i in columns}, on_invalid_row=lambda row: "skip")
    found: dict[int, tuple[int, str]] = {}
    for position, col in enumerate(columns):
        for row, cell in enumerate(table.column(position).to_pylist()):
            if none is not None and none[row]:  # skipped: its cells are not the file's
                continue
            if cell is not None and cell_kind(cell, plan.dialect.decimal) & wanted[col]:
                found[col] = (int(lines[row]), cell.strip())
                break
    return found


def cell_text(data: bytes, plan: ParsePlan, row: int, col: int) -> str:
    """The text of CSV column ``col`` in row ``row`` (of the rows kept) of a block's bytes as ``block_data`` gives them.

    Without the spaces around it, as the cell was judged.
    """
    import pyarrow as pa

    table = read_table(data, plan, {col: pa.string()}, on_invalid_row=lambda row: "skip")
    none = _without_target(data, plan)
    if none is not None:  # the row among the records read, rows with no target among them
        row = int(np.flatnonzero(~none)[row])
    return (table.column(0)[row].as_py() or "").strip()
