"""Training on TensorFlow's distribution engine: ``--strategy default|mirrored``.

``mirrored`` (tf.distribute.MirroredStrategy) trains one model on every local
GPU (on a machine without one, on the CPU). The model is built and compiled in
the strategy's scope; Keras distributes the batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator

import keras
import numpy as np

from .errors import DataOptionError

STRATEGIES = ("default", "mirrored")


@dataclasses.dataclass(frozen=True)
class Distribution:
    """How this process trains: Keras's default, or a tf.distribute strategy."""

    name: str
    strategy: object | None  # a tf.distribute.Strategy, or None for Keras's default

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        if self.strategy is None:
            yield
        else:
            with self.strategy.scope():
                yield


def distribution(name: str) -> Distribution:
    if name not in STRATEGIES:
        hint = ("; multi-worker training is not supported yet: Keras 3's fit fails under "
                "MultiWorkerMirroredStrategy (tensorflow/tensorflow#72388)" if name == "multi-worker" else "")
        raise DataOptionError(f"--strategy {name!r} is not one of {', '.join(STRATEGIES)}{hint}")
    if name == "default":
        return Distribution(name, None)
    if keras.backend.backend() != "tensorflow":
        raise DataOptionError(f"--strategy {name} needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    import tensorflow as tf

    return Distribution(name, tf.distribute.MirroredStrategy())


def weights_digest(model: keras.Model) -> str:
    """A short hash of the weights, to compare models without moving them."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]
