"""The buffer ``readahead.BlockReader`` reads loads into: equal slots of one array, within a byte budget."""

from __future__ import annotations

import numpy as np


class Arena:
    """Equal slots that loads are read into, each free, being read into, or holding a load.

    One array, so a batch is one gather whatever the number of loads it draws from. Not locked by
    itself: the reader calls it under its own lock.
    """

    def __init__(self, capacity_bytes: int, width: int, dtype: np.dtype) -> None:
        self.capacity_bytes, self.width, self.dtype = int(capacity_bytes), int(width), np.dtype(dtype)
        self.rows: np.ndarray | None = None  # allocated on first use; pages are touched only when read into
        self.slot_rows = 0
        self.free: list[int] = []
        self.in_flight: set[int] = set()  # slots being read into

    def fit(self, largest: int) -> None:
        """Every slot free but those being read into; the array is made anew when ``largest`` rows outgrow a slot."""
        if self.rows is None or largest > self.slot_rows:
            self.rows = None  # free the old one first
            self.slot_rows = largest
            slots = max(2, self.capacity_bytes // (largest * self.width * self.dtype.itemsize))
            self.rows = np.empty((slots * largest, self.width), dtype=self.dtype)
            self.in_flight = set()  # reads still running go into the old array, which they hold
        slots = self.rows.shape[0] // self.slot_rows
        self.free = [s for s in range(slots)[::-1] if s not in self.in_flight]

    def claim(self) -> tuple[int, np.ndarray]:
        """A free slot to read into, and the array it is in."""
        slot = self.free.pop()
        self.in_flight.add(slot)
        return slot, self.rows

    def read_done(self, slot: int, rows: np.ndarray) -> bool:
        """A read into ``slot`` of ``rows`` has ended; False when the arena was made anew meanwhile."""
        if self.rows is not rows:
            return False
        self.in_flight.discard(slot)
        return True

    def release(self, slot: int) -> None:
        if slot not in self.free:
            self.free.append(slot)

    def close(self) -> None:
        self.rows = None
