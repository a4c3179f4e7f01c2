"""The readers a sequence reads rows through: one of each per process, made on first use.

A memory map or an h5py handle must not cross a fork, so each process opens its own: the row source
(``rows.RowSource`` for one file, ``rows.PartsRows`` for parts read as one) and, for the ``blocks``
order, the read-ahead reader on top of it (``readahead.BlockReader``). Pickling leaves them behind.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

import numpy as np

from .blocks import BlockPlan
from .fileinfo import FileInfo
from .readahead import AHEAD_BLOCKS, BlockReader
from .rows import PartsRows, RowSource


class ProcessReaders:
    """The row source and the read-ahead reader of one sequence, per process."""

    def __init__(
        self,
        paths: tuple[str, ...],
        info: FileInfo,
        *,
        plan: BlockPlan | None,
        batch_size: int,
        scattered: bool = False,
        indices: np.ndarray | None = None,
    ) -> None:
        # scattered: the plan's loads are read at random places (``blocks``), not in file order;
        # indices: the file rows the sequence uses (None: all), in any order
        self.paths, self.info, self.plan, self.batch_size, self.scattered = paths, info, plan, batch_size, scattered
        self.indices = indices
        self._lock = threading.Lock()
        self.rows: RowSource | PartsRows | None = None
        self.reader: BlockReader | None = None
        self._pid: int | None = None

    def source(self) -> RowSource | PartsRows:
        if self._pid == os.getpid():  # the usual case, without the lock (_pid is set after rows, below)
            return self.rows
        with self._lock:  # one handle per process, even when threads ask at once
            if self.rows is None or self._pid != os.getpid():  # reopen in each process
                info = self.info
                self.rows = (
                    RowSource(self.paths[0])
                    if len(self.paths) == 1
                    else PartsRows(self.paths, info.part_starts, codes=info.part_codes, dtype=info.dtype)
                )
                self._pid = os.getpid()
            return self.rows

    def block_reader(self, owner: object, batches_of: Callable[[int], list[np.ndarray]]) -> BlockReader:
        """The ``blocks`` order's reader (started on first use), closed when ``owner`` is collected.

        ``batches_of(epoch)``: the file rows of each batch of that epoch; held weakly when it is a bound
        method, so the reader's thread does not keep the sequence alive.
        """
        source = self.source()
        with self._lock:
            if self.reader is None or self.reader.source is not source:
                plan, info = self.plan, self.info
                weak = weakref.WeakMethod(batches_of) if hasattr(batches_of, "__self__") else lambda: batches_of
                row_bytes = info.num_features * info.dtype.itemsize
                self.reader = BlockReader(
                    source,
                    path=self.paths[0] if len(self.paths) == 1 else None,
                    batches_of=lambda epoch: [] if weak() is None else weak()(epoch),
                    chunk_rows=info.chunk_rows,
                    block_rows=plan.block_rows,
                    file_rows=info.rows,
                    dtype=info.dtype,
                    width=info.num_features,
                    capacity_bytes=(plan.pool_blocks + AHEAD_BLOCKS) * (plan.block_rows + self.batch_size) * row_bytes,
                    drop_cache=True,
                    direct=self.scattered,
                    rows_used=_sorted(self.indices) if self.scattered else self.indices,  # file order: read as given
                )
                weakref.finalize(owner, self.reader.close)
            return self.reader

    def __getstate__(self) -> dict[str, object]:
        return {
            "paths": self.paths,
            "info": self.info,
            "plan": self.plan,
            "batch_size": self.batch_size,
            "scattered": self.scattered,
            "indices": self.indices,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(
            state["paths"],
            state["info"],
            plan=state["plan"],
            batch_size=state["batch_size"],
            scattered=state["scattered"],
            indices=state["indices"],
        )


def _sorted(indices: np.ndarray | None) -> np.ndarray | None:
    """The rows used in file order, for the reader's ranks (the array itself when it is in order already)."""
    if indices is None or (indices.size < 2 or bool((indices[1:] >= indices[:-1]).all())):
        return indices
    return np.sort(indices)
