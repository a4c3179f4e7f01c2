"""Integers beyond 2**53 in a column read as float64: the float may be the rounding of the integer written."""

from __future__ import annotations

import numpy as np

from .buffers import arrow_array, to_bools
from .kernels import filtered, match_substring_regex, take


class RoundedInteger(Exception):
    """An integer cell beyond 2**53 that a float64 column would round: its row and text."""

    def __init__(self, row: int, cell: str) -> None:
        super().__init__(row, cell)
        self.row = row
        self.cell = cell


def refuse_rounded_integers(column, values: np.ndarray) -> None:
    """Raise RoundedInteger for an integer cell the float64 ``values`` round (9007199254740993 -> ...992).

    A column with empty cells or decimals is read as float64, and no float type holds
    every integer beyond 2**53.
    """
    suspects = np.flatnonzero(np.abs(values) >= 2**53)  # 2**53 + 1 rounds to 2**53
    if not suspects.size:
        return
    texts = take(column, arrow_array(suspects))
    integers = to_bools(match_substring_regex(texts, r"^[+-]?[0-9]+$"))
    for row, text in zip(suspects[integers], filtered(texts, arrow_array(integers)).to_pylist()):
        if int(text) != float(values[row]):
            raise RoundedInteger(int(row), text)
