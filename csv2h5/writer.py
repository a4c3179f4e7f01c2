"""The only module that writes HDF5: create, append, widen, finish.

Rows are buffered and written in whole chunks, so every chunk is written once
and chunks lie back to back in the file (good for the reader's memory map).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from .schema import chunk_rows_for, stands_for_its_text

FORMAT_VERSION = 1
_COPY_ROWS = 1 << 16  # rows copied at once when widening (bounded memory)


LIBVER = ("earliest", "v110")


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

    def __init__(self, path: Path, *, mode: str = "w", expected_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.meta_block_size = _meta_block_size(expected_bytes)
        # The writer never re-reads chunks it wrote, so h5py's chunk cache only costs copies.
        self.file = h5py.File(self.path, mode, libver=LIBVER, rdcc_nbytes=0, meta_block_size=self.meta_block_size)
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self.widened = False
        self._chunk_rows_requested: int | None = None
        self._compression: tuple[str | None, object] = (None, None)

    # -- features -------------------------------------------------------------------------

    @property
    def features(self) -> h5py.Dataset:
        return self.file["features"]

    def create_features(self, columns: Sequence[str], dtype: np.dtype, *, chunk_rows: int | None,
                        compression: tuple[str | None, object]) -> None:
        """Create the empty, resizable ``/features`` dataset."""
        self._chunk_rows_requested = chunk_rows
        self._compression = compression
        self._make_features("features", len(columns), np.dtype(dtype))
        self.features.attrs["columns"] = [str(c) for c in columns]

    def adopt_features(self, chunk_rows: int | None, compression: tuple[str | None, object]) -> None:
        """Continue an existing file (``--append``) with its own chunking and filters."""
        self._chunk_rows_requested = self.features.chunks[0]
        ds = self.features
        self._compression = (ds.compression, ds.compression_opts) if ds.compression else (None, None)

    def _make_features(self, name: str, num_features: int, dtype: np.dtype) -> h5py.Dataset:
        rows = chunk_rows_for(num_features, dtype.itemsize, self._chunk_rows_requested)
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
        chunk = self.features.chunks[0]
        if self._pending_rows >= chunk:
            self._write_pending(whole_chunks_only=True)

    def _write_pending(self, *, whole_chunks_only: bool) -> None:
        if not self._pending_rows:
            return
        ds = self.features
        chunk = ds.chunks[0]
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        take = (data.shape[0] // chunk) * chunk if whole_chunks_only else data.shape[0]
        if take:
            start = ds.shape[0]
            ds.resize(start + take, axis=0)
            ds[start : start + take] = data[:take]
        rest = data[take:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_rows = rest.shape[0]

    def widen(self, dtype: np.dtype) -> None:
        """Rewrite the rows written so far in a wider dtype (exact: the caller checked)."""
        old = self.features
        new = self._make_features("features_widening", old.shape[1], np.dtype(dtype))
        new.resize(old.shape[0], axis=0)
        for start in range(0, old.shape[0], _COPY_ROWS):
            new[start : start + _COPY_ROWS] = widen_values(old[start : start + _COPY_ROWS], dtype)
        for key, value in old.attrs.items():
            new.attrs[key] = value
        del self.file["features"]
        self.file.move("features_widening", "features")
        self._pending = [widen_values(p, dtype) for p in self._pending]
        self.widened = True

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

    def create_target(self, shape_tail: tuple[int, ...], dtype: np.dtype, *, attrs: Mapping[str, object]) -> h5py.Dataset:
        """Create a resizable ``/target`` to be filled by :meth:`append_target`."""
        if "target" in self.file:
            del self.file["target"]
        rows = max(1, (1 << 20) // max(1, int(np.prod(shape_tail, dtype=np.int64)) * np.dtype(dtype).itemsize))
        compression, opts = self._compression
        ds = self.file.create_dataset("target", shape=(0,) + shape_tail, maxshape=(None,) + shape_tail,
                                      dtype=dtype, chunks=(rows,) + shape_tail, compression=compression,
                                      compression_opts=opts)
        for key, value in attrs.items():
            ds.attrs[key] = value
        return ds

    def append_target(self, values: np.ndarray) -> None:
        ds = self.file["target"]
        start = ds.shape[0]
        ds.resize(start + values.shape[0], axis=0)
        ds[start:] = values

    def set_attrs(self, path: str, attrs: Mapping[str, object]) -> None:
        node = self.file[path]
        for key, value in attrs.items():
            node.attrs[key] = value

    def end_features(self) -> None:
        """Write the last, partial chunk of /features now that no more rows come.

        Chunks are then back to back in the file (one run), so a reader can map
        all rows as one array.
        """
        self._write_pending(whole_chunks_only=False)

    def finish(self, *, created_by: str, rows: int, sources: list[dict[str, object]],
               extra: Mapping[str, object]) -> None:
        """Flush, write the provenance attributes and close."""
        self.end_features()
        attrs = self.file.attrs
        attrs["csv2h5_format"] = FORMAT_VERSION
        attrs["created_by"] = created_by
        attrs["created_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        attrs["rows"] = rows
        attrs["sources"] = json.dumps(sources)
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


def widen_values(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Convert stored values to a wider dtype, giving back the values the text had.

    A float32 holding "0.1" is the float32 nearest 0.1; cast to float64 it would be
    0.10000000149011612. Going through the shortest decimal form gives 0.1 again, but
    only for such values: a float32 holding 134217728 exactly prints as 1.3421773e+08.
    """
    dtype = np.dtype(dtype)
    if values.dtype.kind == "f" and dtype.kind == "f" and dtype.itemsize > values.dtype.itemsize:
        return np.where(stands_for_its_text(values), values.astype(str).astype(dtype), values.astype(dtype))
    return values.astype(dtype)


def _repack(path: Path, meta_block_size: int) -> None:
    """Copy every object into a fresh file, dropping the space freed by widening."""
    fresh = path.with_name(path.name + ".repack")
    try:
        with h5py.File(path, "r") as src, h5py.File(fresh, "w", libver=LIBVER, meta_block_size=meta_block_size) as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src:
                src.copy(src[key], dst, name=key)
        fresh.replace(path)
    finally:
        fresh.unlink(missing_ok=True)
