"""Which rows an epoch visits, in which order: the sampler of ``HDF5Sequence``.

``epoch_order`` is a pure function of ``(seed, epoch)`` and the rows' count;
``choose_order`` settles ``auto`` (and the plan of ``blocks``) once, from the
memory budget; ``EpochOrders`` keeps the last orders a sequence asked for, and
each epoch's batches as read (``EpochBatches``: rows sorted, targets looked up);
``split_rows`` splits a sequence's rows into training and validation.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import NamedTuple

import numpy as np

from .blocks import FIT_SHARE, BlockPlan, auto_shuffle, blocks_order, data_memory, plan_blocks, too_little
from .errors import DataOptionError
from .fileinfo import FileInfo
from .memory import Memory, available_memory

SHUFFLE_MODES = ("auto", "global", "blocks", "window", "batch", "none")
WINDOW_CHUNKS = 4  # "window" shuffles rows within this many consecutive chunks


def epoch_order(
    num_rows: int,
    *,
    seed: int,
    epoch: int,
    mode: str = "global",
    chunk_rows: int = 1,
    batch_size: int = 1,
    plan: BlockPlan | None = None,
) -> np.ndarray:
    """Positions ``0..num_rows-1`` in the order epoch ``epoch`` visits them.

    ``global``: a uniform permutation. ``blocks``: blocks of ``plan.block_rows`` positions, a pool of
    ``plan.pool_blocks`` of them at a time (see :mod:`.blocks`). ``window``: chunk order shuffled, rows shuffled
    within windows of WINDOW_CHUNKS chunks (reads stay within a few chunks at a time).
    ``batch``: contiguous batches in shuffled order, the short one (``num_rows % batch_size``) last. ``none``: identity.
    """
    dtype = np.int32 if num_rows < 2**31 else np.int64  # half the memory of int64 for the usual sizes
    if mode == "none" or num_rows == 0:
        return np.arange(num_rows, dtype=dtype)
    rng = np.random.default_rng([seed, epoch])
    if mode == "global":
        order = np.arange(num_rows, dtype=dtype)
        rng.shuffle(order)  # in place: the same permutation as rng.permutation(num_rows), no copy
        return order
    if mode == "blocks":
        if plan is None:
            raise DataOptionError("shuffle='blocks' needs a block plan (block_rows, pool_blocks)")
        return blocks_order(num_rows, seed=seed, epoch=epoch, plan=plan, batch_size=batch_size)
    if mode == "batch":  # the whole batches in a random order, then the short one: every batch but the last is full
        whole, short = divmod(num_rows, batch_size)
        # The whole batches start at a random offset, so the short batch's rows (before and after them) differ
        # from epoch to epoch: one that a run drops (drop_remainder) leaves out other rows each epoch.
        offset = int(rng.integers(short + 1))
        starts = offset + rng.permutation(whole).astype(dtype) * batch_size
        rows = (starts[:, None] + np.arange(batch_size, dtype=dtype)).reshape(-1)
        rest = np.concatenate([np.arange(offset, dtype=dtype), np.arange(offset + whole * batch_size, num_rows, dtype=dtype)])
        return np.concatenate([rows, rest])
    if mode == "window":
        chunks = rng.permutation(math.ceil(num_rows / chunk_rows))
        pieces = []
        for w in range(0, chunks.size, WINDOW_CHUNKS):
            rows = np.concatenate(
                [np.arange(c * chunk_rows, min((c + 1) * chunk_rows, num_rows)) for c in chunks[w : w + WINDOW_CHUNKS]]
            )
            pieces.append(rng.permutation(rows))
        return np.concatenate(pieces).astype(dtype)
    raise DataOptionError(f"shuffle={mode!r} is not one of {', '.join(SHUFFLE_MODES)}, True or False")


class OrderChoice(NamedTuple):
    """The order a sequence reads in, and what it was chosen from."""

    shuffle: str  # never "auto"
    reason: str  # why (``shuffle_reason``)
    plan: BlockPlan | None  # ``blocks``, and file order on data that does not fit: read ahead block by block
    memory_budget: int | None  # the memory found or given, when the choice needed it


def choose_order(
    shuffle: str,
    *,
    info: FileInfo,
    num_rows: int,
    batch_size: int,
    memory_budget: int | None,
    block_bytes: int,
    rows: np.ndarray | None = None,
    reading_processes: int = 0,
) -> OrderChoice:
    """Resolve ``auto`` and plan ``blocks`` from the memory budget (found once, then kept: the order
    depends on it, so copies, splits and pickled workers keep the figure rather than look again).

    ``reading_processes`` (0: batches are read in this process) each hold a pool of their own: the budget
    is shared among them.

    File order (``none``: validation, evaluate, predict) on data that does not fit is read ahead
    too, block by block, so it costs large sequential reads rather than a page fault per row."""
    mapped = not info.compressed
    if shuffle not in ("auto", "blocks", "none") or (shuffle == "none" and not mapped):
        return OrderChoice(shuffle, "asked for", None, memory_budget)
    if memory_budget is None:  # found: what Python, Keras and the model hold is not the data's
        memory = data_memory(available_memory(), num_rows, reading_processes)
    else:
        memory = Memory(bytes=memory_budget, source="memory_budget")
    row_bytes = info.num_features * info.dtype.itemsize
    # What stays in memory decides "none" and "auto" only: "blocks" asked for needs no look at the rows.
    data_bytes = 0 if shuffle == "blocks" else _mapped_bytes(rows, num_rows, info.chunk_rows, row_bytes)
    if shuffle == "none" and data_bytes <= FIT_SHARE * memory.bytes:
        return OrderChoice(shuffle, "asked for", None, memory_budget)  # fits: the memory map serves file order as it is
    reason = "asked for"
    if shuffle == "auto":
        spread = data_bytes > num_rows * row_bytes
        shuffle, reason = auto_shuffle(data_bytes=data_bytes, mapped=mapped, memory=memory, spread=spread)
    plan = None
    if shuffle in ("blocks", "none"):
        plan = plan_blocks(
            row_bytes=row_bytes,
            chunk_rows=info.chunk_rows,
            batch_size=batch_size,
            memory_budget=memory.bytes // max(1, reading_processes),
            block_bytes=block_bytes,
        )
        if shuffle == "none":  # in file order a batch reads one or two blocks
            plan = dataclasses.replace(plan, pool_blocks=2)
        elif reading_processes > 1:
            reason += f"; each of the {reading_processes} reading processes holds a pool of its own"
        warning = too_little(memory, plan, row_bytes, reading_processes)
        reason += f"; {warning}" if warning else ""
    return OrderChoice(shuffle, reason, plan, memory.bytes)


def _mapped_bytes(rows: np.ndarray | None, num_rows: int, chunk_rows: int, row_bytes: int) -> int:
    """The bytes of the file that reading ``rows`` (None: all ``num_rows``) through the memory map keeps in memory.

    Those of every chunk holding one of them: a subset spread over the file (a shard takes every
    n-th row, a sample is scattered) faults in pages, and the kernel reads around each fault, all
    over it. Counted by its rows alone, a shard of a file 4x the memory "fits", and a global order
    over it reads a few hundred rows a second as the pages it needs push each other out.
    """
    if rows is None or rows.size == 0:
        return num_rows * row_bytes
    chunk_rows = max(1, int(chunk_rows))
    chunk = np.asarray(rows) // chunk_rows
    ordered = chunk.size < 2 or bool((chunk[1:] >= chunk[:-1]).all())  # a split's, a shard's: no sort needed
    chunks = int(np.count_nonzero(np.diff(chunk))) + 1 if ordered else np.unique(chunk).size
    return max(int(rows.size), min(chunks * chunk_rows, int(rows.max()) + 1)) * row_bytes


class EpochBatches(NamedTuple):
    """An epoch's batches as they are read, made once an epoch rather than once a batch."""

    rows: np.ndarray  # batch i reads the file rows rows[i * batch_size:(i + 1) * batch_size], in file order
    targets: np.ndarray | None  # the stored targets of those rows, position for position (None: none asked for)


class EpochOrders:
    """File rows in each epoch's order, and each epoch's batches as read: the two epochs asked for last are kept.

    Thread-safe: a pipeline that reads ahead asks for the next epoch while finishing this one.
    Pickled without the orders (a worker makes its own).

    Args:
        read_rows: how many positions of an epoch batches read (``batches_per_epoch`` may stop early).
        targets: the file's stored targets, looked up for a whole epoch at once; None for none.
    """

    def __init__(
        self,
        *,
        shuffle: str,
        seed: int,
        num_rows: int,
        batch_size: int,
        chunk_rows: int,
        plan: BlockPlan | None,
        indices: np.ndarray | None,
        read_rows: int | None = None,
        targets: np.ndarray | None = None,
    ) -> None:
        self.shuffle, self.seed, self.num_rows, self.batch_size = shuffle, seed, num_rows, batch_size
        self.chunk_rows, self.plan, self.indices = chunk_rows, plan, indices
        self.read_rows = num_rows if read_rows is None else min(num_rows, read_rows)
        self.targets = targets
        self._orders: dict[int, np.ndarray] = {}
        self._batches: dict[int, EpochBatches] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Epochs held (each kind is kept for two epochs at most)."""
        return max(len(self._orders), len(self._batches))

    def get(self, epoch: int) -> np.ndarray:
        """File rows in epoch ``epoch``'s order (read-only: shared)."""
        with self._lock:
            order = self._orders.get(epoch)
            if order is None:
                _keep_newest(self._orders)
                order = self._orders[epoch] = self._make(epoch)
                order.flags.writeable = False  # handed out, and read by the batches: a caller's sort must not reorder them
        return order

    def batches(self, epoch: int) -> EpochBatches:
        """Epoch ``epoch``'s batches as read: each batch's rows sorted into file order, their targets looked up."""
        batches = self._batches.get(epoch)  # the usual case, without the lock: a dict read is atomic
        if batches is not None:
            return batches
        with self._lock:
            batches = self._batches.get(epoch)
            if batches is None:
                _keep_newest(self._batches)
                order = self._orders.get(epoch)
                batches = self._batches[epoch] = self._read_as(self._make(epoch) if order is None else order)
        return batches

    def _read_as(self, order: np.ndarray) -> EpochBatches:
        rows = order[: self.read_rows]
        if self.shuffle != "none":  # the same rows, each batch read in file order: much faster to gather
            # As numpy's index type (what a gather converts to, batch after batch), but for blocks, whose
            # data does not fit in memory: its reader takes any integer, and half the bytes leave more to the pool.
            rows = rows.astype(rows.dtype if self.plan is not None else np.intp)
            full = rows.size - rows.size % self.batch_size
            rows[:full].reshape(-1, self.batch_size).sort(axis=1)  # every batch in one call
            rows[full:].sort()
        return EpochBatches(rows, None if self.targets is None else self.targets[rows])

    def _make(self, epoch: int) -> np.ndarray:
        indices = self.indices
        if self.shuffle == "blocks":  # blocks of rows that lie together in the file, whatever the indices' order
            ranks = None if indices is None or np.all(np.diff(indices) >= 0) else np.argsort(indices, kind="stable")
            positions = blocks_order(
                self.num_rows, seed=self.seed, epoch=epoch, plan=self.plan, batch_size=self.batch_size, ranks=ranks
            )
        else:
            positions = epoch_order(
                self.num_rows,
                seed=self.seed,
                epoch=epoch,
                mode=self.shuffle,
                chunk_rows=self.chunk_rows,
                batch_size=self.batch_size,
            )
        return positions if indices is None else indices[positions]

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_orders"], state["_batches"] = {}, {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _keep_newest(kept: dict[int, object]) -> None:
    """Free all but the newest epoch before another is made."""
    for old in sorted(kept)[:-1]:
        del kept[old]


def split_rows(rows: np.ndarray, info: FileInfo, fraction: float, *, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split into (train, validation), ``fraction`` of them to validation, each side in file order.

    Stratified: each class of a classification target gives the same fraction of its rows. A row given
    more than once (oversampling) is drawn once, and its side takes every copy: never on both sides.
    """
    if not 0.0 < fraction < 1.0:
        raise DataOptionError(f"split fraction must be between 0 and 1, got {fraction}")
    in_order = rows.size < 2 or bool((rows[1:] > rows[:-1]).all())  # in file order, no row twice: the usual case
    distinct = rows if in_order else np.unique(rows)
    if distinct.size == rows.size:  # rows in another order: drawn in it, as given
        distinct = rows
    picked = _drawn(distinct, info, fraction, seed=seed, stratify=stratify)
    if in_order:
        val = rows[np.sort(picked)]
        keep = np.ones(rows.size, dtype=bool)
        keep[picked] = False
        train = rows[keep]
    else:  # indices given in another order, or a row twice: each side takes every copy of its rows, in file order
        to_val = np.isin(rows, distinct[picked])
        val, train = np.sort(rows[to_val]), np.sort(rows[~to_val])
    if train.size == 0 or val.size == 0:
        side, other = ("validation", "a larger") if val.size == 0 else ("training", "a smaller")
        raise DataOptionError(
            f"split({fraction}) of {rows.size} rows leaves no row for {side}; pass {other} fraction, or use more data"
        )
    return train, val


def _drawn(rows: np.ndarray, info: FileInfo, fraction: float, *, seed: int, stratify: bool) -> np.ndarray:
    """The positions in ``rows`` (no row twice) drawn for validation: ``fraction`` of them, of each class if stratified.

    Positions are drawn rather than the rows themselves (the same draws: a permutation moves positions
    whatever they hold), so the training side is a mask, not a set difference: for millions of rows,
    np.setdiff1d took seconds and left ~100 MB of freed heap that a memory limit still counts."""
    rng = np.random.default_rng([seed, 0x5117])
    if not (stratify and info.task == "classification"):
        return rng.permutation(rows.size)[: int(round(fraction * rows.size))]
    labels = info.target[rows]
    counted = labels.dtype.kind in "iu" and labels.ndim == 1 and (labels.size == 0 or labels.min() >= 0)
    codes = np.flatnonzero(np.bincount(labels)) if counted else np.unique(labels)  # unique hashes: slow
    val_parts = []
    for code in codes:
        members = np.flatnonzero(labels == code)
        val_parts.append(rng.permutation(members)[: int(round(fraction * members.size))])
    return np.concatenate(val_parts) if val_parts else np.zeros(0, np.int64)
