"""The vocabularies of one conversion: the codes of each categorical column, their counts, and writing them.

Parser processes number a block's values from 0 in order of appearance; here
they become the conversion's codes, which start from the codes of the file
appended to and the ``--like`` template.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .columnkinds import ColumnKinds
from .reader import ParsedBlock, TextBlock
from .schema import ValueRange, check_storable_text, value_range
from .shared import received
from .stats import ColumnStats
from .vocabulary import count_codes
from .writer import H5Writer


class Vocabularies:
    """Codes per categorical feature column (by feature position) and the rows of each code."""

    def __init__(self, max_categories: int) -> None:
        self.max_categories = max_categories
        self.codes: dict[int, dict[str, int]] = {}  # value -> code
        self.counts: dict[int, np.ndarray] = {}  # rows per code, for reading parts with other vocabularies

    def adopt(self, column: int, values: Sequence[str], counts: np.ndarray) -> None:
        """Start from a stored vocabulary (the file appended to)."""
        self.codes[column] = {v: i for i, v in enumerate(values)}
        self.counts[column] = counts

    def follow(self, column: int, values: Sequence[str]) -> None:
        """Give ``values`` the next codes unless they have one (``--like``: the template's codes)."""
        vocab = self.codes.setdefault(column, {})
        for value in values:
            vocab.setdefault(value, len(vocab))

    def global_codes(
        self, parsed: ParsedBlock, block: TextBlock, kinds: ColumnKinds
    ) -> tuple[np.ndarray, ValueRange, ColumnStats]:
        """The block's features with the conversion's codes, and their value range and statistics."""
        # A copy: codes are rewritten in place. The rows may still be in shared memory: the kinds
        # were decided after they arrived (--categorical auto), and a parser had text codes for them.
        features = received(parsed.features).copy()
        cols = sorted(parsed.categories)
        for j in cols:
            vocab = self.codes.setdefault(j, {})
            lookup = np.array([vocab.setdefault(v, len(vocab)) for v in parsed.categories[j]], dtype=np.float64)
            codes = features[:, j]
            valid = ~np.isnan(codes)
            codes[valid] = lookup[codes[valid].astype(np.int64)] if lookup.size else codes[valid]
            if len(vocab) > self.max_categories and kinds.bounded(j):
                row = int(np.flatnonzero(codes == self.max_categories)[0])
                before = self.counts.get(j)
                cells = int(before.sum() if before is not None else 0) + int(np.count_nonzero(valid[: row + 1]))
                raise kinds.advice.too_many_values(j, block, row, cells)
            self._count(j, codes, len(vocab))
        vr = parsed.value_range.merge(value_range(features[:, cols]))
        stats = ColumnStats(*(np.array(getattr(parsed.stats, f.name), copy=True) for f in dataclasses.fields(ColumnStats)))
        stats.replace_columns(cols, ColumnStats.of(features[:, cols]))
        return features, vr, stats

    def _count(self, column: int, codes: np.ndarray, size: int) -> None:
        counts = count_codes(codes, size)
        before = self.counts.get(column)
        if before is not None:
            counts[: before.size] += before
        self.counts[column] = counts

    def write(self, writer: H5Writer, names: Sequence[str]) -> None:
        """Write every vocabulary with its counts (``names``: the feature columns)."""
        for j, vocab in self.codes.items():
            name = names[j]
            check_storable_text(list(vocab), column=name)
            counts = np.zeros(len(vocab))
            seen = self.counts.get(j, counts)
            counts[: seen.size] = seen
            writer.write_categories(name, list(vocab), counts)
