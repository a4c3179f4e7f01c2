"""How batches reach ``model.fit`` on each backend.

The training input is one stream over every remaining epoch: element ``k`` is
batch ``k % batches`` of epoch ``k // batches``, read with
``HDF5Sequence.read_batch(index, epoch=)``, and ``model.fit`` gets
``steps_per_epoch=batches``. So the order is a pure function of ``(seed,
epoch)`` whatever reads ahead, a resumed run starts at its own epoch, and no
callback races Keras's loader threads for the epoch number (Keras <= 3.15
starts a PyDataset's workers before ``on_epoch_begin`` and calls
``on_epoch_end`` once before the first epoch).

TensorFlow: the stream is a ``tf.data`` pipeline, ``range(k0, k1)`` mapped
through the batch reader (numpy gathers from the memory map, which release the
GIL) with parallel calls and prefetch. Keras would otherwise wrap a PyDataset or
a generator in ``tf.data.Dataset.from_generator``, a Python call per batch on
the thread that feeds the training step (1.25-1.5x the time of in-RAM training).

JAX (and ``--processes``): a generator. With one worker it reads each batch
when Keras asks for it, in the training thread: JAX dispatches a step and
returns at once, so the read overlaps the step anyway, and a thread hand-off
per batch measured slower. With more workers it keeps a few batches in flight on
``workers`` threads, or worker processes, and yields them in order.
"""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import dataclasses
import functools
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .backend import import_tensorflow_quietly
from .errors import DataOptionError, LoaderError
from .workers import watch_parent

if TYPE_CHECKING:  # a sequence imports this module when asked for a dataset
    from .sequence import HDF5Sequence

AHEAD_PER_WORKER = 4  # batches in flight per reading thread or process


@dataclasses.dataclass(frozen=True)
class FitInput:
    """What to hand ``model.fit``: ``data`` and ``steps_per_epoch``."""

    data: object
    steps_per_epoch: int


def training_input(
    sequence: HDF5Sequence, *, first_epoch: int, epochs: int, tf_data: bool, workers: int = 1, processes: bool = False
) -> FitInput:
    """The training data for epochs ``first_epoch..epochs-1``.

    Args:
        sequence: the training rows, their order and batch size.
        first_epoch: the epoch to start at (a resumed run's epochs done).
        epochs: the epoch to end before.
        tf_data: build a tf.data pipeline (TensorFlow) rather than a generator.
        workers: reading threads (or processes) for the generator.
        processes: read in worker processes rather than threads.
    """
    batches = len(sequence)
    start, stop = first_epoch * batches, epochs * batches
    if tf_data:
        return FitInput(_dataset(sequence, start, stop, batches), steps_per_epoch=batches)
    return FitInput(_read_ahead(sequence, start, stop, batches, workers=workers, processes=processes), steps_per_epoch=batches)


def validation_input(sequence: HDF5Sequence | None, *, tf_data: bool) -> object:
    """Validation data: the sequence itself, or one epoch of it as tf.data (read afresh for every evaluation)."""
    if sequence is None or not tf_data:
        return sequence
    return _dataset(sequence, 0, len(sequence), len(sequence))


def _read_ahead(
    sequence: HDF5Sequence, start: int, stop: int, batches: int, *, workers: int, processes: bool
) -> Iterator[tuple[np.ndarray, ...]]:
    """Batches ``start..stop-1`` of the stream, read ahead on a pool (or, for one thread, on demand), in order."""
    if workers == 1 and not processes:
        for k in range(start, stop):
            yield _read(sequence, *divmod(k, batches))
        return
    read: Callable[[int, int], tuple[np.ndarray, ...]]
    if processes:  # each process gets the sequence once (it reopens the file itself), then batch numbers
        # spawn, not fork: forking a process that runs JAX or TensorFlow threads can deadlock the child.
        pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_adopt,
            initargs=(sequence, os.getpid()),
        )
        read = _read_adopted
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="h5train-read")
        read = functools.partial(_read, sequence)
    pending: collections.deque[concurrent.futures.Future] = collections.deque()
    k = start
    try:
        while k < stop or pending:
            try:
                while k < stop and len(pending) < AHEAD_PER_WORKER * workers:
                    pending.append(_submit(pool, read, *divmod(k, batches)))
                    k += 1
                batch = pending.popleft().result()
            except concurrent.futures.process.BrokenProcessPool:  # the pool says so at once: no hang
                raise LoaderError(f"{LoaderError.MARK} (killed by the system, out of memory?)") from None
            yield batch
    finally:  # also when Keras stops early or Ctrl-C ends training: nothing left running
        pool.shutdown(wait=False, cancel_futures=True)


def _submit(pool: concurrent.futures.Executor, read: Callable, epoch: int, index: int) -> concurrent.futures.Future:
    """``pool.submit``, with a process pool's failure to replace a worker that died reported as the pool being broken.

    A process pool that spawns its workers starts a new one on ``submit`` when
    it has none idle; if a worker has just died, the pool's manager thread may
    be closing the pool's pipes at that moment, and the new worker cannot be
    handed them (``OSError: handle is closed``, or ``ValueError: bad value(s) in
    fds_to_keep`` when a pipe is closed already) before the pool marks itself
    broken.
    """
    try:
        return pool.submit(read, epoch, index)
    except (OSError, ValueError) as error:
        if not isinstance(pool, concurrent.futures.ProcessPoolExecutor):
            raise
        raise concurrent.futures.process.BrokenProcessPool(f"a reading process could not be started: {error}") from error


def _read(sequence: HDF5Sequence, epoch: int, index: int) -> tuple[np.ndarray, ...]:
    return sequence.read_batch(index, epoch=epoch)


_adopted: list[HDF5Sequence] = []  # in a reading process: the sequence it reads from


def _adopt(sequence: HDF5Sequence, trainer: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the training process's to handle; it ends the pool
    # A training process killed outright (out of memory, SIGKILL) cannot end the pool: without this, its
    # reading processes would go on holding their pools, and a memory limit's room, for nobody.
    watch_parent(parent=trainer)
    _adopted[:] = [sequence]


def _read_adopted(epoch: int, index: int) -> tuple[np.ndarray, ...]:
    return _read(_adopted[0], epoch, index)


def epochs_dataset(sequence: HDF5Sequence, epochs: int = 1) -> object:
    """``sequence`` as a tf.data pipeline in which each pass is the sequence's next ``epochs`` epochs.

    A pass starts at the epoch ``e = sequence.epoch`` (``set_epoch`` chooses where
    the next pass starts) and reads epochs ``e..e+epochs-1``, each one's batches
    ``0..len-1`` as ``read_batch(index, epoch=)`` reads them, on parallel calls
    with prefetch, in order, but for each epoch's last batch, which is read as it
    is taken. It moves ``sequence.epoch`` past an epoch when it
    hands out that epoch's last batch, not when it starts: a pass Keras begins
    and drops after a batch (on JAX, ``fit`` looks at one batch to build a model
    whose optimizer is not built yet) leaves the epoch where it was, so the
    training passes read every epoch, none skipped. Keras iterates a dataset afresh for each epoch unless it is given
    ``steps_per_epoch`` and the dataset has more batches than that: so
    ``fit(dataset, epochs=E)`` trains epochs ``e..e+E-1`` one pass each, and with
    ``epochs=E`` here and ``steps_per_epoch=len(sequence)`` in ``fit``, one pass
    does the same without restarting the pipeline between epochs.
    """
    try:
        tf = import_tensorflow_quietly()
    except ImportError:
        raise DataOptionError(
            "as_dataset() builds a tf.data pipeline, which needs TensorFlow: pip install tensorflow, "
            "or pass the sequence itself to model.fit"
        ) from None
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise DataOptionError(f"as_dataset(epochs=) takes a positive number of epochs per pass, got {epochs!r}")
    epochs = int(epochs)
    if epochs == 1:
        return _one_epoch_passes(tf, sequence)
    batches = len(sequence)
    lock = threading.Lock()

    def next_epoch() -> np.int64:
        with lock:
            return np.int64(sequence.epoch)

    def handed_out(k: np.int64) -> np.int64:  # the last batch of epoch k // batches: the next pass starts after it
        with lock:
            sequence.set_epoch(int(k) // batches + 1)
        return np.int64(0)

    load = _loader(sequence, functools.partial(_in_stream, batches=batches))

    def hand_out(k):  # the epoch's last batch: read when the consumer asks for it, then the epoch moves
        tensors = _as_tuple(load(k))
        moved = tf.numpy_function(handed_out, [k], tf.int64, stateful=True)
        with tf.control_dependencies([moved]):
            tensors = tuple(tf.identity(t) for t in tensors)
        return tensors if len(tensors) > 1 else tensors[0]

    def epoch_batches(epoch):  # its batches but the last read ahead, then the last one read as it is taken
        first, last = epoch * batches, (epoch + 1) * batches - 1
        ahead = _prefetched(tf.data.Dataset.range(first, last).map(load, num_parallel_calls=tf.data.AUTOTUNE))
        return ahead.concatenate(tf.data.Dataset.range(last, last + 1).map(hand_out))

    # The epoch is taken when a pass first asks for a batch (tf.data starts nothing before that), once per pass.
    start = tf.data.Dataset.from_tensors(np.int64(0)).map(
        lambda _: tf.ensure_shape(tf.numpy_function(next_epoch, [], tf.int64, stateful=True), ())
    )
    passes = start.flat_map(lambda epoch: tf.data.Dataset.range(epoch, epoch + epochs)).flat_map(epoch_batches)
    options = tf.data.Options()
    # tf.data would add a prefetch after the last stage, which would read the last batch, and move the epoch, early.
    options.experimental_optimization.inject_prefetch = False
    return passes.apply(tf.data.experimental.assert_cardinality(epochs * batches)).with_options(options)


def _one_epoch_passes(tf, sequence: HDF5Sequence) -> object:
    """``epochs_dataset`` for passes of one epoch, which ``fit(dataset, epochs=E)`` starts afresh for every epoch.

    Each batch reads the epoch ``sequence.epoch`` holds when it is read, rather than a
    pass taking it once at its start through a ``flat_map``: a ``flat_map`` starts its
    inner pipeline (parallel calls, prefetch) anew with every pass, which cost ~40 ms
    before the first batch of each epoch against ~13 ms here (BENCHMARKS.md). It reads
    the same batches: a pass's batches but the last are all read before its last batch
    is taken (the concatenation), and only taking the last one moves the epoch.
    """
    batches = len(sequence)
    lock = threading.Lock()

    def now(index: int) -> tuple[int, int]:
        with lock:
            return sequence.epoch, index

    def last(index: int) -> tuple[np.ndarray, ...]:  # read as the consumer takes it, then the next pass starts after it
        with lock:
            epoch = sequence.epoch
            batch = _read(sequence, epoch, index)
            sequence.set_epoch(epoch + 1)
        return batch

    spec = _batch_spec(sequence)  # one batch read for both loaders
    ahead = _prefetched(
        tf.data.Dataset.range(batches - 1).map(
            _loader(sequence, now, stateful=True, spec=spec), num_parallel_calls=tf.data.AUTOTUNE
        )
    )
    passes = ahead.concatenate(
        tf.data.Dataset.range(batches - 1, batches).map(_loader(sequence, read=last, stateful=True, spec=spec))
    )
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False  # as in epochs_dataset: the last batch is not read early
    return passes.apply(tf.data.experimental.assert_cardinality(batches)).with_options(options)


def _as_tuple(tensors) -> tuple:
    return tensors if isinstance(tensors, tuple) else (tensors,)


def _dataset(sequence: HDF5Sequence, start: int, stop: int, batches: int) -> object:
    import tensorflow as tf

    return _prefetched(
        tf.data.Dataset.range(start, stop).map(
            _loader(sequence, functools.partial(_in_stream, batches=batches)), num_parallel_calls=tf.data.AUTOTUNE
        )
    )


def _prefetched(dataset):
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True  # batches in order, whatever finishes first
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _in_stream(k: int, *, batches: int) -> tuple[int, int]:
    """Stream position ``k`` -> (epoch, batch index): batch ``k % batches`` of epoch ``k // batches``."""
    return divmod(k, batches)


def _loader(
    sequence: HDF5Sequence,
    position: Callable[[int], tuple[int, int]] | None = None,
    *,
    read: Callable[[int], tuple[np.ndarray, ...]] | None = None,
    stateful: bool = False,
    spec: tuple[tuple, tuple] | None = None,
) -> Callable:
    """A tf.data map function: element ``k`` -> the tensors of the batch at ``position(k)`` (epoch, index), or of ``read(k)``.

    ``stateful``: the batch depends on more than ``k`` (the sequence's epoch), or reading it changes something.
    ``spec``: the batches' dtypes and shapes (``_batch_spec``), when the caller has them already.
    """
    import tensorflow as tf

    dtypes, shapes = spec or _batch_spec(sequence)
    read = read or (lambda k: _read(sequence, *position(k)))

    def call(k: np.int64) -> tuple[np.ndarray, ...]:
        return _as_tuple(read(int(k)))

    def load(k):  # a graph function: numpy_function calls back into Python for the rows
        tensors = tf.numpy_function(call, [k], dtypes, stateful=stateful)
        tensors = tuple(tf.ensure_shape(t, s) for t, s in zip(tensors, shapes))
        return tensors if len(tensors) > 1 else tensors[0]

    return load


def _batch_spec(sequence: HDF5Sequence) -> tuple[tuple, tuple]:
    """The dtypes and shapes (any number of rows) of a batch's parts, from one batch read (its first, of epoch 0)."""
    import tensorflow as tf

    sample = sequence.read_batch(0, epoch=0)
    parts = sample if isinstance(sample, tuple) else (sample,)
    return tuple(tf.as_dtype(np.asarray(p).dtype) for p in parts), tuple((None, *np.asarray(p).shape[1:]) for p in parts)
