"""Reading the header, and cutting the data into blocks of whole lines outside quotes.

Blocks can then be parsed independently, in parallel, and give the same result
whatever the block size.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import re
import shlex
from collections.abc import Iterator

import numpy as np

from ..errors import BadLineError, InputError, OptionError, SchemaError
from .limits import max_line_bytes
from .source import Source

BOM = b"\xef\xbb\xbf"


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How the text is delimited."""

    delimiter: str = ","
    quotechar: str = '"'
    comment: str | None = None
    decimal: str = "."  # "," for numbers written 70,5 (with another delimiter)


@dataclasses.dataclass(slots=True)
class Header:
    """What precedes the data: the column names and how many lines they took."""

    names: list[str]
    lines: int  # physical lines consumed (skipped rows + header)
    rest: bytes  # bytes read past the header, the start of the data
    dialect: Dialect


def _split_first_record(
    data: bytes, dialect: Dialect, at_eof: bool, *, name: str = "", first_line: int = 1
) -> tuple[list[str], int, int] | None:
    """Parse the first CSV record: (fields, bytes used, lines used), or None if incomplete."""
    pos = 0
    lines = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            if not at_eof:
                return None
            end = len(data)
        chunk = data[: end + 1]
        lines_here = lines + 1
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as bad:
            shown = chunk[max(0, bad.start - 10) : bad.start + 10].decode("utf-8", "backslashreplace")
            line = first_line + chunk.count(b"\n", 0, bad.start)
            raise InputError(
                f"{name}:{line}: not valid UTF-8 text (near {shown[:40]!r}); pass the file's --encoding (e.g. latin-1, cp1252)"
            ) from None
        if text.count(dialect.quotechar) % 2 == 0 or end >= len(data):
            try:
                with long_fields():
                    rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quotechar))
            except csv.Error as exc:
                raise _first_record_error(name, first_line, str(exc)) from None
            fields = rows[0] if rows else []
            return fields, min(end + 1, len(data)), lines_here
        pos = end + 1
        lines = lines_here


def _first_record_error(name: str, line: int, reason: str) -> BadLineError:
    if "new-line character" in reason:
        return BadLineError(
            f"{name}:{line}: a carriage return (\\r) outside quotes in the first line; lines end with"
            " \\n or \\r\\n here (a file from an old Mac? convert its line ends: tr '\\r' '\\n')"
        )
    return BadLineError(f"{name}:{line}: the first line cannot be read as CSV ({reason}); check --delimiter and quoting")


def sniff_delimiter(sample: bytes, name: str, decimal: str = ".") -> str:
    """Guess the delimiter from the first lines (``--delimiter auto``); never the decimal mark."""
    text = sample[:65536].decode("utf-8", errors="replace")
    text = text[: text.rfind("\n") + 1] or text
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|".replace(decimal, "")).delimiter
    except csv.Error:
        raise OptionError(
            f"{name}: could not guess the delimiter from the first lines; pass --delimiter ',' (or ';', tab, '|')"
        ) from None


def read_header(
    source: Source, *, dialect: Dialect, header: bool, names: tuple[str, ...], skip_rows: int, block_bytes: int
) -> Header:
    """Read past skipped lines and the header; return the names and the leftover bytes."""
    data = b""
    at_eof = False
    lines = 0

    def more() -> None:
        nonlocal data, at_eof
        chunk = source.read(max(block_bytes, 1 << 16))
        if not chunk:
            at_eof = True
        data += chunk

    more()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    for _ in range(skip_rows):
        while b"\n" not in data and not at_eof:
            more()
        cut = data.find(b"\n")
        if cut < 0:
            raise SchemaError(f"{source.name}: --skip-rows {skip_rows} skips the whole file ({lines + 1} lines)")
        data = data[cut + 1 :]
        lines += 1
    if dialect.delimiter == "auto":
        while data.count(b"\n") < 20 and not at_eof and len(data) < (1 << 20):
            more()
        sample = strip_comments(data, dialect.comment) if dialect.comment else data
        dialect = dataclasses.replace(dialect, delimiter=sniff_delimiter(sample, source.name, dialect.decimal))
    # Skip blank and comment lines before the header, as pandas does.
    while True:
        while b"\n" not in data and not at_eof:
            more()
        stripped = data.lstrip(b"\r\n")
        skipped = data[: len(data) - len(stripped)].count(b"\n")
        data, lines = stripped, lines + skipped
        if dialect.comment and data.startswith(dialect.comment.encode()):
            cut = data.find(b"\n")
            data, lines = (data[cut + 1 :], lines + 1) if cut >= 0 else (b"", lines + 1)
            continue
        if not data and not at_eof:
            more()
            continue
        break
    if not data:
        what = "no header line" if header else "no data"
        raise SchemaError(f"{source.name} is empty ({what}); check the file, or --skip-rows")
    while True:
        record = _split_first_record(data, dialect, at_eof, name=source.name, first_line=lines + 1)
        if record is not None:
            break
        if len(data) > max_line_bytes():
            raise BadLineError(
                f"{source.name}:{lines + 1}: the first record is over {max_line_bytes() >> 20} MiB; check --delimiter and quoting"
            )
        more()
    fields, used, used_lines = record
    fields = [f.rstrip("\r") if i == len(fields) - 1 else f for i, f in enumerate(fields)]
    if not names:  # --names says how many columns there are
        _check_one_column(fields, dialect, source.name, lines + 1)
    if header and any("\x00" in f for f in fields):
        raise InputError(
            f"{source.name}:{lines + 1}: the header holds a NUL byte, which no column name can;"
            " is the file binary, or UTF-16 text (pass --encoding utf-16)?"
        )
    if header:
        columns = [f if f != "" else f"Unnamed: {i}" for i, f in enumerate(fields)]
        return Header(columns, lines + used_lines, data[used:], dialect)
    if names:
        if len(names) != len(fields):
            raise SchemaError(
                f"{source.name}:{lines + 1}: --names gives {len(names)} names but the first line has {len(fields)} fields"
            )
        return Header(list(names), lines, data, dialect)
    return Header([f"c{i}" for i in range(len(fields))], lines, data, dialect)


def _check_one_column(fields: list[str], dialect: Dialect, name: str, line: int) -> None:
    """Refuse a first line read as one column that holds another usual delimiter: the wrong --delimiter.

    Read on, its rows would be one column of text, refused with advice to store
    them as categories.
    """
    if len(fields) != 1:
        return
    found = [d for d in ("\t", ";", "|", ",") if d != dialect.delimiter and d in fields[0]]
    if found:
        spelled = {"\t": "tab"}.get(found[0], found[0])
        words = {"\t": "tabs", ";": "semicolons", "|": "'|'", ",": "commas"}[found[0]]
        raise SchemaError(
            f"{name}:{line}: the first line is one column holding {words}: is the file"
            f" {spelled}-separated? pass --delimiter {shlex.quote(spelled)} (or --delimiter auto to guess)"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TextBlock:
    """A run of whole CSV lines, cut outside quotes: bytes, or where to find them in a plain file."""

    source: str
    index: int  # position of this block in the conversion, for ordering
    first_line: int  # 1-based physical line number of the block's first line (0: not known yet, see below)
    data: bytes | None  # None: read ``length`` bytes at ``offset`` of ``source``
    offset: int = 0
    length: int = 0
    # Cut at a line end without looking at the bytes before it (iter_blocks_at_offsets): whether that
    # line end is outside quotes, and the line the block starts at (but for a source's first block),
    # are known only once the blocks before it are counted, which the parser processes do.
    speculative: bool = False

    @property
    def size(self) -> int:
        """How many bytes of input the block holds."""
        return self.length if self.data is None else len(self.data)

    def text(self) -> bytes:
        if self.data is not None:
            return self.data
        fd = os.open(self.source, os.O_RDONLY)
        try:
            data = os.pread(fd, self.length, self.offset)
        finally:
            os.close(fd)
        if len(data) != self.length:
            raise InputError(f"{self.source} changed while being converted (it is shorter now); convert it again")
        return data


def count_byte(data: bytes | bytearray, byte: bytes, start: int, end: int) -> int:
    """How many times ``byte`` occurs in ``data[start:end]`` (numpy: several times bytes.count's speed)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start) == byte[0]))


def _last_cut(data: bytes | bytearray, quotechar: bytes, end: int) -> int:
    """Index just past the last line end in ``data[:end]`` that is outside quotes, or -1.

    Blocks always start outside quotes, so a line end is outside quotes when an
    even number of quote characters precede it. Counting bytes is C speed; only
    the line ends from the last one backwards are tried, usually just one.
    """
    quotes = count_byte(data, quotechar, 0, end) if data.find(quotechar, 0, end) >= 0 else 0
    stop = end
    while True:
        newline = data.rfind(b"\n", 0, stop)
        if newline < 0:
            return -1
        quotes -= data.count(quotechar, newline, stop)  # now: quotes before this line end
        if quotes % 2 == 0:
            return newline + 1
        stop = newline


def iter_blocks(
    source: Source, header: Header, *, block_bytes: int, start_index: int = 0, cut_at: int | None = None
) -> Iterator[TextBlock]:
    """Yield the data of ``source`` after its header as TextBlocks of about ``block_bytes``.

    With ``cut_at``, a block also ends at the last line end within the first
    ``cut_at`` bytes of data, so the whole lines there form blocks of their own
    whatever the block size (the rows that decide the columns' kinds).
    """
    quote = header.dialect.quotechar.encode()
    # One buffer for the whole source: blocks are cut off its front and the tail moved down,
    # so its memory is reused; fresh bytes objects for every block cost page faults (measured:
    # most of the main process's time on a plain file).
    margin = min(block_bytes, 1 << 16)  # read just past the block size: the tail to move is short
    buffer = bytearray(max(block_bytes + margin, len(header.rest)))
    buffer[: len(header.rest)] = header.rest
    filled = len(header.rest)
    line = header.lines + 1
    index = start_index
    at_eof = False

    def read(size: int) -> None:
        nonlocal filled, at_eof
        if filled + size > len(buffer):
            buffer.extend(bytes(filled + size - len(buffer)))
        with memoryview(buffer) as view:
            count = source.readinto(view[filled : filled + size])
        filled += count
        at_eof = count == 0

    consumed = 0  # bytes of data yielded so far
    while True:
        if filled < block_bytes and not at_eof:
            read(block_bytes - filled + margin)
        cut = _last_cut(buffer, quote, block_bytes) if filled > block_bytes else -1
        boundary = cut_at - consumed if cut_at is not None else 0
        if 0 < boundary < filled and boundary < max(cut, block_bytes):
            within = _last_cut(buffer, quote, boundary)
            cut = within if within > 0 else cut  # none: one line spans the boundary, whose block ends later
        if cut < 0:
            cut = filled if at_eof else _last_cut(buffer, quote, filled)
        while cut < 0:  # one line longer than a block: read on until it ends
            if filled > max_line_bytes():
                raise BadLineError(
                    f"{source.name}:{line}: a line (or quoted field) runs over {max_line_bytes() >> 20} MiB;"
                    " check --delimiter and for an unclosed quote"
                )
            read(block_bytes)
            cut = filled if at_eof else _last_cut(buffer, quote, filled)
        if cut == 0:
            return
        if source.plain:
            yield TextBlock(source.name, index, line, None, source.position - filled, cut)
        else:
            yield TextBlock(source.name, index, line, bytes(memoryview(buffer)[:cut]))
        line += count_byte(buffer, b"\n", 0, cut)
        buffer[: filled - cut] = buffer[cut:filled]  # same length: moved in place, no new buffer
        filled -= cut
        consumed += cut
        index += 1
        if at_eof and not filled:
            return


_WINDOW_BYTES = 1 << 16  # read at a block's nominal end to find the line end after it


def iter_blocks_at_offsets(
    source: Source, header: Header, *, block_bytes: int, start_index: int = 0, cut_at: int | None = None
) -> Iterator[TextBlock]:
    """Like ``iter_blocks`` for a plain file, reading only a little at each block's end: offsets, not bytes.

    A block ends at the first line end past ``block_bytes`` (with ``cut_at``: the
    last one within the first ``cut_at`` bytes of data ends a block too), found
    by reading a few KiB there. Whether that line end lies inside quotes is not
    known here: the blocks are ``speculative``, and the parser processes count
    each block's quotes and lines so that the blocks can be checked, joined where
    a line end was inside quotes, and numbered in order (``pool.parse_in_order``).
    The main process thus never reads the data itself.
    """
    start = source.position - len(header.rest)  # the first byte of data in the file
    end = source.size
    fd = os.open(source.path, os.O_RDONLY)
    try:
        pos, index = start, start_index
        while pos < end:
            boundary = start + cut_at if cut_at is not None else None
            cut = -1
            if boundary is not None and pos < boundary < min(end, pos + block_bytes):
                cut = _line_end_before(fd, boundary, pos)
            if cut < 0:
                cut = _line_end_after(fd, pos + block_bytes - 1, end, source, header, start)
            yield TextBlock(source.name, index, header.lines + 1 if pos == start else 0, None, pos, cut - pos, speculative=True)
            pos, index = cut, index + 1
    finally:
        os.close(fd)


def _line_end_after(fd: int, at: int, end: int, source: Source, header: Header, start: int) -> int:
    """The offset just past the first line end at or after ``at`` (``end`` if none)."""
    pos = at
    while pos < end:
        window = os.pread(fd, _WINDOW_BYTES, pos)
        if not window:
            return end  # the file shrank: its parser says so
        found = window.find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += len(window)
        if pos - at > max_line_bytes():
            line = header.lines + 1 + _count_lines(fd, start, at)
            raise BadLineError(
                f"{source.name}:{line}: a line (or quoted field) runs over {max_line_bytes() >> 20} MiB;"
                " check --delimiter and for an unclosed quote"
            )
    return end


def _line_end_before(fd: int, boundary: int, floor: int) -> int:
    """The offset just past the last line end before ``boundary`` and after ``floor``, or -1."""
    pos = boundary
    while pos > floor:
        size = min(_WINDOW_BYTES, pos - floor)
        window = os.pread(fd, size, pos - size)
        found = window.rfind(b"\n")
        if found >= 0:
            return pos - size + found + 1
        pos -= size
    return -1


def _count_lines(fd: int, start: int, end: int) -> int:
    """Line ends in ``[start, end)`` of the file (for a message: read only when something is wrong)."""
    count, pos = 0, start
    while pos < end:
        data = os.pread(fd, min(16 << 20, end - pos), pos)
        if not data:
            break
        count += data.count(b"\n")
        pos += len(data)
    return count


def strip_comments(data: bytes, comment: str) -> bytes:
    return re.sub(re.escape(comment.encode()) + rb"[^\n]*", b"", data)


@contextlib.contextmanager
def long_fields() -> Iterator[None]:
    """Let Python's csv module read cells as long as a line may be (its default stops at 128 KiB)."""
    previous = csv.field_size_limit(max_line_bytes())
    try:
        yield
    finally:
        csv.field_size_limit(previous)
