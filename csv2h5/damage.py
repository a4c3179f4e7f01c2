"""Parts of a csv2h5 file that HDF5 cannot read back (damaged on disk or in a copy), said in one line.

h5py reports a damaged object header as a missing name (``KeyError``) and a
damaged chunk as a failed read (``OSError``): both become a
:class:`~csv2h5.errors.DamagedFileError` that names the file, the part (an
object, or the rows of the chunk that fails) and what HDF5 found.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from .errors import DamagedFileError


def _reason(exc: BaseException) -> str:
    """What HDF5 found wrong, from h5py's message: ``bad object header version number`` of
    ``Unable to synchronously open object (bad object header version number)``."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    found = re.search(r"\(([^()]+)\)\s*$", text)
    return found.group(1) if found else text.splitlines()[0][:200] if text else type(exc).__name__


def damaged(path: str | Path, what: str, exc: BaseException) -> DamagedFileError:
    """The error for a part of a csv2h5 file (``/features``, ``rows 0-99``) that HDF5 cannot read back."""
    return DamagedFileError(f"{path}: {what} cannot be read (the file is damaged: {_reason(exc)}); convert the CSV again")


def _damaged_chunk(ds: h5py.Dataset, start: int, stop: int) -> tuple[int, int]:
    """The rows of the first chunk in ``start..stop`` that cannot be read (``start, stop`` when each can)."""
    step = ds.chunks[0] if ds.chunks else max(1, stop - start)
    for first in range(start - start % step, stop, step):
        try:
            ds[max(first, start) : min(first + step, stop)]
        except OSError:
            return max(first, start), min(first + step, stop)
    return start, stop


def read_rows(ds: h5py.Dataset, start: int, stop: int, path: str | Path, *, column: int | None = None) -> np.ndarray:
    """Rows ``start..stop`` of ``ds`` (of one ``column``), or a DamagedFileError naming the rows that cannot be
    read: those of the first chunk that fails."""
    try:
        return ds[start:stop] if column is None else ds[start:stop, column]
    except OSError as exc:
        first, end = _damaged_chunk(ds, start, min(stop, ds.shape[0]))
        raise damaged(path, f"rows {first:,}-{end - 1:,}", exc) from None
