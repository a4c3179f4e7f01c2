"""Rows stored back to back in a file, read one large load at a time (the read-ahead's reads).

``RowFile`` reads a run of rows with one large read, past the page cache for loads at scattered
places, through it (announced ahead, dropped after) for loads in file order.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading

import numpy as np

_DIRECT_ALIGN = 4096  # what O_DIRECT asks of offsets, lengths and buffers (a page: enough for any disk's blocks)


class RowFile:
    """Rows stored back to back in a file from ``offset``: one large read a load.

    Loads at scattered places (``direct``) are read with ``O_DIRECT`` where the file system allows it:
    straight from the disk into a staging buffer, past the page cache, which would only have to be
    filled, charged to the process's memory limit and emptied again (measured: a quarter of the CPU
    time, and a faster disk rate on scattered reads). Loads read in file order go through the page
    cache, whose read-ahead is faster there; they are announced ahead (``WILLNEED``) and dropped after
    reading when ``drop_cache`` (data larger than memory: this epoch will not read them again).
    """

    def __init__(self, path: str, offset: int, row_bytes: int, *, drop_cache: bool, direct: bool = False) -> None:
        self.offset, self.row_bytes, self.drop_cache = offset, row_bytes, drop_cache
        self._fd = os.open(path, os.O_RDONLY)
        self._direct_fd: int | None = None
        if direct and hasattr(os, "O_DIRECT"):
            try:
                self._direct_fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
            except OSError:  # a file system without direct reads (tmpfs): the page cache it is
                pass
        self._staging = threading.local()  # one aligned buffer per reading thread

    @property
    def direct(self) -> bool:
        return self._direct_fd is not None

    def announce(self, start: int, stop: int) -> None:
        """Ask the kernel to fetch rows ``start..stop`` now (read soon); direct reads skip the page cache."""
        if self._direct_fd is None:
            os.posix_fadvise(
                self._fd, self.offset + start * self.row_bytes, (stop - start) * self.row_bytes, os.POSIX_FADV_WILLNEED
            )

    def announce_rows(self, rows: np.ndarray | tuple[int, int], gap_rows: int) -> None:
        """``announce`` what ``gather`` will read for ``rows``."""
        if isinstance(rows, tuple):
            self.announce(*rows)
        elif self._direct_fd is None:
            for first, end in runs(rows, gap_rows):
                self.announce(int(rows[first]), int(rows[end - 1]) + 1)

    def read(self, start: int, stop: int, into: np.ndarray) -> None:
        view = memoryview(into.view(np.uint8).reshape(-1))
        offset = self.offset + start * self.row_bytes
        if self._direct_fd is not None:
            try:
                view[:] = self._read_direct(offset, len(view), start, stop)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._stop_direct()  # refused after all (alignment rules of this file system): read as usual
        _read_fully(self._fd, view, offset, start, stop)
        if self.drop_cache:  # data larger than memory: these pages are not read again this epoch
            os.posix_fadvise(self._fd, offset, len(view), os.POSIX_FADV_DONTNEED)

    def gather(
        self,
        rows: np.ndarray | tuple[int, int],
        into: np.ndarray,
        *,
        piece_rows: int,
        gap_rows: int,
        where: np.ndarray | None = None,
    ) -> int:
        """File rows ``rows`` (sorted), or rows ``start..stop`` (a pair: one ``read``), into ``into``; returns
        the rows read from the file.

        The runs of the file that hold them are read (a gap of more than ``gap_rows`` rows is skipped: a
        read of its own costs less), each in large reads of at most ``piece_rows`` rows through a staging
        buffer, whose used rows are copied out: ``into`` holds only the rows asked for, row k of ``rows`` at
        ``into[where[k]]`` when ``where`` is given (rows wanted in another order, read in file order).
        """
        if isinstance(rows, tuple):
            self.read(*rows, into)
            return rows[1] - rows[0]
        out = into.view(np.uint8).reshape(rows.size, self.row_bytes)
        read = 0
        for first, end in runs(rows, gap_rows):
            while first < end:
                start, stop = int(rows[first]), min(int(rows[end - 1]) + 1, int(rows[first]) + piece_rows)
                last = first + int(np.searchsorted(rows[first:end], stop))
                span = np.frombuffer(self._read_staged(start, stop), dtype=np.uint8).reshape(stop - start, self.row_bytes)
                if where is None:
                    np.take(span, rows[first:last] - start, axis=0, out=out[first:last])
                else:
                    out[where[first:last]] = span[rows[first:last] - start]
                read += stop - start
                first = last
        return read

    def _read_staged(self, start: int, stop: int) -> memoryview:
        """Rows ``start..stop`` read into this thread's staging buffer (valid until its next read)."""
        offset, length = self.offset + start * self.row_bytes, (stop - start) * self.row_bytes
        if self._direct_fd is not None:
            try:
                return self._read_direct(offset, length, start, stop)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._stop_direct()
        view = self._staging_buffer(length)[:length]
        _read_fully(self._fd, view, offset, start, stop)
        if self.drop_cache:
            os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_DONTNEED)
        return view

    def _staging_buffer(self, length: int) -> memoryview:
        staging = getattr(self._staging, "buffer", None)
        if staging is None or len(staging) < length:
            staging = self._staging.buffer = mmap.mmap(-1, length)  # anonymous maps are page-aligned
        return memoryview(staging)

    def _read_direct(self, offset: int, length: int, start: int, stop: int) -> memoryview:
        # O_DIRECT reads whole aligned blocks into an aligned buffer: read the aligned span around the
        # rows; they lie in it from offset - low.
        low = offset - offset % _DIRECT_ALIGN
        high = -(-(offset + length) // _DIRECT_ALIGN) * _DIRECT_ALIGN
        span = self._staging_buffer(high - low)[: high - low]
        done = 0
        while done < offset - low + length:
            got = os.preadv(self._direct_fd, [span[done:]], low + done)
            if got <= 0:  # the file ends inside the last aligned block
                raise OSError(f"the file ended {length - done} bytes early while reading rows {start}..{stop}")
            done += got
        return span[offset - low : offset - low + length]

    def _stop_direct(self) -> None:
        fd, self._direct_fd = self._direct_fd, None
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        self._stop_direct()
        os.close(self._fd)


def runs(rows: np.ndarray, gap_rows: int) -> list[tuple[int, int]]:
    """Runs of ``rows`` (sorted) that lie within ``gap_rows`` of each other: ``rows[first:end]`` for each."""
    cuts = (np.flatnonzero(np.diff(rows) > gap_rows) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, int(rows.size)]))


def _read_fully(fd: int, view: memoryview, offset: int, start: int, stop: int) -> None:
    """One large read; the kernel may return it in parts."""
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise OSError(f"the file ended {len(view) - done} bytes early while reading rows {start}..{stop}")
        done += got
