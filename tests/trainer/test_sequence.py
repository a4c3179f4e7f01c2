"""HDF5Sequence: the PyDataset contract, orders, options, errors."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import inspect
import multiprocessing
import pickle
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from csv2h5.trainer import DataFileError, DataOptionError, HDF5Sequence, epoch_order
from csv2h5.trainer.rows import RowSource
from csv2h5.trainer.sequence_options import SequenceOptions
from hypothesis import given, settings
from hypothesis import strategies as st

CLASSES, FEATURES, ROWS = 3, 12, 103  # as in conftest.make_file


def _epoch(seq: HDF5Sequence) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(seq[i][:2] for i in range(len(seq))))
    return np.concatenate(xs), np.concatenate(ys)


def _row_ids(x_batch: np.ndarray, x_all: np.ndarray) -> list[int]:
    """Which file rows a batch holds (rows are distinct random bytes)."""
    lookup = {row.tobytes(): i for i, row in enumerate(x_all)}
    return [lookup[r.astype(np.uint8).tobytes()] for r in x_batch]


@given(
    n=st.integers(0, 500),
    seed=st.integers(0, 2**32 - 1),
    epoch=st.integers(0, 99),
    mode=st.sampled_from(["global", "window", "batch", "none"]),
    chunk=st.integers(1, 64),
    batch=st.integers(1, 64),
)
def test_epoch_order_is_a_reproducible_permutation(n, seed, epoch, mode, chunk, batch):
    order = epoch_order(n, seed=seed, epoch=epoch, mode=mode, chunk_rows=chunk, batch_size=batch)
    assert sorted(order.tolist()) == list(range(n))
    assert np.array_equal(order, epoch_order(n, seed=seed, epoch=epoch, mode=mode, chunk_rows=chunk, batch_size=batch))


def test_orders_change_between_epochs_and_modes_behave():
    a = epoch_order(1000, seed=1, epoch=0)
    assert not np.array_equal(a, epoch_order(1000, seed=1, epoch=1))
    assert not np.array_equal(a, epoch_order(1000, seed=2, epoch=0))
    batches = epoch_order(100, seed=0, epoch=0, mode="batch", batch_size=10).reshape(10, 10)
    assert all(np.array_equal(b, np.arange(b[0], b[0] + 10)) for b in batches)  # contiguous
    window = epoch_order(64, seed=0, epoch=0, mode="window", chunk_rows=4)
    for w in range(0, 64, 16):  # a window holds whole chunks
        chunks = set((window[w : w + 16] // 4).tolist())
        assert len(chunks) == 4


@given(n=st.integers(0, 300), batch=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), epoch=st.integers(0, 99))
def test_batch_order_cuts_into_whole_contiguous_batches_and_the_short_one_last(n, batch, seed, epoch):
    """As tf.data and Keras batch: every batch but the epoch's last is full, each one run of the file."""
    order = epoch_order(n, seed=seed, epoch=epoch, mode="batch", batch_size=batch)
    pieces = [order[i : i + batch] for i in range(0, n, batch)]
    whole, short = divmod(n, batch)
    starts = sorted(int(p[0]) for p in pieces[:whole])
    offset = starts[0] if starts else 0
    assert 0 <= offset <= short
    assert starts == list(range(offset, offset + whole * batch, batch))  # the whole batches, each once
    assert all(np.array_equal(p, np.arange(p[0], p[0] + batch)) for p in pieces[:whole])
    if short:  # the rows left over, before and after the whole batches, last
        assert pieces[-1].tolist() == list(range(offset)) + list(range(offset + whole * batch, n))


def test_a_batch_ordered_sequence_reads_the_short_batch_last_and_other_rows_in_it_each_epoch(data):
    path, x, _ = data  # 103 rows: ten batches of 10, then 3
    seq = HDF5Sequence(path, batch_size=10, shuffle="batch", seed=0, scale=None)
    lasts = set()
    for epoch in range(8):
        ids = [_row_ids(seq.read_batch(i, epoch=epoch)[0], x) for i in range(len(seq))]
        assert [len(b) for b in ids] == [10] * 10 + [3]
        assert sorted(r for b in ids for r in b) == list(range(103))
        assert all(b == list(range(b[0], b[0] + 10)) for b in ids[:-1])
        lasts.add(tuple(ids[-1]))
    assert len(lasts) > 1  # a run that drops the short batch (drop_remainder) does not drop the same rows every epoch


@pytest.mark.parametrize("mode", ["global", "window", "batch", "none"])
def test_each_epoch_visits_every_row_once_with_the_right_values(data, mode):
    path, x, y = data
    seq = HDF5Sequence(path, batch_size=10, shuffle=mode, seed=3, scale=None)
    assert len(seq) == 11
    for _ in range(2):
        xs, ys = _epoch(seq)
        assert xs.dtype == np.float32 and ys.dtype == np.int32 and xs.shape == (ROWS, FEATURES)
        ids = _row_ids(xs, x)
        assert sorted(ids) == list(range(ROWS))
        assert np.array_equal(ys, y[ids])
        if mode == "none":
            assert ids == list(range(ROWS))
        else:
            assert ids != list(range(ROWS))
        seq.on_epoch_end()


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(2, 90),
    batch=st.integers(1, 40),
    seed=st.integers(0, 99),
    epoch=st.integers(0, 5),
    mode=st.sampled_from(["global", "window", "batch", "none"]),
    subset=st.booleans(),
)
def test_memmap_and_chunk_reads_match_numpy(tmp_path_factory, make_data, rows, batch, seed, epoch, mode, subset):
    tmp = tmp_path_factory.mktemp("p")
    path, x, y = make_data(tmp, rows=rows, chunk_rows=7, seed=seed)
    lzf, _, _ = make_data(tmp, rows=rows, chunk_rows=7, seed=seed, compression="lzf")
    indices = np.arange(0, rows, 2) if subset else None
    # training=False: reads only; a small subset may hold one class, which training would refuse
    plain = HDF5Sequence(path, batch_size=batch, shuffle=mode, seed=seed, indices=indices, training=False, scale=None)
    packed = HDF5Sequence(lzf, batch_size=batch, shuffle=mode, seed=seed, indices=indices, training=False, scale=None)
    assert plain._readers.source().mapped and not packed._readers.source().mapped
    plain.set_epoch(epoch)
    packed.set_epoch(epoch)
    for i in range(len(plain)):
        (xa, ya), (xb, yb) = plain[i], packed[i]
        rows_i = plain.order()[i * batch : (i + 1) * batch]
        rows_i = rows_i if mode == "none" else np.sort(rows_i)  # a batch is read in file order
        assert np.array_equal(xa, x[rows_i].astype(np.float32)) and np.array_equal(xa, xb)
        assert np.array_equal(ya, y[rows_i]) and np.array_equal(ya, yb)


@pytest.mark.parametrize("rows,chunk_rows", [(500, 5), (40, 8), (2000, None)])
def test_converted_files_map_as_one_array(tmp_path, make_data, rows, chunk_rows):
    """The writer keeps /features chunks back to back: one map, gathered with np.take."""
    path, x, _ = make_data(tmp_path, rows=rows, chunk_rows=chunk_rows)
    source = RowSource(str(path))
    assert source.mapped and source.reader.runs == 1 and source.reader.window is None
    assert np.array_equal(source.take(np.arange(rows)[::-1]), x[::-1])
    source.close()


def test_memmap_reads_chunks_scattered_in_the_file(tmp_path):
    """Files from other writers may have other data between chunks: still one gather."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(500, 300), dtype=np.uint8)
    path = tmp_path / "scattered.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("features", shape=(0, 300), maxshape=(None, 300), chunks=(64, 300), dtype=np.uint8)
        for start in range(0, 500, 64):
            ds.resize(min(start + 64, 500), axis=0)
            ds[start:] = x[start : start + 64]
            f.flush()  # the chunk gets its place in the file now
            f.create_dataset(f"filler{start}", data=rng.random(5000 + start))  # lands between chunks
        f.attrs["csv2h5_format"] = 1
    source = RowSource(str(path))
    assert source.mapped and source.reader.runs == 8
    rows = rng.integers(0, 500, size=200)
    assert np.array_equal(source.take(rows), x[rows])
    source.close()


@pytest.mark.parametrize("rows,chunk_rows", [(500, 5), (5000, 5), (40, 8)])
def test_memmap_reads_any_chunk_layout(tmp_path, make_data, rows, chunk_rows):
    path, x, _ = make_data(tmp_path, rows=rows, chunk_rows=chunk_rows)
    source = RowSource(str(path))
    assert source.mapped
    rows = np.random.default_rng(0).integers(0, rows, size=300)
    assert np.array_equal(source.take(rows), x[rows])  # unsorted, with repeats
    assert np.array_equal(source.take(np.sort(rows)), x[np.sort(rows)])
    source.close()


def test_smaller_last_batch_drop_remainder_and_targets_false(data):
    path, x, _ = data
    seq = HDF5Sequence(path, batch_size=25, shuffle=False, scale=None)
    assert [len(seq[i][0]) for i in range(len(seq))] == [25, 25, 25, 25, 3]
    assert len(HDF5Sequence(path, batch_size=25, drop_remainder=True)) == 4
    only_x = HDF5Sequence(path, batch_size=25, shuffle=False, targets=False, scale=None)
    assert np.array_equal(only_x[0], x[:25].astype(np.float32))
    with pytest.raises(IndexError):
        seq[5]


def test_options_one_hot_scale_shape_weights_transform_shard(data):
    path, x, y = data
    seq = HDF5Sequence(
        path,
        batch_size=ROWS,
        shuffle=False,
        one_hot=True,
        scale="unit",
        sample_shape=(3, 4),
        class_weight="balanced",
        transform=_double,
    )
    xb, yb, wb = seq[0]
    assert xb.shape == (ROWS, 3, 4)
    assert np.allclose(xb.reshape(ROWS, -1), 2.0 * x / np.maximum(x.max(axis=0), 1))
    assert np.array_equal(yb.argmax(axis=1), y) and yb.dtype == np.float32
    counts = np.bincount(y, minlength=CLASSES)
    assert np.allclose(wb, (ROWS / (CLASSES * counts))[y])
    std = HDF5Sequence(path, batch_size=ROWS, shuffle=False, scale="standard")[0][0]
    assert np.allclose(std.mean(axis=0), 0, atol=1e-4) and np.allclose(std.std(axis=0), 1, atol=1e-4)
    shards = [HDF5Sequence(path, batch_size=7, shard=(i, 3), shuffle=False, scale=None) for i in range(3)]
    ids = sorted(i for s in shards for i in _row_ids(_epoch(s)[0], x))
    assert ids == list(range(ROWS))


def test_balanced_weights_count_only_the_classes_of_the_rows_used(tmp_path):
    """As scikit-learn's compute_class_weight("balanced", classes=present, y=codes): rows / (present * count)."""
    from csv2h5 import ConvertOptions, convert

    def csv(name: str, labels: str) -> Path:
        path = tmp_path / name
        path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{label}\n" for i, label in enumerate(labels)))
        return path

    convert([csv("all.csv", "xxxxxxyyyzzz")], tmp_path / "all.h5", options=ConvertOptions(target=("label",)))
    like = ConvertOptions(like=str(tmp_path / "all.h5"))  # classes x, y, z; no row of z
    convert([csv("no_z.csv", "xxxxyy")], tmp_path / "no_z.h5", options=like)
    # 6 rows, 2 classes present: x 6 / (2 * 4), y 6 / (2 * 2); z has no row: 1
    seq = HDF5Sequence(tmp_path / "no_z.h5", batch_size=6, shuffle=False, class_weight="balanced")
    _, y, w = seq[0]
    assert seq.info.classes == ["x", "y", "z"] and y.tolist() == [0, 0, 0, 0, 1, 1]
    assert np.allclose(w, [0.75] * 4 + [1.5] * 2) and np.isclose(seq._finish.sample_weights[2], 1.0)
    # the training rows of a file that holds z: the weights follow them, not the whole file; a shard keeps them
    rows = np.arange(9)  # x x x x x x y y y: 9 / (2 * 6), 9 / (2 * 3)
    for shard in (None, (1, 2)):
        seq = HDF5Sequence(tmp_path / "all.h5", batch_size=4, shuffle=False, class_weight="balanced", indices=rows, shard=shard)
        y, w = (np.concatenate(side) for side in zip(*(seq[i][1:] for i in range(len(seq)))))
        assert np.allclose(w, np.where(y == 0, 0.75, 1.5)) and set(y.tolist()) == {0, 1}


def _double(xb, yb):
    return xb * 2, yb


def test_split_is_disjoint_stratified_and_reproducible(data):
    path, _, y = data
    seq = HDF5Sequence(path, batch_size=8)
    train, val = seq.split(0.2, seed=1)
    assert not set(train.indices) & set(val.indices)
    assert sorted(list(train.indices) + list(val.indices)) == list(range(ROWS))
    assert np.array_equal(val.indices, seq.split(0.2, seed=1)[1].indices)
    for code in range(CLASSES):
        share = np.mean(y[val.indices] == code) - np.mean(y == code)
        assert abs(share) < 0.05


def test_a_split_keeps_every_option_but_its_rows_and_validation_reads_each_row_once(data):
    path, _, _ = data
    # Every keyword the constructor shows is an option of SequenceOptions, in its order.
    keywords = [p.name for p in inspect.signature(HDF5Sequence).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert keywords == [field.name for field in dataclasses.fields(SequenceOptions)]
    asked = dict(
        batch_size=6,
        shuffle="window",
        seed=7,
        one_hot=True,
        dtype="float64",
        scale="unit",
        missing="zero",
        sample_shape=(4, 3),
        class_weight={0: 2.0},
        transform=_double,
        batch_slice=(1, 2),
        drop_remainder=True,
        batches_per_epoch=3,
        training=True,
        memory_budget=1 << 30,
        block_bytes=1 << 16,
    )
    seq = HDF5Sequence(path, **asked, workers=2, max_queue_size=3)
    train, val = seq.split(0.3, seed=2)
    # validation as Keras evaluates: every row once, in file order, with the loss unweighted; transform kept
    held_out = {"shuffle": "none", "batches_per_epoch": None, "class_weight": None, "training": False}
    for side, options in ((train, asked), (val, {**asked, **held_out})):
        assert {name: getattr(side, name) for name in asked} == options
        assert side.options.seed == 7 and (side.workers, side.max_queue_size) == (2, 3) and side.info.rows == ROWS
    assert train.shuffle_reason == seq.shuffle_reason and "file order" in val.shuffle_reason
    with pytest.raises(TypeError, match="batchsize"):
        HDF5Sequence(path, batchsize=3)  # a misspelt keyword is refused, as by any Python function


@pytest.mark.parametrize("shuffle", ["global", "blocks"])
def test_the_validation_side_of_a_split_reads_every_held_out_row_once_in_file_order(data, shuffle):
    path, x, y = data
    seq = HDF5Sequence(
        path, batch_size=8, shuffle=shuffle, scale=None, batches_per_epoch=2, class_weight="balanced", transform=_double
    )
    train, val = seq.split(0.3, seed=2)
    held_out = sorted(set(range(ROWS)) - set(train.indices.tolist()))  # what the training side leaves
    assert abs(len(held_out) - 0.3 * ROWS) <= CLASSES and len(train) == 2  # rounded per class
    for _ in range(3):  # the same rows, in the same order, each pass; Keras calls on_epoch_end between
        batches = [val[i] for i in range(len(val))]
        assert all(len(batch) == 2 for batch in batches)  # (x, y): no class weights
        xs, ys = (np.concatenate(side) for side in zip(*batches))
        assert _row_ids(xs / 2, x) == held_out and np.array_equal(ys, y[held_out])  # transform kept: doubled
        val.on_epoch_end()
    plain = seq.split(0.3, seed=2, val_transform=None)[1]  # a transform that augments: training rows only
    assert plain.transform is None and _row_ids(_epoch(plain)[0], x) == held_out
    other = seq.split(0.3, seed=2, val_transform=_triple)[1]
    assert np.array_equal(_epoch(other)[0], 3.0 * x[held_out])
    with pytest.raises(DataOptionError, match="val_transform takes 'same'"):
        seq.split(0.3, val_transform="none")


def _triple(xb, yb):
    return xb * 3, yb


def test_pickling_drops_the_handle_and_keeps_the_epoch(data):
    path, _, _ = data
    seq = HDF5Sequence(path, batch_size=10)
    seq.set_epoch(4)
    first = seq[0]
    clone = pickle.loads(pickle.dumps(seq))
    assert clone._readers.rows is None and clone.epoch == 4
    assert np.array_equal(clone[0][0], first[0])


def _batches_in_pool(args):
    method, seq = args
    with multiprocessing.get_context(method).Pool(2) as pool:
        return pool.map(seq.__getitem__, range(len(seq)))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_worker_processes_give_identical_batches(data, method):
    path, _, _ = data
    seq = HDF5Sequence(path, batch_size=16, seed=5)
    seq.set_epoch(2)
    seq[0]  # the parent has the file open before the workers start
    here = [seq[i] for i in range(len(seq))]
    there = _batches_in_pool((method, seq))
    for (xa, ya), (xb, yb) in zip(here, there):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_errors_are_caught_in_init(tmp_path, data, make_data):
    path, _, _ = data
    with pytest.raises(DataFileError, match="no such file"):
        HDF5Sequence(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(DataFileError, match="not a readable HDF5"):
        HDF5Sequence(junk)
    with pytest.raises(DataOptionError, match="batch_size"):
        HDF5Sequence(path, batch_size=0)
    with pytest.raises(DataOptionError, match="indices has row 500"):
        HDF5Sequence(path, indices=[0, 500])
    with pytest.raises(DataOptionError, match="sample_shape"):
        HDF5Sequence(path, sample_shape=(5, 5))
    with pytest.raises(DataOptionError, match=r"got an array of bool; for a boolean mask pass np.flatnonzero\(mask\)"):
        HDF5Sequence(path, indices=np.arange(ROWS) < 50)  # read as rows 0 and 1, it would train on two rows
    with pytest.raises(DataOptionError, match="indices takes integer row numbers, got an array of float64"):
        HDF5Sequence(path, indices=[0.5, 2.0])
    with pytest.raises(DataOptionError, match="seed must be an integer in 0..4294967295, got -1"):
        HDF5Sequence(path, seed=-1)
    with pytest.raises(DataOptionError, match="set_epoch takes an epoch number of 0 or more, got -1"):
        HDF5Sequence(path).set_epoch(-1)
    with pytest.raises(DataOptionError, match="shuffle"):
        HDF5Sequence(path, shuffle="sometimes")
    no_target, _, _ = make_data(tmp_path, target=False, seed=9)
    with pytest.raises(DataOptionError, match="no /target"):
        HDF5Sequence(no_target)


@pytest.mark.parametrize(
    "given, message",
    [
        ({"targets": "no"}, "targets must be True or False, got 'no'"),  # bool("no") is True: batches with targets
        ({"one_hot": "yes"}, "one_hot must be True or False"),
        ({"drop_remainder": 1}, "drop_remainder must be True or False"),
        ({"indices": [[0, 1, 2]]}, r"indices takes a flat list of row numbers, got an array of shape \(1, 3\)"),
        ({"shard": 3}, r"shard must be \(index, count\)"),
        ({"shard": (0, 2, 1)}, r"shard must be \(index, count\)"),
        ({"dtype": "int7"}, "dtype 'int7' is not a numpy dtype"),
        ({"transform": 5}, "transform must be a callable"),
        ({"memory_budget": "lots"}, "memory_budget takes a size such as 8GB"),
        ({"memory_budget": [1]}, "memory_budget must be a positive number of bytes"),
        ({"indices": 5}, "indices takes a flat list of row numbers, got the single number 5"),
        ({"memory_budget": float("inf")}, "memory_budget must be a positive number of bytes"),
        ({"batches_per_epoch": 1.5}, "batches_per_epoch must be a positive integer, got 1.5"),  # not read as 1
        ({"batches_per_epoch": "2"}, "batches_per_epoch must be a positive integer, got '2'"),
        ({"batches_per_epoch": 0}, "batches_per_epoch must be a positive integer, got 0"),
        ({"indices": []}, "indices is empty, so there are no rows to train on"),  # Keras would fail unclearly
        ({"shard": (ROWS + 1, ROWS + 2)}, rf"shard \({ROWS + 1}, {ROWS + 2}\) takes none of the {ROWS} rows used"),
    ],
)
def test_python_callers_wrong_types_are_named_not_tracebacks_or_silent(data, given, message):
    path, _, _ = data
    with pytest.raises(DataOptionError, match=message):
        HDF5Sequence(path, **given)


def test_a_sequence_that_trains_on_nothing_is_refused_and_one_that_only_reads_is_not(data):
    path, _, _ = data
    for asked in ({"indices": []}, {"shard": (ROWS, ROWS + 1)}):
        with pytest.raises(DataOptionError, match="no rows to train on"):
            HDF5Sequence(path, shuffle="none", training=True, **asked)
        assert len(HDF5Sequence(path, shuffle="none", training=False, **asked)) == 0  # an empty prediction is one
    assert HDF5Sequence(path, batches_per_epoch=np.int64(2)).batches_per_epoch == 2


def test_a_shard_of_numpy_integers_is_taken(data):
    path, x, _ = data
    second = HDF5Sequence(path, batch_size=4, shuffle=False, scale=None, shard=(np.int64(1), np.int64(2)))
    assert second.options.shard == (1, 2) and type(second.options.shard[0]) is int
    np.testing.assert_array_equal(second[0][0], x[1::2][:4])


def test_memory_budget_takes_a_size_as_h5train_does(data):
    path, _, _ = data
    assert HDF5Sequence(path, memory_budget="2 MB").memory_budget == 2_000_000
    assert HDF5Sequence(path, memory_budget=2e6).memory_budget == 2_000_000


@pytest.mark.parametrize("shuffle", ["global", "none", "blocks"])
def test_an_order_or_indices_handed_out_cannot_be_changed_under_the_batches(data, shuffle):
    """seq.order() and seq.indices are the arrays the batches are read by: a caller sorting the order it got
    (to see which rows an epoch holds) would have put the epoch in file order, and changed indices its rows."""
    path, x, _ = data
    options = dict(
        batch_size=10, shuffle=shuffle, seed=5, scale=None, indices=np.arange(3, ROWS), memory_budget=3000, block_bytes=120
    )
    seq, untouched = HDF5Sequence(path, **options), HDF5Sequence(path, **options)
    order, indices = seq.order(1), seq.indices
    with pytest.raises(ValueError, match="read-only"):
        order.sort()
    with pytest.raises(ValueError, match="read-only"):
        indices[:] = 0
    assert np.array_equal(np.sort(order), np.arange(3, ROWS)) and np.array_equal(indices, np.arange(3, ROWS))
    for i in range(len(seq)):
        rows = np.sort(untouched.order(1)[i * 10 : (i + 1) * 10])
        assert np.array_equal(seq.read_batch(i, epoch=1)[0], x[rows].astype(np.float32))
    mine = seq.order(1).copy()  # a copy is the caller's to change
    mine.sort()


def test_unit_scales_every_column_into_minus_one_to_one_by_its_largest_magnitude(tmp_path):
    """A column of negative numbers (its min the larger magnitude) lands in -1..1 too, in HDF5Sequence and in
    h5train's --normalize unit layer: both divide by max(|min|, |max|), as numpy on the CSV's values does."""
    from csv2h5.trainer.models import preprocessing

    from csv2h5 import ConvertOptions, convert

    x = np.array([[-10.0, 2.0, 0.0, -0.5], [1.0, -4.0, 0.0, -2.0], [5.0, 8.0, 0.0, -1.0], [-3.0, 1.0, 0.0, -0.25]])
    csv = tmp_path / "signed.csv"
    csv.write_text("a,b,c,d,label\n" + "".join(",".join(map(str, row)) + f",{i % 2}\n" for i, row in enumerate(x)))
    path = tmp_path / "signed.h5"
    convert([csv], path, options=ConvertOptions(target=("label",)))
    expected = x / np.where(np.abs(x).max(axis=0) == 0, 1, np.abs(x).max(axis=0))
    seq = HDF5Sequence(path, batch_size=4, shuffle="none", scale="unit")
    np.testing.assert_allclose(seq[0][0], expected, rtol=1e-6)
    layer = preprocessing(seq.info, "unit")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x.astype(np.float32))), expected, rtol=1e-6)


def test_unit_leaves_categorical_codes_as_codes(tmp_path):
    """A code over the largest code is no code at all: ``unit`` divides the numbers (numpy on the CSV's values)
    and passes a text column's codes as the file stores them (read with h5py), in HDF5Sequence and the layer."""
    import h5py
    from csv2h5.trainer.models import preprocessing

    from csv2h5 import ConvertOptions, convert

    cities = ["oslo", "rome", "lima", "oslo", "kyiv", "rome"]
    amounts = np.array([4.0, -8.0, 2.0, 1.0, 0.5, 6.0])
    csv = tmp_path / "cities.csv"
    csv.write_text("city,amount,label\n" + "".join(f"{c},{a},{i % 2}\n" for i, (c, a) in enumerate(zip(cities, amounts))))
    path = tmp_path / "cities.h5"
    convert([csv], path, options=ConvertOptions(target=("label",), categorical=("city",)))
    with h5py.File(path, "r") as f:
        codes = f["features"][:, 0].astype(np.float32)
    assert codes.max() == 3  # four cities: codes 0..3, not scaled into 0..1
    seq = HDF5Sequence(path, batch_size=6, shuffle="none", scale="unit")
    x = seq[0][0]
    np.testing.assert_array_equal(x[:, 0], codes)
    np.testing.assert_allclose(x[:, 1], amounts / 8.0, rtol=1e-6)
    layer = preprocessing(seq.info, "unit")
    raw = np.stack([codes, amounts.astype(np.float32)], axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(raw)), x, rtol=1e-6)


def _tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("workers,processes", [(1, False), (2, False), (2, True)])
def test_keras_fit_with_threads_and_processes(data, workers, processes):
    path, _, _ = data
    seq = HDF5Sequence(path, batch_size=16, scale="unit", workers=workers, use_multiprocessing=processes)
    history = _tiny_model().fit(seq, epochs=3, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 3 and np.isfinite(history.history["loss"]).all()
    assert seq.epoch >= 3  # on_epoch_end moved the order on


def _explode(xb, yb):
    raise RuntimeError("boom in a batch")


def test_an_exception_in_a_batch_is_reported(data):
    path, _, _ = data
    seq = HDF5Sequence(path, batch_size=16, transform=_explode)
    with pytest.raises(Exception, match="boom in a batch"):
        _tiny_model().fit(seq, epochs=1, shuffle=False, verbose=0)


def test_read_batch_reads_any_epoch_from_many_threads(data):
    """Batch i of epoch e is the same whatever the current epoch and however many threads read at once."""
    path, x, y = data
    seq = HDF5Sequence(path, batch_size=10, seed=4, scale=None)
    wanted = [(e, i) for e in range(4) for i in range(len(seq))]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda ei: seq.read_batch(ei[1], epoch=ei[0]), wanted))
    for (epoch, index), (xb, yb) in zip(wanted, got, strict=True):
        rows = np.sort(epoch_order(ROWS, seed=4, epoch=epoch)[index * 10 : (index + 1) * 10])
        assert np.array_equal(xb, x[rows].astype(np.float32)) and np.array_equal(yb, y[rows])
    assert seq.epoch == 0 and len(seq._orders) <= 2  # reading asks for no epoch change; two orders kept at most


@pytest.mark.parametrize("count", [1, 2, 4])
def test_batch_slices_of_the_workers_make_up_the_global_batch(data, count):
    path, x, y = data
    whole = HDF5Sequence(path, batch_size=20, seed=6, drop_remainder=True, scale=None)
    parts = [HDF5Sequence(path, batch_size=20, seed=6, batch_slice=(k, count), scale=None) for k in range(count)]
    assert all(len(p) == len(whole) == ROWS // 20 for p in parts)  # the partial global batch is left out
    for epoch in (0, 3):
        order = epoch_order(ROWS, seed=6, epoch=epoch)
        for i in range(len(whole)):
            global_rows = order[i * 20 : (i + 1) * 20]
            one_process = np.sort(global_rows)  # as one process reads the batch: in file order
            slices = [part.read_batch(i, epoch=epoch) for part in parts]
            xb, yb = (np.concatenate(column) for column in zip(*slices))  # the workers' slices side by side
            assert np.array_equal(xb, x[one_process].astype(np.float32)) and np.array_equal(yb, y[one_process])
            assert np.array_equal(xb, whole.read_batch(i, epoch=epoch)[0])
    with pytest.raises(DataOptionError, match="does not split evenly over 3 workers"):
        HDF5Sequence(path, batch_size=20, batch_slice=(0, 3))
    with pytest.raises(DataOptionError, match="0 <= index < count"):
        HDF5Sequence(path, batch_size=20, batch_slice=(2, 2))


@pytest.mark.parametrize("shuffle", ["global", "none"])
def test_batches_cut_short_and_changed_by_the_caller_stay_right(data, shuffle):
    """With batches_per_epoch, the read batches are the epoch's first ones; a caller changing the targets
    (or rows) it got does not change what the next read returns (the epoch's batches are made once, shared)."""
    path, x, y = data
    seq = HDF5Sequence(path, batch_size=10, shuffle=shuffle, seed=5, scale=None, batches_per_epoch=4)
    assert len(seq) == 4
    for epoch in (0, 2):
        order = epoch_order(ROWS, seed=5, epoch=epoch, mode=shuffle)
        for index in range(len(seq)):
            xb, yb = seq.read_batch(index, epoch=epoch)
            xb += 1
            yb += 1
            xb, yb = seq.read_batch(index, epoch=epoch)
            rows = order[index * 10 : (index + 1) * 10]
            rows = rows if shuffle == "none" else np.sort(rows)
            assert np.array_equal(xb, x[rows].astype(np.float32)) and np.array_equal(yb, y[rows])
