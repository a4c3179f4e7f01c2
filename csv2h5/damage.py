"""Parts of a csv2h5 file that HDF5 cannot read back (damaged on disk or in a copy), said in one line.

h5py reports a damaged object header as a missing name (``KeyError``, or ``None``
from a group's ``get``), a damaged chunk as a failed read (``OSError``), and
overwritten JSON text fails to parse (``ValueError``): each becomes a
:class:`~csv2h5.errors.DamagedFileError` that names the file, the part (an
object, or the rows of the chunk that fails) and what HDF5 found.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np

from .errors import DamagedFileError, number_text


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


def read_object(f: h5py.Group, name: str, path: str | Path) -> h5py.Dataset | h5py.Group:
    """The object ``name`` of the group ``f``, or a DamagedFileError when HDF5 cannot open it."""
    try:
        found = f[name]
    except (KeyError, OSError) as exc:  # h5py says a damaged object header is missing (KeyError)
        raise damaged(path, f"{f.name.rstrip('/')}/{name}", exc) from None
    if found is None:  # a link HDF5 cannot follow
        raise damaged(path, f"{f.name.rstrip('/')}/{name}", KeyError("the link cannot be followed"))
    return found


def read_json(attrs: h5py.AttributeManager, name: str, default: str, path: str | Path) -> object:
    """An attribute that holds JSON, read back (``default`` when absent)."""
    try:
        return json.loads(_text(attrs.get(name, default)))
    except ValueError as exc:  # not JSON, or not text: bytes overwritten
        reason = f"not JSON: {exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise damaged(path, f"the {name} attribute", ValueError(reason)) from None


def read_group(f: h5py.File, group: str, path: str | Path | None) -> dict[str, np.ndarray]:
    """Each dataset of the group ``group`` (none when the file has no such group) read whole, by name.

    Raises:
        DamagedFileError: the group, or one of its datasets, cannot be read back.
    """
    path = f.filename if path is None else path
    try:
        if not f.id.links.exists(group.encode()):  # a file without text columns has no /categories
            return {}
        found = read_object(f, group, path)
        names = list(found.keys())
    except DamagedFileError:
        raise
    except (KeyError, OSError, ValueError) as exc:
        raise damaged(path, f"/{group}", exc) from None
    values = {}
    for name in names:
        dataset = read_object(found, name, path)
        try:
            values[name] = dataset[()]
        except (OSError, ValueError) as exc:
            raise damaged(path, f"/{group}/{name}", exc) from None
    return values


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check_codes(codes: np.ndarray, size: int, path: str | Path, what: str, first_row: int, *, kind: str = "categories") -> None:
    """Raise a DamagedFileError when a code of ``codes`` (rows from ``first_row``; NaN: missing) is not one of ``0..size-1``.

    Rows stored without a checksum (lzf, or no compression) read back overwritten
    bytes as values: a code no category has is how that shows in a coded column.
    """
    if codes.dtype.kind in "iu" and (codes.size == 0 or (codes.min() >= 0 and codes.max() < size)):
        return  # whole-number codes in range (the usual case): two reductions, not a float copy of the column
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.isnan(codes) & ((codes < 0) | (codes >= size) | (codes != np.floor(codes))))
    if bad.size:
        reason = ValueError(f"{what} holds code {number_text(codes[bad[0]])}, beyond its {size} {kind}")
        raise damaged(path, f"row {first_row + int(bad[0]):,}", reason)
