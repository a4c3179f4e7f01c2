"""Numeric pyarrow columns as numpy arrays, read from the arrow buffers.

A module of its own because both ``arrow`` (reading tables) and ``cells``
(which ``arrow`` imports for the boolean spellings) need it.
"""

from __future__ import annotations

import numpy as np


def to_numpy(column) -> np.ndarray:
    """A numeric pyarrow (chunked) array as numpy; empty cells become NaN (as float64).

    Read from the arrow buffers directly: pyarrow's own ``to_numpy`` imports
    pandas on first use, 0.2 s of every parser process's time.
    """
    import pyarrow as pa

    parts = []
    for chunk in getattr(column, "chunks", [column]):
        kind = "f" if pa.types.is_floating(chunk.type) else "i"
        end = chunk.offset + len(chunk)
        values = np.frombuffer(chunk.buffers()[1], dtype=np.dtype(f"{kind}{chunk.type.bit_width // 8}"), count=end)
        values = values[chunk.offset :]
        if chunk.null_count:
            bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
            valid = np.unpackbits(bits, count=end, bitorder="little")[chunk.offset :].astype(bool)
            values = np.where(valid, values, np.nan)
        parts.append(values)
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def to_bools(column) -> np.ndarray:
    """A pyarrow boolean (chunked) array as numpy bool, empty cells (nulls) as False.

    Read from the bit buffers: pyarrow's ``to_numpy(zero_copy_only=False)`` of a
    boolean array imports pandas, 0.15-0.3 s of a small file's conversion.
    """
    parts = []
    for chunk in getattr(column, "chunks", [column]):
        end = chunk.offset + len(chunk)
        bits = np.unpackbits(np.frombuffer(chunk.buffers()[1], dtype=np.uint8), count=end, bitorder="little")
        values = bits[chunk.offset :].astype(bool)
        if chunk.null_count:
            valid = np.unpackbits(np.frombuffer(chunk.buffers()[0], dtype=np.uint8), count=end, bitorder="little")
            values &= valid[chunk.offset :].astype(bool)
        parts.append(values)
    if not parts:
        return np.zeros(0, dtype=bool)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def arrow_array(values):
    """A pyarrow array of a list of str, or of a numpy bool, integer or float array, built from its buffers.

    ``pa.array`` imports pandas on first use (0.15-0.3 s of a small file's conversion).
    """
    import pyarrow as pa

    if isinstance(values, list):
        data = [str(v).encode() for v in values]
        offsets = np.zeros(len(data) + 1, dtype=np.int32)
        np.cumsum([len(d) for d in data], out=offsets[1:])
        return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])
    values = np.asarray(values)
    if values.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    if values.dtype.kind == "f":
        return pa.Array.from_buffers(
            pa.float64(), values.size, [None, pa.py_buffer(np.ascontiguousarray(values, dtype=np.float64))]
        )
    return pa.Array.from_buffers(pa.int64(), values.size, [None, pa.py_buffer(np.ascontiguousarray(values, dtype=np.int64))])


def string_bytes(column) -> bytes | None:
    """The text of a pyarrow string (chunked) array's cells, one after another; None if it has empty cells (nulls).

    Read from the offsets and data buffers: a cheap look at which bytes the cells hold
    (an empty cell's bytes are not defined, so a column with some gives None).
    """
    import pyarrow as pa

    parts = []
    for chunk in getattr(column, "chunks", [column]):
        if chunk.null_count or not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return None
        if not len(chunk):
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width, count=chunk.offset + len(chunk) + 1)
        start, end = int(offsets[chunk.offset]), int(offsets[-1])
        parts.append(chunk.buffers()[2][start:end].to_pybytes() if end > start else b"")
    return b"".join(parts)
