"""Streaming per-column statistics: exact counts, min/max; mean/std by Chan's merge.

Blocks are summarised independently (in parser processes) and merged in CSV
order, so the result does not depend on how the input was cut into blocks
beyond floating-point rounding of the merge itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .layout import CLASS_COUNTS


@dataclasses.dataclass(slots=True)
class ColumnStats:
    """Mergeable summary of each column: non-NaN count, mean, m2, min, max, NaN count."""

    count: np.ndarray  # non-NaN cells per column (float64 to merge without overflow)
    mean: np.ndarray
    m2: np.ndarray  # sum of squared deviations from the mean
    min: np.ndarray
    max: np.ndarray
    nan_count: np.ndarray

    @classmethod
    def empty(cls, num_columns: int) -> ColumnStats:
        z = np.zeros(num_columns)
        return cls(z.copy(), z.copy(), z.copy(), np.full(num_columns, np.inf), np.full(num_columns, -np.inf), z.copy())

    @classmethod
    def of(cls, block: np.ndarray) -> ColumnStats:
        """Summarise a 2-D block (rows x columns)."""
        # Values near the float64 limit overflow the squares: std is then inf, honestly.
        with np.errstate(over="ignore", invalid="ignore"):
            return cls._of(block)

    @classmethod
    def _of(cls, block: np.ndarray) -> ColumnStats:
        # Sums run down each column in memory order (order="F"): faster than across rows, and the
        # same figures to the last bit whichever parse path, in whichever layout, made the block.
        if block.dtype.itemsize == 1 and block.shape[0] and block.shape[0] < 1 << 20:
            # Bytes (pixels): exact integer sums; n * sumsq - sum**2 fits int64 for < 2**20 rows.
            n = block.shape[0]
            total = block.sum(axis=0, dtype=np.int64)
            wide = block.astype(np.int32)
            wide *= wide
            sumsq = wide.sum(axis=0, dtype=np.int64)
            m2 = (n * sumsq - total * total) / n
            return cls(
                np.full(block.shape[1], float(n)),
                total / n,
                m2,
                block.min(axis=0).astype(np.float64),
                block.max(axis=0).astype(np.float64),
                np.zeros(block.shape[1]),
            )
        if block.dtype.kind in "iu":
            # Integer blocks have no NaN; sums are exact in float64 for any block we parse.
            count = np.full(block.shape[1], float(block.shape[0]))
            total = block.sum(axis=0, dtype=np.float64)
            mean = total / count if block.shape[0] else np.zeros(block.shape[1])
            centered = block.astype(np.float64, order="F") - mean
            m2 = np.einsum("ij,ij->j", centered, centered)
            if block.shape[0] == 0:
                return cls.empty(block.shape[1])
            return cls(
                count,
                mean,
                m2,
                block.min(axis=0).astype(np.float64),
                block.max(axis=0).astype(np.float64),
                np.zeros(block.shape[1]),
            )
        x = block.astype(np.float64, order="F", copy=False)
        if x.shape[0]:
            low = x.min(axis=0)  # NaN in a column makes its minimum NaN
            if not np.isnan(low).any():  # the common case: no empty cells, fewer passes
                mean = x.sum(axis=0) / x.shape[0]
                centered = x - mean
                m2 = np.einsum("ij,ij->j", centered, centered)
                count = np.full(x.shape[1], float(x.shape[0]))
                return cls(count, mean, m2, low, x.max(axis=0), np.zeros(x.shape[1]))
        nan = np.isnan(x)
        nan_count = nan.sum(axis=0).astype(np.float64)
        count = x.shape[0] - nan_count
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.where(nan, 0.0, x).sum(axis=0)
            mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
            centered = np.where(nan, 0.0, x - mean)
            m2 = np.einsum("ij,ij->j", centered, centered)
        low = np.where(count > 0, np.nanmin(np.where(nan, np.inf, x), axis=0, initial=np.inf), np.inf)
        high = np.where(count > 0, np.nanmax(np.where(nan, -np.inf, x), axis=0, initial=-np.inf), -np.inf)
        return cls(count, mean, m2, low, high, nan_count)

    def merge(self, other: ColumnStats) -> ColumnStats:
        """Combine two summaries (Chan et al.'s parallel variance formula)."""
        count = self.count + other.count
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            delta = other.mean - self.mean
            share = np.where(count > 0, other.count / np.maximum(count, 1), 0.0)
            mean = self.mean + delta * share
            m2 = self.m2 + other.m2 + delta**2 * self.count * share
            # Infinite values make delta NaN; fall back to the plain mean of the two (rare: only then computed).
            fallback = np.isnan(mean) & (count > 0)
            if fallback.any():
                mean = np.where(fallback, (self.mean * self.count + other.mean * other.count) / np.maximum(count, 1), mean)
        return ColumnStats(
            count, mean, m2, np.minimum(self.min, other.min), np.maximum(self.max, other.max), self.nan_count + other.nan_count
        )

    @classmethod
    def combine(cls, parts: list[ColumnStats]) -> ColumnStats:
        """The summary of several blocks at once (the main process merges blocks in batches: one pass, not one a block).

        Each block's mean weighs by its share of the rows, and m2 gains each block's
        squared distance from the common mean (the k-way form of :meth:`merge`).
        Infinite values (or an overflow) fall back to merging one by one, as before.
        """
        if len(parts) == 1:
            return parts[0]
        count = np.stack([p.count for p in parts])
        means = np.stack([p.mean for p in parts])
        total = count.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            share = count / np.maximum(total, 1)
            mean = (share * means).sum(axis=0)
            if not np.isfinite(mean).all():
                merged = parts[0]
                for part in parts[1:]:
                    merged = merged.merge(part)
                return merged
            deviation = means - mean
            deviation *= deviation
            deviation *= count
            m2 = np.stack([p.m2 for p in parts]).sum(axis=0) + deviation.sum(axis=0)
        return ColumnStats(
            total,
            mean,
            m2,
            np.stack([p.min for p in parts]).min(axis=0),
            np.stack([p.max for p in parts]).max(axis=0),
            np.stack([p.nan_count for p in parts]).sum(axis=0),
        )

    def replace_columns(self, columns: list[int], other: ColumnStats) -> None:
        """Overwrite the summaries of ``columns`` with those of ``other`` (same order)."""
        for field in dataclasses.fields(self):
            getattr(self, field.name)[columns] = getattr(other, field.name)

    def finish(self) -> dict[str, np.ndarray]:
        """The stored form: float64 ``mean, std, min, max, nan_count`` (std is population std)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            has = self.count > 0
            mean = np.where(has, self.mean, np.nan)
            std = np.where(has, np.sqrt(np.maximum(self.m2, 0.0) / np.maximum(self.count, 1)), np.nan)
        return {
            "mean": mean,
            "std": std,
            "min": np.where(has, self.min, np.nan),
            "max": np.where(has, self.max, np.nan),
            "nan_count": self.nan_count.copy(),
        }

    @classmethod
    def from_stored(cls, stored: dict[str, np.ndarray], rows: int) -> ColumnStats:
        """Rebuild a mergeable summary from the stored form (for --append)."""
        nan_count = np.asarray(stored["nan_count"], dtype=np.float64)
        count = rows - nan_count
        has = count > 0
        return cls(
            count,
            np.where(has, stored["mean"], 0.0),
            np.where(has, np.asarray(stored["std"]) ** 2 * count, 0.0),
            np.where(has, stored["min"], np.inf),
            np.where(has, stored["max"], -np.inf),
            nan_count,
        )


def merge_stored(parts: list[tuple[dict[str, np.ndarray], int]]) -> dict[str, np.ndarray]:
    """The stored stats of several files of one schema, as if they were one file.

    ``parts`` holds (stored stats, rows) per file, in order. Counts, extremes and
    NaN counts combine exactly; means and standard deviations by Chan's merge.
    ``class_counts`` add up when every part has them.
    """
    merged = ColumnStats.from_stored(parts[0][0], parts[0][1])
    for stored, rows in parts[1:]:
        merged = merged.merge(ColumnStats.from_stored(stored, rows))
    result = merged.finish()
    if all(CLASS_COUNTS in stored for stored, _ in parts):
        result[CLASS_COUNTS] = np.sum([np.asarray(stored[CLASS_COUNTS], np.float64) for stored, _ in parts], axis=0)
    return result
