"""Arrays handed from parser processes to the main process through shared memory, not pipes.

A parsed block's arrays are most of what a parser gives back (a block of
pixels is a third of its CSV bytes). Pickled through a pipe they cost the main
process a kernel copy, an unpickling copy and fresh pages for both (measured:
beside reading every byte to cut blocks, most of what it did). Instead a parser writes each large array to a file in
``/dev/shm`` (memory, not disk) and sends its name; the main process maps it
and removes the name at once, so the memory is freed when the array is. Feature
rows may instead be copied into the output by a parser process, which then
removes the file (``rowcopies``): the main process never maps them.

Files are named ``csv2h5-<main pid>-<conversion>-...``: whatever a conversion
leaves behind (results parsed but never received, after an error or Ctrl-C)
is removed when its pool closes, and files of processes no longer alive are
removed when the next pool starts.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import mmap
import os
import uuid
from pathlib import Path

import numpy as np

SHARED_DIR = Path("/dev/shm")
_PREFIX = "csv2h5-"
MIN_SHARED_BYTES = 1 << 12  # smaller arrays travel in the pipe: a file costs more than copying them
_counter = itertools.count()


@dataclasses.dataclass(frozen=True, slots=True)
class SharedArray:
    """Where a parser left an array: a file name in SHARED_DIR, with the array's shape and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize  # math.prod: np.prod costs ~40 us a call

    def open(self) -> np.ndarray:
        """The array, mapped (writable, private to this process); the file's name is removed at once."""
        path = SHARED_DIR / self.name
        fd = os.open(path, os.O_RDWR)
        try:
            os.unlink(path)
            if self.nbytes == 0:
                return np.zeros(self.shape, dtype=self.dtype)
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # one call maps every page, not a fault each
            view = mmap.mmap(fd, self.nbytes, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        return np.frombuffer(view, dtype=self.dtype).reshape(self.shape)


def new_owner() -> str | None:
    """A name for one conversion's shared files (``<pid>-<random>``), or None where there is no /dev/shm."""
    if not (SHARED_DIR.is_dir() and os.access(SHARED_DIR, os.W_OK)):
        return None
    remove_left_over(None)
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def share(array: np.ndarray, owner: str | None) -> np.ndarray | SharedArray:
    """Write a large numeric ``array`` to shared memory for conversion ``owner``; small or object arrays stay as they are."""
    if owner is None or array.dtype.hasobject or array.nbytes < MIN_SHARED_BYTES:
        return array
    name = f"{_PREFIX}{owner}-{os.getpid()}-{next(_counter)}"
    fd = os.open(SHARED_DIR / name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        data = memoryview(np.ascontiguousarray(array)).cast("B")
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    except BaseException:
        os.unlink(SHARED_DIR / name)
        raise
    finally:
        os.close(fd)
    return SharedArray(name, tuple(array.shape), array.dtype.str)


def received(value: object) -> object:
    """An array sent by ``share``: mapped if it was shared, else as it came."""
    return value.open() if isinstance(value, SharedArray) else value


def discard(value: object) -> None:
    """Remove the file of an array sent by ``share`` that will not be used (e.g. a block parsed again)."""
    if isinstance(value, SharedArray):
        (SHARED_DIR / value.name).unlink(missing_ok=True)


def remove_left_over(owner: str | None) -> None:
    """Remove the shared files of conversion ``owner`` never opened, and those of processes now gone."""
    if not SHARED_DIR.is_dir():
        return
    for path in SHARED_DIR.glob(f"{_PREFIX}*"):
        rest = path.name[len(_PREFIX) :]
        pid = rest.split("-", 1)[0]
        if (owner is not None and rest.startswith(owner + "-")) or (pid.isdigit() and not _alive(int(pid))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
