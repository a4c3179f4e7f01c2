"""An epoch's loads: which runs of rows the read-ahead reads, when each is first and last needed.

``plan_loads`` cuts an epoch whose batches are known into *loads* (runs of whole chunks used over one
stretch of batches) and says which batches read each; ``Schedule`` counts the uses down as batches are
read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

STALE_BATCHES = 8  # a load is dropped once this many batches past its last use are read, even if some that use it were not


@dataclasses.dataclass
class Schedule:
    """One epoch's loads (runs of whole chunks, in file order) and which batches read them."""

    starts: np.ndarray  # first file row of each load
    stops: np.ndarray  # one past its last row
    load_of_chunk: np.ndarray  # chunk -> its load (-1: no batch reads it)
    by_need: np.ndarray  # loads in the order batches first need them: the order the thread reads them
    uses: np.ndarray  # batches still to read each load
    batch_loads: np.ndarray  # the loads of batch i: batch_loads[batch_bounds[i]:batch_bounds[i + 1]]
    batch_bounds: np.ndarray
    batches_done: np.ndarray  # batches read once already (a batch read again does not count twice)
    by_last_use: np.ndarray  # loads in the order of the last batch that reads each
    last_use: np.ndarray  # the last batch that reads each load
    stale: int = 0  # by_last_use[:stale] are dropped: STALE_BATCHES batches past their last use were read
    cursor: int = -1  # the last use of by_last_use[stale] (as far as counted)
    after: int = 0  # batches read past the cursor

    def done(self, index: int) -> np.ndarray:
        """Batch ``index`` is read: the loads that STALE_BATCHES read batches now lie past, not given before.

        A process given some of the batches (one of Keras's worker processes) never counts the others' uses
        of a load down; a look at a batch far ahead is one batch, and drops nothing."""
        self.batches_done[index] = True
        self.after += index > self.cursor
        start = self.stale
        while self.stale < self.by_last_use.size:
            last = int(self.last_use[self.by_last_use[self.stale]])
            if last > self.cursor:  # the cursor moves on: batches read up to it are no longer past it
                self.after -= int(np.count_nonzero(self.batches_done[self.cursor + 1 : last + 1]))
                self.cursor = last
            if self.after < STALE_BATCHES:
                break
            self.stale += 1
        return self.by_last_use[start : self.stale]

    def loads_of(self, index: int) -> np.ndarray:
        return self.batch_loads[self.batch_bounds[index] : self.batch_bounds[index + 1]]


def plan_loads(batches: list[np.ndarray], *, chunk_rows: int, block_rows: int, file_rows: int) -> Schedule:
    """The loads of an epoch whose batch ``i`` reads the (sorted) rows ``batches[i]`` of ``file_rows``.

    Consecutive chunks of one block whose stretches of use overlap are one load; a block cut in two by
    the order (read at two times) is two loads. Linear in the rows: no sort of the epoch.
    """
    sizes = np.array([b.size for b in batches], dtype=np.int64)
    rows = np.concatenate(batches).astype(np.int64) if batches else np.zeros(0, np.int64)
    batch_of_row = np.repeat(np.arange(len(batches), dtype=np.int64), sizes)
    chunk = rows // chunk_rows
    chunks = -(-file_rows // chunk_rows)
    first = np.full(chunks, -1, dtype=np.int64)
    last = np.full(chunks, -1, dtype=np.int64)
    first[chunk[::-1]] = batch_of_row[::-1]  # repeated indices: the last assignment stays, so the earliest batch
    last[chunk] = batch_of_row
    load_of_chunk = np.full(chunks, -1, dtype=np.int64)
    starts, stops, begins = [], [], []
    reach = -1
    for c in np.flatnonzero(first >= 0):  # a few thousand chunks per epoch
        joins = (
            starts
            and stops[-1] == c * chunk_rows
            and c * chunk_rows // block_rows == (c - 1) * chunk_rows // block_rows
            and first[c] <= reach
        )
        if not joins:
            starts.append(c * chunk_rows)
            begins.append(first[c])
            stops.append(0)
            reach = -1
        stops[-1] = min((c + 1) * chunk_rows, file_rows)
        begins[-1] = min(begins[-1], first[c])
        reach = max(reach, int(last[c]))
        load_of_chunk[c] = len(starts) - 1
    load_of_row = load_of_chunk[chunk]
    # Rows of a batch are sorted (not in file order of unsorted indices): its loads come in runs, a pair per run.
    change = np.ones(rows.size, dtype=bool)
    change[1:] = (load_of_row[1:] != load_of_row[:-1]) | (batch_of_row[1:] != batch_of_row[:-1])
    batch_loads, pair_batch = load_of_row[change], batch_of_row[change]
    key = pair_batch * len(starts) + batch_loads
    if key.size > 1 and not (key[1:] > key[:-1]).all():  # a batch's rows out of file order: each of its loads once
        pair_batch, batch_loads = np.divmod(np.unique(key), len(starts))
    bounds = np.searchsorted(pair_batch, np.arange(len(batches) + 1))
    last_use = np.full(len(starts), -1, dtype=np.int64)
    np.maximum.at(last_use, batch_loads, pair_batch)
    return Schedule(
        starts=np.array(starts, dtype=np.int64),
        stops=np.array(stops, dtype=np.int64),
        load_of_chunk=load_of_chunk,
        by_need=np.argsort(np.array(begins, dtype=np.int64), kind="stable"),
        uses=np.bincount(batch_loads, minlength=len(starts)).astype(np.int64),
        batch_loads=batch_loads,
        batch_bounds=bounds,
        batches_done=np.zeros(len(batches), dtype=bool),
        by_last_use=np.argsort(last_use, kind="stable"),
        last_use=last_use,
    )


class RowsUsed:
    """The file rows an epoch's batches read, and the space their loads are planned in (*ranks*).

    None: every row of the file, each its own rank. Rows in file order (a split, a shard, ``indices``; or
    ``blocks``, which cuts blocks in the rows' file order whatever their order given): each row's place among
    them. Rows in another order and read in it (``indices`` with ``shuffle="none"``): their positions, so a
    load is a stretch of that order, whose rows are read from the file sorted and put back in their places.
    """

    def __init__(self, rows: np.ndarray | None, file_rows: int) -> None:
        self.rows = rows
        self.size = file_rows if rows is None else int(rows.size)
        self._position: np.ndarray | None = None  # the positions of the rows in file order (rows out of order)
        if rows is not None and rows.size > 1 and not bool((rows[1:] >= rows[:-1]).all()):
            self._position = np.argsort(rows, kind="stable")
            self._sorted = rows[self._position]

    def ranks(self, rows: np.ndarray) -> np.ndarray:
        """The ranks of file rows ``rows`` (a row given twice: its first place)."""
        if self.rows is None:
            return rows
        if self._position is None:
            return np.searchsorted(self.rows, rows)
        return self._position[np.searchsorted(self._sorted, rows)]

    def file_rows(self, start: int, stop: int) -> tuple[np.ndarray | tuple[int, int], np.ndarray | None]:
        """The file rows of ranks ``start..stop``, sorted (``(first, end)`` when they are all of those), and
        where each goes among the load's rows (None: in that order)."""
        if self.rows is None:
            return (start, stop), None
        rows, where = self.rows[start:stop], None
        if self._position is not None and rows.size > 1 and not bool((rows[1:] >= rows[:-1]).all()):
            where = np.argsort(rows, kind="stable")
            rows = rows[where]
        first, end = int(rows[0]), int(rows[-1]) + 1
        return ((first, end), None) if end - first == rows.size and where is None else (rows, where)
