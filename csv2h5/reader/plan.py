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
    target_lines: np.ndarray | None = None  # physical line of each row, kept only when needed
