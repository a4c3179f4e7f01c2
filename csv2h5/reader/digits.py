"""The fast path for blocks of small non-negative integers (pixels, counts, labels)."""

from __future__ import annotations

import numpy as np

_DIGITS = b"0123456789"
_DIGITS_MAX = 3  # fast path: fields of 1..3 digits (values 0..999: pixels, counts, labels)
DIGITS_MAX_VALUE = 10**_DIGITS_MAX - 1


def parse_digits(data: bytes, ncol: int, delimiter: int) -> np.ndarray | None:
    """All-small-integer fast path: a (rows, ncol) uint16 table, or None if the block is not that.

    Accepts only lines of exactly ``ncol`` fields of 1..3 ASCII digits, so any
    other input (signs, decimals, empty cells, quotes, ragged lines) falls back
    to the other paths.
    """
    if not data or data[-1:] != b"\n":
        return None
    first_line = data[: data.find(b"\n") + 1]
    if first_line.translate(None, _DIGITS + bytes([delimiter]) + b"\n"):
        return None  # decimals, text or quotes on the first line already: not worth the full scan
    b = np.frombuffer(data, dtype=np.uint8)
    d = b - np.uint8(48)
    isd = d < 10
    sep = np.flatnonzero(~isd)
    nrows, rem = divmod(sep.size, ncol)
    if rem or not isd[0]:
        return None
    if not (b.take(sep[ncol - 1 :: ncol]) == 10).all() or np.count_nonzero(b == 10) != nrows:
        return None
    if np.count_nonzero(b == delimiter) != sep.size - nrows:
        return None  # some other byte (sign, dot, letter) is in the block
    if (~isd[1:] & ~isd[:-1]).any():
        return None  # an empty field
    run = isd[_DIGITS_MAX:].copy()
    for k in range(1, _DIGITS_MAX + 1):
        run &= isd[_DIGITS_MAX - k : -k]
    if run.any():
        return None  # a field with more digits than the fast path handles
    dz = (d * isd).astype(np.uint16)
    # value[i] = the number whose last digit is at i-1, i.e. the field ending at separator i
    value = np.zeros(b.size, dtype=np.uint16)
    value[1:] = dz[:-1]
    value[2:] += dz[:-2] * np.uint16(10)
    term = dz[:-3] * np.uint16(100)
    term *= isd[1:-2]
    value[3:] += term
    return value.take(sep).reshape(nrows, ncol)


def as_slice(positions: tuple[int, ...]) -> slice | list[int]:
    """A slice when the positions are a contiguous run (a view instead of a gather)."""
    if positions and list(positions) == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return list(positions)
