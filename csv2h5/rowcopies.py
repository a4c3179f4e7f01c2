"""Feature rows copied into the output by the parser processes, at file offsets the main process reserves.

Writing the rows was the largest part of the main process's work (the kernel
copying them into the page cache: 0.3-0.9 ms per MB of CSV). For an
uncompressed /features whose chunks span whole rows, a chunk's bytes are its
rows in C order, and with the chunks allocated when the dataset is extended
(``alloc_time`` early, ``fill_time`` never: see ``featurerows``) their file
offsets are known before any row is written. So the main process, taking
blocks in order, extends /features (once for the blocks taken since the last
task was sent: ``FeatureRows._reserve``), reads the offsets of the chunks each
block's rows fall in, and leaves a job: copy these bytes of the shared-memory file
the parser left the rows in (``shared``) to these offsets of the output. Jobs
ride along with the next block sent to a parser (``pool.parse_in_order``),
which runs them before parsing (:func:`copy_rows`), so they cost no message
of their own; the last ones are sent alone.

Every job is waited for before the rows written so far are read (widening),
and before the file is finished (:meth:`RowCopies.drain`): a copy that failed
(a full disk) raises there, and the conversion leaves nothing behind, as any
failed write does. Nothing else reads or writes those bytes: HDF5 never writes
raw data of chunks it did not fill (fill time never).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .shared import SHARED_DIR

if TYPE_CHECKING:  # the processes (and multiprocessing) load only with a pool
    from .processes import Task

# (file offset in the output, byte offset in the shared file, bytes)
Piece = tuple[int, int, int]
# (the output's path, the shared file's name, where its bytes go)
Job = tuple[str, str, tuple[Piece, ...]]


def copy_rows(jobs: list[Job]) -> None:
    """Run ``jobs`` (in a parser process): copy each shared file's bytes to their offsets, then remove the file.

    ``sendfile`` copies inside the kernel, from the shared file's pages to the
    output's: the rows are never mapped or read into this process.
    """
    for output, name, pieces in jobs:
        path = SHARED_DIR / name
        source = os.open(path, os.O_RDONLY)
        try:
            target = os.open(output, os.O_WRONLY)
            try:
                for file_offset, start, length in pieces:
                    _send(target, source, file_offset, start, length)
            finally:
                os.close(target)
        finally:
            os.close(source)
            os.unlink(path)


def _send(target: int, source: int, file_offset: int, start: int, length: int) -> None:
    os.lseek(target, file_offset, os.SEEK_SET)
    done = 0
    while done < length:
        sent = os.sendfile(target, source, start + done, length - done)
        if sent == 0:  # the shared file is shorter than its rows: never expected, but never a silent gap
            raise OSError(f"short copy of rows into the output: {done} of {length} bytes")
        done += sent


def _succeeded(future: Task) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


class RowCopies:
    """The copy jobs of one output: waiting to be sent, riding with parse tasks, or sent alone; waited for by :meth:`drain`."""

    def __init__(self, output: Path, submit: Callable[..., Task]) -> None:
        self.output = str(output)
        self._submit = submit
        self._waiting: list[Job] = []
        self._carriers: collections.deque[Task] = collections.deque()  # tasks that carry jobs, oldest first
        self.before_take: Callable[[], None] = lambda: None  # leaves the jobs added lazily (``FeatureRows``)

    def add(self, name: str, pieces: list[Piece], path: Path | None = None) -> None:
        """Copy the shared file ``name`` to ``pieces`` of the output, or of the file at ``path`` (sent with the next task)."""
        self._waiting.append((self.output if path is None else str(path), name, tuple(pieces)))

    def take(self) -> list[Job]:
        """The jobs waiting, for the task about to be sent (which must then be passed to :meth:`carried_by`)."""
        self.before_take()
        jobs, self._waiting = self._waiting, []
        return jobs

    def carried_by(self, future: Task) -> None:
        """Note a task that carries jobs: its result (or failure) is waited for before the file is read or finished."""
        while self._carriers and _succeeded(self._carriers[0]):
            self._carriers.popleft()
        self._carriers.append(future)

    @property
    def pending(self) -> bool:
        self.before_take()
        return bool(self._waiting or self._carriers)

    def drain(self) -> None:
        """Send the waiting jobs and wait until every job is done; a failed copy raises here."""
        self.before_take()
        if self._waiting:
            self.carried_by(self._submit(copy_rows, self.take()))
        while self._carriers:
            self._carriers[0].result()
            self._carriers.popleft()
