"""The wide path: a block of many columns read row-major, as one stream of cells.

pyarrow's CSV reader keeps state for every column; with 100,000 columns and a
few rows per block, that costs seconds and a gigabyte per block. Here numpy cuts
the cells of the number columns out of the block, one cell per line, and pyarrow
parses them as a single float64 column (the typed path's parser and options,
so the same cells are numbers, empty or refused); the few other columns read
(targets, text, booleans, dates) go through a second stream as strings. Both
are reshaped to rows and checked as the typed path checks its columns.

Columns with cells that are not numbers (text, booleans: while the first rows
decide the kinds, or a cell of another kind later) are found with a regular
expression and read as strings, as the text path reads them. A block goes to
the column paths (returns None) where the result could differ: a quote in it
(a delimiter or line end inside quotes), a lone carriage return (a line end to
pyarrow), a line with another number of fields.
"""

from __future__ import annotations

import io

import numpy as np

from .arrow import NA_VALUES, every_spelling
from .blocks import TextBlock
from .buffers import arrow_array, to_bools, to_numpy
from .cells import NUMBER_TEXT
from .kernels import is_valid, match_substring_regex, take
from .plan import BlockColumns, ParsePlan
from .typed import first_row_line, typed_columns

WIDE_COLUMNS = 2000  # from this many columns a block is read row-major (the crossover: BENCHMARKS.md)


def parse_wide(block: TextBlock, data: bytes, plan: ParsePlan) -> BlockColumns | None:
    """Parse a block of many columns row-major, or None where the column paths must read it."""
    import pyarrow as pa

    ncol = len(plan.names)
    delimiter = plan.dialect.delimiter.encode()
    if (
        ncol < WIDE_COLUMNS
        or len(delimiter) != 1
        or plan.dialect.quotechar.encode() in data
        or b"\r" in data
        or plan.dialect.decimal != "."
    ):  # decimal commas: the column paths read them
        return None
    spellings = every_spelling(plan)  # pandas' and the user's (--na-values)
    cells = _cells(data, ncol, delimiter[0])
    if cells is None:
        return None
    text, lengths, rows = cells
    special = {*plan.categorical, *plan.datetime, *plan.boolean}
    number_columns = [col for col in plan.features if col not in special]
    numbers = _stream(text, lengths, number_columns, ncol, rows, delimiter[0], "float64", spellings)
    classified: set[int] = set()
    if numbers is None:  # cells that are not numbers: their columns are read as the text path reads them
        classified = _columns_not_numbers(
            _stream(text, lengths, number_columns, ncol, rows, delimiter[0], "string", spellings), number_columns, rows
        )
        number_columns = [col for col in number_columns if col not in classified]
        numbers = _stream(text, lengths, number_columns, ncol, rows, delimiter[0], "float64", spellings)
        if numbers is None:
            return None
    other_columns = sorted(special | classified | set(plan.target))
    others = _stream(text, lengths, other_columns, ncol, rows, delimiter[0], "string", spellings)
    if others is None:
        return None
    values = to_numpy(numbers).reshape(rows, len(number_columns))
    position = {col: k for k, col in enumerate(other_columns)}
    width = len(other_columns)

    def column_of(col: int):  # as the typed path gives its columns: chunked
        return pa.chunked_array([take(others, arrow_array(np.arange(position[col], rows * width, width)))])

    return typed_columns(plan, rows, column_of, first_row_line(block, data), numbers=values, classified=classified)


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
    if uneven or rows == 0 or not newline[ends[ncol - 1 :: ncol]].all() or np.count_nonzero(newline) != rows:
        return None  # a ragged line: the text path reports or skips it
    lengths = np.diff(ends, prepend=-1)
    return text, lengths, rows


# A cell that does not match NUMBER_TEXT is looked at as text. Only speed rides on it: a column wrongly
# kept among the numbers makes the float64 parse fail (the block goes to the column paths); one wrongly
# taken out is still read as numbers, by text.classify.


def _columns_not_numbers(cells, columns: list[int], rows: int) -> set[int]:
    """The columns (CSV positions) of ``cells`` (row by row, as strings) with a cell that is not a number."""
    if cells is None:
        return set(columns)
    # Empty cells (nulls) count as numbers; not fill_null(.., True): a Python scalar makes pyarrow import pandas.
    numbers = to_bools(match_substring_regex(cells, NUMBER_TEXT)) | ~to_bools(is_valid(cells))
    odd = ~numbers.reshape(rows, len(columns)).all(axis=0)
    return {columns[k] for k in np.flatnonzero(odd)}


def _stream(
    text: np.ndarray,
    lengths: np.ndarray,
    columns: list[int],
    ncol: int,
    rows: int,
    delimiter: int,
    kind: str,
    spellings: tuple[str, ...] = NA_VALUES,
):
    """The cells of ``columns`` (CSV positions), row by row, parsed by pyarrow as one column of ``kind``.

    ``spellings``: the cells read as missing.

    None when a cell is not of that kind.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not columns:
        return arrow_array(np.zeros(0) if kind == "float64" else [])
    wanted = np.zeros(ncol, dtype=bool)
    wanted[columns] = True
    cut = text[np.repeat(np.tile(wanted, rows), lengths)]
    cut[cut == delimiter] = 10  # one cell per line; an empty line is an empty cell
    try:
        table = pacsv.read_csv(
            # A line to skip first: pyarrow drops a byte-order mark at the very start, which here is a cell's.
            io.BytesIO(b"\n" + cut.tobytes()),
            read_options=pacsv.ReadOptions(
                column_names=["cell"], use_threads=False, skip_rows=1, block_size=max(1 << 20, cut.size + 2)
            ),
            # The delimiter: none is left in the stream, so every line is one cell.
            parse_options=pacsv.ParseOptions(delimiter=chr(delimiter), quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"cell": pa.float64() if kind == "float64" else pa.string()},
                null_values=list(spellings),
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    column = table.column(0).combine_chunks()
    return column if len(column) == rows * len(columns) else None
