"""The trainer as a Python user meets it: a quiet import on h5train's backend, and ``as_dataset()``.

Import behaviour is checked in fresh processes (Keras fixes its backend at its
first import), with ``TF_CPP_MIN_LOG_LEVEL`` removed so that TensorFlow's
native start-up notices would reach stderr if nothing kept them off. The
dataset's batches are checked against rows gathered here with numpy, in the
order the documented sampler defines: ``default_rng([seed, epoch]).permutation``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from csv2h5.trainer import DataOptionError, HDF5Sequence

from csv2h5 import ConvertOptions, convert

REPORT = "import keras, os, sys; print(keras.backend.backend(), os.environ.get('KERAS_BACKEND'))\n"
TINY_FIT = (
    "import numpy as np\n"
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
    "model.compile(optimizer='sgd', loss='mse')\n"
    "model.fit(np.zeros((8, 4)), np.zeros((8, 2)), verbose=0)\n"
)


def _python(code: str, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env={**env, **environ})


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax installed")
def test_import_is_silent_and_picks_jax_when_keras_backend_is_unset():
    done = _python("from csv2h5.trainer import HDF5Sequence\n" + REPORT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == "jax jax\n"  # and worker processes started later inherit it


def test_import_honours_keras_backend_tensorflow_and_keeps_its_start_up_notices_off_stderr():
    done = _python("from csv2h5.trainer import HDF5Sequence\n" + REPORT + TINY_FIT, KERAS_BACKEND="tensorflow")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # oneDNN, CUDA drivers, CPU features at import; cuInit at the first model
    assert done.stdout == "tensorflow tensorflow\n"


def test_a_keras_the_program_imported_first_keeps_its_backend():
    code = (
        "import os\n"
        "os.environ['KERAS_BACKEND'] = 'tensorflow'\n"
        "import keras\n"
        "del os.environ['KERAS_BACKEND']\n"
        "from csv2h5.trainer import HDF5Sequence\n" + REPORT
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tensorflow None\n"  # not switched, not refused, the environment left alone


_KERAS_MODULES = sorted(  # the package's modules that load Keras when imported, however they import it
    path.stem
    for path in (Path(__file__).parents[2] / "trainer").glob("*.py")
    if re.search(r"^(import keras|from \S+ import keras)$", path.read_text(encoding="utf-8"), re.M)
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax installed")
@pytest.mark.parametrize("module", _KERAS_MODULES)
def test_importing_a_module_of_the_package_first_picks_the_same_backend_silently(module):
    """``from csv2h5.trainer.preprocess import encoding_layer`` (the README's) loads Keras as HDF5Sequence does."""
    done = _python(f"import csv2h5.trainer.{module}\n" + REPORT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == "jax jax\n"


def test_importing_a_module_of_the_package_first_keeps_tensorflow_notices_off_stderr():
    done = _python("from csv2h5.trainer.preprocess import encoding_layer\n" + REPORT, KERAS_BACKEND="tensorflow")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == "tensorflow tensorflow\n"


def _oracle_batches(x: np.ndarray, codes: np.ndarray, *, seed: int, epoch: int, batch_size: int):
    order = np.random.default_rng([seed, epoch]).permutation(len(x))
    for start in range(0, len(x), batch_size):
        rows = np.sort(order[start : start + batch_size])  # a batch's rows, read in file order
        yield x[rows].astype(np.float32), codes[rows].astype(np.int32)


def _same(got, expected) -> None:
    got, expected = list(got), list(expected)
    assert len(got) == len(expected)
    for (gx, gy), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(np.asarray(gx), ex)
        np.testing.assert_array_equal(np.asarray(gy), ey)


def test_as_dataset_yields_the_sequence_batches_epoch_after_epoch(make_data, tmp_path):
    path, x, codes = make_data(tmp_path, rows=103, chunk_rows=8)
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", seed=7, scale=None)
    dataset = seq.as_dataset()
    for epoch in (0, 1):  # each pass is the next epoch
        assert seq.epoch == epoch
        passed = [tuple(t.numpy() for t in batch) for batch in dataset]
        _same(passed, _oracle_batches(x, codes, seed=7, epoch=epoch, batch_size=16))
        _same(passed, (seq.read_batch(i, epoch=epoch) for i in range(len(seq))))
    assert seq.epoch == 2
    assert not np.array_equal(np.asarray(passed[0][1]), next(_oracle_batches(x, codes, seed=7, epoch=0, batch_size=16))[1])
    seq.set_epoch(1)  # resume: the next pass is epoch 1 again
    _same([tuple(t.numpy() for t in batch) for batch in dataset], _oracle_batches(x, codes, seed=7, epoch=1, batch_size=16))


@pytest.mark.parametrize("epochs", [1, 2])  # a pass per epoch, and a pass over several
def test_a_pass_dropped_after_a_batch_leaves_the_epoch_for_the_next_pass(make_data, tmp_path, epochs):
    # Keras on JAX looks at one batch of a pass to build a model whose optimizer is not built, then starts afresh.
    path, x, codes = make_data(tmp_path, rows=103, chunk_rows=8)
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", seed=7, scale=None)
    seq.set_epoch(3)
    dataset = seq.as_dataset(epochs=epochs)
    peek = iter(dataset)
    next(peek)
    del peek
    assert seq.epoch == 3
    passed = [tuple(t.numpy() for t in batch) for batch in dataset]
    _same(passed, [b for e in range(3, 3 + epochs) for b in _oracle_batches(x, codes, seed=7, epoch=e, batch_size=16)])
    assert seq.epoch == 3 + epochs


def test_a_pass_dropped_before_its_last_batch_leaves_the_epoch_however_long_it_waits(make_data, tmp_path):
    # Nothing reads the last batch ahead: tf.data adds a prefetch after a pipeline's last stage unless told not to.
    path, x, codes = make_data(tmp_path, rows=48, chunk_rows=8)
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", seed=7, scale=None)
    seq.set_epoch(2)
    peek = iter(seq.as_dataset())
    next(peek), next(peek)  # two of the epoch's three batches
    time.sleep(0.5)  # time for anything reading ahead to read the third
    assert seq.epoch == 2
    next(peek)
    assert seq.epoch == 3


def test_fit_on_a_fresh_model_trains_from_the_epoch_set(make_data, tmp_path):
    path, x, codes = make_data(tmp_path, rows=103, chunk_rows=8)
    train = HDF5Sequence(path, batch_size=16, shuffle="global", seed=1, scale="unit")
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # its optimizer built by fit
    train.set_epoch(2)
    model.fit(train.as_dataset(epochs=2), epochs=2, steps_per_epoch=len(train), shuffle=False, verbose=0)
    assert train.epoch == 4  # epochs 2 and 3, on any backend


def test_as_dataset_trains_one_pass_per_epoch_from_where_set_epoch_put_it(make_data, tmp_path):
    path, x, codes = make_data(tmp_path, rows=103, chunk_rows=8)
    train = HDF5Sequence(path, batch_size=32, shuffle="global", seed=1, scale="unit")
    val = HDF5Sequence(path, batch_size=32, shuffle="none", scale="unit")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train.set_epoch(5)
    history = model.fit(
        train.as_dataset(), validation_data=val.as_dataset(), epochs=2, shuffle=False, verbose=0
    )  # shuffle=False: the order is the dataset's; Keras warns it ignores True
    assert train.epoch == 7  # epochs 5 and 6, one pass each: nothing read ahead, skipped or repeated
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert np.isfinite(history.history["val_loss"]).all()


def test_as_dataset_with_epochs_is_one_pass_over_that_many_epochs_for_fit_with_steps(make_data, tmp_path):
    path, x, codes = make_data(tmp_path, rows=103, chunk_rows=8)
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", seed=2, scale=None)
    seq.set_epoch(3)
    dataset = seq.as_dataset(epochs=2)
    _same(
        [tuple(t.numpy() for t in batch) for batch in dataset],
        [b for e in (3, 4) for b in _oracle_batches(x, codes, seed=2, epoch=e, batch_size=16)],
    )
    assert seq.epoch == 5
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(seq.as_dataset(epochs=3), epochs=3, steps_per_epoch=len(seq), shuffle=False, verbose=0)
    assert seq.epoch == 8 and len(history.history["loss"]) == 3  # one pass for the three epochs, none begun after


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_as_dataset_refuses_a_number_of_epochs_that_is_not_positive(make_data, tmp_path, epochs):
    from csv2h5.trainer import DataOptionError

    path, _, _ = make_data(tmp_path, rows=40)
    with pytest.raises(DataOptionError, match="positive number of epochs"):
        HDF5Sequence(path, batch_size=16).as_dataset(epochs=epochs)


def test_class_weight_keys_and_weights_that_are_not_classes_and_numbers_are_named(tmp_path):
    """A key that is no class (neither label nor code) or a weight that is not a number: one DataOptionError."""
    csv = tmp_path / "t.csv"
    csv.write_text("x,label\n" + "".join(f"{i},{'cat' if i % 3 else 'dog'}\n" for i in range(30)))
    convert([csv], tmp_path / "t.h5", options=ConvertOptions(target=("label",)))
    for weights, message in (
        (
            {"bird": 2.0},
            r"class 'bird', which is neither a class label nor a class code of .*t.h5"
            r" \(classes: code 0 is 'cat', code 1 is 'dog'\)$",
        ),
        ({2: 2.0}, r"class 2, which is neither a class label nor a class code"),
        ({1: "heavy"}, r"class_weight of class 1 must be a number 0 or more, got 'heavy'"),
        ({0: -1.0}, r"must be a number 0 or more, got -1.0"),
    ):
        with pytest.raises(DataOptionError, match=message):
            HDF5Sequence(tmp_path / "t.h5", batch_size=30, shuffle="none", class_weight=weights)
    seq = HDF5Sequence(tmp_path / "t.h5", batch_size=30, shuffle="none", class_weight={np.int64(1): 2.0, 0.0: 0.5})
    _, y, w = seq[0]
    np.testing.assert_array_equal(w, np.where(y == 1, 2.0, 0.5))


def test_class_weight_keys_may_be_labels_or_codes_and_a_key_that_could_be_either_is_refused(tmp_path):
    """Labels as the CSV wrote them; codes 0..K-1 as the batches hold them. The oracle: each row's label in the CSV."""
    csv = tmp_path / "t.csv"
    labels = [(1, 2, 2, 3, 3, 3)[i % 6] for i in range(30)]  # numbers 1..3: stored as codes 0..2
    csv.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    convert([csv], tmp_path / "n.h5", options=ConvertOptions(target=("label",)))
    words = tmp_path / "w.csv"  # the same rows with words for labels: 'one' < 'three' < 'two' as codes
    words.write_text("x,label\n" + "".join(f"{i},{('one', 'two', 'three')[label - 1]}\n" for i, label in enumerate(labels)))
    convert([words], tmp_path / "w.h5", options=ConvertOptions(target=("label",)))

    def row_weights(path, weights):
        return HDF5Sequence(path, batch_size=30, shuffle="none", class_weight=weights)[0][2]

    by_label = {1: 5.0, 2: 1.0, 3: 0.5}
    expected = [by_label[label] for label in labels]
    for path, weights in (
        ("n.h5", by_label),  # 3 is a label only: so are 1 and 2
        ("n.h5", {"1": 5.0, 3: 0.5}),  # a number label written as text is that label
        ("n.h5", {0: 5.0, 1: 1.0, 2: 0.5}),  # 0 is a code only: so are 1 and 2
        ("w.h5", {"one": 5.0, "three": 0.5}),
        ("w.h5", {0: 5.0, 1: 0.5}),  # codes of text labels: sorted, 'one', 'three', 'two'
    ):
        np.testing.assert_array_equal(row_weights(tmp_path / path, weights), expected, err_msg=f"{path} {weights}")
    for path, weights, message in (
        (
            "n.h5",
            {1: 5.0},
            r"key 1 may be the label 1 \(code 0\) or the code 1 \(label 2\), and no other key says which;"
            r" write the label as text \('1': \.\.\.\), or give every class a weight by code \(classes: code 0 is 1,",
        ),
        ("n.h5", {1: 5.0, 0: 1.0, "3": 2.0}, r"key 1 may be .* and the other keys mix labels and codes"),
        ("n.h5", {4: 5.0}, r"class 4, which is neither a class label nor a class code"),
        ("w.h5", {"one": 5.0, 0: 1.0}, r"gives class 'one' \(code 0\) two weights: 'one' and 0"),
        ("w.h5", {"four": 5.0}, r"class 'four', which is neither"),
    ):
        with pytest.raises(DataOptionError, match=message):
            row_weights(tmp_path / path, weights)
