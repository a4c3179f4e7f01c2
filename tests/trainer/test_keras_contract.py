"""Keras's own PyDataset adapter contract, replayed on HDF5Sequence.

The cases follow keras/src/trainers/data_adapters/py_dataset_adapter_test.py
(Keras 3): the basic flow single-worker, with threads and with processes
(types, shapes, dtypes, order), class weights, inference (x only), an exception
in a batch, a smaller last batch, then ``model.fit(epochs=3)`` with each.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from backends import on_backend
from csv2h5.trainer import HDF5Sequence
from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

CLASSES, FEATURES, ROWS = 3, 12, 103  # as in conftest.make_file
POOLS = {
    "single": {},
    "threads": {"workers": 2, "max_queue_size": 10},
    "processes": {"workers": 2, "use_multiprocessing": True, "max_queue_size": 10},
}


def _row_ids(x_batch: np.ndarray, x_all: np.ndarray) -> list[int]:
    lookup = {row.tobytes(): i for i, row in enumerate(x_all)}
    return [lookup[r.astype(np.uint8).tobytes()] for r in np.asarray(x_batch)]


def _batches(seq: HDF5Sequence) -> list[tuple]:
    """What Keras's TensorFlow input pipeline yields for one epoch of ``seq``."""
    adapter = PyDatasetAdapter(seq, shuffle=False)
    return [tuple(b) if isinstance(b, tuple) else b for b in adapter.get_tf_dataset()]


@pytest.mark.parametrize("pool", list(POOLS))
@pytest.mark.parametrize("shuffle", ["none", "global"])
def test_basic_flow(data, pool, shuffle):
    path, x_all, codes = data
    seq = HDF5Sequence(path, batch_size=16, shuffle=shuffle, seed=3, scale=None, **POOLS[pool])
    batches = _batches(seq)
    assert len(batches) == 7  # 103 rows: six of 16 and a smaller last one
    order = []
    for i, batch in enumerate(batches):
        assert len(batch) == 2
        bx, by = batch
        assert isinstance(bx, tf.Tensor) and isinstance(by, tf.Tensor)
        assert bx.dtype == tf.float32 and by.dtype == tf.int32
        rows = 16 if i < 6 else ROWS - 6 * 16
        assert tuple(bx.shape) == (rows, FEATURES) and tuple(by.shape) == (rows,)
        ids = _row_ids(bx.numpy(), x_all)
        assert np.array_equal(by.numpy(), codes[ids])  # each label travels with its row
        order += ids
    if shuffle == "none":
        assert order == list(range(ROWS))
    else:
        assert order != list(range(ROWS)) and sorted(order) == list(range(ROWS))
        epoch0 = HDF5Sequence(path, batch_size=16, shuffle=shuffle, seed=3).order()
        assert order == [int(r) for i in range(0, ROWS, 16) for r in np.sort(epoch0[i : i + 16])]


@pytest.mark.parametrize("pool", list(POOLS))
def test_class_weights_and_sample_weights(data, pool):
    path, _, codes = data
    seq = HDF5Sequence(path, batch_size=16, shuffle="none", class_weight="balanced", **POOLS[pool])
    counts = np.bincount(codes, minlength=CLASSES)
    expected = ROWS / (CLASSES * counts)
    for i, (_bx, by, bw) in enumerate(_batches(seq)):
        assert bw.dtype == tf.float32
        assert np.allclose(bw.numpy(), expected[by.numpy()])
        assert np.array_equal(by.numpy(), codes[i * 16 : (i + 1) * 16])


@pytest.mark.parametrize("pool", list(POOLS))
def test_inference_mode_yields_x_alone(tmp_path, make_data, pool):
    path, x_all, _ = make_data(tmp_path, target=False)
    seq = HDF5Sequence(path, batch_size=16, shuffle=False, targets=False, scale=None, **POOLS[pool])
    batches = _batches(seq)
    assert all(len(b) == 1 and isinstance(b[0], tf.Tensor) for b in batches)  # Keras packs x as (x,)
    assert np.array_equal(np.concatenate([b[0].numpy() for b in batches]), x_all.astype(np.float32))
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(2)])
    assert model.predict(seq, verbose=0).shape == (ROWS, 2)


class _FailingAfterTwo(HDF5Sequence):
    def __getitem__(self, index):
        if index >= 2:
            raise ValueError("Expected exception")
        return super().__getitem__(index)


@pytest.mark.parametrize("pool", list(POOLS))
def test_exception_reported(data, pool):
    path, _, _ = data
    seq = _FailingAfterTwo(path, batch_size=16, shuffle="none", **POOLS[pool])
    it = iter(PyDatasetAdapter(seq, shuffle=False).get_tf_dataset())
    next(it)
    next(it)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected exception"):  # tf.data wraps it
        next(it)


def _fit_weights(path, *, shuffle: str, **pool) -> tuple[list[np.ndarray], keras.callbacks.History]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    small = dict(memory_budget=1000, block_bytes=16 * FEATURES) if shuffle == "blocks" else {}  # pools of 2 blocks of 16 rows
    seq = HDF5Sequence(path, batch_size=16, shuffle=shuffle, scale="unit", seed=1, **small, **pool)
    assert shuffle != "blocks" or seq.block_plan.pool_blocks == 2
    history = model.fit(seq, epochs=3, shuffle=False, verbose=0)
    return model.get_weights(), history


@pytest.mark.parametrize("shuffle", ["global", "window", "batch", "blocks", "none"])
def test_fit_three_epochs_the_same_with_threads_and_processes(data, shuffle):
    """Batches arrive in order whatever the pool, so the weights match the single worker's."""
    path, _, _ = data
    reference, history = _fit_weights(path, shuffle=shuffle)
    assert len(history.history["loss"]) == 3 and np.isfinite(history.history["loss"]).all()
    for pool in ("threads", "processes"):
        weights, _ = _fit_weights(path, shuffle=shuffle, **POOLS[pool])
        for a, b in zip(reference, weights):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"{shuffle} with {pool}")


def fit_and_replay(path: str, x: np.ndarray, codes: np.ndarray) -> tuple[list, list]:
    """Weights after fit(HDF5Sequence), and after replaying by hand the batches the file should give
    (unit-scaled rows in file order, balanced class weights) with train_on_batch.

    One worker: under JAX, Keras 3.15 feeds a PyDataset with workers > 1 starting at its second
    batch, the first coming last in every epoch (h5train reads ahead itself; see pipeline.py).
    """

    def fresh() -> keras.Model:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return model

    model = fresh()
    seq = HDF5Sequence(path, batch_size=16, shuffle="none", scale="unit", class_weight="balanced")
    model.fit(seq, epochs=2, shuffle=False, verbose=0)
    fitted = model.get_weights()
    scaled = (x / np.maximum(x.max(axis=0), 1)).astype(np.float32)
    weights = (ROWS / (CLASSES * np.bincount(codes, minlength=CLASSES))).astype(np.float32)
    model = fresh()
    for _ in range(2):
        for i in range(0, ROWS, 16):
            model.train_on_batch(scaled[i : i + 16], codes[i : i + 16].astype(np.int32), sample_weight=weights[codes[i : i + 16]])
    return fitted, model.get_weights()


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_fit_on_the_sequence_equals_training_on_the_batches_by_hand(data, backend):
    path, x, codes = data
    fitted, by_hand = on_backend(backend, "test_keras_contract:fit_and_replay", str(path), x, codes)
    for a, b in zip(fitted, by_hand, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
