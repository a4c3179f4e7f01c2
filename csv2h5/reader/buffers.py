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
        values = values[chunk.offset:]
        if chunk.null_count:
            bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
            valid = np.unpackbits(bits, count=end, bitorder="little")[chunk.offset:].astype(bool)
            values = np.where(valid, values, np.nan)
        parts.append(values)
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
