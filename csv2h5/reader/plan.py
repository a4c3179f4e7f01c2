"""What a parser process is told (ParsePlan) and what it gives back (ParsedBlock)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..schema import ValueRange
from ..stats import ColumnStats
from .header import Dialect


@dataclasses.dataclass(frozen=True, slots=True)
class ParsePlan:
    """Everything a parser process needs to turn a TextBlock into numbers."""

    names: tuple[str, ...]
    dialect: Dialect
    features: tuple[int, ...]
    target: tuple[int, ...]
    categorical: tuple[int, ...]  # read as text, stored as codes
    dtype: str = "auto"
    fill: float | None = None
    on_bad_lines: str = "error"
    datetime: tuple[int, ...] = ()  # read as ISO-8601 dates, stored as seconds since the epoch
    boolean: tuple[int, ...] = ()  # expected to hold booleans (read as such first; anything else is reported)

    @property
    def fixed(self) -> bool:
        """Whether some feature column is read as something other than numbers."""
        return bool(self.categorical or self.datetime or self.boolean)


@dataclasses.dataclass(slots=True)
class ParsedBlock:
    """One block as numbers, with what the writer and the report need."""

    index: int
    source: str
    rows: int
    features: np.ndarray  # (rows, F); categorical columns hold block-local codes
    value_range: ValueRange  # of the non-categorical feature columns
    stats: ColumnStats
    target: np.ndarray | None  # numeric, bool (true/false labels), or object (str) for text labels
    categories: dict[int, list[str]]  # feature position -> block-local vocabulary
    bad_lines: list[tuple[int, int]]  # (line, fields found)
    int_columns_with_empty: list[str]
    first_row_line: int = 0  # physical line of the first row, for messages about the block's target
    cells: np.ndarray | None = None  # per feature position: kinds of cell found (reader.cells flags)
    refusal: str | None = None  # raised by the main process after the kinds check (BlockColumns.refusal)
    target_distinct: np.ndarray | None = None  # a parser's tally of a numeric target (target.distinct_labels)
    target_rounded: tuple | None = None  # what float32 rounds of a numeric target, found by a parser (regression.rounded_in)
    filled: np.ndarray | None = None  # per feature position: whether --fill went into empty cells (None: into none)
    # Whether every value is an integer once a --fill goes into the empty cells of int_columns_with_empty
    # (false with decimals, or with empty cells a fill leaves empty: a category's, a boolean's, a date's).
    whole_if_filled: bool = True
    commented_lines: int = 0  # of bad_lines, those with a comment right after a closing quote (``"abc"#x``)
    took_fill: bool = False  # whether --fill went into some empty cell (the dtype may have to hold it)
    no_target_lines: int = 0  # of bad_lines, rows whose target is empty (or missing by --na-values)


@dataclasses.dataclass(slots=True)
class BlockColumns:
    """What a parse path makes of a block, before the checks every path shares."""

    features: np.ndarray  # (rows, F) int64 or float64 (NaN: empty); categorical columns hold block-local codes
    target: np.ndarray | None  # numeric, bool (true/false labels), or object (str) for text labels
    categories: dict[int, list[str]]  # feature position -> block-local vocabulary
    int_columns_with_empty: list[str]  # whole-number columns that are float only because of empty cells
    bad_lines: list[tuple[int, int]]  # (line, fields found) of the records skipped
    lines: np.ndarray | None  # physical line of each row, where the path had to find them
    first_row_line: int
    cells: np.ndarray  # per feature position: kinds of cell found, as reader.cells flags (uint8)
    # An error to raise once the column kinds have had their say (a text cell in a column that
    # takes none is the first thing to fix): the block must not be written.
    refusal: str | None = None
    filled_integers: bool = False  # whether --fill went into empty cells of integer columns here (a float's: still NaN)
    no_target_lines: int = 0  # of bad_lines, rows with no target (--on-bad-lines skip or warn)
