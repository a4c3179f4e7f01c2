"""The user's spellings of a missing cell (--na-values) as pandas' ``na_values=`` reads them.

pandas reads a spelling two ways. As text, in every column: the spelling itself and, for a
whole number, both ways of writing it (``-999`` and ``-999.0``). As a number, in columns of
numbers: a cell whose value is the spelling's (``-999.00``, ``-9.99e2`` for ``-999``; never
``-999.0001``), by Python's ``float()`` of the spelling. The second is looked at only where
some spelling is a number, so other conversions pay nothing for it.

pandas skips the second in a column it reads as integers, where ``0999`` stays 999 beside
``999`` made missing; here a number cell is compared by value in every column of numbers, so
a block of integers reads as a block of decimals does.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def with_both_spellings(na_values: tuple[str, ...]) -> tuple[str, ...]:
    """``na_values`` with the other writing of each whole number (``-999.0`` for ``-999``, ``99`` for ``99.0``).

    pandas' own rule (``_stringify_na_values``): text cells are compared with these, in every column.
    """
    found = dict.fromkeys(na_values)
    for value in na_values:
        try:
            number = float(value)
            whole = int(number)
        except (ValueError, OverflowError):  # text, nan, inf
            continue
        if number == whole:
            found.update(dict.fromkeys((f"{whole}.0", str(whole))))
    return tuple(found)


@functools.cache
def missing_numbers(na_values: tuple[str, ...]) -> np.ndarray:
    """The values of the spellings that are numbers (float64; not NaN, which is missing already)."""
    found = []
    for value in na_values:
        try:
            number = float(value)
        except ValueError:
            continue
        if not np.isnan(number):
            found.append(number)
    return np.unique(np.array(found, dtype=np.float64))


def missing_number_cells(values: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Which of ``values`` (int64 or float64) are one of ``numbers``: integers compared exactly, not as floats."""
    if values.dtype.kind in "iu":
        whole = numbers[(numbers == np.rint(numbers)) & (np.abs(numbers) < 2.0**63)]
        return np.isin(values, whole.astype(np.int64))
    return np.isin(values, numbers)


def small_integers(numbers: np.ndarray, high: int) -> np.ndarray:
    """The whole numbers from 0 to ``high`` among ``numbers``, as int64: those a table of digits can hold."""
    return numbers[(numbers == np.rint(numbers)) & (numbers >= 0) & (numbers <= high)].astype(np.int64)


def missing_labels(values: np.ndarray, na_values: tuple[str, ...]) -> np.ndarray:
    """The rows of number labels whose value is a --na-values number (-999.0 for -999): missing, as an empty label is."""
    missing = missing_numbers(na_values)
    if not missing.size or values.dtype.kind not in "iuf":
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(missing_number_cells(values, missing))
