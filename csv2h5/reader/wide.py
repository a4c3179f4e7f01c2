"""The wide path: a block of many columns read row-major, as one stream of cells.

pyarrow's CSV reader keeps state for every column; with 100,000 columns and a
few rows per block, that costs seconds and a gigabyte per block. Here numpy cuts
the cells of the number columns out of the block, one cell per line, and pyarrow
parses them as a single float64 column (the typed path's parser and options,
so the same cells are numbers, empty or refused); the few other columns read
(targets, text, booleans, dates) go through a second stream as strings. Both
are reshaped to rows and checked as the typed path checks its columns.

It reads a block only where the result is the typed path's, and otherwise
returns None: a quote in the block (a delimiter or line end inside quotes), a
lone carriage return (a line end to pyarrow), a line with another number of
fields, or a cell the float64 parse refuses.
"""

from __future__ import annotations

import io

import numpy as np

from .arrow import NA_VALUES, to_numpy
from .blocks import TextBlock
from .plan import BlockColumns, ParsePlan
from .typed import first_row_line, typed_columns

WIDE_COLUMNS = 1000  # from this many columns a block is read row-major (measured: BENCHMARKS.md)


def parse_wide(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns | None:
    """Parse a block of many columns row-major, or None where the column paths must read it."""
    import pyarrow as pa

    ncol = len(plan.names)
    delimiter = plan.dialect.delimiter.encode()
    if ncol < WIDE_COLUMNS or len(delimiter) != 1 or plan.dialect.quotechar.encode() in data or b"\r" in data:
        return None
    cells = _cells(data, ncol, delimiter[0])
    if cells is None:
        return None
    text, lengths, rows = cells
    special = {*plan.categorical, *plan.datetime, *plan.boolean}
    number_columns = [col for col in plan.features if col not in special]
    other_columns = sorted(special | set(plan.target))
    numbers = _stream(text, lengths, number_columns, ncol, rows, delimiter[0], "float64")
    others = _stream(text, lengths, other_columns, ncol, rows, delimiter[0], "string")
    if numbers is None or others is None:
        return None
    values = to_numpy(numbers).reshape(rows, len(number_columns))
    position = {col: k for k, col in enumerate(other_columns)}
    width = len(other_columns)

    def column_of(col: int):  # as the typed path gives its columns: chunked
        return pa.chunked_array([others.take(np.arange(position[col], rows * width, width))])

    return typed_columns(plan, rows, column_of, first_row_line(block, data), numbers=values)


def _cells(data: bytes, ncol: int, delimiter: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The block's bytes without blank lines, the length of each cell, and the row count.

    None when a line has other than ``ncol`` fields. A cell's bytes are followed by
    its separator (the delimiter, or the line end for the last), counted in its length.
    """
    text = np.frombuffer(data if data.endswith(b"\n") else data + b"\n", dtype=np.uint8)
    newline = text == 10
    blank = newline.copy()
    blank[1:] &= newline[:-1]
    if blank.any():  # blank lines are skipped, as pyarrow and pandas skip them
        text = text[~blank]
        newline = text == 10
    ends = np.flatnonzero(newline | (text == delimiter))
    rows, uneven = divmod(ends.size, ncol)
    if uneven or rows == 0 or not newline[ends[ncol - 1::ncol]].all() or np.count_nonzero(newline) != rows:
        return None  # a ragged line: the text path reports or skips it
    lengths = np.diff(ends, prepend=-1)
    return text, lengths, rows


def _stream(text: np.ndarray, lengths: np.ndarray, columns: list[int], ncol: int, rows: int,
            delimiter: int, kind: str):
    """The cells of ``columns`` (CSV positions), row by row, parsed by pyarrow as one column of ``kind``.

    None when a cell is not of that kind.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not columns:
        return pa.array([], type=pa.float64() if kind == "float64" else pa.string())
    wanted = np.zeros(ncol, dtype=bool)
    wanted[columns] = True
    cut = text[np.repeat(np.tile(wanted, rows), lengths)]
    cut[cut == delimiter] = 10  # one cell per line; an empty line is an empty cell
    try:
        table = pacsv.read_csv(
            io.BytesIO(cut.tobytes()),
            read_options=pacsv.ReadOptions(column_names=["cell"], use_threads=False, block_size=max(1 << 20, cut.size + 1)),
            # The delimiter: none is left in the stream, so every line is one cell.
            parse_options=pacsv.ParseOptions(delimiter=chr(delimiter), quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={"cell": pa.float64() if kind == "float64" else pa.string()},
                                                 null_values=list(NA_VALUES), strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    column = table.column(0).combine_chunks()
    return column if len(column) == rows * len(columns) else None
