"""The only module that writes HDF5: a csv2h5 file's datasets and attributes, from creation to the finished file.

The rows of /features go through ``featurerows.FeatureRows`` (written in whole
chunks, widened, ended), their compression through ``encoders`` when a
process pool is given, and with ``rows_by_parsers`` rows left in shared memory
are copied into the file by the pool's processes (``rowcopies``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from .encoders import ChunkEncoders
from .featurerows import FeatureRows
from .layout import (
    BOOLEAN_COLUMNS,
    CREATED_AT,
    CREATED_BY,
    DATETIME_COLUMNS,
    FEATURES,
    FORMAT,
    FORMAT_VERSION,
    ROWS,
    SOURCES,
    TARGET,
    categories_path,
    category_counts_path,
)
from .rowcopies import RowCopies
from .schema import CHUNK_BYTES

if TYPE_CHECKING:  # the processes (and multiprocessing) load only with a pool
    from .processes import Task

# HDF5 1.8's object headers at the least: they keep attributes over 64 KiB (the column names of
# a 100,000-column file) in dense storage; the 1.6 format refuses them. Readers need HDF5 >= 1.8 (2008).
LIBVER = ("v108", "v110")


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

    def __init__(
        self,
        path: Path,
        *,
        mode: str = "w",
        expected_bytes: int | None = None,
        submit: Callable[..., Task] | None = None,
        encode_ahead: int = 4,
        rows_by_parsers: bool = False,
    ) -> None:
        """Open ``path`` for writing.

        Args:
            path: the file to write (the conversion's temporary name).
            mode: "w" to create, "r+" to continue a file (``--append``).
            expected_bytes: about how much input is coming (sizes HDF5's metadata block).
            submit: runs ``encoders.encode_chunk`` elsewhere (``processes.ParserProcesses.submit``);
                None compresses here, through h5py.
            encode_ahead: chunks being encoded at once before the writer waits (bounds memory).
            rows_by_parsers: a new uncompressed /features may take rows copied in by ``submit``'s
                processes (:meth:`place`).
        """
        self.path = Path(path)
        self.meta_block_size = _meta_block_size(expected_bytes)
        # The writer never re-reads chunks it wrote, so h5py's chunk cache only costs copies.
        self.file = h5py.File(self.path, mode, libver=LIBVER, rdcc_nbytes=0, meta_block_size=self.meta_block_size)
        self.row_copies = RowCopies(self.path, submit) if rows_by_parsers and submit is not None else None
        self._rows = FeatureRows(self.file, ChunkEncoders(submit, encode_ahead), self.row_copies)

    # -- features -------------------------------------------------------------------------

    @property
    def features(self) -> h5py.Dataset:
        return self._rows.dataset

    def create_features(
        self, columns: Sequence[str], dtype: np.dtype, *, chunk_rows: int | None, compression: tuple[str | None, object]
    ) -> None:
        """Create the empty, resizable ``/features`` dataset."""
        self._rows.create(columns, dtype, chunk_rows=chunk_rows, compression=compression)

    def adopt_features(self) -> None:
        """Continue an existing file's /features (``--append``) with its own chunking and filters."""
        self._rows.adopt()

    @property
    def dtype(self) -> np.dtype:
        return self._rows.dtype

    @property
    def rows(self) -> int:
        return self._rows.rows

    def append(self, block: np.ndarray) -> None:
        """Queue rows (already in the dataset's dtype); write every whole chunk."""
        self._rows.append(block)

    @property
    def places_rows(self) -> bool:
        """Whether /features takes rows copied in by parser processes (:meth:`place`)."""
        return self._rows.placeable

    def place(self, name: str, rows: int, dtype: np.dtype) -> bool:
        """Have a parser process copy rows left in the shared file ``name`` into /features; False: :meth:`append` them."""
        return self._rows.place(name, rows, dtype)

    def widen(self, dtype: np.dtype, *, float32_exact: bool = False) -> None:
        """Rewrite the rows written so far in a wider dtype (see ``FeatureRows.widen``)."""
        self._rows.widen(dtype, float32_exact=float32_exact)

    # -- the rest ---------------------------------------------------------------------------

    def write_array(
        self, name: str, values: np.ndarray, *, attrs: Mapping[str, object] | None = None, chunk_rows: int | None = None
    ) -> None:
        """Write (or replace) a whole dataset, e.g. ``target`` or ``stats/mean``."""
        if name in self.file:
            del self.file[name]
        kwargs: dict[str, object] = {}
        if values.ndim >= 1 and values.shape[0] > 0 and chunk_rows:
            compression, opts = self._rows.compression
            kwargs = dict(
                chunks=(min(chunk_rows, values.shape[0]),) + values.shape[1:],
                maxshape=(None,) + values.shape[1:],
                compression=compression,
                compression_opts=opts,
            )
        ds = self.file.create_dataset(name, data=values, **kwargs)
        for key, value in (attrs or {}).items():
            ds.attrs[key] = value

    def write_categories(self, column: str, values: Sequence[str], counts: np.ndarray) -> None:
        """Write a categorical column's vocabulary (index = code) and its rows per code."""
        # An explicit string type: an empty vocabulary (a column blank in every row) has no values to guess from.
        self.write_array(categories_path(column), np.array([str(v) for v in values], dtype=h5py.string_dtype()))
        self.write_array(category_counts_path(column), np.asarray(counts, dtype=np.float64))

    def create_target(
        self, shape_tail: tuple[int, ...], dtype: np.dtype, *, attrs: Mapping[str, object], rows: int | None = None
    ) -> h5py.Dataset:
        """Create a resizable ``/target`` to be filled by :meth:`append_target`.

        ``rows``: how many rows it will hold (when known), so that a small file's
        chunk holds its rows and no more; appending resizes it past that.
        """
        if TARGET in self.file:
            del self.file[TARGET]
        chunk_rows = max(1, CHUNK_BYTES // max(1, int(np.prod(shape_tail, dtype=np.int64)) * np.dtype(dtype).itemsize))
        rows = min(chunk_rows, max(1, rows)) if rows is not None else chunk_rows
        compression, opts = self._rows.compression
        ds = self.file.create_dataset(
            TARGET,
            shape=(0,) + shape_tail,
            maxshape=(None,) + shape_tail,
            dtype=dtype,
            chunks=(rows,) + shape_tail,
            compression=compression,
            compression_opts=opts,
        )
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
        node = self.features if path == FEATURES else self.file[path]  # /features may not be made yet
        for key, value in attrs.items():
            node.attrs[key] = value

    def end_features(self) -> None:
        """Write the last, partial chunk of /features now that no more rows come (see ``FeatureRows.end``)."""
        self._rows.end()

    def finish(self, *, created_by: str, rows: int, sources: list[dict[str, object]], extra: Mapping[str, object]) -> None:
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
        if self._rows.widened:
            _repack(self.path, self.meta_block_size)

    def close(self) -> None:
        """Close without finishing (after an error); the caller removes the file."""
        try:
            self.file.close()
        except Exception:  # the file may be broken (disk full); it is discarded anyway
            pass


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
