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


def rows_trained_per_epoch(path: str, epochs: int, shuffle: str = "global", **pool: object) -> list[list[int]] | str:
    """JAX only: the rows each epoch's training steps took, as the steps saw them (a callback inside the
    compiled step, so the count is what Keras fed, not what the sequence was asked for); or the refusal."""
    import jax
    from csv2h5.trainer import DataOptionError

    seen: list = []

    class Recording(keras.Model):
        def train_step(self, state, data):
            jax.debug.callback(lambda x: seen.append(np.asarray(x)[:, 0].astype(int).tolist()), data[0], ordered=True)
            return super().train_step(state, data)

    class EpochMark(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            jax.effects_barrier()
            seen.append(None)

    seq = HDF5Sequence(path, batch_size=8, shuffle=shuffle, seed=3, scale=None, missing=None, **pool)
    inputs = keras.Input((seq.info.num_features,))
    model = Recording(inputs, keras.layers.Dense(CLASSES, activation="softmax")(inputs))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    try:
        model.fit(seq, epochs=epochs, verbose=0, callbacks=[EpochMark()])
    except DataOptionError as error:
        return str(error)
    per_epoch, rows = [], []
    for step in seen:
        if step is None:
            per_epoch.append(rows)
            rows = []
        else:
            rows.extend(step)
    return per_epoch


def _numbered_rows(tmp_path) -> str:
    """400 rows whose first feature is the row's number: 50 batches of 8, well past Keras's queue of 10."""
    from csv2h5 import ConvertOptions, convert

    csv = tmp_path / "numbered.csv"
    csv.write_text("row,noise,label\n" + "".join(f"{i},{(i * 7) % 5},{i % CLASSES}\n" for i in range(400)))
    convert([csv], tmp_path / "numbered.h5", options=ConvertOptions(target=("label",)))
    return str(tmp_path / "numbered.h5")


def test_jax_fit_trains_every_row_once_an_epoch_with_one_worker(tmp_path):
    """Over many more batches than Keras queues, on JAX: each epoch's steps took rows 0..399 once each."""
    per_epoch = on_backend("jax", "test_keras_contract:rows_trained_per_epoch", _numbered_rows(tmp_path), 3)
    assert len(per_epoch) == 3
    for rows in per_epoch:
        assert sorted(rows) == list(range(400))


@pytest.mark.parametrize("shuffle", ["global", "none"])
@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_jax_fit_refuses_workers_that_would_repeat_and_skip_rows(tmp_path, pool, shuffle):
    """Keras 3.15's JAX fit feeds batches its workers read ahead into the wrong epoch (rows twice, others
    never, shuffled or not): a sequence fitted with workers is refused before any step, the way out named."""
    path = _numbered_rows(tmp_path)
    result = on_backend("jax", "test_keras_contract:rows_trained_per_epoch", path, 2, shuffle, **POOLS[pool])
    if not isinstance(result, str):  # trained: then every epoch must still have taken every row once
        assert [sorted(rows) for rows in result] == [list(range(400))] * 2
    assert isinstance(result, str) and "workers=1" in result and "JAX" in result


def evaluated_with_workers(path: str, **pool: object) -> tuple[str, float, float, int]:
    """JAX, a sequence read ahead by ``pool``: what ``evaluate`` of a model not built yet says (Keras reads a batch
    to build it: the refusal), its loss once the model is built against the same rows in RAM (h5py), and the
    epochs a ``fit`` with that sequence as ``validation_data`` (training data read by one worker) ran."""
    import h5py
    from csv2h5.trainer import DataOptionError

    def model() -> keras.Model:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((2,))
        built = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(inputs))
        built.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return built

    with h5py.File(path, "r") as f:
        x, y = f["features"][:].astype(np.float32), f["target"][:].astype(np.int32)
    seq = HDF5Sequence(path, batch_size=8, scale=None, missing=None, **pool)  # default shuffle: it would train
    try:
        model().evaluate(seq, verbose=0)
        refusal = ""
    except DataOptionError as error:
        refusal = str(error)
    built = model()
    in_ram = built.evaluate(x, y, batch_size=8, verbose=0)  # builds the model and its loss
    from_file = built.evaluate(seq, verbose=0)
    train = HDF5Sequence(path, batch_size=8, scale=None, missing=None)
    history = built.fit(train, validation_data=seq, epochs=2, verbose=0)
    return refusal, float(from_file), float(in_ram), len(history.history["val_loss"])


@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_jax_evaluate_reads_ahead_only_for_a_built_model(tmp_path, pool):
    """Keras's JAX evaluate reads a batch ahead to build a model not built yet (refused, as in fit); a built
    model's evaluate, and fit's validation, read each pass whole: kept, scoring what the rows in RAM score."""
    refusal, from_file, in_ram, validated = on_backend(
        "jax", "test_keras_contract:evaluated_with_workers", _numbered_rows(tmp_path), **POOLS[pool]
    )
    assert "workers=1" in refusal and "JAX" in refusal
    assert from_file == pytest.approx(in_ram, rel=1e-6)
    assert validated == 2
