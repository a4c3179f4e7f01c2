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

    def read(self, start: int, stop: int, into: np.ndarray) -> None:
        view = memoryview(into.view(np.uint8).reshape(-1))
        offset = self.offset + start * self.row_bytes
        if self._direct_fd is not None:
            try:
                self._read_direct(offset, view, start, stop)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._stop_direct()  # refused after all (alignment rules of this file system): read as usual
        _read_fully(self._fd, view, offset, start, stop)
        if self.drop_cache:  # data larger than memory: these pages are not read again this epoch
            os.posix_fadvise(self._fd, offset, len(view), os.POSIX_FADV_DONTNEED)

    def _read_direct(self, offset: int, view: memoryview, start: int, stop: int) -> None:
        # O_DIRECT reads whole aligned blocks into an aligned buffer: read the aligned span around the
        # rows, then copy the rows out of it.
        low = offset - offset % _DIRECT_ALIGN
        high = -(-(offset + len(view)) // _DIRECT_ALIGN) * _DIRECT_ALIGN
        staging = getattr(self._staging, "buffer", None)
        if staging is None or len(staging) < high - low:
            staging = self._staging.buffer = mmap.mmap(-1, high - low)  # anonymous maps are page-aligned
        span = memoryview(staging)[: high - low]
        done = 0
        while done < offset - low + len(view):
            got = os.preadv(self._direct_fd, [span[done:]], low + done)
            if got <= 0:  # the file ends inside the last aligned block
                raise OSError(f"the file ended {len(view) - done} bytes early while reading rows {start}..{stop}")
            done += got
        view[:] = span[offset - low : offset - low + len(view)]

    def _stop_direct(self) -> None:
        fd, self._direct_fd = self._direct_fd, None
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        self._stop_direct()
        os.close(self._fd)


def _read_fully(fd: int, view: memoryview, offset: int, start: int, stop: int) -> None:
    """One large read; the kernel may return it in parts."""
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise OSError(f"the file ended {len(view) - done} bytes early while reading rows {start}..{stop}")
        done += got
