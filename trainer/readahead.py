"""Reading an epoch's rows ahead of use, in large sequential reads, within a memory budget.

When the order of an epoch is known (``blocks``, or file order), so is the
moment each piece of the file is first and last needed. A background thread
loads *loads* (runs of whole chunks that are in use over one stretch of
batches: a block of the ``blocks`` order, or the part of one) in the order
they are first needed, each with one large read into a buffer the reader owns,
and a batch gathers its rows from those buffers. A load is dropped as soon as
the last batch that needs it has been read, and the loader never holds more
than ``capacity_bytes``, so memory stays within the budget; the file's pages
are dropped from the page cache after each read (``drop_cache``), since the
page cache counts against a container's memory limit and this epoch will not
read them again.

Batches may be read in any order and from several threads: a batch whose
loads are not held (read again, read out of turn, or from another epoch) is
read straight from the file, which is slower but gives the same rows.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable

import numpy as np

from .storage import MappedRows, RowSource

AHEAD_BLOCKS = 4  # loads held beyond the pool: the reads in flight before they are needed


@dataclasses.dataclass
class _Schedule:
    """One epoch's loads in the order they are first needed."""

    starts: np.ndarray  # first file row of each load
    stops: np.ndarray  # one past the last row
    uses: np.ndarray  # batches still to read each load
    batches_done: np.ndarray  # batches read once already (a batch read again does not count twice)
    load_of_batch: list[np.ndarray]  # the loads each batch reads


def plan_loads(batches: list[np.ndarray], *, chunk_rows: int, block_rows: int, file_rows: int) -> _Schedule:
    """The loads of an epoch whose batch ``i`` reads the (sorted) file rows ``batches[i]``.

    Consecutive chunks of one block whose stretches of use overlap are one load; a block cut in two by
    the order (read at two times) is two loads. Loads are listed by the batch that first needs them.
    """
    sizes = np.array([b.size for b in batches], dtype=np.int64)
    rows = np.concatenate(batches) if batches else np.zeros(0, np.int64)
    batch_of_row = np.repeat(np.arange(len(batches)), sizes)
    chunk = rows // chunk_rows
    used, first_at = np.unique(chunk, return_index=True)
    last_at = chunk.size - 1 - np.unique(chunk[::-1], return_index=True)[1]
    first, last = batch_of_row[first_at], batch_of_row[last_at]
    groups, start, reach = [], 0, -1
    for k in range(used.size):  # a few thousand chunks per epoch
        if k > start and (used[k] != used[k - 1] + 1 or used[k] * chunk_rows // block_rows
                          != used[k - 1] * chunk_rows // block_rows or first[k] > reach):
            groups.append((start, k))
            start, reach = k, -1
        reach = max(reach, int(last[k]))
    if used.size:
        groups.append((start, used.size))
    lo = np.array([used[a] * chunk_rows for a, _ in groups], dtype=np.int64)
    hi = np.array([min((used[b - 1] + 1) * chunk_rows, file_rows) for _, b in groups], dtype=np.int64)
    begin = np.array([int(first[a:b].min()) for a, b in groups], dtype=np.int64)
    by_need = np.argsort(begin, kind="stable")
    lo, hi = lo[by_need], hi[by_need]
    # Which loads each batch reads: loads are disjoint row ranges, so a row's load is found by its range.
    in_file_order = np.argsort(lo)
    load_of_row = in_file_order[np.searchsorted(lo[in_file_order], rows, side="right") - 1]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    load_of_batch = [np.unique(load_of_row[bounds[i] : bounds[i + 1]]) for i in range(len(batches))]
    uses = np.bincount(np.concatenate(load_of_batch) if load_of_batch else np.zeros(0, np.int64),
                       minlength=lo.size).astype(np.int64)
    return _Schedule(starts=lo, stops=hi, uses=uses, batches_done=np.zeros(len(batches), dtype=bool),
                     load_of_batch=load_of_batch)


class BlockReader:
    """Rows of batches whose epoch order is known, read ahead by a background thread.

    Args:
        source: where rows are read from (a memory-mapped file is read with ``preadv`` into owned buffers).
        path: the file (for ``preadv``), or None to load through ``source.take``.
        batches_of: ``epoch -> [sorted file rows of batch i, ...]``: what each batch of the epoch reads.
        chunk_rows, block_rows, file_rows: how the file and the order are cut.
        row_bytes: bytes of one row as read.
        capacity_bytes: the most the buffers hold at once.
        drop_cache: drop the pages read from the page cache (data larger than memory).
    """

    def __init__(self, source: RowSource | object, *, path: str | None,
                 batches_of: Callable[[int], list[np.ndarray]], chunk_rows: int, block_rows: int, file_rows: int,
                 row_bytes: int, capacity_bytes: int, drop_cache: bool) -> None:
        self.source = source
        self.batches_of = batches_of
        self.chunk_rows, self.block_rows, self.file_rows = chunk_rows, block_rows, file_rows
        self._row_bytes = int(row_bytes)
        self.capacity_bytes = int(capacity_bytes)
        self.drop_cache = drop_cache
        self.loads_read = 0  # how many loads the thread has read (for tests and benchmarks)
        self.rows_loaded = 0  # rows the thread has read ahead
        self.rows_direct = 0  # rows read straight from the file because their load was not held
        self.peak_bytes = 0  # the most the buffers held at once
        mapped = getattr(source, "reader", None)
        self._file_offset: int | None = None
        self._fd: int | None = None
        if path is not None and isinstance(mapped, MappedRows) and mapped.window is None:
            self._file_offset = mapped.file_offset  # rows lie back to back from here: one pread per load
            self._dtype = mapped.dtype
            self._fd = os.open(path, os.O_RDONLY)
        self._cond = threading.Condition()
        self._epoch: int | None = None
        self._generation = 0
        self._schedule: _Schedule | None = None
        self._buffers: dict[int, np.ndarray] = {}
        self._held = 0
        self._next = 0  # the next load the thread reads
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="h5train-readahead", daemon=True)
        self._thread.start()

    # -- the consumer -----------------------------------------------------------------------------

    def take(self, rows: np.ndarray, *, epoch: int, index: int) -> np.ndarray:
        """The values of file rows ``rows`` (sorted), batch ``index`` of epoch ``epoch``."""
        with self._cond:
            if self._epoch is None or epoch > self._epoch:
                self._start_epoch(epoch)
            elif epoch < self._epoch:  # a straggler of an epoch already left behind
                self.rows_direct += rows.size
                return self.source.take(rows)
            while self._schedule is None and self._epoch == epoch and not self._closed:
                self._cond.wait()
            schedule = self._schedule
            if schedule is None or self._epoch != epoch:
                self.rows_direct += rows.size
                return self.source.take(rows)
            loads = schedule.load_of_batch[index] if index < len(schedule.load_of_batch) else np.zeros(0, np.int64)
            held = {int(k): self._wait_for(int(k), schedule) for k in loads}
        in_file_order = sorted(held, key=lambda k: schedule.starts[k])  # rows are sorted: one stretch per load
        bounds = list(np.searchsorted(rows, [schedule.starts[k] for k in in_file_order])) + [rows.size]
        pieces = []
        for k, a, b in zip(in_file_order, bounds, bounds[1:]):
            part, buffer = rows[a:b], held[k]
            if buffer is None:
                self.rows_direct += part.size
            pieces.append(self.source.take(part) if buffer is None else np.take(buffer, part - schedule.starts[k], axis=0))
        out = pieces[0] if len(pieces) == 1 else (np.concatenate(pieces) if pieces else self.source.take(rows))
        with self._cond:
            if self._schedule is schedule and index < schedule.batches_done.size and not schedule.batches_done[index]:
                schedule.batches_done[index] = True
                for k in loads:
                    schedule.uses[k] -= 1
                    if schedule.uses[k] == 0 and int(k) in self._buffers:
                        self._held -= self._buffers.pop(int(k)).nbytes
                self._cond.notify_all()
        return out

    def _wait_for(self, load: int, schedule: _Schedule) -> np.ndarray | None:
        """The buffer of ``load`` once the thread has read it; None when it will not (read it directly)."""
        while True:
            if load in self._buffers:
                return self._buffers[load]
            if self._schedule is not schedule or self._closed or schedule.uses[load] <= 0:
                return None
            size = (schedule.stops[load] - schedule.starts[load]) * self._row_bytes
            blocked = self._next < schedule.starts.size and self._held + size > self.capacity_bytes
            if load >= self._next and blocked:  # the buffers are full of loads other batches still need
                return None
            self._cond.wait()

    def _start_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        self._generation += 1
        self._schedule = None
        self._buffers.clear()
        self._held = 0
        self._next = 0
        self._cond.notify_all()

    # -- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (self._epoch is None or (
                        self._schedule is not None and not self._room())):
                    self._cond.wait()
                if self._closed:
                    return
                generation, epoch, schedule = self._generation, self._epoch, self._schedule
                load = self._next
                if schedule is not None:
                    self._next += 1
            if schedule is None:
                planned = plan_loads(self.batches_of(epoch), chunk_rows=self.chunk_rows, block_rows=self.block_rows,
                                     file_rows=self.file_rows)
                with self._cond:
                    if self._generation == generation:
                        self._schedule = planned
                        self._cond.notify_all()
                continue
            if schedule.uses[load] <= 0:
                continue
            data = self._read(int(schedule.starts[load]), int(schedule.stops[load]))
            with self._cond:
                self.loads_read += 1
                self.rows_loaded += data.shape[0]
                if self._generation == generation and schedule.uses[load] > 0:
                    self._buffers[load] = data
                    self._held += data.nbytes
                    self.peak_bytes = max(self.peak_bytes, self._held)
                self._cond.notify_all()

    def _room(self) -> bool:
        """Whether the next load fits beside the buffers held (the first always does)."""
        schedule = self._schedule
        if self._next >= schedule.starts.size:
            return False
        size = (schedule.stops[self._next] - schedule.starts[self._next]) * self._row_bytes
        return not self._buffers or self._held + size <= self.capacity_bytes

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self._fd is None:
            return self.source.take(np.arange(start, stop))
        out = np.empty((stop - start, self._row_bytes), dtype=np.uint8)
        view = memoryview(out).cast("B")
        offset, done = self._file_offset + start * self._row_bytes, 0
        while done < len(view):  # one large read; the kernel may return it in parts
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"the file ended {len(view) - done} bytes early while reading rows {start}..{stop}")
            done += got
        if self.drop_cache:
            os.posix_fadvise(self._fd, offset, len(view), os.POSIX_FADV_DONTNEED)
        return out.view(self._dtype)  # whole rows of bytes, aligned as numpy allocates: a plain (rows, F) array

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._buffers.clear()
            self._cond.notify_all()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
