"""model.fit on HDF5Sequence with worker processes started by spawn and by forkserver.

Keras's PyDataset takes ``multiprocessing.Pool``, so it follows the process's
start method. Under spawn and forkserver a worker gets the sequence by pickling
(no open HDF5 handle crosses over: each process opens the file itself) and
imports the reader afresh. The oracle: the same model trained in-process on the
same sequence; batches arrive in order whatever the pool, so the weights must be
equal bit for bit.
"""

from __future__ import annotations

import multiprocessing

import keras
import numpy as np
import pytest

from csv2h5.trainer import HDF5Sequence

CLASSES, FEATURES = 3, 12  # as in conftest.make_file


@pytest.fixture
def start_method(request):
    before = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(request.param, force=True)
    yield request.param
    multiprocessing.set_start_method(before, force=True)


def _trained_weights(path, **pool) -> list[np.ndarray]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", scale="unit", seed=4, **pool)
    seq[0]  # the parent has the file open before the workers start
    model.fit(seq, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"], indirect=True)
def test_fit_with_worker_processes_equals_fit_in_process(data, start_method):
    path, _, _ = data
    in_process = _trained_weights(path)
    in_workers = _trained_weights(path, workers=2, use_multiprocessing=True, max_queue_size=4)
    assert multiprocessing.get_start_method() == start_method
    for a, b in zip(in_process, in_workers, strict=True):
        assert np.array_equal(a, b), f"weights differ under {start_method}"
