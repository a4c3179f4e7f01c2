"""A regression target as float32: values beyond its range refused, values it rounds counted and reported.

float32 keeps about 7 significant digits, so a target such as prices with cents
around 5e6 loses its cents. A value counts as rounded where float32 would not hold
it as a feature (``schema.ValueRange``): it is neither its float32 (0.5, 12, 1e6)
nor a decimal of at most 6 significant digits, which its float32 prints back
(0.1, 3.14). Each block is looked at where it is parsed (a parser process, or the
main process); the main process adds up the counts and keeps each column's first
example with its line, and the conversion warns once per column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .errors import BadValueError
from .layout import COLUMNS, TASK
from .schema import shortest_decimal_of_float32

# What a block's target holds that float32 rounds: (column, how many values, the first one's row, its value).
Rounded = tuple[tuple[int, int, int, float], ...]
_HEAD = 64  # values that tell how many decimals a column's values have


def rounded_in(values: np.ndarray) -> Rounded:
    """Each target column of a block (``(rows,)`` or ``(rows, T)`` numbers) in which float32 rounds some value.

    Costs one comparison where float32 holds every value as it is, and a few passes
    more where some value is a decimal.
    """
    table = np.asarray(values, dtype=np.float64)
    table = table.reshape(-1, 1) if table.ndim == 1 else table
    with np.errstate(over="ignore", invalid="ignore"):
        kept = table.astype(np.float32) == table
    if kept.all():
        return ()
    found = []
    for column in range(table.shape[1]):
        rows = np.flatnonzero(~kept[:, column])
        x = table[:, column][rows]
        maybe = ~(np.isnan(x) | _shortest_decimal(x))  # NaN and decimals of <= 6 digits are kept
        rows = rows[maybe]
        if rows.size:
            found.append((column, int(rows.size), int(rows[0]), float(table[rows[0], column])))
    return tuple(found)


def _shortest_decimal(x: np.ndarray) -> np.ndarray:
    """``schema.shortest_decimal_of_float32``, cheaper for the usual target: values with the decimals of the first ones.

    Where ``x * 10**k`` is a whole number below 10**6, ``x`` has at most 6 significant digits;
    ``k`` is the fewest decimals the first values need. The others take the full test.
    """
    head = x[:_HEAD]
    decimals = next((k for k in range(7) if _whole_below_million(head * 10.0**k).all()), 6)
    held = _whole_below_million(x * 10.0**decimals)
    rest = ~held
    if rest.any():
        held[rest] = shortest_decimal_of_float32(x[rest])
    return held


def _whole_below_million(scaled: np.ndarray) -> np.ndarray:
    """Where a value is a whole number of at most 6 digits, up to float64's error in scaling a decimal."""
    whole = np.rint(scaled)
    off = np.abs(np.subtract(scaled, whole, out=scaled), out=scaled)  # ``scaled`` is a temporary: reused
    whole = np.abs(whole, out=whole)
    held = whole < 1e6
    held &= off <= np.multiply(whole, 2.0**-49, out=whole)
    return held


class RoundedTargets:
    """The values float32 rounds in each target column, added up over the blocks in input order."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.counts = [0] * len(names)
        self._first: list[tuple[str, float] | None] = [None] * len(names)  # "file:line" and the value

    def add(self, found: Rounded, *, source: str, line: Callable[[int], int]) -> None:
        """Note a block's ``rounded_in``; ``line`` gives the CSV line of a row of the block."""
        for column, count, row, value in found:
            self.counts[column] += count
            if self._first[column] is None:
                self._first[column] = (f"{source}:{line(row)}", value)

    def warnings(self, rows: int) -> tuple[str, ...]:
        """One line per column in which float32 rounded some value, of ``rows`` values each."""
        found = []
        for name, count, first in zip(self.names, self.counts, self._first):
            if count:
                where, value = first
                stored = repr(float(np.float32(value)))  # the float32's own value: its shortest text is often the input's
                found.append(
                    f"target {name!r}: float32 rounded {count:,} of {rows:,} values, the first at {where}:"
                    f" {value!r} stored as {stored}; a regression target is stored as float32,"
                    " which keeps about 7 significant digits"
                )
        return tuple(found)


def write_numbers(writer, blocks: Iterable[np.ndarray], names: list[str], *, rows: int) -> None:
    """Write a regression target's float64 ``blocks`` as float32, refusing a value float32 turns into infinity."""
    width = len(names)
    tail = () if width == 1 else (width,)
    writer.create_target(tail, np.dtype("float32"), attrs={COLUMNS: names, TASK: "regression"}, rows=rows)
    done = 0
    for block in blocks:
        with np.errstate(over="ignore"):  # refused below, not warned of
            stored = block.astype(np.float32)
        over = np.flatnonzero(np.isinf(stored) & np.isfinite(block))
        if over.size:
            at = done + int(over[0])
            raise BadValueError(
                f"target {names[at % width]!r} has {block[over[0]]:g} in data row {at // width + 1:,}, beyond"
                " the range of float32 (3.4e38) in which a regression target is stored; scale the target in the CSV"
            )
        writer.append_target(stored.reshape((-1,) + tail))
        done += block.size
