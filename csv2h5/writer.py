"""The only module that writes HDF5: create, append, widen, finish.

Rows are buffered and written in whole chunks, so every chunk is written once
and chunks lie back to back in the file (good for the reader's memory map).

Compressed chunks (lzf, gzip) can be encoded elsewhere: given a ``submit``
function (a process pool's), the writer hands each whole chunk to
:func:`encode_chunk` there and writes the bytes that come back with
``write_direct_chunk``, so compression runs on every core, not in the one
process that writes.
"""

from __future__ import annotations

import collections
import datetime
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path

import h5py
import numpy as np

from .layout import (BOOLEAN_COLUMNS, COLUMNS, CREATED_AT, CREATED_BY, DATETIME_COLUMNS, FEATURES, FORMAT,
                     FORMAT_VERSION, ROWS, SOURCES, TARGET, FileHeader, categories_path, category_counts_path)
from .schema import CHUNK_BYTES, chunk_rows_for

_COPY_ROWS = 1 << 16  # rows copied at once when widening (bounded memory)


# HDF5 1.8's object headers at the least: they keep attributes over 64 KiB (the column names of
# a 100,000-column file) in dense storage; the 1.6 format refuses them. Readers need HDF5 >= 1.8 (2008).
LIBVER = ("v108", "v110")
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
        dataset = memory.create_dataset("chunk", shape=chunk.shape, dtype=chunk.dtype, chunks=chunk.shape,
                                        compression=compression[0], compression_opts=compression[1])
        _ENCODERS[key] = dataset
    dataset[...] = chunk
    mask, data = dataset.id.read_direct_chunk((0,) * chunk.ndim)
    return mask, bytes(data)


def _meta_block_size(expected_bytes: int | None) -> int:
    """Room reserved at once for HDF5's own metadata (the chunk index grows with the data).

    Reserved in one block, the index does not land between data chunks, so all of
    /features stays one run of bytes that a reader maps as one array. Small
    files get a small block: the unused part of it stays in the file.
    """
    if expected_bytes is None:
        return 1 << 20
    return int(min(1 << 20, max(1 << 14, expected_bytes >> 10)))


class H5Writer:
    """Writes a csv2h5 file at ``path`` (the caller's temporary name)."""

    def __init__(self, path: Path, *, mode: str = "w", expected_bytes: int | None = None,
                 submit: Callable[..., Future] | None = None, encode_ahead: int = 4) -> None:
        """Open ``path`` for writing.

        Args:
            path: the file to write (the conversion's temporary name).
            mode: "w" to create, "r+" to continue a file (``--append``).
            expected_bytes: about how much input is coming (sizes HDF5's metadata block).
            submit: runs ``encode_chunk`` elsewhere (``ProcessPoolExecutor.submit``);
                None compresses here, through h5py.
            encode_ahead: chunks being encoded at once before the writer waits (bounds memory).
        """
        self.path = Path(path)
        self._submit = submit
        self._encode_ahead = max(1, encode_ahead)
        self._encoding: collections.deque[tuple[h5py.Dataset, int, Future]] = collections.deque()
        self._direct = False  # whole chunks are encoded through ``submit``
        self._features: h5py.Dataset | None = None
        self.meta_block_size = _meta_block_size(expected_bytes)
        # The writer never re-reads chunks it wrote, so h5py's chunk cache only costs copies.
        self.file = h5py.File(self.path, mode, libver=LIBVER, rdcc_nbytes=0, meta_block_size=self.meta_block_size)
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self.widened = False
        self._chunk_rows_requested: int | None = None
        self._regrow = False  # an appended-to small file whose chunk grows once a whole default chunk of rows is here
        self._compression: tuple[str | None, object] = (None, None)

    # -- features -------------------------------------------------------------------------

    @property
    def features(self) -> h5py.Dataset:
        if self._features is None:  # looked up once: a lookup by name costs more than writing a small block
            self._features = self.file[FEATURES]
        return self._features

    def create_features(self, columns: Sequence[str], dtype: np.dtype, *, chunk_rows: int | None,
                        compression: tuple[str | None, object]) -> None:
        """Create the empty, resizable ``/features`` dataset."""
        self._chunk_rows_requested = chunk_rows
        self._compression = compression
        self._direct = self._submit is not None and compression[0] in _DIRECT_FILTERS
        self._make_features(FEATURES, len(columns), np.dtype(dtype))
        self.features.attrs[COLUMNS] = [str(c) for c in columns]

    def adopt_features(self, chunk_rows: int | None, compression: tuple[str | None, object]) -> None:
        """Continue an existing file (``--append``) with its own chunking and filters.

        A small file's one chunk was cut to its rows (:meth:`end_features`); rows
        appended to it are chunked as a new file's would be, so the chunk grows with
        the data instead of staying as small as the first file was.
        """
        ds = self.features
        self._chunk_rows_requested = requested_chunk_rows(ds)
        self._regrow = self._chunk_rows_requested is None
        self._compression = (ds.compression, ds.compression_opts) if ds.compression else (None, None)
        # Encoded elsewhere only when the file's filter pipeline is exactly the one encode_chunk builds.
        self._direct = (self._submit is not None and ds.compression in _DIRECT_FILTERS
                        and not ds.shuffle and not ds.fletcher32 and ds.scaleoffset is None)

    def _make_features(self, name: str, num_features: int, dtype: np.dtype, rows: int | None = None) -> h5py.Dataset:
        """An empty, resizable features dataset: chunks of ``rows`` rows, else the requested or default chunk."""
        rows = rows or chunk_rows_for(num_features, dtype.itemsize, self._chunk_rows_requested)
        compression, opts = self._compression
        return self.file.create_dataset(
            name, shape=(0, num_features), maxshape=(None, num_features), dtype=dtype,
            chunks=(rows, num_features), compression=compression, compression_opts=opts,
        )

    @property
    def dtype(self) -> np.dtype:
        return self.features.dtype

    @property
    def rows(self) -> int:
        return self.features.shape[0] + self._pending_rows

    def append(self, block: np.ndarray) -> None:
        """Queue rows (already in the dataset's dtype); write every whole chunk."""
        if block.shape[0] == 0:
            return
        self._pending.append(block)
        self._pending_rows += block.shape[0]
        if self._regrow:  # a small file appended to: held until a whole chunk of the new size is here
            if self.rows < chunk_rows_for(self.features.shape[1], self.dtype.itemsize):
                return
            self._take_back_rows()
        chunk = self.features.chunks[0]
        if self._pending_rows >= chunk:
            self._write_pending(whole_chunks_only=True)

    def _take_back_rows(self, rows: int | None = None) -> None:
        """Move the rows written so far (at most one chunk) back to the queue, in a fresh dataset of ``rows``-row chunks.

        For a small file: its chunk is cut to its rows at the end, and grows again
        when rows are appended to it. The rows moved are fewer than a default chunk
        (about 1 MiB); the space they held is reused by the next writes.
        """
        self._write_encoded()
        old = self.features
        written = old[()]
        fresh = self._make_features("features_rechunked", old.shape[1], old.dtype, rows)
        self._replace_features(old, fresh)
        if written.shape[0]:
            self._pending.insert(0, written)
            self._pending_rows += written.shape[0]
        self._regrow = False

    def _replace_features(self, old: h5py.Dataset, new: h5py.Dataset) -> None:
        """Make ``new`` the /features dataset, with ``old``'s attributes."""
        for key, value in old.attrs.items():
            new.attrs[key] = value
        del self.file[FEATURES]
        self.file.move(new.name.lstrip("/"), FEATURES)
        self._features = None

    def _write_pending(self, *, whole_chunks_only: bool) -> None:
        if not self._pending_rows:
            return
        ds = self.features
        chunk = ds.chunks[0]
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        start = ds.shape[0]  # a file appended to may end mid-chunk: end the write on a chunk boundary
        take = max(0, (start + data.shape[0]) // chunk * chunk - start) if whole_chunks_only else data.shape[0]
        if take:
            self._write_rows(ds, start, data[:take])
        rest = data[take:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_rows = rest.shape[0]

    def _write_rows(self, ds: h5py.Dataset, start: int, rows: np.ndarray) -> None:
        """Write ``rows`` at row ``start``: whole aligned chunks through the encoders when there are any."""
        end = start + rows.shape[0]
        if ds.shape[0] < end:
            ds.resize(end, axis=0)
        chunk = ds.chunks[0]
        if not self._direct:
            ds[start:end] = rows
            return
        first = min(end, -(-start // chunk) * chunk)  # the first chunk boundary (a file appended to may end mid-chunk)
        last = first + (end - first) // chunk * chunk
        if first > start:
            ds[start:first] = rows[: first - start]
        for row in range(first, last, chunk):
            part = np.ascontiguousarray(rows[row - start: row - start + chunk])
            self._encoding.append((ds, row, self._submit(encode_chunk, part, self._compression)))
            if len(self._encoding) > self._encode_ahead:
                self._write_encoded(1)
        if last < end:  # a partial last chunk, written once at the end: compressed here
            ds[last:end] = rows[last - start:]

    def _write_encoded(self, count: int | None = None) -> None:
        """Write the oldest ``count`` encoded chunks (all when None), in order."""
        while self._encoding and (count is None or count > 0):
            ds, row, future = self._encoding.popleft()
            mask, data = future.result()
            ds.id.write_direct_chunk((row, 0), data, filter_mask=mask)
            count = None if count is None else count - 1

    def widen(self, dtype: np.dtype, *, float32_exact: bool = False) -> None:
        """Rewrite the rows written so far in a wider dtype (exact: the caller checked).

        ``float32_exact``: stored float values are the CSV's values themselves;
        otherwise each stands for its shortest decimal (see :func:`widen_values`).
        """
        if self._regrow:  # a small file appended to: its few rows are rewritten in the new chunking anyway
            self._take_back_rows()
        self._write_encoded()
        old = self.features
        old_rows = old.shape[0]
        new = self._make_features("features_widening", old.shape[1], np.dtype(dtype))
        step = max(1, _COPY_ROWS // new.chunks[0]) * new.chunks[0]  # whole chunks: they can be encoded elsewhere
        for start in range(0, old.shape[0], step):
            self._write_rows(new, start, widen_values(old[start : start + step], dtype, exact=float32_exact))
        self._write_encoded()
        self._replace_features(old, new)
        self._pending = [widen_values(p, dtype, exact=float32_exact) for p in self._pending]
        # Space freed by rows written in the old dtype is reclaimed at the end (a repack: a whole
        # copy of the file); none to reclaim when the first block already needed the wider dtype.
        self.widened = self.widened or old_rows > 0

    # -- the rest ---------------------------------------------------------------------------

    def write_array(self, name: str, values: np.ndarray, *, attrs: Mapping[str, object] | None = None,
                    chunk_rows: int | None = None) -> None:
        """Write (or replace) a whole dataset, e.g. ``target`` or ``stats/mean``."""
        if name in self.file:
            del self.file[name]
        kwargs: dict[str, object] = {}
        if values.ndim >= 1 and values.shape[0] > 0 and chunk_rows:
            compression, opts = self._compression
            kwargs = dict(chunks=(min(chunk_rows, values.shape[0]),) + values.shape[1:],
                          maxshape=(None,) + values.shape[1:], compression=compression,
                          compression_opts=opts)
        ds = self.file.create_dataset(name, data=values, **kwargs)
        for key, value in (attrs or {}).items():
            ds.attrs[key] = value

    def write_categories(self, column: str, values: Sequence[str], counts: np.ndarray) -> None:
        """Write a categorical column's vocabulary (index = code) and its rows per code."""
        # An explicit string type: an empty vocabulary (a column blank in every row) has no values to guess from.
        self.write_array(categories_path(column), np.array([str(v) for v in values], dtype=h5py.string_dtype()))
        self.write_array(category_counts_path(column), np.asarray(counts, dtype=np.float64))

    def create_target(self, shape_tail: tuple[int, ...], dtype: np.dtype, *, attrs: Mapping[str, object],
                      rows: int | None = None) -> h5py.Dataset:
        """Create a resizable ``/target`` to be filled by :meth:`append_target`.

        ``rows``: how many rows it will hold (when known), so that a small file's
        chunk holds its rows and no more; appending resizes it past that.
        """
        if TARGET in self.file:
            del self.file[TARGET]
        chunk_rows = max(1, CHUNK_BYTES // max(1, int(np.prod(shape_tail, dtype=np.int64)) * np.dtype(dtype).itemsize))
        rows = min(chunk_rows, max(1, rows)) if rows is not None else chunk_rows
        compression, opts = self._compression
        ds = self.file.create_dataset(TARGET, shape=(0,) + shape_tail, maxshape=(None,) + shape_tail,
                                      dtype=dtype, chunks=(rows,) + shape_tail, compression=compression,
                                      compression_opts=opts)
        for key, value in attrs.items():
            ds.attrs[key] = value
        return ds

    def append_target(self, values: np.ndarray) -> None:
        ds = self.file[TARGET]
        start = ds.shape[0]
        ds.resize(start + values.shape[0], axis=0)
        ds[start:] = values

    def set_column_kinds(self, *, boolean: Sequence[str], datetime: Sequence[str]) -> None:
        """Name the boolean and the datetime feature columns in /features' attributes (absent when none)."""
        for key, names in ((BOOLEAN_COLUMNS, boolean), (DATETIME_COLUMNS, datetime)):
            if names:
                self.features.attrs[key] = [str(n) for n in names]
            elif key in self.features.attrs:
                del self.features.attrs[key]

    def set_attrs(self, path: str, attrs: Mapping[str, object]) -> None:
        node = self.file[path]
        for key, value in attrs.items():
            node.attrs[key] = value

    def end_features(self) -> None:
        """Write the last, partial chunk of /features now that no more rows come.

        Chunks are then back to back in the file (one run), so a reader can map
        all rows as one array. Fewer rows than a chunk holds (a small file) make
        one chunk of exactly those rows, unless the chunk rows were asked for: HDF5
        stores whole chunks, and a 1,000-row file need not take a chunk of 1 MiB.
        """
        if self._chunk_rows_requested is None and 0 < self.rows and (self._regrow or self.rows < self.features.chunks[0]):
            self._take_back_rows(self.rows)
        self._write_pending(whole_chunks_only=False)
        self._write_encoded()

    def finish(self, *, created_by: str, rows: int, sources: list[dict[str, object]],
               extra: Mapping[str, object]) -> None:
        """Flush, write the provenance attributes and close."""
        self.end_features()
        attrs = self.file.attrs
        attrs[FORMAT] = FORMAT_VERSION
        attrs[CREATED_BY] = created_by
        attrs[CREATED_AT] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        attrs[ROWS] = rows
        attrs[SOURCES] = json.dumps(sources)
        for key, value in extra.items():
            attrs[key] = value
        self.file.flush()
        self.file.close()
        if self.widened:
            _repack(self.path, self.meta_block_size)

    def close(self) -> None:
        """Close without finishing (after an error); the caller removes the file."""
        try:
            self.file.close()
        except Exception:  # the file may be broken (disk full); it is discarded anyway
            pass


def requested_chunk_rows(ds: h5py.Dataset | FileHeader) -> int | None:
    """The chunk rows to go on with for a features dataset (or a file's header): its own, or None for a small file's.

    A small file's one chunk holds exactly its rows, fewer than the default chunk
    (see :meth:`H5Writer.end_features`): a size fitted to the data, not a choice to keep.
    """
    chunk = ds.chunks[0] if ds.chunks else None
    if chunk is None or chunk == ds.shape[0] < chunk_rows_for(ds.shape[1], ds.dtype.itemsize):
        return None
    return chunk


def widen_values(values: np.ndarray, dtype: np.dtype, *, exact: bool = False) -> np.ndarray:
    """Convert stored values to a wider dtype, giving back the values the text had.

    A float32 holding "0.1" is the float32 nearest 0.1; cast to float64 it would be
    0.10000000149011612. Going through the shortest decimal form gives 0.1 again.
    With ``exact`` the float values are the text's values themselves (the text was
    "1.000000014901161194e-01"), and a plain cast gives them back.
    """
    dtype = np.dtype(dtype)
    if values.dtype.kind == "f" and dtype.kind == "f" and dtype.itemsize > values.dtype.itemsize and not exact:
        return values.astype(str).astype(dtype)
    return values.astype(dtype, copy=False)


def _repack(path: Path, meta_block_size: int) -> None:
    """Copy every object into a fresh file, dropping the space freed by widening."""
    fresh = path.with_name(path.name + ".repack")  # the scratch name scratch.sweep_stale knows
    try:
        with h5py.File(path, "r") as src, h5py.File(fresh, "w", libver=LIBVER, meta_block_size=meta_block_size) as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src:
                src.copy(src[key], dst, name=key)
        fresh.replace(path)
    finally:
        fresh.unlink(missing_ok=True)
