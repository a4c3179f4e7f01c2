"""``HDF5Sequence``'s keyword options, in one frozen dataclass: an option is added here, once.

The sequence takes exactly these keywords (and PyDataset's own), checks them
here before it opens a file, and a subset (``split``) is the same options with
other rows. What depends on the file (``auto``'s order, the sample shape, class
weights) is settled by the sequence.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .blocks import BLOCK_BYTES
from .errors import DataOptionError
from .memory import parse_bytes
from .orders import SHUFFLE_MODES


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: indices may be an array
class SequenceOptions:
    """The options of an ``HDF5Sequence``, checked and in their settled form (``shuffle=True`` is ``"auto"``).

    Args:
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
            column over its stored largest magnitude, categorical codes as they are), None (the stored values).
        missing: what a NaN becomes: ``"mean"`` (the default: the column's training mean, so 0 once
            standardised; a categorical code K, one past its vocabulary), ``"zero"`` (0 before
            scaling), ``"error"`` (refuse a file whose stats count NaN), None (NaN as stored).
        sample_shape: shape of one row (e.g. (28, 28, 1)); default from the file.
        class_weight: ``"balanced"`` or ``{class: weight}``: adds per-sample weights. A class is named by its
            label as ``info.classes`` holds it (a number label also as text, ``"1"``) or by its code 0..K-1;
            a key that could be either (labels 1, 2, 3: key 1) is read as the other keys tell, else refused;
            a class not named weighs 1. Balanced weights are scikit-learn's, from the classes of the rows
            used (``indices``, before ``shard``); a class without rows there weighs 1.
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
            ``blocks``. Default: the smallest of the cgroup memory limit (v2 or v1) and MemAvailable, less
            what Python, Keras and the model hold beside the data (``blocks.data_memory``). With
            ``use_multiprocessing``, the ``workers`` reading processes share it, each with a pool of its own.
        block_bytes: bytes of rows in a block of ``blocks`` (whole chunks; at least a batch).
    """

    batch_size: int = 256
    shuffle: bool | str = "auto"
    seed: int = 0
    indices: Sequence[int] | np.ndarray | None = None
    targets: bool = True
    one_hot: bool = False
    dtype: str | np.dtype = "float32"
    scale: str | None = "standard"
    missing: str | None = "mean"
    sample_shape: Sequence[int] | None = None
    class_weight: str | Mapping[object, float] | None = None
    transform: Callable | None = None
    shard: tuple[int, int] | None = None
    batch_slice: tuple[int, int] | None = None
    drop_remainder: bool = False
    batches_per_epoch: int | None = None
    training: bool | None = None
    memory_budget: int | None = None
    block_bytes: int = BLOCK_BYTES

    def __post_init__(self) -> None:
        batch_size = self.batch_size
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataOptionError(f"batch_size must be a positive integer, got {batch_size!r}")
        shuffle = ("auto" if self.shuffle else "none") if isinstance(self.shuffle, bool) else self.shuffle
        if shuffle not in SHUFFLE_MODES:
            raise DataOptionError(f"shuffle={shuffle!r} is not one of {', '.join(SHUFFLE_MODES)}, True or False")
        seed = self.seed
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise DataOptionError(f"seed must be an integer in 0..{2**32 - 1}, got {seed!r}")  # numpy's seed range
        if self.shard is not None:
            index, count = self.shard if _is_pair(self.shard) else (None, None)
            if not (_integer(count) and _integer(index) and count >= 1 and 0 <= index < count):
                raise DataOptionError(f"shard must be (index, count) with 0 <= index < count, got {self.shard!r}")
        budget = self.memory_budget
        if isinstance(budget, str):  # "8GB", as h5train's --memory-budget takes it
            budget = parse_bytes(budget, option="memory_budget")
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, (int, float, np.number)) or not 1 <= budget < math.inf
        ):
            raise DataOptionError(f"memory_budget must be a positive number of bytes or a size such as '8GB', got {budget!r}")
        for name in ("targets", "one_hot", "drop_remainder", "training"):
            flag = getattr(self, name)  # bool("no") is True: a string here would silently mean the opposite
            if not (isinstance(flag, (bool, np.bool_)) or (name == "training" and flag is None)):
                raise DataOptionError(f"{name} must be True or False, got {flag!r}")
        if self.transform is not None and not callable(self.transform):
            raise DataOptionError(f"transform must be a callable taking (x, y), got {self.transform!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise DataOptionError(f"dtype {self.dtype!r} is not a numpy dtype; pass one such as 'float32'") from None
        batch_slice = _slice(self.batch_slice, int(batch_size))
        per_epoch = self.batches_per_epoch
        if per_epoch is not None and (not _integer(per_epoch) or per_epoch < 1):
            raise DataOptionError(f"batches_per_epoch must be a positive integer, got {per_epoch!r}")
        settled = {
            "batch_size": int(batch_size),
            "shuffle": shuffle,
            "seed": int(self.seed),
            "targets": bool(self.targets),
            "one_hot": bool(self.one_hot),
            "dtype": dtype,
            "batch_slice": batch_slice,
            "drop_remainder": bool(self.drop_remainder) or batch_slice is not None,
            "batches_per_epoch": None if per_epoch is None else int(per_epoch),
            "training": shuffle != "none" if self.training is None else bool(self.training),
            "memory_budget": None if budget is None else int(budget),
            "block_bytes": int(self.block_bytes),
            "sample_shape": None if self.sample_shape is None else tuple(self.sample_shape),
            "shard": None if self.shard is None else (int(self.shard[0]), int(self.shard[1])),
        }
        for name, value in settled.items():
            object.__setattr__(self, name, value)  # frozen: settled once, here


OPTION_NAMES = frozenset(field.name for field in dataclasses.fields(SequenceOptions))


def _integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_pair(value: object) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2


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
        raise DataOptionError(
            f"the global batch of {batch_size} rows does not split evenly over {count} workers; "
            f"use a batch size that is a multiple of {count}"
        )
    return index, count


def take_options(kwargs: dict[str, object]) -> SequenceOptions:
    """The options among a constructor's keywords, taken out of ``kwargs`` (PyDataset's own stay)."""
    return SequenceOptions(**{name: kwargs.pop(name) for name in list(kwargs) if name in OPTION_NAMES})


def with_options_signature(init: Callable) -> Callable:
    """``init`` shown (``help``, ``inspect.signature``) with every option as a keyword and its default."""
    keywords = [
        inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default)
        for field in dataclasses.fields(SequenceOptions)
    ]
    own = list(inspect.signature(init).parameters.values())
    init.__signature__ = inspect.Signature(own[:-1] + keywords + own[-1:])  # before **kwargs
    return init
