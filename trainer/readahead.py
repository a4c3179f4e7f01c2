"""Reading an epoch's rows ahead of use, in large sequential reads, within a memory budget.

When the order of an epoch is known (``blocks``, or file order), so is the
moment each piece of the file is first and last needed. Background threads
load *loads* (runs of whole chunks that are in use over one stretch of
batches: a block of the ``blocks`` order, or the part of one) in the order
they are first needed, each with one large read into a buffer the reader owns,
and a batch gathers its rows from those buffers. A load is dropped as soon as
the last batch that needs it has been read, and the loader never holds more
than ``capacity_bytes``, so memory stays within the budget; the file's pages
are dropped from the page cache after each read (``drop_cache``), since the
page cache counts against a container's memory limit and this epoch will not
read them again.

Batches may be read in any order and from several threads: a batch whose
loads are not held (read again, read out of turn, from an epoch left behind,
or whose read ahead failed) is read straight from the file, which is slower but
gives the same rows (or raises the read's error in the caller). A pass that
starts at batch 0 once every batch of the last one was read is read ahead anew,
whichever epoch it reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from .arena import Arena
from .loads import RowsUsed, Schedule, plan_loads
from .rowfile import RowFile
from .rows import MappedRows, RowSource

AHEAD_BLOCKS = 4  # loads held beyond the pool: the reads in flight before they are needed
ADVISE_LOADS = 8  # loads announced to the kernel (WILLNEED) ahead of the one being read: a deeper disk queue
DIRECT_READS = True  # scattered loads read past the page cache where the file system allows (RowFile)
READ_THREADS = 2  # loads read at once: a disk reads blocks at random places faster with more than one in flight
GAP_BYTES = 512 << 10  # a subset's load skips gaps larger than this: a read's 0.3 ms reads ~450 KB at 1.5 GB/s


class BlockReader:
    """Rows of batches whose epoch order is known, read ahead by background threads.

    Loads are read into the slots of an ``Arena`` (each slot holds the largest load).

    Some of the file's rows (``rows_used``: a split, a shard, ``indices``) are cut in blocks of their own
    ranks, so loads are planned in those ranks: a load is read as the runs of the file that hold its rows,
    and its slot keeps only them, so the pool takes the memory it takes on the whole file, however sparse.

    Args:
        source: where rows are read from (``take(rows)``); a file mapped in one piece is read with ``preadv``.
        path: the file (for ``preadv``), or None to load through ``source.take``.
        batches_of: ``epoch -> [sorted file rows of batch i, ...]``: what each batch of the epoch reads.
        chunk_rows, block_rows, file_rows: how the file and the order are cut.
        rows_used: the file rows the batches read (None: all of them), sorted, or in the order they are read
            (loads are then stretches of that order): ``RowsUsed``.
        dtype, width: of the rows as ``source.take`` returns them.
        capacity_bytes: the most the arena holds.
        drop_cache: drop the pages read from the page cache (data larger than memory).
        direct: the loads lie at scattered places (``blocks``): read them past the page cache (``RowFile``).
        threads: loads read at once, each into its own slot (None: ``READ_THREADS``).
    """

    def __init__(
        self,
        source: RowSource | object,
        *,
        path: str | None,
        batches_of: Callable[[int], list[np.ndarray]],
        chunk_rows: int,
        block_rows: int,
        file_rows: int,
        dtype: np.dtype,
        width: int,
        capacity_bytes: int,
        drop_cache: bool,
        direct: bool = False,
        threads: int | None = None,
        rows_used: np.ndarray | None = None,
    ) -> None:
        self.source = source
        self.batches_of = batches_of
        self.chunk_rows, self.block_rows, self.file_rows = chunk_rows, block_rows, file_rows
        self.dtype, self.width = np.dtype(dtype), int(width)
        self.row_bytes = self.dtype.itemsize * self.width
        self._used = RowsUsed(rows_used, file_rows)
        self._gap_rows = max(1, GAP_BYTES // max(1, self.row_bytes))
        self.loads_read = 0  # how many loads the thread has read (for tests and benchmarks)
        self.rows_loaded = 0  # rows the thread has read ahead (of those the batches use)
        self.rows_read = 0  # rows the thread has read from the file: a subset's loads read the rows between too
        self.rows_direct = 0  # rows read straight from the source because their load was not held
        self.peak_bytes = 0  # the most the held loads took at once
        mapped = getattr(source, "reader", None)
        self._file: RowFile | None = None
        if path is not None and isinstance(mapped, MappedRows) and mapped.window is None:
            self._file = RowFile(path, mapped.file_offset, self.row_bytes, drop_cache=drop_cache, direct=direct and DIRECT_READS)
        self._cond = threading.Condition()
        self._epoch: int | None = None
        self._generation = 0
        self._schedule: Schedule | None = None
        self._slots = Arena(capacity_bytes, self.width, self.dtype)
        self._slot_of_load = np.zeros(0, dtype=np.int64)  # -1: not held
        self._planning = False  # a thread is planning the epoch's loads
        self._unplanned: int | None = None  # an epoch whose planning failed: its batches are read directly
        self._failed = np.zeros(0, dtype=bool)  # loads whose read failed: their batches read them directly
        self._held = 0
        self._next = 0  # the position in by_need of the next load the thread reads
        self._advised = 0  # loads by_need[:_advised] were announced to the kernel
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"h5train-readahead-{i}", daemon=True)
            for i in range(max(1, READ_THREADS if threads is None else threads))
        ]
        for thread in self._threads:
            thread.start()

    # -- the consumer -----------------------------------------------------------------------------

    def take(self, rows: np.ndarray, *, epoch: int, index: int) -> np.ndarray:
        """The values of file rows ``rows`` (sorted, or in the order ``rows_used`` gives), batch ``index`` of epoch ``epoch``."""
        ranks = self._used.ranks(rows)
        with self._cond:
            schedule = self._schedule_of(epoch, index)
            held = None if schedule is None else self._gather(ranks, schedule, index)
            out, direct = (None, None) if held is None else held
            self.rows_direct += rows.size if out is None else int(direct.sum())
        if out is None:
            return self.source.take(rows)
        if direct.any():
            out[direct] = self.source.take(rows[direct])
        return out

    def _schedule_of(self, epoch: int, index: int) -> Schedule | None:
        """The schedule batch ``index`` of ``epoch`` is read with (None: read it directly), planned first if need be."""
        schedule = self._schedule
        # A new epoch, or a new pass once every batch of the last was read (evaluation reads one epoch again
        # and again; a run may look at a later epoch first): the threads plan its loads.
        again = index == 0 and schedule is not None and bool(schedule.batches_done.all())
        if self._epoch is None or epoch > self._epoch or again:
            self._epoch, self._schedule = epoch, None
            self._generation += 1
            self._cond.notify_all()
        while self._schedule is None and self._epoch == epoch and not self._closed and self._unplanned != epoch:
            self._cond.wait()
        schedule = self._schedule
        if schedule is None or self._epoch != epoch or index >= schedule.batches_done.size:
            return None  # a straggler of an epoch already left behind
        return schedule

    def _gather(self, ranks: np.ndarray, schedule: Schedule, index: int) -> tuple[np.ndarray | None, np.ndarray] | None:
        """The rows of ranks ``ranks`` that ``schedule``'s loads hold (None where ``direct``: read them directly),
        the batch's uses counted down; None when the schedule was replaced while the batch waited for a load."""
        loads = schedule.loads_of(index)
        if not (self._slot_of_load[loads] >= 0).all():  # the usual case is one check for the whole batch
            for load in loads:
                self._wait_for(int(load), schedule)
                if self._schedule is not schedule:
                    # Another thread began a new pass meanwhile: the slots, and the load ids they are kept
                    # under, are the new schedule's now. The batch reads its rows directly and counts nothing down.
                    return None
        load_of_row = schedule.load_of_chunk[ranks // self.chunk_rows]
        slot = self._slot_of_load[load_of_row]
        where = slot * self._slots.slot_rows + (ranks - schedule.starts[load_of_row])
        direct = slot < 0
        out = None if direct.all() else np.take(self._slots.rows, np.where(direct, 0, where), axis=0)
        if not schedule.batches_done[index]:
            schedule.uses[loads] -= 1
            for load in loads[schedule.uses[loads] == 0]:
                self._release(int(load), schedule)
            for load in schedule.done(index):  # left behind by batches this process is not given
                schedule.uses[load] = 0
                self._release(int(load), schedule)
            self._cond.notify_all()
        return out, direct

    def _wait_for(self, load: int, schedule: Schedule) -> None:
        """Wait until the thread has read ``load`` of ``schedule``, unless it will not soon (its rows are then read
        directly) or another schedule replaces this one (the load ids then mean other loads)."""
        while self._schedule is schedule and self._slot_of_load[load] < 0:
            if self._closed or schedule.uses[load] <= 0 or self._failed[load]:
                return
            if not self._slots.free and self._need_position[load] >= self._next:
                return  # the arena is full of loads that batches not read yet still need
            self._cond.wait()

    def _release(self, load: int, schedule: Schedule) -> None:
        """Free the slot of ``load`` of ``schedule``, the schedule in use."""
        slot = int(self._slot_of_load[load])
        if slot >= 0:
            self._slot_of_load[load] = -1
            self._slots.release(slot)
            self._held -= int(schedule.stops[load] - schedule.starts[load]) * self.row_bytes

    def _install(self, schedule: Schedule) -> None:
        """Use ``schedule`` from now on, every slot of the arena free."""
        self._slots.fit(int((schedule.stops - schedule.starts).max()) if schedule.starts.size else 1)
        self._held = 0
        self._slot_of_load = np.full(schedule.starts.size, -1, dtype=np.int64)
        self._need_position = np.empty(schedule.starts.size, dtype=np.int64)
        self._need_position[schedule.by_need] = np.arange(schedule.starts.size)
        self._failed = np.zeros(schedule.starts.size, dtype=bool)
        self._next = 0
        self._advised = 0
        self._schedule = schedule

    # -- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    self._epoch is None
                    or (self._schedule is None and (self._planning or self._unplanned == self._epoch))
                    or (self._schedule is not None and (not self._slots.free or self._next >= self._schedule.by_need.size))
                ):
                    self._cond.wait()
                if self._closed:
                    return
                generation, epoch, schedule = self._generation, self._epoch, self._schedule
                if schedule is None:
                    self._planning = True  # one thread plans; the others wait for its schedule
                else:
                    load = int(schedule.by_need[self._next])
                    self._next += 1
                    if schedule.uses[load] <= 0:
                        continue
                    slot, arena = self._slots.claim()
                    base = slot * self._slots.slot_rows
                    advise = schedule.by_need[max(self._advised, self._next) : self._next + ADVISE_LOADS]
                    self._advised = max(self._advised, self._next + ADVISE_LOADS)
            if schedule is None:
                try:
                    planned = plan_loads(
                        [self._used.ranks(rows) for rows in self.batches_of(epoch)],
                        chunk_rows=self.chunk_rows,
                        block_rows=self.block_rows,
                        file_rows=self._used.size,
                    )
                    with self._cond:
                        if self._generation == generation:
                            self._install(planned)
                except Exception:  # this epoch's batches read their rows directly (their own errors are the caller's)
                    with self._cond:
                        if self._generation == generation:
                            self._unplanned = epoch
                finally:
                    with self._cond:
                        self._planning = False
                        self._cond.notify_all()
                continue
            start, stop = int(schedule.starts[load]), int(schedule.stops[load])
            try:
                ahead = [self._used.file_rows(int(schedule.starts[a]), int(schedule.stops[a]))[0] for a in advise]
                read = self._read_load(*self._used.file_rows(start, stop), arena[base : base + stop - start], ahead)
            except Exception:  # the batches that need this load read it directly: a load never read would hang them
                with self._cond:
                    if self._slots.read_done(slot, arena):
                        self._slots.release(slot)
                    if self._schedule is schedule:
                        self._failed[load] = True
                    self._cond.notify_all()
                continue
            with self._cond:
                self.loads_read += 1
                self.rows_loaded += stop - start
                self.rows_read += read
                same_arena = self._slots.read_done(slot, arena)
                if self._schedule is schedule and schedule.uses[load] > 0:
                    self._slot_of_load[load] = slot
                    self._held += (stop - start) * self.row_bytes
                    self.peak_bytes = max(self.peak_bytes, self._held)
                elif same_arena:  # read for nothing: the slot is free again
                    self._slots.release(slot)
                self._cond.notify_all()

    def close(self) -> None:
        """Stop the threads (each finishes the read it is in) and close the file."""
        with self._cond:
            self._closed = True
            self._slots.close()
            self._cond.notify_all()
        # Joined, not left running: at interpreter exit a daemon thread is frozen where it stands, and one
        # frozen while it held h5py's global lock (a garbage collection in that thread can take it) would
        # hang the exit of the whole process. weakref.finalize calls this at exit, before that freeze.
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read_load(self, rows: np.ndarray | tuple[int, int], where: np.ndarray | None, into: np.ndarray, ahead: list) -> int:
        """File rows ``rows`` (``RowsUsed.file_rows``: sorted) into ``into``, row k at ``where[k]`` if given;
        returns how many rows of the file were read.

        One large read of the file (a subset's rows: the runs that hold them, in large pieces), the next
        loads (``ahead``) announced first so the kernel fetches them meanwhile; or, for a file not mapped
        in one piece, through the source."""
        if self._file is None:
            values = self.source.take(np.arange(*rows) if isinstance(rows, tuple) else rows)
            if where is None:
                into[:] = values
            else:
                into[where] = values
            return into.shape[0]
        for next_rows in ahead:
            self._file.announce_rows(next_rows, self._gap_rows)
        return self._file.gather(rows, into, piece_rows=self._slots.slot_rows, gap_rows=self._gap_rows, where=where)
