"""Reading rows of a csv2h5 file: a memory map over the chunks, or a chunk reader.

Uncompressed ``/features`` chunks are plain C-order row blocks in the file, so
runs of chunks that lie back to back are mapped as numpy arrays and a random
gather is plain numpy indexing. Compressed files are read one whole chunk at a
time through h5py, with a small cache of decoded chunks. h5py fancy indexing
with long index lists is never used (it is quadratic in h5py < 3.16). Several
files read as one: ``PartsRows`` (their united codes come from :mod:`.fileinfo`).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

import h5py
import numpy as np

from csv2h5.damage import read_rows
from csv2h5.errors import Csv2H5Error
from csv2h5.layout import FEATURES, is_filtered
from csv2h5.vocabulary import remap_columns

from .errors import DamagedDataError

_CHUNK_CACHE = 16  # decoded chunks kept by the compressed-file reader (~16 MiB)


def _chunk_offsets(ds: h5py.Dataset) -> list[tuple[int, int, int]] | None:
    """(first row, byte offset, bytes) of every chunk in row order; None if any is missing."""
    if ds.chunks is None:
        offset = ds.id.get_offset()
        return None if offset is None else [(0, offset, ds.id.get_storage_size())]
    found: dict[int, tuple[int, int]] = {}

    def visit(info) -> None:
        found[info.chunk_offset[0]] = (info.byte_offset, info.size)

    try:
        ds.id.chunk_iter(visit)
    except (AttributeError, RuntimeError):  # older HDF5: one call per chunk
        for i in range(ds.id.get_num_chunks()):
            visit(ds.id.get_chunk_info(i))
    rows, chunk = ds.shape[0], ds.chunks[0]
    starts = range(0, rows, chunk)
    if any(start not in found for start in starts):
        return None
    return [(start, *found[start]) for start in starts]


class MappedRows:
    """Rows of an uncompressed /features read through one numpy memory map.

    When all chunks lie back to back the map is a plain (rows, F) array. When
    other data sits between runs of chunks, the map covers the whole span as
    bytes, viewed as overlapping row-sized windows (a stride-1 view), and a
    row is fetched by its byte offset: one gather, whatever the layout.
    """

    def __init__(self, path: str, ds: h5py.Dataset) -> None:
        rows, width = ds.shape
        self.dtype = ds.dtype
        self.row_bytes = width * ds.dtype.itemsize
        chunks = _chunk_offsets(ds)
        if chunks is None:
            raise ValueError("not mappable")
        self.chunk_rows = ds.chunks[0] if ds.chunks else max(rows, 1)
        offsets = np.array([offset for _, offset, _ in chunks], dtype=np.int64)
        if ds.chunks and any(size != self.chunk_rows * self.row_bytes for _, _, size in chunks):
            raise ValueError("unexpected chunk size")
        low = int(offsets.min()) if offsets.size else 0
        contiguous = bool(np.all(np.diff(offsets) == self.chunk_rows * self.row_bytes))
        self.as_bytes = False
        self.file_offset = low  # where row 0 starts in the file when the chunks lie back to back
        if contiguous:
            mapped = np.memmap(path, dtype=ds.dtype, mode="r", offset=low, shape=(rows, width)) if rows else None
            if mapped is not None and not mapped.flags.aligned:
                # HDF5 may start the data at an odd byte offset; numpy gathers from an unaligned
                # float array ~200x slower (measured), so gather whole rows as bytes and view them.
                mapped = np.memmap(path, dtype=np.uint8, mode="r", offset=low, shape=(rows, self.row_bytes))
                self.as_bytes = True
            self.rows = np.asarray(mapped) if mapped is not None else np.zeros((0, width), ds.dtype)
            self.window = None
        else:
            high = int(offsets.max()) + self.chunk_rows * self.row_bytes
            span = np.asarray(np.memmap(path, dtype=np.uint8, mode="r", offset=low, shape=(high - low,)))
            self.window = np.lib.stride_tricks.as_strided(
                span, shape=(span.size - self.row_bytes + 1, self.row_bytes), strides=(1, 1), writeable=False
            )
            self.chunk_starts = offsets - low
            self.rows = None

    @property
    def runs(self) -> int:
        """How many stretches of back-to-back chunks the rows lie in."""
        if self.window is None:
            return 1
        return 1 + int(np.count_nonzero(np.diff(self.chunk_starts) != self.chunk_rows * self.row_bytes))

    def take(self, rows: np.ndarray) -> np.ndarray:
        if self.window is None:
            taken = np.take(self.rows, rows, axis=0)  # np.take: ~2x faster than x[rows]
            return taken.view(self.dtype) if self.as_bytes else taken
        starts = self.chunk_starts[rows // self.chunk_rows] + (rows % self.chunk_rows) * self.row_bytes
        return self.window[starts].view(self.dtype)  # fancy indexing: np.take would copy the view


class ChunkRows:
    """Rows of a compressed /features: whole chunks decoded through h5py, a few cached."""

    def __init__(self, ds: h5py.Dataset, path: str) -> None:
        self.ds, self.path = ds, path
        # An unchunked dataset (contiguous, or virtual) is read in ~1 MiB slices, never whole.
        row_bytes = max(1, ds.shape[1] * ds.dtype.itemsize)
        self.chunk_rows = ds.chunks[0] if ds.chunks else max(1, (1 << 20) // row_bytes)
        self.cache: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self.lock = threading.Lock()  # batches may be read from several threads (tf.data, read-ahead)

    def _chunk(self, index: int) -> np.ndarray:
        with self.lock:
            block = self.cache.get(index)
            if block is not None:
                self.cache.move_to_end(index)
                return block
        start = index * self.chunk_rows
        try:  # a slice: one whole-chunk read (h5py locks itself)
            block = read_rows(self.ds, start, start + self.chunk_rows, self.path)
        except Csv2H5Error as exc:  # a damaged chunk: said as the trainer's error, from whichever thread reads it
            raise DamagedDataError(str(exc)) from None
        with self.lock:
            self.cache[index] = block
            if len(self.cache) > _CHUNK_CACHE:
                self.cache.popitem(last=False)
        return block

    def take(self, rows: np.ndarray) -> np.ndarray:
        chunk_ids = rows // self.chunk_rows
        out = np.empty((rows.size, self.ds.shape[1]), dtype=self.ds.dtype)
        for cid in np.unique(chunk_ids):
            mask = chunk_ids == cid
            out[mask] = self._chunk(int(cid))[rows[mask] - cid * self.chunk_rows]
        return out


class PartsRows:
    """Rows of several files read as one: each part through its own RowSource.

    Parts whose categorical codes differ from the united vocabularies have
    their codes passed through small lookup tables (``codes``) as they are read,
    in ``dtype`` (wide enough for the united codes).
    """

    def __init__(
        self,
        paths: Sequence[str],
        starts: Sequence[int],
        *,
        codes: Sequence[dict[int, np.ndarray]] = (),
        dtype: np.dtype | None = None,
    ) -> None:
        self.sources = [RowSource(p) for p in paths]
        self.starts = np.asarray(starts, dtype=np.int64)
        self.codes = list(codes) or [{} for _ in paths]
        self.dtype = dtype

    def _take(self, part: int, rows: np.ndarray) -> np.ndarray:
        values = self.sources[part].take(rows)
        tables = self.codes[part]
        if not tables:
            return values
        return remap_columns(values, tables, values.dtype if self.dtype is None else self.dtype)

    @property
    def mapped(self) -> bool:
        return all(source.mapped for source in self.sources)

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and np.all(rows[1:] >= rows[:-1]):  # batches come sorted: one slice per part
            cuts = np.searchsorted(rows, self.starts[1:])
            bounds = zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [rows.size]]))
            pieces = [self._take(k, rows[a:b] - self.starts[k]) for k, (a, b) in enumerate(bounds) if b > a]
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        part = np.searchsorted(self.starts, rows, side="right") - 1
        pieces = {int(k): self._take(k, rows[part == k] - self.starts[k]) for k in np.unique(part)}
        if len(pieces) == 1:
            return next(iter(pieces.values()))
        out = np.empty((rows.size, pieces[int(part[0])].shape[1]), dtype=np.result_type(*pieces.values()))
        for k, values in pieces.items():
            out[part == k] = values
        return out

    def close(self) -> None:
        for source in self.sources:
            source.close()


class RowSource:
    """Random access to /features rows; opened lazily, once per process."""

    def __init__(self, path: str, *, prefer_map: bool = True) -> None:
        # rdcc_nbytes=0: whole-chunk reads do not need h5py's chunk cache (it halves throughput).
        self.file = h5py.File(path, "r", rdcc_nbytes=0)
        ds = self.file[FEATURES]
        self.reader: MappedRows | ChunkRows
        if prefer_map and not is_filtered(ds):
            try:
                self.reader = MappedRows(path, ds)
                return
            except ValueError:
                pass
        self.reader = ChunkRows(ds, path)

    @property
    def mapped(self) -> bool:
        return isinstance(self.reader, MappedRows)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (any order, repeats allowed) as a new array."""
        return self.reader.take(np.asarray(rows, dtype=np.int64))

    def close(self) -> None:
        self.file.close()
