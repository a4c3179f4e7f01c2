"""How tasks and answers cross the pipes to the parser processes: compact pickling of the block records.

Pickle stores a slotted dataclass through ``__getstate__``/``__setstate__``, which
look up the class's fields on every call, and a block's summary
(``ColumnStats``) as six arrays, each with its own header. On credit-card-shaped
rows that was a tenth of the main process's work per block. Here each record is
rebuilt from the tuple of its fields, and the six summaries travel as one
``(6, columns)`` array whose rows the receiving side keeps as views. Registered
with ``ForkingPickler`` (what ``multiprocessing`` pipes pickle with) by
:func:`register_reducers`, which ``pool`` calls when imported: in the main process,
and so in every parser process (forked, or importing ``pool`` to run a task).
"""

from __future__ import annotations

import dataclasses
from multiprocessing.reduction import ForkingPickler

import numpy as np

from .reader import ParsedBlock, TextBlock
from .schema import ValueRange
from .shared import SharedArray
from .stats import ColumnStats


def _by_fields(cls: type) -> None:
    names = tuple(field.name for field in dataclasses.fields(cls))

    def reduce(record: object) -> tuple[type, tuple]:
        return cls, tuple(getattr(record, name) for name in names)

    ForkingPickler.register(cls, reduce)


def _stats_from(packed: np.ndarray) -> ColumnStats:
    return ColumnStats(*packed)


def _reduce_stats(stats: ColumnStats) -> tuple:
    fields = (stats.count, stats.mean, stats.m2, stats.min, stats.max, stats.nan_count)
    if all(f.dtype == np.float64 and f.shape == fields[0].shape for f in fields):  # always, as ColumnStats.of makes them
        return _stats_from, (np.stack(fields),)
    return ColumnStats, fields


def register_reducers() -> None:
    """Pickle the block records compactly in every pipe of ``multiprocessing`` (idempotent)."""
    for cls in (ParsedBlock, TextBlock, ValueRange, SharedArray):
        _by_fields(cls)
    ForkingPickler.register(ColumnStats, _reduce_stats)
