"""HDF5Sequence: a keras.utils.PyDataset over a csv2h5 file, with shuffled random batches.

A *sampler* (``orders.epoch_order``) decides which rows an epoch visits and in
which order, as a pure function of ``(seed, epoch)``; a *data source*
(``rows.RowSource``, read ahead by ``readahead.BlockReader`` in ``blocks``
order) reads rows; ``batches.BatchFinisher`` fills, scales and pairs them with
their targets; the options live in ``sequence_options.SequenceOptions``; the
sequence ties them to Keras.

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
import sys
from collections.abc import Callable, Sequence

import numpy as np

from csv2h5.target import single_class_problem

from ._keras import keras
from .batches import BatchFinisher
from .errors import DataOptionError, NoWholeBatchError
from .fileinfo import FileInfo, expand_paths, infinite_target, read_infos, single_class
from .orders import SHUFFLE_MODES, EpochOrders, choose_order, epoch_order, split_rows
from .readers import ProcessReaders
from .sequence_options import OPTION_NAMES, SequenceOptions, take_options, with_options_signature

__all__ = ["SHUFFLE_MODES", "HDF5Sequence", "SequenceOptions", "epoch_order"]


class HDF5Sequence(keras.utils.PyDataset):
    """Batches of a csv2h5 file for ``model.fit``, with per-epoch shuffled row order.

    Args:
        path: a file written by ``csv2h5 convert``; or several of one schema (a list, or a glob
            pattern such as ``"parts/*.h5"``), read as one row space in that order, their class
            labels and categorical vocabularies united as ``csv2h5 merge`` unites them.
        batch_size, shuffle, seed, indices, targets, one_hot, dtype, scale, missing, sample_shape,
        class_weight, transform, shard, batch_slice, drop_remainder, batches_per_epoch, training,
        memory_budget, block_bytes: the options, each described in
            :class:`~csv2h5.trainer.sequence_options.SequenceOptions`; ``seq.options`` holds them
            checked, and ``seq.<option>`` reads one.
        **kwargs: PyDataset's ``workers``, ``use_multiprocessing``, ``max_queue_size``.

    After construction: ``info`` (what the file holds), ``shuffle`` and ``shuffle_reason`` (the
    order ``auto`` chose, and why), ``memory_budget``, ``block_plan``, ``sample_shape``, ``num_rows``.
    """

    @with_options_signature
    def __init__(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], **kwargs: object) -> None:
        options = take_options(kwargs)
        super().__init__(**kwargs)
        self.options = options
        # seq.batch_size, seq.one_hot, ...: every option as checked (indices is the property below); those
        # settled against the file (shuffle, memory_budget, sample_shape) are set again below
        vars(self).update({name: getattr(options, name) for name in OPTION_NAMES - {"indices"}})
        self.paths = tuple(expand_paths(path))
        self.path = str(path) if isinstance(path, (str, os.PathLike)) else self.paths[0]  # the file or pattern, for messages
        self._info = info = read_infos(self.paths)
        self._indices = rows = _rows_used(
            info, options, self.path
        )  # None: every row, without an index array as large as the file
        self.num_rows = info.rows if rows is None else int(rows.size)
        self.shuffle, self.shuffle_reason, self.block_plan, self.memory_budget = choose_order(
            options.shuffle,
            info=info,
            num_rows=self.num_rows,
            batch_size=options.batch_size,
            memory_budget=options.memory_budget,
            block_bytes=options.block_bytes,
            rows=rows,
            reading_processes=max(1, int(self.workers or 1)) if self.use_multiprocessing else 0,  # each: its own pool
        )
        if options.targets and info.target is None:
            raise DataOptionError(
                f"{self.path} has no /target; pass targets=False (for predict), or convert with --target COLUMN"
            )
        if options.one_hot and info.task != "classification" and options.targets:
            raise DataOptionError(f"one_hot=True needs a classification target; {self.path} has {info.task}")
        self.sample_shape = options.sample_shape if options.sample_shape is not None else info.sample_shape
        if self.sample_shape is not None and math.prod(self.sample_shape) != info.num_features:
            raise DataOptionError(
                f"sample_shape {self.sample_shape} holds {math.prod(self.sample_shape)} values"
                f" but rows have {info.num_features} features"
            )
        self._finish = BatchFinisher(
            info,
            targets=options.targets,
            one_hot=options.one_hot,
            scale=options.scale,
            missing=options.missing,
            sample_shape=self.sample_shape,
            class_weight=options.class_weight,
            transform=options.transform,
            weighed_rows=None if options.indices is None else np.asarray(options.indices, dtype=np.int64),  # not a shard
        )
        if len(self) == 0 and self.num_rows:
            raise NoWholeBatchError(
                f"batch_size {self.batch_size} is larger than the {self.num_rows} rows with drop_remainder=True",
                rows=self.num_rows,
                batch_size=self.batch_size,
                training=options.training,
            )
        self.epoch = 0
        self._pass_open = False  # between Keras's on_epoch_begin and on_epoch_end
        self._orders = EpochOrders(
            shuffle=self.shuffle,
            seed=options.seed,
            num_rows=self.num_rows,
            batch_size=options.batch_size,
            chunk_rows=info.chunk_rows,
            plan=self.block_plan,
            indices=rows,
            read_rows=len(self) * options.batch_size,
            targets=info.target if options.targets else None,
        )
        self._readers = ProcessReaders(
            self.paths,
            info,
            plan=self.block_plan,
            batch_size=options.batch_size,
            scattered=self.shuffle == "blocks",
            indices=rows,
        )

    # -- the PyDataset protocol ------------------------------------------------------------------

    @property
    def info(self) -> FileInfo:
        """What the file holds (for several files read as one: their union), read once."""
        return self._info

    @property
    def indices(self) -> np.ndarray:
        """The file rows this sequence uses (built on demand when it uses them all); read-only."""
        return np.arange(self._info.rows, dtype=np.int64) if self._indices is None else self._indices

    def __len__(self) -> int:
        n = self.num_rows
        batches = n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)
        return batches if self.batches_per_epoch is None else min(batches, self.batches_per_epoch)

    def as_dataset(self, epochs: int = 1):
        """This sequence as a ``tf.data.Dataset`` for ``model.fit`` on TensorFlow: the same batches, faster.

        Each pass over the dataset reads the sequence's next ``epochs`` epochs:
        from epoch ``self.epoch`` (advanced past each epoch as its last batch goes out), batch for batch as
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
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise DataOptionError(f"set_epoch takes an epoch number of 0 or more, got {epoch!r}")
        self.epoch = int(epoch)

    def on_epoch_begin(self) -> None:
        self._pass_open = True
        super().on_epoch_begin()

    def on_epoch_end(self) -> None:
        """The next epoch's order; refuses a pass Keras's JAX trainer would feed wrongly (see below)."""
        opened, self._pass_open = self._pass_open, False
        reads_ahead = self.workers > 1 or (self.workers > 0 and self.use_multiprocessing)
        if opened and reads_ahead and keras.backend.backend() == "jax" and _keras_restart():
            # Keras 3.15's JAX fit, evaluate and predict take one batch to build a model not built yet,
            # then restart their loader: the batches the workers read ahead with it stay queued and open
            # the pass, and each epoch after takes the last ones of the pass before: rows twice, others never.
            given = f"workers={self.workers}" + (", use_multiprocessing=True" if self.use_multiprocessing else "")
            raise DataOptionError(
                f"HDF5Sequence({given}) would be read wrong under JAX: Keras read a batch to build the model,"
                " and the batches its workers read ahead with it would go into the wrong pass, so rows come"
                " twice and others not at all; pass workers=1 (a batch is a gather from the memory map, or from"
                " blocks the sequence reads ahead in its own threads), or train with h5train, which reads ahead"
                " in epoch order itself"
            )
        self.epoch += 1

    def order(self, epoch: int | None = None) -> np.ndarray:
        """File rows in epoch ``epoch``'s order (default: the current epoch), read-only (copy it to change it).

        Thread-safe. The orders of the two epochs asked for last are kept: a
        pipeline that reads ahead asks for the next epoch while finishing this one.
        """
        return self._orders.get(self.epoch if epoch is None else int(epoch))

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        return [self._batch(i, epoch)[0] for i in range(len(self))]

    def __getitem__(self, index: int):
        return self.read_batch(index, epoch=self.epoch)

    def read_batch(self, index: int, *, epoch: int):
        """Batch ``index`` of epoch ``epoch``, whatever the current epoch is (thread-safe).

        Returns what ``seq[index]`` returns: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} is out of range for {len(self)} batches")
        rows, targets = self._batch(index, epoch)
        if self.block_plan is not None:
            x = self._readers.block_reader(self, self._epoch_batches).take(rows, epoch=epoch, index=index)
        else:
            x = self._readers.source().take(rows)
        return self._finish(x.astype(self.dtype, copy=False), targets)

    def _batch(self, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The file rows batch ``index`` of epoch ``epoch`` reads (this worker's slice), in file order, and their targets."""
        batches = self._orders.batches(epoch)  # sorted and looked up for the whole epoch at once
        start = index * self.batch_size
        stop = start + self.batch_size
        if self.batch_slice is not None:
            # A slice of the batch as one process reads it: the workers' slices, side by side, are that batch
            # row for row, so position-wise randomness (dropout masks) meets the same rows as in one process.
            part, count = self.batch_slice
            width = self.batch_size // count
            start, stop = start + part * width, start + (part + 1) * width
        return batches.rows[start:stop], None if batches.targets is None else batches.targets[start:stop]

    # -- subsets ----------------------------------------------------------------------------------

    def _with_indices(self, indices: np.ndarray, *, training: bool, **changes: object) -> HDF5Sequence:
        # The same options on other rows, in the order chosen for the whole (with the memory it was chosen for).
        options = dataclasses.replace(
            self.options,
            **{"shuffle": self.shuffle, **changes},
            indices=indices,
            shard=None,
            training=training,
            memory_budget=self.memory_budget,
        )
        subset = HDF5Sequence(
            list(self.paths),
            **vars(options),
            workers=self.workers,
            use_multiprocessing=self.use_multiprocessing,
            max_queue_size=self.max_queue_size,
        )
        if "shuffle" not in changes:
            subset.shuffle_reason = self.shuffle_reason  # the order was chosen for the whole: say why, not "asked for"
        return subset

    def split(
        self, fraction: float, *, seed: int = 0, stratify: bool = True, val_transform: Callable | None | str = "same"
    ) -> tuple[HDF5Sequence, HDF5Sequence]:
        """Split the rows into (train, validation) sequences; ``fraction`` goes to validation.

        The training side keeps every option. The validation side reads each of its rows once a pass, in
        file order, as Keras evaluates: ``shuffle="none"``, every batch (no ``batches_per_epoch``), and no
        ``class_weight`` (Keras weighs the training loss only). It keeps ``transform``, which may be
        preprocessing the model needs (a reshape, a one-hot coding); ``val_transform`` replaces it there:
        ``None`` for a transform that augments the training rows only, or another callable.
        """
        train, val = split_rows(self.indices, self._info, fraction, seed=seed, stratify=stratify)
        if isinstance(val_transform, str) and val_transform == "same":
            transform = self.transform
        elif val_transform is None or callable(val_transform):
            transform = val_transform
        else:
            raise DataOptionError(
                f"val_transform takes 'same' (the default: transform), None or a callable taking (x, y), got {val_transform!r}"
            )
        held_out = {"shuffle": "none", "batches_per_epoch": None, "class_weight": None, "transform": transform}
        training = self._with_indices(train, training=self.training)
        validation = self._with_indices(val, training=False, **held_out)
        validation.shuffle_reason = "validation reads its rows once a pass, in file order"
        return training, validation


def _rows_used(info: FileInfo, options: SequenceOptions, path: str) -> np.ndarray | None:
    """The file rows a sequence uses (None: all), checked against the file, then this shard's share."""
    given = None if options.indices is None else np.asarray(options.indices)
    if given is not None and given.size and given.dtype.kind not in "iu":  # int64 would make a mask rows 0 and 1
        hint = "; for a boolean mask pass np.flatnonzero(mask)" if given.dtype.kind == "b" else ""
        raise DataOptionError(f"indices takes integer row numbers, got an array of {given.dtype}{hint}")
    if given is not None and given.ndim != 1:  # a (1, n) array would be read as n rows without a word
        got = f"the single number {given.item()!r}" if given.ndim == 0 else f"an array of shape {given.shape}"
        raise DataOptionError(f"indices takes a flat list of row numbers, got {got}")
    rows = None if given is None else given.astype(np.int64)
    if rows is not None and rows.size and (rows.min() < 0 or rows.max() >= info.rows):
        bad = int(rows[(rows < 0) | (rows >= info.rows)][0])
        raise DataOptionError(f"indices has row {bad}, but {path} has rows 0..{info.rows - 1}")
    if options.training and options.targets:
        label = single_class(info, rows)
        if label is not None:
            used = f"the {info.rows if rows is None else rows.size:,} rows used for training"
            name = info.target_columns[0] if info.target_columns else "target"
            raise DataOptionError(
                f"{path}: {single_class_problem(name, label, used)}; train on every part "
                "(a glob such as 'parts/*.h5', or csv2h5 merge), or pass --task regression to "
                "csv2h5 convert if the target is a number"
            )
        infinite = infinite_target(info, rows)
        if infinite is not None:  # or NaN (a cell such as +nan: empty targets are refused when converting)
            row, name, value = infinite
            raise DataOptionError(
                f"{path}: target {name!r} is {value} in row {row:,} of the file, which a model cannot learn"
                " from (its loss becomes infinite or NaN); replace the value in the CSV, or leave the row out"
            )
    if options.shard is not None:
        index, count = options.shard
        rows = (np.arange(info.rows, dtype=np.int64) if rows is None else rows)[index::count]
    if options.training and (info.rows if rows is None else rows.size) == 0:
        raise DataOptionError(f"{path}: {_no_rows(info, options)}")
    if rows is not None:
        rows.flags.writeable = False  # seq.indices: the epochs' orders are made from it, a caller's change must not reach them
    return rows


def _keras_restart() -> bool:
    """Whether this ``on_epoch_end`` is Keras restarting its loader (``EpochIterator.reset``) rather than ending a pass."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "reset" and code.co_filename.replace(os.sep, "/").endswith("keras/src/trainers/epoch_iterator.py"):
            return True
        frame = frame.f_back
    return False


def _no_rows(info: FileInfo, options: SequenceOptions) -> str:
    """Why a training sequence has no rows, and what to do (a sequence without batches fails later, unclearly)."""
    given = info.rows if options.indices is None else len(options.indices)
    if info.rows == 0:
        return "the file has no rows to train on; convert a CSV that has some"
    if given == 0:
        return "indices is empty, so there are no rows to train on; pass the row numbers to train on"
    return (
        f"shard {options.shard} takes none of the {given} rows used (every {options.shard[1]}th from row"
        f" {options.shard[0]}), so there are no rows to train on; use at most {given} shards"
    )
