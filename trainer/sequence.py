"""HDF5Sequence: a keras.utils.PyDataset over a csv2h5 file, with shuffled random batches.

A *sampler* (``epoch_order``) decides which rows an epoch visits and in which
order, as a pure function of ``(seed, epoch)``; a *data source*
(``rows.RowSource``) reads rows; the sequence ties them to Keras.

Epoch numbering: the sequence starts at epoch 0 and every ``on_epoch_end`` call
adds one. Keras also calls ``on_epoch_end`` once before the first epoch on some
versions, so the first epoch Keras trains may use epoch 1's order; either way
the order depends only on ``(seed, epoch)``, and ``set_epoch(n)`` /
``sequence.epoch`` let a resumed run continue exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from csv2h5.layout import CLASS_COUNTS
from csv2h5.target import single_class_problem

from .blocks import BLOCK_BYTES, FIT_SHARE, BlockPlan, auto_shuffle, blocks_order, plan_blocks
from .errors import DataOptionError
from .memory import Memory, available_memory
from .preprocess import BatchPreprocessor
from .readahead import AHEAD_BLOCKS, BlockReader
from .fileinfo import FileInfo, expand_paths, read_infos, single_class
from .rows import PartsRows, RowSource

SHUFFLE_MODES = ("auto", "global", "blocks", "window", "batch", "none")
WINDOW_CHUNKS = 4  # "window" shuffles rows within this many consecutive chunks


def epoch_order(num_rows: int, *, seed: int, epoch: int, mode: str = "global", chunk_rows: int = 1,
                batch_size: int = 1, plan: BlockPlan | None = None) -> np.ndarray:
    """Positions ``0..num_rows-1`` in the order epoch ``epoch`` visits them.

    ``global``: a uniform permutation. ``blocks``: blocks of ``plan.block_rows`` positions, a pool of
    ``plan.pool_blocks`` of them at a time (see :mod:`.blocks`). ``window``: chunk order shuffled, rows shuffled
    within windows of WINDOW_CHUNKS chunks (reads stay within a few chunks at a time).
    ``batch``: contiguous batches in shuffled order. ``none``: identity.
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
    if mode == "batch":
        starts = rng.permutation(math.ceil(num_rows / batch_size)) * batch_size
        return np.concatenate([np.arange(s, min(s + batch_size, num_rows)) for s in starts]).astype(dtype)
    if mode == "window":
        chunks = rng.permutation(math.ceil(num_rows / chunk_rows))
        pieces = []
        for w in range(0, chunks.size, WINDOW_CHUNKS):
            rows = np.concatenate([np.arange(c * chunk_rows, min((c + 1) * chunk_rows, num_rows)) for c in chunks[w : w + WINDOW_CHUNKS]])
            pieces.append(rng.permutation(rows))
        return np.concatenate(pieces).astype(dtype)
    raise DataOptionError(f"shuffle={mode!r} is not one of {', '.join(SHUFFLE_MODES)}, True or False")


class HDF5Sequence(keras.utils.PyDataset):
    """Batches of a csv2h5 file for ``model.fit``, with per-epoch shuffled row order.

    Args:
        path: a file written by ``csv2h5 convert``; or several of one schema (a list, or a glob
            pattern such as ``"parts/*.h5"``), read as one row space in that order, their class
            labels and categorical vocabularies united as ``csv2h5 merge`` unites them.
        batch_size: rows per batch (the last one is smaller unless ``drop_remainder``).
        shuffle: ``"auto"`` (the default, also True): ``"global"`` when the rows fit in the memory this
            process may use (half of it) and the file is uncompressed, ``"blocks"`` otherwise;
            ``shuffle_reason`` says why. ``"global"``: a uniform permutation of the rows each epoch.
            ``"blocks"``: for data larger than memory, blocks of consecutive rows in a random order, a
            pool of them held at a time within ``memory_budget``, each batch drawn from every block of
            the pool (see :mod:`csv2h5.trainer.blocks`). ``"window"``, ``"batch"``, ``"none"`` (False).
        seed: with the epoch number, fixes the order.
        indices: rows to use (a subset of the file), in any order; default all rows.
        targets: False yields ``x`` alone (for predict), also for files with a target.
        one_hot: class targets as one-hot float32 instead of int32 codes.
        dtype: dtype of ``x``.
        scale: ``"standard"`` (the default: numbers and dates minus the stored mean, over the stored
            std; booleans and categorical codes as they are, see ``preprocess``), ``"unit"`` (every
            column over its stored largest magnitude), None (the stored values).
        missing: what a NaN becomes: ``"mean"`` (the default: the column's training mean, so 0 once
            standardised; a categorical code K, one past its vocabulary), ``"zero"`` (0 before
            scaling), ``"error"`` (refuse a file whose stats count NaN), None (NaN as stored).
        sample_shape: shape of one row (e.g. (28, 28, 1)); default from the file.
        class_weight: ``"balanced"`` or ``{class code: weight}``: adds per-sample weights.
        transform: picklable callable ``(x, y) -> (x, y)`` applied to every batch.
        shard: ``(index, count)``: this worker's share of the rows (every count-th row).
        batch_slice: ``(index, count)``: data-parallel training over ``count`` workers, where
            ``batch_size`` is the global batch: each batch yields slice ``index`` of ``count``
            equal slices of the global batch as one process reads it, so the workers' slices
            side by side are exactly one process's batches. The last, partial global batch is dropped.
        drop_remainder: drop the last, smaller batch.
        batches_per_epoch: visit only the first this-many batches of each epoch's order
            (each epoch still draws its own order, so rows are sampled without replacement).
        training: whether the batches train a model: the rows used (``indices``, before ``shard``)
            must then hold two or more classes of a classification target, or the sequence refuses
            them. None (the default): a shuffled sequence trains, an unshuffled one evaluates.
        memory_budget: bytes this process may use for the data: picks ``auto``'s order and the pool of
            ``blocks``. Default: the smallest of the cgroup memory limit (v2 or v1) and MemAvailable.
        block_bytes: bytes of rows in a block of ``blocks`` (whole chunks; at least a batch).
        **kwargs: PyDataset's ``workers``, ``use_multiprocessing``, ``max_queue_size``.
    """

    def __init__(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, batch_size: int = 256, shuffle: bool | str = "auto",
                 seed: int = 0, indices: Sequence[int] | np.ndarray | None = None, targets: bool = True,
                 one_hot: bool = False, dtype: str = "float32", scale: str | None = "standard",
                 missing: str | None = "mean", sample_shape: Sequence[int] | None = None,
                 class_weight: str | Mapping[int, float] | None = None,
                 transform: Callable | None = None, shard: tuple[int, int] | None = None,
                 batch_slice: tuple[int, int] | None = None,
                 drop_remainder: bool = False, batches_per_epoch: int | None = None, training: bool | None = None,
                 memory_budget: int | None = None, block_bytes: int = BLOCK_BYTES, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.paths = tuple(expand_paths(path))
        self.path = str(path) if isinstance(path, (str, os.PathLike)) else self.paths[0]  # the file or pattern, for messages
        info = read_infos(self.paths)
        self._info = info
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataOptionError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        if shuffle is True:
            shuffle = "auto"
        elif shuffle is False:
            shuffle = "none"
        if shuffle not in SHUFFLE_MODES:
            raise DataOptionError(f"shuffle={shuffle!r} is not one of {', '.join(SHUFFLE_MODES)}, True or False")
        self.shuffle = shuffle
        self.seed = int(seed)
        rows = None if indices is None else np.asarray(indices, dtype=np.int64).ravel()
        if rows is not None and rows.size and (rows.min() < 0 or rows.max() >= info.rows):
            bad = int(rows[(rows < 0) | (rows >= info.rows)][0])
            raise DataOptionError(f"indices has row {bad}, but {self.path} has rows 0..{info.rows - 1}")
        self.training = shuffle != "none" if training is None else bool(training)
        if self.training and targets:
            self._refuse_single_class(info, rows)
        if shard is not None:
            index, count = shard
            if not (isinstance(count, int) and count >= 1 and 0 <= index < count):
                raise DataOptionError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
            rows = (np.arange(info.rows, dtype=np.int64) if rows is None else rows)[index::count]
        self._indices = rows  # None: every row, without an index array as large as the file
        self.num_rows = info.rows if rows is None else int(rows.size)
        self._choose_order(memory_budget, block_bytes)
        if targets and info.target is None:
            raise DataOptionError(
                f"{self.path} has no /target; pass targets=False (for predict), or convert with --target COLUMN")
        self.targets = bool(targets)
        self.one_hot = bool(one_hot)
        if one_hot and info.task != "classification" and self.targets:
            raise DataOptionError(f"one_hot=True needs a classification target; {self.path} has {info.task}")
        self.dtype = np.dtype(dtype)
        self.sample_shape = tuple(sample_shape) if sample_shape is not None else info.sample_shape
        if self.sample_shape is not None and math.prod(self.sample_shape) != info.num_features:
            raise DataOptionError(
                f"sample_shape {self.sample_shape} holds {math.prod(self.sample_shape)} values but rows have {info.num_features} features")
        self.scale = scale
        self.missing = missing
        prepare = BatchPreprocessor(info, scale=scale, missing=missing)
        self._prepare = prepare if prepare.active else None
        self.class_weight = class_weight
        self._sample_weights = self._weights(class_weight, info) if self.targets else None
        self.transform = transform
        self.batch_slice = self._slice(batch_slice, self.batch_size)
        self.drop_remainder = bool(drop_remainder) or self.batch_slice is not None
        if batches_per_epoch is not None and (isinstance(batches_per_epoch, bool) or int(batches_per_epoch) < 1):
            raise DataOptionError(f"batches_per_epoch must be a positive integer, got {batches_per_epoch!r}")
        self.batches_per_epoch = None if batches_per_epoch is None else int(batches_per_epoch)
        if len(self) == 0 and self.num_rows:
            raise DataOptionError(f"batch_size {self.batch_size} is larger than the {self.num_rows} rows with drop_remainder=True")
        self.epoch = 0
        self._orders: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._rows: RowSource | PartsRows | None = None
        self._pid: int | None = None
        self._reader: BlockReader | None = None

    # -- checks in __init__ ---------------------------------------------------------------------

    def _choose_order(self, memory_budget: int | None, block_bytes: int) -> None:
        """Resolve ``auto`` and plan ``blocks`` from the memory budget (found once, then kept: the order
        depends on it, so copies, splits and pickled workers keep the figure rather than look again).

        File order (``none``: validation, evaluate, predict) on data that does not fit is read ahead
        too, block by block, so it costs large sequential reads rather than a page fault per row."""
        if memory_budget is not None and (isinstance(memory_budget, bool) or int(memory_budget) < 1):
            raise DataOptionError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
        self.shuffle_reason = "asked for"
        self.block_plan: BlockPlan | None = None
        self.memory_budget = None if memory_budget is None else int(memory_budget)
        self.block_bytes = int(block_bytes)
        mapped = not self._info.compressed
        if self.shuffle not in ("auto", "blocks", "none") or (self.shuffle == "none" and not mapped):
            return
        memory = (available_memory() if self.memory_budget is None
                  else Memory(bytes=self.memory_budget, source="memory_budget"))
        row_bytes = self._info.num_features * self._info.dtype.itemsize
        data_bytes = self.num_rows * row_bytes
        if self.shuffle == "none" and data_bytes <= FIT_SHARE * memory.bytes:
            return  # fits: the memory map serves file order as it is
        self.memory_budget = memory.bytes
        if self.shuffle == "auto":
            self.shuffle, self.shuffle_reason = auto_shuffle(data_bytes=data_bytes, mapped=mapped, memory=memory)
        if self.shuffle in ("blocks", "none"):
            self.block_plan = plan_blocks(row_bytes=row_bytes, chunk_rows=self._info.chunk_rows,
                                          batch_size=self.batch_size, memory_budget=memory.bytes,
                                          block_bytes=self.block_bytes)
            if self.shuffle == "none":  # in file order a batch reads one or two blocks
                self.block_plan = dataclasses.replace(self.block_plan, pool_blocks=2)

    def _refuse_single_class(self, info: FileInfo, rows: np.ndarray | None) -> None:
        label = single_class(info, rows)
        if label is not None:
            used = f"the {info.rows if rows is None else rows.size:,} rows used for training"
            name = info.target_columns[0] if info.target_columns else "target"
            raise DataOptionError(f"{self.path}: {single_class_problem(name, label, used)}; train on every part "
                                  "(a glob such as 'parts/*.h5', or csv2h5 merge), or pass --task regression to "
                                  "csv2h5 convert if the target is a number")

    @staticmethod
    def _slice(batch_slice: tuple[int, int] | None, batch_size: int) -> tuple[int, int] | None:
        if batch_slice is None:
            return None
        try:
            index, count = (int(v) for v in batch_slice)
        except (TypeError, ValueError):
            raise DataOptionError(f"batch_slice must be (index, count), got {batch_slice!r}") from None
        if not (count >= 1 and 0 <= index < count):
            raise DataOptionError(f"batch_slice must be (index, count) with 0 <= index < count, got {batch_slice!r}")
        if batch_size % count:
            raise DataOptionError(f"the global batch of {batch_size} rows does not split evenly over {count} workers; "
                                  f"use a batch size that is a multiple of {count}")
        return index, count

    @staticmethod
    def _weights(class_weight: str | Mapping[int, float] | None, info: FileInfo) -> np.ndarray | None:
        if class_weight is None:
            return None
        if info.task != "classification":
            raise DataOptionError("class_weight needs a classification target")
        k = len(info.classes)
        if class_weight == "balanced":
            counts = info.stats.get(CLASS_COUNTS)
            counts = np.bincount(info.target, minlength=k) if counts is None else counts
            return (counts.sum() / (k * np.maximum(counts, 1))).astype(np.float32)
        if isinstance(class_weight, Mapping):
            weights = np.ones(k, dtype=np.float32)
            for code, weight in class_weight.items():
                if not 0 <= int(code) < k:
                    raise DataOptionError(f"class_weight has class {code}, but classes are 0..{k - 1}")
                weights[int(code)] = weight
            return weights
        raise DataOptionError(f"class_weight must be 'balanced' or a dict, got {class_weight!r}")

    # -- the PyDataset protocol ------------------------------------------------------------------

    @property
    def indices(self) -> np.ndarray:
        """The file rows this sequence uses (built on demand when it uses them all)."""
        return np.arange(self._info.rows, dtype=np.int64) if self._indices is None else self._indices

    def __len__(self) -> int:
        n = self.num_rows
        batches = n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)
        return batches if self.batches_per_epoch is None else min(batches, self.batches_per_epoch)

    def as_dataset(self, epochs: int = 1):
        """This sequence as a ``tf.data.Dataset`` for ``model.fit`` on TensorFlow: the same batches, faster.

        Each pass over the dataset reads the sequence's next ``epochs`` epochs:
        from epoch ``self.epoch`` (then advanced by ``epochs``), batch for batch as
        ``seq[i]`` would, read ahead on parallel calls. ``set_epoch(n)`` first
        resumes at epoch n. Keras hands a ``PyDataset`` to TensorFlow one Python
        call at a time on the training thread; this is h5train's own pipeline::

            model.fit(seq.as_dataset(), epochs=10, shuffle=False)  # a pass per epoch
            model.fit(seq.as_dataset(epochs=10), epochs=10, steps_per_epoch=len(seq),
                      shuffle=False)  # one pass: no restart between epochs (fastest)

        Raises:
            DataOptionError: TensorFlow is not installed, or ``epochs`` is not positive.
        """
        from .pipeline import epochs_dataset  # imports TensorFlow: only when asked for

        return epochs_dataset(self, epochs)

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from now on (e.g. when resuming)."""
        self.epoch = int(epoch)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def order(self, epoch: int | None = None) -> np.ndarray:
        """File rows in epoch ``epoch``'s order (default: the current epoch).

        Thread-safe. The orders of the two epochs asked for last are kept: a
        pipeline that reads ahead asks for the next epoch while finishing this one.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        with self._lock:
            order = self._orders.get(epoch)
            if order is None:
                for old in sorted(self._orders)[:-1]:  # free all but the newest before making another
                    del self._orders[old]
                if self.shuffle == "blocks":  # blocks of rows that lie together in the file, whatever the indices' order
                    ranks = None if self._indices is None or np.all(np.diff(self._indices) >= 0) else np.argsort(
                        self._indices, kind="stable")
                    positions = blocks_order(self.num_rows, seed=self.seed, epoch=epoch, plan=self.block_plan,
                                             batch_size=self.batch_size, ranks=ranks)
                else:
                    positions = epoch_order(self.num_rows, seed=self.seed, epoch=epoch, mode=self.shuffle,
                                            chunk_rows=self._info.chunk_rows, batch_size=self.batch_size)
                order = positions if self._indices is None else self._indices[positions]
                self._orders[epoch] = order
        return order

    def _source(self) -> RowSource | PartsRows:
        with self._lock:  # one handle per process, even when threads ask at once
            if self._rows is None or self._pid != os.getpid():  # reopen in each process
                self._rows = RowSource(self.paths[0]) if len(self.paths) == 1 else PartsRows(
                    self.paths, self._info.part_starts, codes=self._info.part_codes, dtype=self._info.dtype)
                self._pid = os.getpid()
            return self._rows

    def _block_reader(self) -> BlockReader:
        """The read-ahead reader of the ``blocks`` order, one per process (started on first use)."""
        source = self._source()
        with self._lock:
            if self._reader is None or self._reader.source is not source:
                plan = self.block_plan
                row_bytes = self._info.num_features * self._info.dtype.itemsize
                batches_of = weakref.WeakMethod(self._epoch_batches)  # the reader's thread must not keep the sequence alive
                self._reader = BlockReader(
                    source, path=self.paths[0] if len(self.paths) == 1 else None,
                    batches_of=lambda epoch: [] if batches_of() is None else batches_of()(epoch),
                    chunk_rows=self._info.chunk_rows, block_rows=plan.block_rows, file_rows=self._info.rows,
                    dtype=self._info.dtype, width=self._info.num_features, capacity_bytes=(plan.pool_blocks + AHEAD_BLOCKS) * (plan.block_rows + self.batch_size) * row_bytes,
                    drop_cache=True)
                weakref.finalize(self, self._reader.close)
            return self._reader

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        return [self._batch_rows(i, epoch) for i in range(len(self))]

    def __getitem__(self, index: int):
        return self.read_batch(index, epoch=self.epoch)

    def read_batch(self, index: int, *, epoch: int):
        """Batch ``index`` of epoch ``epoch``, whatever the current epoch is (thread-safe).

        Returns what ``seq[index]`` returns: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} is out of range for {len(self)} batches")
        rows = self._batch_rows(index, epoch)
        if self.block_plan is not None:
            x = self._block_reader().take(rows, epoch=epoch, index=index).astype(self.dtype, copy=False)
        else:
            x = self._source().take(rows).astype(self.dtype, copy=False)
        return self._finish(x, rows)

    def _batch_rows(self, index: int, epoch: int) -> np.ndarray:
        """The file rows batch ``index`` of epoch ``epoch`` reads (this worker's slice), in file order."""
        rows = self.order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        if self.shuffle != "none":
            rows = np.sort(rows)  # the same rows, read in file order: much faster to gather
        if self.batch_slice is not None:
            # A slice of the batch as one process reads it: the workers' slices, side by side, are that batch
            # row for row, so position-wise randomness (dropout masks) meets the same rows as in one process.
            part, count = self.batch_slice
            width = self.batch_size // count
            rows = rows[part * width : (part + 1) * width]
        return rows

    def _finish(self, x: np.ndarray, rows: np.ndarray):
        """Fill, scale, shape and pair the values of ``rows`` with their targets, as ``read_batch`` returns them."""
        if self._prepare is not None:
            if x.dtype.kind != "f":  # filled and scaled values need a float array
                x = x.astype(np.float32)
            x = self._prepare(x)
        if self.sample_shape is not None:
            x = x.reshape((x.shape[0],) + tuple(self.sample_shape))
        if not self.targets:
            return x if self.transform is None else self.transform(x, None)[0]
        y = self._info.target[rows]
        if self._info.task == "classification":
            codes = y.astype(np.int32)
            y = np.eye(len(self._info.classes), dtype=np.float32)[codes] if self.one_hot else codes
            weights = self._sample_weights[codes] if self._sample_weights is not None else None
        else:
            y = y.astype(np.float32)
            weights = None
        if self.transform is not None:
            x, y = self.transform(x, y)
        return (x, y) if weights is None else (x, y, weights)

    # -- subsets ----------------------------------------------------------------------------------

    def _with_indices(self, indices: np.ndarray, *, training: bool) -> HDF5Sequence:
        subset = HDF5Sequence(list(self.paths), batch_size=self.batch_size, shuffle=self.shuffle, seed=self.seed,
                            indices=indices, targets=self.targets, one_hot=self.one_hot, dtype=self.dtype.name,
                            scale=self.scale, missing=self.missing, sample_shape=self.sample_shape, class_weight=self.class_weight,
                            transform=self.transform, batch_slice=self.batch_slice, drop_remainder=self.drop_remainder,
                            batches_per_epoch=self.batches_per_epoch, training=training, workers=self.workers,
                            use_multiprocessing=self.use_multiprocessing, max_queue_size=self.max_queue_size,
                            memory_budget=self.memory_budget, block_bytes=self.block_bytes)
        subset.shuffle_reason = self.shuffle_reason  # the order was chosen for the whole: say why, not "asked for"
        return subset

    def split(self, fraction: float, *, seed: int = 0, stratify: bool = True) -> tuple[HDF5Sequence, HDF5Sequence]:
        """Split the rows into (train, validation) sequences; ``fraction`` goes to validation."""
        if not 0.0 < fraction < 1.0:
            raise DataOptionError(f"split fraction must be between 0 and 1, got {fraction}")
        rng = np.random.default_rng([seed, 0x5117])
        rows = self.indices
        if stratify and self._info.task == "classification":
            labels = self._info.target[rows]
            val_parts = []
            for code in np.unique(labels):
                members = rows[labels == code]
                val_parts.append(rng.permutation(members)[: int(round(fraction * members.size))])
            val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, np.int64)
        else:
            val = np.sort(rng.permutation(rows)[: int(round(fraction * rows.size))])
        train = np.setdiff1d(rows, val, assume_unique=False)
        if train.size == 0 or val.size == 0:
            raise DataOptionError(f"split({fraction}) of {rows.size} rows leaves an empty side; use more data or another fraction")
        return self._with_indices(train, training=self.training), self._with_indices(val, training=False)

    # -- pickling: the handle stays behind ---------------------------------------------------------

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_rows"] = None
        state["_pid"] = None
        state["_reader"] = None
        state["_orders"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
