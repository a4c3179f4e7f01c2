"""What a parser process is told (ParsePlan) and what it gives back (ParsedBlock)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..schema import ValueRange
from ..stats import ColumnStats
from .blocks import Dialect


@dataclasses.dataclass(frozen=True, slots=True)
class ParsePlan:
    """Everything a parser process needs to turn a TextBlock into numbers."""

    names: tuple[str, ...]
    dialect: Dialect
    features: tuple[int, ...]
    target: tuple[int, ...]
    categorical: tuple[int, ...]
    dtype: str = "auto"
    fill: float | None = None
    on_bad_lines: str = "error"


@dataclasses.dataclass(slots=True)
class ParsedBlock:
    """One block as numbers, with what the writer and the report need."""

    index: int
    source: str
    rows: int
    features: np.ndarray  # (rows, F); categorical columns hold block-local codes
    value_range: ValueRange  # of the non-categorical feature columns
    stats: ColumnStats
    target: np.ndarray | None  # numeric, or object (str) for text labels
    categories: dict[int, list[str]]  # feature position -> block-local vocabulary
    bad_lines: list[tuple[int, int]]  # (line, fields found)
    int_columns_with_empty: list[str]
    first_row_line: int = 0  # physical line of the first row, for messages about the block's target


@dataclasses.dataclass(slots=True)
class BlockColumns:
    """What a parse path makes of a block, before the checks every path shares."""

    features: np.ndarray  # (rows, F) int64 or float64 (NaN: empty); categorical columns hold block-local codes
    target: np.ndarray | None  # numeric, or object (str) for text labels
    categories: dict[int, list[str]]  # feature position -> block-local vocabulary
    int_columns_with_empty: list[str]  # whole-number columns that are float only because of empty cells
    bad_lines: list[tuple[int, int]]  # (line, fields found) of the records skipped
    lines: np.ndarray | None  # physical line of each row, where the path had to find them
    first_row_line: int
