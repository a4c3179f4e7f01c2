"""Cutting the data after the header into blocks of whole lines outside quotes.

Blocks can then be parsed independently, in parallel, and give the same result
whatever the block size.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np

from ..errors import BadLineError, InputError
from .header import Dialect, Header
from .limits import max_line_bytes
from .quotes import quoted_fields
from .source import Source


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
    after_header: bool = False  # a source's first block: its first line follows the header (for messages)

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


def _last_cut(data: bytes | bytearray, dialect: Dialect, end: int) -> int:
    """Index just past the last line end in ``data[:end]`` that is outside quotes, or -1.

    Blocks always start outside quotes, at a line start: where the quoted fields
    are is found from there (``quotes``, at C speed on the usual quoting), and
    only the line ends from the last one backwards are tried, usually just one.
    """
    quoted = quoted_fields(data, dialect, end)
    stop = end
    while True:
        newline = data.rfind(b"\n", 0, stop)
        if newline < 0:
            return -1
        field = int(np.searchsorted(quoted.opens, newline)) - 1  # the last quoted field opened before it
        if field < 0 or quoted.closes[field] < newline:
            return newline + 1
        stop = max(int(quoted.opens[field]), 0)  # inside that field: try the line ends before it


def iter_blocks(
    source: Source, header: Header, *, block_bytes: int, start_index: int = 0, cut_at: int | None = None
) -> Iterator[TextBlock]:
    """Yield the data of ``source`` after its header as TextBlocks of about ``block_bytes``.

    With ``cut_at``, a block also ends at the last line end within the first
    ``cut_at`` bytes of data, so the whole lines there form blocks of their own
    whatever the block size (the rows that decide the columns' kinds).
    """
    dialect = header.dialect
    # One buffer for the whole source: blocks are cut off its front and the tail moved down,
    # so its memory is reused; fresh bytes objects for every block cost page faults (measured:
    # most of the main process's time on a plain file).
    margin = min(block_bytes, 1 << 16)  # read just past the block size: the tail to move is short

    def wanted(size: int) -> int:
        # No more than a plain file still holds (and a margin, should it grow): a file smaller
        # than a block gets a buffer of its size, not a block's, zeroed page by page.
        return min(size, max(source.size - source.position, 0) + margin) if source.plain else size

    buffer = bytearray(min(max(block_bytes + margin, len(header.rest)), len(header.rest) + wanted(block_bytes + margin)))
    buffer[: len(header.rest)] = header.rest
    filled = len(header.rest)
    line = header.lines + 1
    index = start_index
    at_eof = False

    def read(size: int) -> None:
        nonlocal filled, at_eof
        size = wanted(size)
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
        cut = _last_cut(buffer, dialect, block_bytes) if filled > block_bytes else -1
        boundary = cut_at - consumed if cut_at is not None else 0
        if 0 < boundary < filled and boundary < max(cut, block_bytes):
            within = _last_cut(buffer, dialect, boundary)
            cut = within if within > 0 else cut  # none: one line spans the boundary, whose block ends later
        if cut < 0:
            cut = filled if at_eof else _last_cut(buffer, dialect, filled)
        while cut < 0:  # one line longer than a block: read on until it ends
            if filled > max_line_bytes():
                raise BadLineError(
                    f"{source.name}:{line}: a line (or quoted field) runs over {max_line_bytes() >> 20} MiB;"
                    " check --delimiter and for an unclosed quote"
                )
            read(block_bytes)
            cut = filled if at_eof else _last_cut(buffer, dialect, filled)
        if cut == 0:
            return
        if source.plain:
            yield TextBlock(source.name, index, line, None, source.position - filled, cut, after_header=index == start_index)
        else:
            yield TextBlock(source.name, index, line, bytes(memoryview(buffer)[:cut]), after_header=index == start_index)
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
    known here: the blocks are ``speculative``, and the parser processes find
    each block's quoted fields and count its lines so that the blocks can be
    checked, joined where a line end was inside quotes, and numbered in order
    (``pool.parse_in_order``). The main process thus never reads the data itself
    (but for blocks joined, rare: a quoted line end right at a block's end).
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
            line = header.lines + 1 if pos == start else 0
            yield TextBlock(source.name, index, line, None, pos, cut - pos, speculative=True, after_header=pos == start)
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
