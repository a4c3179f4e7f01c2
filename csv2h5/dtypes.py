"""The features' dtype during a conversion: the range of values so far, widening on the way, or a refusal.

``--dtype auto`` starts at the smallest dtype of what came before (the file
appended to, the ``--like`` template) and widens the stored rows as blocks need
it, noting each change; a value no dtype holds exactly stops the conversion.
"""

from __future__ import annotations

import numpy as np

from .errors import BadValueError, number_text
from .layout import FEATURES, FLOAT32_VALUES
from .schema import (
    FLOAT64_MAX_EXACT_INT,
    ValueRange,
    float32_range,
    float32_readings,
    holds,
    smallest_dtype,
    unrepresentable,
    value_range,
)
from .stats import ColumnStats
from .writer import H5Writer


class FeatureDtype:
    """The value range of the rows written so far and the dtype they need (``requested``: ``--dtype``)."""

    def __init__(self, requested: str, start: ValueRange) -> None:
        self.requested = requested
        self.value_range = start  # --like and --append start from their file's dtype and widen only if needed
        self.widened: list[str] = []  # e.g. "uint8 -> float32 at row 4096"
        self._settled: ValueRange | None = None  # the range the writer's dtype was last checked against

    def start_dtype(self) -> np.dtype:
        """The dtype of a new file's features."""
        return np.dtype(self.requested) if self.requested != "auto" else smallest_dtype(self.value_range)

    def admit(self, block_range: ValueRange, writer: H5Writer, source: str, *, fill: float | None = None) -> None:
        """Take a block's value range; widen the rows written so far if it needs it, or refuse it.

        ``fill``: the --fill value, when it went into some of the block's empty cells.
        """
        written = self.value_range  # of the rows before this block: how stored float32 values read back
        self.value_range = written.merge(block_range)
        if self.value_range == self._settled:  # most blocks: nothing new, the dtype already holds them
            return
        needed = self._needed(source, block_range)
        auto = self.requested == "auto"
        if needed != writer.dtype and not (auto and holds(writer.dtype, self.value_range)):
            why = f" for --fill {number_text(fill)}" if self._for_fill(fill, written, writer.dtype, needed) else ""
            # The range holds every row written, so any integer dtype of it holds them (uint8 0..6 -> int8 for -3).
            if (
                auto
                and writer.rows
                and not (np.can_cast(writer.dtype, needed, "safe") or {writer.dtype.kind, needed.kind} <= {"i", "u"})
            ):
                needed = np.promote_types(writer.dtype, needed)  # e.g. int16 data then float32-exact decimals: one for both
            if writer.rows or why:  # before the first row nothing was stored: only a change for the fill is told
                at = f" at row {writer.rows:,}" if writer.rows else ""
                self.widened.append(f"{writer.dtype} -> {needed}{at}{why}")
            writer.widen(needed, float32_exact=written.float32_equal)  # else stored float32 values stand for shortest decimals
        self._settled = self.value_range

    @staticmethod
    def _for_fill(fill: float | None, written: ValueRange, old: np.dtype, new: np.dtype) -> bool:
        """Whether the --fill that went into a block (None: none did) alone takes the dtype from ``old`` to ``new``."""
        if fill is None or not unrepresentable(np.array([fill]), old)[0]:
            return False
        return smallest_dtype(written.merge(value_range(np.array([fill])))) == new

    def _needed(self, source: str, block_range: ValueRange) -> np.dtype:
        needed = np.dtype(self.requested) if self.requested != "auto" else smallest_dtype(self.value_range)
        if holds(needed, self.value_range):
            return needed
        if self.requested not in ("auto", "float32", "float64"):
            # The number cells were checked against it as they were read: what it does not hold are
            # category codes (a missing category is NaN), or the rows of the file appended to.
            if not holds(needed, block_range):
                what, wider = (
                    (f"the codes of the categorical columns (up to {block_range.high:,})", "a wider")
                    if block_range.integral
                    else ("a missing category (NaN: no code stands for it)", "a float")
                )
                raise BadValueError(
                    f"{source}: --dtype {self.requested} cannot hold {what}; pass {wider} --dtype, or --dtype auto"
                )
            raise BadValueError(
                f"{source}: --dtype {self.requested} cannot hold every value the file appended to holds already;"
                " pass --dtype auto, which keeps its dtype (or widens it), or convert all the data again"
            )
        if needed == np.float32:
            raise BadValueError(
                "--dtype float32 cannot give back every value of these features read one way: there are"
                " integers beyond 2**24, or float32 numbers written out in full (read as they are) beside"
                " short decimals (read as their shortest decimal); pass --dtype float64"
            )
        if needed == np.float64:  # nothing wider exists
            raise BadValueError(
                f"{source}: the features hold integers beyond 2**53 (up to"
                f" {max(-self.value_range.low, self.value_range.high)}), which a float dtype (for decimals, empty"
                " cells, or --dtype) cannot hold exactly; --drop the column of large integers, or pass it as --categorical"
            )
        raise BadValueError(
            f"features need a dtype that holds both integers beyond 2**24 and decimals, or codes beyond {needed};"
            " pass --dtype float64, or drop the columns that differ"
        )

    def write(self, writer: H5Writer) -> None:
        """Record how the stored float32 values read back (the features' attribute); none for another dtype."""
        if writer.dtype == np.float32:
            writer.set_attrs(FEATURES, {FLOAT32_VALUES: float32_readings(self.value_range)})
        elif FLOAT32_VALUES in writer.features.attrs:  # a float32 file appended to and widened
            del writer.features.attrs[FLOAT32_VALUES]


def range_of_dtype(dtype: np.dtype, stats: ColumnStats, float32_values: object = None) -> ValueRange:
    """A ValueRange that the stored rows fit in, from their stored min/max (and, for float32, how they read back)."""
    has = stats.count > 0
    if dtype.kind in "iu":
        low = int(stats.min[has].min()) if has.any() else 0
        high = int(stats.max[has].max()) if has.any() else 0
        # The stats are float64: beyond 2**53 they cannot tell 2**53 from 2**53 + 1 (so count such a
        # bound as beyond: no float type may hold these rows), and 2**63 - 1 reads as 2**63.
        low = max(-(2**63), low - 1 if low <= -FLOAT64_MAX_EXACT_INT else low)
        high = min(2**63 - 1, high + 1 if high >= FLOAT64_MAX_EXACT_INT else high)
        return value_range(np.array([low, high], dtype=np.int64))
    if dtype == np.float32:
        return float32_range(float32_values)
    small = dtype.itemsize <= 2  # float16: every value is a float32 too
    return ValueRange(integral=False, float32_equal=small, float32_shortest=small, float16_exact=small, empty=False)
