"""Where each record of a block starts, which records have the wrong number of fields, and which lines are blank."""

from __future__ import annotations

import csv
import functools
import io
import re
from typing import TYPE_CHECKING

import numpy as np

from ..errors import COMMENT_LINE_HINT, COMMENTED_HEADER_HINT, BadLineError, begins_comment
from .header import Dialect, blank_bytes, long_fields
from .plan import ParsePlan
from .quotes import quoted_fields

if TYPE_CHECKING:
    from .blocks import TextBlock


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


def row_lines_unquoted(data: bytes, first_line: int) -> np.ndarray:
    """The line of each non-blank line of ``data``, a block with no quote whose lines all have the header's fields.

    ``record_lines`` gives the same numbers, and counts fields too: this is its cost without that.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(b == 10)
    if data and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, dtype=np.int64)
    length = ends - starts
    if length.size:
        cr = length > 0
        cr[cr] = b[ends[cr] - 1] == 13
        length = length - cr
    return np.arange(first_line, first_line + ends.size)[length > 0]


def bad_line_error(block: TextBlock, data: bytes, line: int, fields: int, plan: ParsePlan) -> BadLineError:
    """A line of ``block`` (its text ``data``) with another number of fields than the header."""
    ncol = len(plan.names)
    hint = comment_hint(block, data, line, plan)
    if not hint and plan.dialect.decimal == plan.dialect.delimiter and fields > ncol:  # 70,5 splits in two unless quoted
        hint = " (a decimal comma outside quotes? with --decimal , and --delimiter , each such number must be quoted)"
    elif not hint and fields == ncol + 1:
        hint = " (a trailing delimiter?)"
    return BadLineError(
        f"{block.source}:{line}: expected {ncol} fields as in the header, found {fields}{hint};"
        " fix the line, or pass --on-bad-lines skip (or warn)"
    )


def comment_hint(block: TextBlock, data: bytes, line: int, plan: ParsePlan) -> str:
    """A hint for a refused ``line`` of ``block`` that may be a comment, when no --comment was given; else "".

    It may be if it begins with ``#``, or if the header does and only ``#`` lines
    (or blank ones) come between the header and it in the source's first block
    (blocks are MiBs: the lines at the top are in it): the header then is likely a
    comment line above the real one (``# exported 2026-01-01``), not a commented
    header (``# a,b,c``, as numpy.savetxt writes) whose rows are read on.
    """
    if plan.dialect.comment is not None:
        return ""
    physical = data.split(b"\n", line - block.first_line + 1)[: line - block.first_line + 1]
    refused, before = physical[-1], physical[:-1]
    if begins_comment(refused):
        return f" ({COMMENT_LINE_HINT})"
    if block.after_header and plan.names and begins_comment(plan.names[0]):
        if all(not b.strip(b" \t\r") or begins_comment(b) for b in before):
            return f" ({COMMENTED_HEADER_HINT})"
    return ""


def blank_whitespace_lines(data: bytes, dialect: Dialect) -> bytes | None:
    """``data`` with each line of only spaces and tabs emptied, its line end kept; None if it has none.

    pandas skips such a line as it skips an empty one (the ``\\r`` of a CRLF line
    goes with it); pyarrow and Python's csv module read it as a record of one
    field. Emptied, it is skipped by every parse path, and the lines keep their
    numbers. A space or tab that is the delimiter ends a cell (a line of tabs in a
    tab-separated file is a row of empty cells, as pandas reads it), and a line
    inside quotes is a cell's text: both are kept.
    """
    spaces = blank_bytes(dialect)
    if not any(c in data for c in (spaces[:1], spaces[1:]) if c):  # memchr: most blocks stop here
        return None
    within, first = _whitespace_line_patterns(spaces)
    spans = [(m.start() + 1, m.end()) for m in within.finditer(data)]  # from just past the \n before the line
    at_start = first.match(data)
    if at_start:
        spans.insert(0, (0, at_start.end()))
    if not spans:
        return None
    quoted = quoted_fields(data, dialect)
    if quoted.opens.size:  # a line inside a quoted field is a cell's text
        inside = quoted.inside(np.array([start for start, _ in spans], dtype=np.int64))
        spans = [span for span, in_field in zip(spans, inside.tolist()) if not in_field]
        if not spans:
            return None
    pieces, kept = [], 0
    for start, end in spans:
        pieces.append(data[kept:start])
        kept = end
    pieces.append(data[kept:])
    return b"".join(pieces) or b"\n"  # not no bytes at all, which pyarrow refuses (a last block of spaces)


@functools.lru_cache(maxsize=4)
def _whitespace_line_patterns(spaces: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """A line of ``spaces`` after a line end, and at the start: each its spaces and a \\r before the line end.

    Not ``(?m)^``: with no literal to look for first, the search is ten times slower.
    """
    run = b"[" + re.escape(spaces) + rb"]+\r?(?=\n|\Z)"
    return re.compile(rb"\n" + run), re.compile(run)
