"""Where each record of a block starts, and which records have the wrong number of fields."""

from __future__ import annotations

import csv
import io

import numpy as np

from ..errors import BadLineError
from .header import long_fields
from .plan import ParsePlan


def record_lines(
    data: bytes, first_line: int, plan: ParsePlan, source: str = ""
) -> tuple[np.ndarray, list[tuple[int, int]], list[int]]:
    """Line number of every record, the bad records (line, fields), and the bad records' row positions.

    Blank lines are skipped, as pandas and pyarrow do. Rows are counted among
    the non-blank records, the numbering pyarrow's parser uses.
    """
    ncol = len(plan.names)
    delim = plan.dialect.delimiter.encode()
    quote = plan.dialect.quotechar.encode()
    if quote not in data:
        b = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(b == 10)
        if data and data[-1:] != b"\n":
            ends = np.append(ends, len(data))
        starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, dtype=np.int64)
        delims = np.concatenate(([0], np.cumsum(b == delim[0])))
        fields = delims[ends] - delims[starts] + 1
        length = ends - starts
        if length.size:
            cr = length > 0
            cr[cr] = b[ends[cr] - 1] == 13
            length = length - cr
        keep = length > 0
        lines = np.arange(first_line, first_line + ends.size)[keep]
        fields = fields[keep]
        bad = np.flatnonzero(fields != ncol)
        return lines, [(int(lines[i]), int(fields[i])) for i in bad], bad.tolist()
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=plan.dialect.delimiter, quotechar=plan.dialect.quotechar)
    lines_list: list[int] = []
    bad_rows: list[tuple[int, int]] = []
    bad_pos: list[int] = []
    line = first_line
    consumed = 0
    with long_fields():  # a quoted cell may hold a long text
        try:
            for record in reader:
                start = first_line + consumed
                consumed = reader.line_num
                if not record:
                    continue
                if len(record) != ncol:
                    bad_rows.append((start, len(record)))
                    bad_pos.append(len(lines_list))
                lines_list.append(start)
                line = start
        except csv.Error as exc:  # a cell longer than any line may be: a quote that never closes
            raise BadLineError(
                f"{source}:{first_line + consumed}: {exc}; is a quote left open? check the quoting from this line on"
            ) from None
    del line
    return np.asarray(lines_list, dtype=np.int64), bad_rows, bad_pos


def bad_line_error(source: str, line: int, fields: int, ncol: int, *, comma_decimals: bool = False) -> BadLineError:
    """A line with another number of fields than the header; ``comma_decimals``: the decimal mark is the delimiter too."""
    if comma_decimals and fields > ncol:  # 70,5 splits in two unless quoted
        hint = " (a decimal comma outside quotes? with --decimal , and --delimiter , each such number must be quoted)"
    else:
        hint = " (a trailing delimiter?)" if fields == ncol + 1 else ""
    return BadLineError(
        f"{source}:{line}: expected {ncol} fields as in the header, found {fields}{hint};"
        " fix the line, or pass --on-bad-lines skip (or warn)"
    )
