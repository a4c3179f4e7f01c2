"""Chunks compressed in other processes: encoded as HDF5 would store them, written back in order.

Compressed chunks (lzf, gzip) can be encoded elsewhere: given a ``submit``
function (a process pool's), each whole chunk goes to :func:`encode_chunk`
there and the bytes that come back are written with ``write_direct_chunk``,
so compression runs on every core, not in the one process that writes.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import h5py
import numpy as np

if TYPE_CHECKING:  # the processes (and multiprocessing) load only with a pool
    from .processes import Task


_DIRECT_FILTERS = ("gzip", "lzf")  # built into h5py, so every process can encode them
_ENCODERS: dict[tuple[object, ...], h5py.Dataset] = {}  # per process: one in-memory dataset per chunk layout


def encode_chunk(chunk: np.ndarray, compression: tuple[str | None, object]) -> tuple[int, bytes]:
    """Compress one whole chunk as HDF5's filter pipeline stores it: (filter mask, bytes).

    The chunk goes through a one-chunk dataset of an in-memory HDF5 file with
    the same filter, so the bytes are exactly what HDF5 itself would write
    (including a filter skipped for a chunk it would not shrink), ready for
    ``write_direct_chunk``. Runs in parser processes.
    """
    key = (chunk.shape, chunk.dtype.str, compression)
    dataset = _ENCODERS.get(key)
    if dataset is None:
        memory = h5py.File(f"encoder-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False, rdcc_nbytes=0)
        dataset = memory.create_dataset(
            "chunk",
            shape=chunk.shape,
            dtype=chunk.dtype,
            chunks=chunk.shape,
            compression=compression[0],
            compression_opts=compression[1],
        )
        _ENCODERS[key] = dataset
    dataset[...] = chunk
    mask, data = dataset.id.read_direct_chunk((0,) * chunk.ndim)
    return mask, bytes(data)


class ChunkEncoders:
    """Whole chunks sent to ``submit`` to be encoded, at most ``encode_ahead`` at once, written back in order."""

    def __init__(self, submit: Callable[..., Task] | None, encode_ahead: int) -> None:
        self._submit = submit
        self._encode_ahead = max(1, encode_ahead)
        self._encoding: collections.deque[tuple[h5py.Dataset, int, Task]] = collections.deque()

    def can_encode(self, compression: str | None) -> bool:
        """Whether chunks of this filter can be encoded elsewhere (there is somewhere else, and it has the filter)."""
        return self._submit is not None and compression in _DIRECT_FILTERS

    def write_rows(self, ds: h5py.Dataset, start: int, rows: np.ndarray, compression: tuple[str | None, object]) -> None:
        """Write ``rows`` at row ``start`` of ``ds`` (long enough): whole aligned chunks encoded elsewhere."""
        end = start + rows.shape[0]
        chunk = ds.chunks[0]
        first = min(end, -(-start // chunk) * chunk)  # the first chunk boundary (a file appended to may end mid-chunk)
        last = first + (end - first) // chunk * chunk
        if first > start:
            ds[start:first] = rows[: first - start]
        for row in range(first, last, chunk):
            part = np.ascontiguousarray(rows[row - start : row - start + chunk])
            self._encoding.append((ds, row, self._submit(encode_chunk, part, compression)))
            if len(self._encoding) > self._encode_ahead:
                self.write_encoded(1)
        if last < end:  # a partial last chunk, written once at the end: compressed here
            ds[last:end] = rows[last - start :]

    def write_encoded(self, count: int | None = None) -> None:
        """Write the oldest ``count`` encoded chunks (all when None), in order."""
        while self._encoding and (count is None or count > 0):
            ds, row, future = self._encoding.popleft()
            mask, data = future.result()
            ds.id.write_direct_chunk((row, 0), data, filter_mask=mask)
            count = None if count is None else count - 1
