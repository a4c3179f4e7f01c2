"""The /features dataset being written: rows queued and written in whole chunks, widened, ended.

Rows are buffered and written in whole chunks, so every chunk is written once
and chunks lie back to back in the file (good for the reader's memory map).
Rows a parser process left in shared memory can instead be copied into the
file by a parser process (:meth:`FeatureRows.place`, ``rowcopies``): /features
is then made with its chunks allocated as it grows and never filled by HDF5.
"""

from __future__ import annotations

from collections.abc import Sequence

import h5py
import numpy as np

from .encoders import ChunkEncoders
from .layout import COLUMNS, FEATURES, FileHeader
from .rowcopies import Piece, RowCopies
from .schema import chunk_rows_for

_COPY_ROWS = 1 << 16  # rows copied at once when widening (bounded memory)
# Chunk offsets for rows copied in by parsers: H5Dget_chunk_info_by_coord (HDF5 >= 1.10.5, in every h5py wheel).
_CHUNK_OFFSETS = hasattr(h5py.h5d.DatasetID, "get_chunk_info_by_coord")


class FeatureRows:
    """The rows of ``file``'s /features: a new dataset, or an existing one continued (``--append``)."""

    def __init__(self, file: h5py.File, encoders: ChunkEncoders, copies: RowCopies | None = None) -> None:
        self.file = file
        self._encoders = encoders
        self._copies = copies  # None: every row is written here
        # Rows may be copied in by parser processes (:meth:`place`): a new, uncompressed /features made for it.
        self.placeable = False
        self._direct = False  # whole chunks are encoded through ``encoders``
        self._features: h5py.Dataset | None = None
        self._planned: tuple[list[str], np.dtype] | None = None  # a new /features' columns and dtype, until made
        self._placed = _Placed()
        if copies is not None:
            copies.before_take = self._reserve
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self.widened = False  # rows written were rewritten in a wider dtype: the file has space to reclaim
        self._chunk_rows_requested: int | None = None
        self._regrow = False  # an appended-to small file whose chunk grows once a whole default chunk of rows is here
        self.compression: tuple[str | None, object] = (None, None)

    @property
    def dataset(self) -> h5py.Dataset:
        if self._features is None:  # looked up once: a lookup by name costs more than writing a small block
            if self._planned is not None:
                self._make_planned()
            self._features = self.file[FEATURES]
        return self._features

    def _make_planned(self, rows: int | None = None) -> None:
        (columns, dtype), self._planned = self._planned, None
        self._make(FEATURES, len(columns), dtype, rows).attrs[COLUMNS] = columns

    def _chunk_rows(self) -> int:  # the dataset's, or the one a planned /features will be made with
        if self._planned is None:
            return self.dataset.chunks[0]
        return chunk_rows_for(len(self._planned[0]), self._planned[1].itemsize, self._chunk_rows_requested)

    def create(
        self, columns: Sequence[str], dtype: np.dtype, *, chunk_rows: int | None, compression: tuple[str | None, object]
    ) -> None:
        """Create the empty, resizable ``/features``: made in the file when first used, in the dtype the first
        block needs (made here, it was made again, and this one deleted, by nearly every first block)."""
        self._chunk_rows_requested = chunk_rows
        self.compression = compression
        self._direct = self._encoders.can_encode(compression[0])
        self.placeable = self._copies is not None and compression[0] is None and _CHUNK_OFFSETS
        self._features = None
        self._planned = ([str(c) for c in columns], np.dtype(dtype))

    def adopt(self) -> None:
        """Continue an existing file (``--append``) with its own chunking and filters.

        A small file's one chunk was cut to its rows (:meth:`end`); rows appended to it are chunked
        as a new file's would be, so the chunk grows with the data instead of staying that small."""
        ds = self.dataset
        self._chunk_rows_requested = requested_chunk_rows(ds)
        self._regrow = self._chunk_rows_requested is None
        self.compression = (ds.compression, ds.compression_opts) if ds.compression else (None, None)
        self._direct = _encodable_elsewhere(ds, self._encoders)

    def _make(self, name: str, num_features: int, dtype: np.dtype, rows: int | None = None) -> h5py.Dataset:
        """An empty, resizable features dataset: chunks of ``rows`` rows, else the requested or default chunk."""
        rows = rows or chunk_rows_for(num_features, dtype.itemsize, self._chunk_rows_requested)
        return _new_dataset(self.file, name, (rows, num_features), dtype, self.compression, self.placeable)

    @property
    def dtype(self) -> np.dtype:
        return self._planned[1] if self._planned is not None else self.dataset.dtype

    @property
    def rows(self) -> int:
        if self._planned is not None:  # not made yet: no rows written or placed
            return self._pending_rows
        return self._placed.extent(self.dataset) + self._placed.rows + self._pending_rows

    def append(self, block: np.ndarray) -> None:
        """Queue rows (already in the dataset's dtype); write every whole chunk."""
        if block.shape[0] == 0:
            return
        self._pending.append(block)
        self._pending_rows += block.shape[0]
        if self._regrow:  # a small file appended to: held until a whole chunk of the new size is here
            if self.rows < chunk_rows_for(self.dataset.shape[1], self.dtype.itemsize):
                return
            self._take_back_rows()
        if self._pending_rows >= self._chunk_rows():
            self._write_pending(whole_chunks_only=True)

    def _take_back_rows(self, rows: int | None = None) -> None:
        """Move the rows written so far (at most one chunk) back to the queue, in a fresh dataset of ``rows``-row chunks.

        For a small file (its chunk cut to its rows at the end) that grows again: fewer rows than a
        default chunk (about 1 MiB) move, and the next writes reuse their space."""
        self._encoders.write_encoded()
        self._drain()
        old = self.dataset
        written = old[()]
        fresh = self._make("features_rechunked", old.shape[1], old.dtype, rows)
        self._replace(old, fresh)
        if written.shape[0]:
            self._pending.insert(0, written)
            self._pending_rows += written.shape[0]
        self._regrow = False

    def _replace(self, old: h5py.Dataset, new: h5py.Dataset) -> None:
        """Make ``new`` the /features dataset, with ``old``'s attributes."""
        for key, value in old.attrs.items():
            new.attrs[key] = value
        del self.file[FEATURES]
        self.file.move(new.name.lstrip("/"), FEATURES)
        self._features = None
        self._placed.forget()

    def _write_pending(self, *, whole_chunks_only: bool) -> None:
        if not self._pending_rows:
            return
        self._reserve()  # rows placed before these come first
        ds = self.dataset
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
        self._placed.forget(layout=False)
        if ds.shape[0] < end:
            ds.resize(end, axis=0)
        if not self._direct:
            ds[start:end] = rows
            return
        self._encoders.write_rows(ds, start, rows, self.compression)

    def place(self, name: str, rows: int, dtype: np.dtype) -> bool:
        """Have a parser process copy ``rows`` rows of ``dtype``, left in the shared file ``name``, into the file.

        False, and nothing done, when they must come through :meth:`append` (/features compressed, not made here,
        of another dtype). Else earlier rows are written, /features grows by ``rows``, and ``rowcopies`` copies them."""
        if not self.placeable or self._regrow:
            return False
        if not self._placed.fits(self.dataset, dtype):
            return False
        self._write_pending(whole_chunks_only=False)
        self._placed.add(name, rows)
        return True

    def _reserve(self) -> None:
        """Grow /features by the rows of the blocks placed since the last time, and leave their copy jobs."""
        if self._placed.blocks:  # none yet: /features need not be made (see ``dataset``)
            self._placed.reserve(self.dataset, self._copies)

    def _drain(self) -> None:
        """Wait for the rows being copied in by parser processes (before the rows written are read, or the end)."""
        if self._copies is not None:
            self._copies.drain()

    def widen(self, dtype: np.dtype, *, float32_exact: bool = False) -> None:
        """Rewrite the rows written so far in a wider dtype (exact: the caller checked). ``float32_exact``: stored
        float values are the CSV's values themselves, else each stands for its shortest decimal (:func:`widen_values`)."""
        if self._planned is not None:  # nothing written: made in the wider dtype when first used
            self._planned = (self._planned[0], np.dtype(dtype))
            self._pending = [widen_values(p, dtype, exact=float32_exact) for p in self._pending]
            return
        if self._regrow:  # a small file appended to: its few rows are rewritten in the new chunking anyway
            self._take_back_rows()
        self._encoders.write_encoded()
        self._drain()
        old = self.dataset
        old_rows = old.shape[0]
        new = self._make("features_widening", old.shape[1], np.dtype(dtype))
        step = max(1, _COPY_ROWS // new.chunks[0]) * new.chunks[0]  # whole chunks: they can be encoded elsewhere
        for start in range(0, old.shape[0], step):
            self._write_rows(new, start, widen_values(old[start : start + step], dtype, exact=float32_exact))
        self._encoders.write_encoded()
        self._replace(old, new)
        self._pending = [widen_values(p, dtype, exact=float32_exact) for p in self._pending]
        # Space freed by rows written in the old dtype is reclaimed at the end (a repack: a whole copy of the file).
        self.widened = self.widened or old_rows > 0

    def end(self) -> None:
        """Write the last, partial chunk of /features now that no more rows come.

        Chunks are then back to back (one run a reader maps as one array). A small file's rows make one chunk of
        exactly those rows unless chunk rows were asked for: a 1,000-row file need not take a chunk of 1 MiB."""
        self._drain()
        small = self._chunk_rows_requested is None and 0 < self.rows
        if small and self._planned is not None and self.rows < self._chunk_rows():
            self._make_planned(self.rows)  # all its rows still queued: made with that chunk at once
        elif small and (self._regrow or self.rows < self.dataset.chunks[0]):
            self._take_back_rows(self.rows)
        self._write_pending(whole_chunks_only=False)
        self._encoders.write_encoded()


class _Placed:
    """Blocks whose rows parser processes copy into /features, and what placing them needs to know of it.

    Blocks placed are reserved together when their copy jobs are taken: one
    extent change, and one chunk lookup per chunk, for several blocks. The
    dataset's layout and extent are kept, as h5py's lookups cost more than a
    small block's other work.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[str, int]] = []  # placed, not reserved yet: (shared file, rows)
        self.rows = 0  # their rows
        self._layout: tuple[np.dtype, int, int, bool] | None = None  # dtype, chunk rows, columns, whole-row chunks
        self._extent: int | None = None  # the dataset's rows as last set here (None: ask h5py, ~0.1 ms)

    def forget(self, *, layout: bool = True) -> None:
        """The dataset was replaced (``layout``), or grown elsewhere: ask h5py again."""
        self._extent = None
        if layout:
            self._layout = None

    def extent(self, ds: h5py.Dataset) -> int:
        return ds.shape[0] if self._extent is None else self._extent

    def fits(self, ds: h5py.Dataset, dtype: np.dtype) -> bool:
        """Whether rows of ``dtype`` can be copied into ``ds`` as they are: its dtype, and chunks of whole rows."""
        self._layout = self._layout or _layout(ds)
        stored, _, _, whole_rows = self._layout
        return np.dtype(dtype) == stored and whole_rows

    def add(self, name: str, rows: int) -> None:
        self.blocks.append((name, rows))
        self.rows += rows

    def reserve(self, ds: h5py.Dataset, copies: RowCopies) -> None:
        """Grow ``ds`` by the rows of the blocks added since the last time, and leave their copy jobs with ``copies``."""
        if not self.blocks:
            return
        stored, chunk, width, _ = self._layout
        start = self.extent(ds)
        self._extent = start + self.rows
        ds.id.set_extent((self._extent, width))  # Dataset.resize, without its lookups
        offsets: dict[int, object] = {}  # chunk infos of this reservation: a chunk two blocks share is asked once
        for name, rows in self.blocks:
            copies.add(name, _pieces(ds, start, rows, chunk, width * stored.itemsize, offsets))
            start += rows
        self.blocks, self.rows = [], 0


def _encodable_elsewhere(ds: h5py.Dataset, encoders: ChunkEncoders) -> bool:
    """Whether ``ds``'s chunks can be encoded elsewhere: its filter pipeline is exactly the one encode_chunk builds."""
    return encoders.can_encode(ds.compression) and not ds.shuffle and not ds.fletcher32 and ds.scaleoffset is None


def _new_dataset(
    file: h5py.File, name: str, chunks: tuple[int, int], dtype: np.dtype, compression: tuple[str | None, object], placeable: bool
) -> h5py.Dataset:
    """An empty features dataset of ``chunks``, resizable in its rows (``placeable``: for rows copied in by parsers)."""
    return file.create_dataset(
        name,
        shape=(0, chunks[1]),
        maxshape=(None, chunks[1]),
        dtype=dtype,
        chunks=chunks,
        compression=compression[0],
        compression_opts=compression[1],
        dcpl=_allocated_unfilled() if placeable else None,
    )


def _layout(ds: h5py.Dataset) -> tuple[np.dtype, int, int, bool]:
    """A features dataset's dtype, chunk rows, columns, and whether its chunks span whole rows."""
    return ds.dtype, ds.chunks[0], ds.shape[1], ds.chunks[1] == ds.shape[1]


def _allocated_unfilled() -> h5py.h5p.PropDCID:
    """Dataset-creation properties: chunks allocated as the dataset grows, never filled by HDF5.

    A chunk's file offset is then known before its rows are written, and HDF5
    writes no bytes of it itself: the rows copied there by parser processes
    are all that is written (``rowcopies``).
    """
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    return dcpl


def _pieces(ds: h5py.Dataset, start: int, rows: int, chunk: int, row_bytes: int, infos: dict) -> list[Piece]:
    """Where rows ``start`` to ``start + rows`` of ``ds`` lie in the file: (file offset, offset among the rows, bytes).

    A chunk spans whole rows (``(chunk rows, features)``, ``row_bytes`` each), so
    its bytes are its rows in C order; adjacent chunks (the usual case) make one piece.
    ``infos``: the chunks' infos asked so far (first row -> info), filled here: one reservation's
    blocks may share a chunk.
    """
    pieces: list[Piece] = []
    row, end = start, start + rows
    while row < end:
        first = row // chunk * chunk
        stop = min(end, first + chunk)
        info = infos.get(first)
        if info is None:
            info = ds.id.get_chunk_info_by_coord((first, 0))
            infos[first] = info
        if info.byte_offset is None or info.size != chunk * row_bytes:  # not allocated, or not whole rows: a bug
            raise RuntimeError(f"chunk at row {first} of /features has no place of {chunk * row_bytes} bytes in the file")
        offset, source, length = info.byte_offset + (row - first) * row_bytes, (row - start) * row_bytes, (stop - row) * row_bytes
        if pieces and pieces[-1][0] + pieces[-1][2] == offset:
            pieces[-1] = (pieces[-1][0], pieces[-1][1], pieces[-1][2] + length)
        else:
            pieces.append((offset, source, length))
        row = stop
    return pieces


def requested_chunk_rows(ds: h5py.Dataset | FileHeader) -> int | None:
    """The chunk rows to go on with for a features dataset (or a file's header): its own, or None for a small file's.

    A small file's one chunk holds exactly its rows, fewer than the default chunk
    (see :meth:`FeatureRows.end`): a size fitted to the data, not a choice to keep.
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
