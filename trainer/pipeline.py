"""How batches reach ``model.fit`` on each backend.

JAX: Keras iterates the ``HDF5Sequence`` (a PyDataset) in Python, which costs
next to nothing there; a callback tells the sequence which epoch Keras begins.

TensorFlow: Keras would wrap a PyDataset in ``tf.data.Dataset.from_generator``,
a Python call per batch on the thread that also feeds the training step (1.25-1.5x
the time of in-RAM training). Instead, the input is built as ``tf.data`` here:
the numbers ``0..epochs*batches`` mapped through the sequence's batch reader
(``read_batch(index, epoch=)``, GIL-free numpy gathers from the memory map)
with parallel calls and prefetch. Element ``k`` is batch ``k % batches`` of epoch
``k // batches``, so the order stays a pure function of ``(seed, epoch)`` across
the epoch boundaries the prefetch reads over, and a resumed run starts at its
own epoch. ``--processes`` keeps Keras's PyDataset path (its process pool).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from .sequence import HDF5Sequence


@dataclasses.dataclass
class FitInput:
    """What to hand ``model.fit``: ``data``, ``steps_per_epoch`` and callbacks that keep the order."""

    data: object
    steps_per_epoch: int | None = None
    callbacks: list[keras.callbacks.Callback] = dataclasses.field(default_factory=list)


class EpochOrder(keras.callbacks.Callback):
    """Keras epoch e reads the rows in order(seed, e), whatever Keras calls in between."""

    def __init__(self, sequence: HDF5Sequence) -> None:
        super().__init__()
        self.sequence = sequence

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.sequence.set_epoch(epoch)


def training_input(sequence: HDF5Sequence, *, first_epoch: int, epochs: int, tf_data: bool) -> FitInput:
    """The training data for epochs ``first_epoch..epochs-1`` (``tf_data``: as a tf.data pipeline)."""
    if not tf_data:
        return FitInput(sequence, callbacks=[EpochOrder(sequence)])
    batches = len(sequence)
    return FitInput(_dataset(sequence, first_epoch * batches, epochs * batches, batches), steps_per_epoch=batches)


def validation_input(sequence: HDF5Sequence | None, *, tf_data: bool) -> object:
    """Validation data: the sequence itself, or one epoch of it as tf.data (read afresh for every evaluation)."""
    if sequence is None or not tf_data:
        return sequence
    return _dataset(sequence, 0, len(sequence), len(sequence))


def _dataset(sequence: HDF5Sequence, start: int, stop: int, batches: int) -> object:
    import tensorflow as tf

    sample = sequence.read_batch(0, epoch=0)
    parts = sample if isinstance(sample, tuple) else (sample,)
    dtypes = tuple(tf.as_dtype(np.asarray(p).dtype) for p in parts)
    shapes = tuple((None, *np.asarray(p).shape[1:]) for p in parts)

    def read(k: np.int64) -> tuple[np.ndarray, ...]:
        epoch, index = divmod(int(k), batches)
        batch = sequence.read_batch(index, epoch=epoch)
        return batch if isinstance(batch, tuple) else (batch,)

    def load(k):  # a graph function: numpy_function calls back into Python for the rows
        tensors = tf.numpy_function(read, [k], dtypes, stateful=False)
        tensors = tuple(tf.ensure_shape(t, s) for t, s in zip(tensors, shapes))
        return tensors if len(tensors) > 1 else tensors[0]

    options = tf.data.Options()
    options.deterministic = True  # batches in order, whatever finishes first
    return (tf.data.Dataset.range(start, stop)
            .map(load, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
            .with_options(options))
