"""Comments cut from CSV bytes (``--comment``) as pandas cuts them; one right after a closing quote refused, or skipped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BadLineError, excerpt
from .quotes import Quoted, quoted_fields

if TYPE_CHECKING:
    from .header import Dialect

_SNIFFED = ",;\t|"  # the delimiters --delimiter auto chooses from


def strip_comments(
    data: bytes,
    dialect: Dialect,
    *,
    source: str,
    first_line: int,
    names: Sequence[str] = (),
    skipped: list[tuple[int, int]] | None = None,
    first_record: bool = False,
) -> bytes:
    """``data`` with each comment cut, from the comment character to the line end (kept), as pandas cuts them.

    A comment character inside a quoted cell is the cell's text, as in pandas'
    C parser (``"#5"``); a quote inside a comment, or inside an unquoted cell
    (``27" monitor # note``), opens nothing (``quotes``). ``data`` starts outside
    quotes (a block, or the file), at line ``first_line`` of ``source``; ``names``
    name its columns in a message. A comment character right after a closing quote
    (``"abc"#x``), which pandas reads as the cell's text and others as a comment,
    is refused; given a list ``skipped`` (--on-bad-lines skip or warn), its record
    is emptied instead, its line ends kept, and its (line, fields) appended to the
    list. ``first_record``: ``data`` starts with the file's header, which is refused
    all the same (with --no-header the first record is data, skipped as the others).

    Raises:
        BadLineError: a comment character right after a closing quote, with no ``skipped`` list or in the first record.
    """
    mark = dialect.comment.encode()
    if dialect.quotechar.encode() not in data:
        return re.sub(re.escape(mark) + rb"[^\n]*", b"", data)
    quoted = quoted_fields(data, dialect)
    after_quote = quoted.comments_after_quote()
    if after_quote.size:
        at = int(after_quote[0])
        first = first_record and not _records_before(data[: _record_start(data, quoted, at)], dialect)
        if skipped is None or first:
            raise _comment_after_quote_error(data, quoted, at, dialect, source, first_line, names, skippable=not first)
    cuts = [(start, end, -1) for start, end in quoted.comments.tolist()]
    if after_quote.size and skipped is not None:
        cuts = sorted(cuts + _skipped_records(data, quoted, after_quote, dialect, first_line, skipped))
    pieces, pos = [], 0
    for start, end, at in cuts:
        if start < pos:  # the comment that ends a record emptied
            continue
        pieces.append(data[pos:start])
        if at >= 0:  # a record emptied: its lines stay, blank, and keep their numbers
            pieces.append(b"\n" * data.count(b"\n", start, end))
        pos = end
    pieces.append(data[pos:])
    return b"".join(pieces)


def _skipped_records(
    data: bytes, quoted: Quoted, after_quote: np.ndarray, dialect: Dialect, first_line: int, skipped: list[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """The records with a comment right after a closing quote at ``after_quote``: (start, line end, comment), in order.

    Their (line, fields) are appended to ``skipped``.
    """
    records, line, counted = [], first_line, 0
    for at in after_quote.tolist():  # the comment runs to the line end, and so does its record
        start, line_end = _record_start(data, quoted, at), data.find(b"\n", at)
        line += data.count(b"\n", counted, start)
        counted = start
        skipped.append((line, _fields_before(data, quoted, start, at, dialect)))
        records.append((start, len(data) if line_end < 0 else line_end, at))
    return records


def _record_start(data: bytes, quoted: Quoted, at: int) -> int:
    """Where the record holding position ``at`` starts: the start of its first line (a quoted line end continues it)."""
    start = data.rfind(b"\n", 0, at) + 1
    while start and quoted.inside(np.array([start - 1]))[0]:
        start = data.rfind(b"\n", 0, start - 1) + 1
    return start


def _fields_before(data: bytes, quoted: Quoted, start: int, end: int, dialect: Dialect) -> int:
    """How many fields ``data[start:end]`` holds: its delimiters outside quotes, and one (0 while guessing the delimiter)."""
    if dialect.delimiter == "auto":
        return 0
    found = re.compile(re.escape(dialect.delimiter.encode())).finditer(data, start, end)
    delimiters = np.array([m.start() for m in found], dtype=np.int64)
    return int(np.count_nonzero(~quoted.inside(delimiters))) + 1


def _comment_after_quote_error(
    data: bytes, quoted: Quoted, at: int, dialect: Dialect, source: str, first_line: int, names: Sequence[str], *, skippable: bool
) -> BadLineError:
    """The refusal of a comment character at ``at``, right after the quote that closes a field.

    ``skippable``: --on-bad-lines skip would skip its line (it is not in the header, or the first record).
    """
    k = int(np.searchsorted(quoted.closes, at - 1))
    while k > 0 and quoted.opens[k] - 1 == quoted.closes[k - 1]:  # "a""b": the quote doubled, not a field's start
        k -= 1
    opened = int(quoted.opens[k])
    line_start = data.rfind(b"\n", 0, opened) + 1
    guessing = dialect.delimiter == "auto"  # the delimiter is not known yet: nor is the column
    where = " a cell is"  # also in a quoted field that began on a line before: where its record starts is not known
    if not guessing and (not line_start or not quoted.inside(np.array([line_start - 1]))[0]):
        found = re.compile(re.escape(dialect.delimiter.encode())).finditer(data, line_start, opened)
        before = np.array([m.start() for m in found], dtype=np.int64)
        field = int(np.count_nonzero(~quoted.inside(before)))  # the delimiters before it, outside quotes
        where = f" column {names[field]!r} has" if field < len(names) else f" field {field + 1} is"
    line_end = data.find(b"\n", at)
    cell_end = len(data) if line_end < 0 else line_end
    ends = [data.find(d.encode(), at, cell_end) for d in (_SNIFFED if guessing else dialect.delimiter)]
    cell_end = min([cell_end, *(p for p in ends if p >= 0)])
    cell = excerpt(data[opened:cell_end].decode(errors="replace").rstrip("\r"))
    line = first_line + data.count(b"\n", 0, opened)
    skip = ", or pass --on-bad-lines skip (or warn)" if skippable else ""
    return BadLineError(
        f"{source}:{line}:{where} {cell!r}, a --comment {dialect.comment!r} right after a closing quote, which pandas"
        " reads as the cell's text and other readers as a comment; put it inside the quotes if it is the cell's,"
        f" or the comment on a line of its own{skip}"
    )


def _records_before(data: bytes, dialect: Dialect) -> bool:
    """Whether ``data`` (whole lines) holds a record: a line that is neither blank nor a comment line."""
    mark = dialect.comment.encode()
    return any(line.strip(b" \t\r") and not line.startswith(mark) for line in data.split(b"\n"))
