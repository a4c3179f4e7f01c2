"""The blocks order: a permutation per epoch, a bounded pool, mixed batches, the same in every process."""

from __future__ import annotations

import concurrent.futures
import errno
import multiprocessing
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.blocks import (
    HELD_BLOCKS,
    POOL_SHARE,
    READER_PROCESS_BYTES,
    RUNTIME_BYTES,
    RUNTIME_ROW_BYTES,
    BlockPlan,
    blocks_order,
    data_memory,
    plan_blocks,
    too_little,
)
from csv2h5.trainer.memory import Memory
from csv2h5.trainer.readahead import AHEAD_BLOCKS, READ_THREADS, BlockReader
from csv2h5.trainer.rowfile import RowFile
from hypothesis import given, settings
from hypothesis import strategies as st

from csv2h5 import ConvertOptions, convert

LABELS, PER_LABEL, FEATURES, CHUNK = 10, 8000, 12, 64
BLOCK_ROWS, POOL = 256, 64  # blocks of 4 chunks; the file holds 312 of them, the pool a fifth
BLOCK_BYTES = BLOCK_ROWS * FEATURES  # rows are FEATURES uint8 values
BUDGET = int(POOL * BLOCK_BYTES / POOL_SHARE) + 1  # the pool takes POOL_SHARE of the budget: 64 blocks


def _open_rows(order: np.ndarray, batch: int, unit: int) -> int:
    """The most rows a reader must hold at one batch: units (chunks) read before or at it and again at or after it.

    Built from the order alone, whatever made it: for each unit of ``unit`` consecutive rows,
    its first and last batch; at batch t every unit with first <= t <= last is held.
    """
    units = order // unit
    batches = np.arange(order.size) // batch
    first = np.full(units.max() + 1, batches.size, dtype=np.int64)
    last = np.full(units.max() + 1, -1, dtype=np.int64)
    np.minimum.at(first, units, batches)
    np.maximum.at(last, units, batches)
    size = np.bincount(units)
    held = np.zeros(batches[-1] + 2, dtype=np.int64)
    used = last >= 0
    np.add.at(held, first[used], size[used])
    np.add.at(held, last[used] + 1, -size[used])
    return int(np.cumsum(held).max())


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
    epoch=st.integers(0, 99),
    chunk=st.integers(1, 16),
    batch=st.integers(1, 64),
    chunks_per_block=st.integers(1, 8),
    pool=st.integers(2, 12),
)
def test_each_epoch_is_a_reproducible_permutation_read_from_a_bounded_pool(n, seed, epoch, chunk, batch, chunks_per_block, pool):
    block_rows = max(chunks_per_block * chunk, -(-batch // chunk) * chunk)  # whole chunks, at least a batch
    plan = BlockPlan(block_rows=block_rows, pool_blocks=pool, chunk_rows=chunk)
    order = blocks_order(n, seed=seed, epoch=epoch, plan=plan, batch_size=batch)
    assert sorted(order.tolist()) == list(range(n))
    assert np.array_equal(order, blocks_order(n, seed=seed, epoch=epoch, plan=plan, batch_size=batch))
    if n:
        # A block holds at most block_rows + batch - 1 rows (the remainder joins the last block when short).
        assert _open_rows(order, batch, chunk) <= pool * (block_rows + batch - 1)


def test_the_pool_bound_is_tight_and_orders_change_between_epochs():
    plan = BlockPlan(block_rows=100, pool_blocks=8, chunk_rows=10)
    a = blocks_order(20_000, seed=1, epoch=0, plan=plan, batch_size=50)
    assert not np.array_equal(a, blocks_order(20_000, seed=1, epoch=1, plan=plan, batch_size=50))
    assert not np.array_equal(a, blocks_order(20_000, seed=2, epoch=0, plan=plan, batch_size=50))
    assert 6 * 100 < _open_rows(a, 50, 10) <= 8 * 100  # the pool is used, never exceeded
    assert _open_rows(np.random.default_rng(0).permutation(20_000), 50, 10) > 100 * 100  # a global order is not bounded


@pytest.fixture(scope="module")
def sorted_file(tmp_path_factory) -> Path:
    """80,000 rows sorted by label (10 labels in runs of 8,000), as data exported by class; each row unique."""
    folder = tmp_path_factory.mktemp("sorted")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(LABELS), PER_LABEL)
    x = rng.integers(0, 256, size=(labels.size, FEATURES), dtype=np.uint8)
    x[:, 0] = np.arange(labels.size) % 256  # with the next two columns: the row number, to identify rows
    x[:, 1] = np.arange(labels.size) // 256 % 256
    x[:, 2] = np.arange(labels.size) // 65536
    csv = folder / "sorted.csv"
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["label"])
    np.savetxt(csv, np.column_stack([x, labels]), fmt="%d", delimiter=",", header=header, comments="")
    out = folder / "sorted.h5"
    convert([csv], out, options=ConvertOptions(target=("label",), chunk_rows=CHUNK))
    return out


def _blocks(path: Path, **kwargs) -> HDF5Sequence:
    return HDF5Sequence(
        path,
        **{"shuffle": "blocks", **kwargs},
        scale=None,
        batch_size=256,
        seed=7,
        memory_budget=BUDGET,
        block_bytes=BLOCK_BYTES,
        dtype="uint8",
    )


def _row_numbers(x: np.ndarray) -> np.ndarray:
    return x[:, 0].astype(np.int64) + 256 * x[:, 1].astype(np.int64) + 65536 * x[:, 2].astype(np.int64)


def test_batches_of_a_label_sorted_file_hold_nearly_every_label(sorted_file):
    seq = _blocks(sorted_file)
    assert seq.block_plan == BlockPlan(block_rows=BLOCK_ROWS, pool_blocks=POOL, chunk_rows=CHUNK)
    distinct = [np.unique(seq[i][1]).size for i in range(len(seq) - 1)]
    assert np.mean(distinct) >= 9.8  # i.i.d. sampling: 10.0
    # The file is sorted: a pool of two blocks sees one or two labels per batch.
    two = HDF5Sequence(
        sorted_file, batch_size=256, shuffle="blocks", seed=7, memory_budget=2 * 2 * BLOCK_BYTES, block_bytes=BLOCK_BYTES
    )
    assert two.block_plan.pool_blocks == 2
    assert np.mean([np.unique(two[i][1]).size for i in range(len(two) - 1)]) < 2.5


def test_every_row_once_with_its_own_values_and_label(sorted_file):
    seq = _blocks(sorted_file)
    seq.set_epoch(2)
    rows = np.concatenate([_row_numbers(seq[i][0]) for i in range(len(seq))])
    labels = np.concatenate([seq[i][1] for i in range(len(seq))])
    assert sorted(rows.tolist()) == list(range(LABELS * PER_LABEL))
    assert np.array_equal(labels, rows // PER_LABEL)  # each row with its own label


def _batch_rows_elsewhere(path: str, epoch: int) -> list[np.ndarray]:
    seq = _blocks(Path(path))
    return [_row_numbers(seq.read_batch(i, epoch=epoch)[0]) for i in range(len(seq))]


def test_the_same_batches_in_another_process(sorted_file):
    here = _blocks(sorted_file)
    mine = [_row_numbers(here.read_batch(i, epoch=3)[0]) for i in range(len(here))]
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        theirs = pool.submit(_batch_rows_elsewhere, str(sorted_file), 3).result(timeout=300)
    assert len(mine) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(mine, theirs))


def test_resume_and_two_workers_read_as_one_process(sorted_file):
    """A sequence set to epoch 3 (a resumed run) reads what one that lived through 3 epochs reads; two
    workers' slices of each global batch, side by side, are one process's batch."""
    lived = _blocks(sorted_file)
    for _ in range(3):
        lived.on_epoch_end()
    resumed = _blocks(sorted_file)
    resumed.set_epoch(3)
    whole = _blocks(sorted_file, drop_remainder=True)
    workers = [_blocks(sorted_file, batch_slice=(k, 2)) for k in range(2)]
    for i in range(len(whole)):
        a, b = lived[i], resumed[i]
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        sides = [w.read_batch(i, epoch=3) for w in workers]
        one = whole.read_batch(i, epoch=3)
        assert np.array_equal(np.concatenate([s[0] for s in sides]), one[0])
        assert np.array_equal(np.concatenate([s[1] for s in sides]), one[1])
        assert np.array_equal(one[0], a[0])


def test_a_split_keeps_the_plan_and_its_rows(sorted_file):
    train, val = _blocks(sorted_file).split(0.1)
    assert train.shuffle == "blocks" and train.block_plan == _blocks(sorted_file).block_plan
    seen = np.concatenate([_row_numbers(train[i][0]) for i in range(len(train))])
    assert np.array_equal(np.sort(seen), train.indices)


def test_auto_picks_blocks_when_the_rows_do_not_fit(sorted_file, tmp_path, make_data):
    data_bytes = LABELS * PER_LABEL * FEATURES
    small = HDF5Sequence(sorted_file, memory_budget=data_bytes)  # the rows would take all of it
    assert small.shuffle == "blocks" and "do not fit" in small.shuffle_reason
    large = HDF5Sequence(sorted_file, memory_budget=4 * data_bytes)
    assert large.shuffle == "global" and "fit in half the" in large.shuffle_reason and large.block_plan is None
    assert HDF5Sequence(sorted_file, shuffle=True, memory_budget=data_bytes).shuffle == "blocks"
    lzf, _, _ = make_data(tmp_path, compression="lzf")  # compressed chunks decode whole: blocks even when small
    assert HDF5Sequence(lzf).shuffle == "blocks"


def test_auto_counts_a_subset_by_the_file_chunks_its_rows_lie_in(sorted_file):
    # A shard takes every n-th row: its rows are a quarter of the data, but reading them through the
    # memory map keeps every chunk of the file in memory. A run of consecutive rows keeps only its own.
    data_bytes = LABELS * PER_LABEL * FEATURES
    budget = data_bytes  # half of it holds a quarter of the rows, not the whole file
    shard = HDF5Sequence(sorted_file, memory_budget=budget, shard=(1, 4))
    assert shard.num_rows * FEATURES <= 0.5 * budget
    assert shard.shuffle == "blocks" and "of file chunks holding the rows used do not fit" in shard.shuffle_reason
    scattered = HDF5Sequence(sorted_file, memory_budget=budget, indices=np.arange(0, LABELS * PER_LABEL, 97))
    assert scattered.shuffle == "blocks"
    run = HDF5Sequence(sorted_file, memory_budget=budget, indices=np.arange(LABELS * PER_LABEL // 4))
    assert run.shuffle == "global" and "fit in half the" in run.shuffle_reason


class _CountingSource:
    """Rows of an array, recording every read the reader makes (start row, rows)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.reads: list[tuple[int, int]] = []

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        self.reads.append((int(rows[0]), int(rows.size)))
        return self.values[rows]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("in_order", [True, False])
def test_the_reader_reads_each_row_once_in_large_reads_within_its_budget(in_order, threads):
    rows, chunk, block, pool, batch = 20_000, 10, 100, 8, 50
    values = np.arange(rows * 3, dtype=np.int64).reshape(rows, 3)
    plan = BlockPlan(block_rows=block, pool_blocks=pool, chunk_rows=chunk)
    order = blocks_order(rows, seed=3, epoch=0, plan=plan, batch_size=batch)
    batches = [np.sort(order[i : i + batch]) for i in range(0, rows, batch)]
    source = _CountingSource(values)
    capacity = (pool + 4) * block * values.itemsize * 3
    reader = BlockReader(
        source,
        path=None,
        batches_of=lambda epoch: batches,
        chunk_rows=chunk,
        block_rows=block,
        file_rows=rows,
        dtype=values.dtype,
        width=3,
        capacity_bytes=capacity,
        drop_cache=False,
        threads=threads,
    )
    try:
        indices = list(range(len(batches)))
        if not in_order:  # two threads, each batch read twice: the same rows, only slower
            with concurrent.futures.ThreadPoolExecutor(2) as threads:
                got = list(threads.map(lambda i: reader.take(batches[i], epoch=0, index=i), indices + indices))
        else:
            got = [reader.take(batches[i], epoch=0, index=i) for i in indices]
        for i, x in zip(indices + indices, got):
            assert np.array_equal(x, values[batches[i]])
        if in_order:
            loads = sorted((start, start + n) for start, n in source.reads)
            covered = np.concatenate([np.arange(a, b) for a, b in loads])
            assert np.array_equal(covered, np.arange(rows))  # every row read once, ahead, none again
            assert all(a // block == (b - 1) // block and a % chunk == 0 for a, b in loads)  # whole chunks of a block
            assert reader.rows_direct == 0 and reader.rows_loaded == rows
        assert reader.peak_bytes <= capacity
    finally:
        reader.close()


class _FailingSource(_CountingSource):
    """Rows of an array whose read-ahead threads' first ``failures`` reads fail (a disk error, a file on a lost mount)."""

    def __init__(self, values: np.ndarray, failures: int) -> None:
        super().__init__(values)
        self.failures = failures

    def take(self, rows: np.ndarray) -> np.ndarray:
        if threading.current_thread().name.startswith("h5train-readahead") and self.failures > 0:
            self.failures -= 1
            raise OSError(errno.EIO, "Input/output error")
        return super().take(rows)


@pytest.mark.parametrize("fails", ["a read", "the plan"])
def test_a_read_ahead_that_fails_leaves_its_batches_to_read_their_rows_not_to_wait_forever(fails):
    rows, chunk, block, pool, batch = 2_000, 10, 100, 4, 50
    values = np.arange(rows * 3, dtype=np.int64).reshape(rows, 3)
    plan = BlockPlan(block_rows=block, pool_blocks=pool, chunk_rows=chunk)
    orders = {e: blocks_order(rows, seed=3, epoch=e, plan=plan, batch_size=batch) for e in (0, 1)}
    batches = {e: [np.sort(order[i : i + batch]) for i in range(0, rows, batch)] for e, order in orders.items()}

    def batches_of(epoch: int) -> list[np.ndarray]:
        if fails == "the plan" and epoch == 0:
            raise MemoryError("the plan of an epoch")
        return batches[epoch]

    reader = BlockReader(
        _FailingSource(values, failures=2 if fails == "a read" else 0),
        path=None,
        batches_of=batches_of,
        chunk_rows=chunk,
        block_rows=block,
        file_rows=rows,
        dtype=values.dtype,
        width=3,
        capacity_bytes=(pool + 4) * block * values.itemsize * 3,
        drop_cache=False,
    )
    got: dict[tuple[int, int], np.ndarray] = {}

    def read_epochs() -> None:
        for epoch in (0, 1):
            for i, wanted in enumerate(batches[epoch]):
                got[epoch, i] = reader.take(wanted, epoch=epoch, index=i)

    try:
        consumer = threading.Thread(target=read_epochs, daemon=True)
        consumer.start()
        consumer.join(timeout=30)
        assert not consumer.is_alive(), f"batches waited forever for {fails} that failed"
        for (epoch, i), x in got.items():
            assert np.array_equal(x, values[batches[epoch][i]])
        assert len(got) == 2 * len(batches[0])
        assert reader.rows_direct > 0 and reader.rows_loaded > 0  # read directly where it failed, ahead elsewhere
    finally:
        reader.close()


def test_a_sequence_reads_ahead_once_per_epoch_within_its_budget(sorted_file):
    seq = _blocks(sorted_file)
    for epoch in (0, 1):
        for i in range(len(seq)):
            seq.read_batch(i, epoch=epoch)
        reader = seq._readers.reader
        assert reader.rows_direct == 0 and reader.rows_loaded == (epoch + 1) * LABELS * PER_LABEL
        assert reader.peak_bytes <= (POOL + AHEAD_BLOCKS) * (BLOCK_ROWS + 256) * FEATURES


def test_a_resumed_sequence_reads_its_first_epoch_ahead(sorted_file):
    """A resumed run's first batches are of a later epoch: read ahead from there as from epoch 0, the next one too."""
    seq = _blocks(sorted_file)
    seq.set_epoch(3)
    for epoch in (3, 4):
        order = seq.order(epoch)
        for i in range(len(seq)):
            x, _ = seq.read_batch(i, epoch=epoch)
            assert np.array_equal(_row_numbers(x), np.sort(order[i * 256 : (i + 1) * 256]))
        reader = seq._readers.reader
        assert reader.rows_direct == 0 and reader.rows_loaded == (epoch - 2) * LABELS * PER_LABEL


@pytest.mark.parametrize("shuffle", ["blocks", "none"])
def test_each_pass_is_read_ahead_whichever_epoch_it_reads(sorted_file, shuffle):
    """Evaluation reads one epoch each time (a tf.data validation pass reads epoch 0), and a run may look at a
    later epoch before an earlier one: a pass that starts once the last one was read is read ahead anew."""
    seq = _blocks(sorted_file, shuffle=shuffle)
    assert seq.block_plan is not None
    for passes, epoch in enumerate((0, 0, 5, 2), start=1):
        order = seq.order(epoch)
        for i in range(len(seq)):
            x, _ = seq.read_batch(i, epoch=epoch)
            wanted = order[i * 256 : (i + 1) * 256]
            assert np.array_equal(_row_numbers(x), wanted if shuffle == "none" else np.sort(wanted))
        reader = seq._readers.reader
        assert reader.rows_direct == 0 and reader.rows_loaded == passes * LABELS * PER_LABEL


@pytest.mark.parametrize("every", [2, 3])
def test_a_worker_process_given_some_of_the_batches_reads_them_ahead_too(sorted_file, every):
    """Keras's worker processes each read the batches handed to them (about every other one, with two): the
    loads of the batches a process never reads are dropped as it moves on, so its own stay read ahead; a look
    at the epoch's last batch first drops nothing (it is one batch read, not many)."""
    seq = _blocks(sorted_file)
    for epoch in (0, 1):
        order = seq.order(epoch)
        seq.read_batch(len(seq) - 1, epoch=epoch)  # read from the file: its loads are not read yet
        for i in range(epoch % every, len(seq), every):
            x, _ = seq.read_batch(i, epoch=epoch)
            assert np.array_equal(_row_numbers(x), np.sort(order[i * 256 : (i + 1) * 256]))
    reader = seq._readers.reader
    assert reader.rows_direct <= 2 * 2 * 256  # the two looks ahead, and the last batches read again
    assert reader.peak_bytes <= (POOL + AHEAD_BLOCKS) * (BLOCK_ROWS + 256) * FEATURES


def test_file_order_on_data_that_does_not_fit_is_read_ahead_in_blocks(sorted_file):
    """Validation, evaluate and predict read in file order: block by block, each row once, no random gather."""
    everything = HDF5Sequence(sorted_file, scale=None, batch_size=256, shuffle=False, dtype="uint8")
    assert everything.block_plan is None  # fits: the memory map as before
    tight = HDF5Sequence(
        sorted_file,
        scale=None,
        batch_size=256,
        shuffle=False,
        dtype="uint8",
        memory_budget=BUDGET,
        block_bytes=BLOCK_BYTES,
        indices=np.arange(0, LABELS * PER_LABEL, 3),
    )
    assert tight.block_plan is not None and tight.block_plan.pool_blocks == 2
    rows = np.concatenate([_row_numbers(tight[i][0]) for i in range(len(tight))])
    assert np.array_equal(rows, np.arange(0, LABELS * PER_LABEL, 3))
    reader = tight._readers.reader
    assert reader.rows_direct == 0 and reader.rows_loaded <= LABELS * PER_LABEL
    assert reader.peak_bytes <= (2 + AHEAD_BLOCKS) * (BLOCK_ROWS + 256) * FEATURES


@pytest.mark.parametrize("kind", ["lzf", "parts"])
def test_compressed_files_and_parts_read_ahead_the_same_rows(tmp_path, make_data, kind):
    """Compressed chunks are decoded whole, and parts read one by one, in the reader's thread."""
    if kind == "lzf":
        path, x, y = make_data(tmp_path, compression="lzf", rows=400, chunk_rows=8)
    else:
        parts = [make_data(tmp_path, rows=200, chunk_rows=8, seed=s) for s in (1, 2)]
        path = [p for p, _, _ in parts]
        x, y = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
    seq = HDF5Sequence(
        path, scale=None, batch_size=16, shuffle="blocks", seed=2, dtype="uint8", memory_budget=4000, block_bytes=16 * 12
    )
    assert seq.block_plan.pool_blocks >= 2 and seq.block_plan.block_rows == 16
    order = seq.order(1)
    for i in range(len(seq)):
        xb, yb = seq.read_batch(i, epoch=1)
        rows = np.sort(order[i * 16 : (i + 1) * 16])
        assert np.array_equal(xb, x[rows]) and np.array_equal(yb, y[rows])
    assert seq._readers.reader.rows_direct == 0


def _row_file_and_values(tmp_path: Path, *, offset: int, rows: int, width: int) -> tuple[Path, np.ndarray]:
    """A file of ``offset`` filler bytes, then ``rows`` rows of ``width`` bytes (offset and rows unaligned)."""
    values = np.random.default_rng(5).integers(0, 256, size=(rows, width), dtype=np.uint8)
    path = tmp_path / "rows.bin"
    path.write_bytes(b"\xff" * offset + values.tobytes())
    return path, values


@pytest.mark.parametrize("direct", [True, False])
def test_row_file_reads_the_rows_at_any_offset_up_to_the_end_of_the_file(tmp_path, direct):
    path, values = _row_file_and_values(tmp_path, offset=1234, rows=3001, width=785)
    rows = RowFile(str(path), 1234, 785, drop_cache=True, direct=direct)
    try:
        if direct and not rows.direct:
            pytest.skip("this file system refuses O_DIRECT")
        for start, stop in [(0, 1), (0, 3001), (17, 1300), (2999, 3001), (1000, 3001), (5, 6)]:
            into = np.zeros((stop - start, 785), dtype=np.uint8)
            rows.read(start, stop, into)
            assert np.array_equal(into, values[start:stop])  # numpy's slice of the written rows is the oracle
        assert rows.direct == direct  # no read fell back
    finally:
        rows.close()


def test_row_file_falls_back_to_the_page_cache_where_direct_reads_are_refused(tmp_path, monkeypatch):
    path, values = _row_file_and_values(tmp_path, offset=100, rows=500, width=33)
    rows = RowFile(str(path), 100, 33, drop_cache=False, direct=True)
    if not rows.direct:
        pytest.skip("this file system refuses O_DIRECT")
    real = os.preadv

    def refuse_direct(fd, buffers, offset):
        if fd == rows._direct_fd:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", refuse_direct)
    try:
        into = np.zeros((400, 33), dtype=np.uint8)
        rows.read(50, 450, into)
        assert np.array_equal(into, values[50:450]) and not rows.direct
    finally:
        rows.close()


def test_blocks_read_past_the_page_cache_and_file_order_through_it(tmp_path):
    """Scattered loads (blocks) are read with O_DIRECT where allowed; file order keeps the kernel's read-ahead."""
    labels = np.repeat(np.arange(LABELS), 2000)
    x = np.random.default_rng(1).integers(0, 256, size=(labels.size, 16), dtype=np.uint8)
    csv = tmp_path / "rows.csv"
    header = ",".join([f"f{i}" for i in range(16)] + ["label"])
    np.savetxt(csv, np.column_stack([x, labels]), fmt="%d", delimiter=",", header=header, comments="")
    convert([csv], tmp_path / "rows.h5", options=ConvertOptions(target=("label",), chunk_rows=500))
    common = dict(scale=None, batch_size=256, dtype="uint8", memory_budget=304_000, block_bytes=16_000)  # a pool of 5
    scattered = HDF5Sequence(tmp_path / "rows.h5", shuffle="blocks", seed=4, **common)
    ordered = HDF5Sequence(tmp_path / "rows.h5", shuffle=False, indices=np.arange(0, labels.size, 3), **common)
    assert scattered.block_plan is not None and ordered.block_plan is not None
    order = scattered.order(0)
    for i in range(len(scattered)):
        rows = np.sort(order[i * 256 : (i + 1) * 256])
        xb, yb = scattered.read_batch(i, epoch=0)
        assert np.array_equal(xb, x[rows]) and np.array_equal(yb, labels[rows])
    assert np.array_equal(np.concatenate([ordered[i][0] for i in range(len(ordered))]), x[::3])
    probe = RowFile(str(tmp_path / "rows.h5"), 0, 1, drop_cache=False, direct=True)
    allowed = probe.direct
    probe.close()
    assert scattered._readers.reader._file.direct == allowed
    assert ordered._readers.reader._file is not None and not ordered._readers.reader._file.direct
    assert scattered._readers.reader.rows_direct == 0


@settings(max_examples=200, deadline=None)
@given(
    found_mib=st.integers(300, 64_000),
    rows=st.integers(1, 50_000_000),
    row_bytes=st.sampled_from([12, 115, 785, 3073, 60_000]),
    chunk_rows=st.sampled_from([1, 64, 1337, 50_000]),
    processes=st.sampled_from([0, 1, 2, 4]),
)
def test_memory_found_leaves_room_for_the_process_and_the_pool_fits_in_the_rest(
    found_mib, rows, row_bytes, chunk_rows, processes
):
    """What a process holds beside the data (Python, Keras, the model: RUNTIME_BYTES, its per-row arrays,
    and each reading process's own Python) comes off the memory found; every reading process's pool and
    the blocks held beside it fit in what is left."""
    found = Memory(bytes=found_mib << 20, source="cgroup v2 memory.max of /job")
    data = data_memory(found, rows, processes)
    kept = RUNTIME_BYTES + RUNTIME_ROW_BYTES * rows * (1 + processes) + READER_PROCESS_BYTES * processes
    assert data.bytes == max(1, found.bytes - kept)
    share = data.bytes // max(1, processes)  # as choose_order gives each reading process its part
    plan = plan_blocks(row_bytes=row_bytes, chunk_rows=chunk_rows, batch_size=256, memory_budget=share)
    block = plan.block_rows * row_bytes
    if plan.pool_blocks > 2:  # more than the least pool: it was sized to fit
        assert kept + max(1, processes) * (plan.pool_blocks + HELD_BLOCKS) * block <= found.bytes
        assert plan.pool_blocks * block <= POOL_SHARE * share
    least = kept + max(1, processes) * (2 + HELD_BLOCKS) * block  # the least pool and the blocks beside it, each
    assert (too_little(data, plan, row_bytes, processes) is not None) == (found.bytes < least)


def test_a_sequence_records_the_memory_left_to_the_data_and_says_so(sorted_file, monkeypatch):
    import csv2h5.trainer.orders as orders

    found = 900 << 20
    monkeypatch.setattr(orders, "available_memory", lambda: Memory(bytes=found, source="cgroup v1 memory.limit_in_bytes of /job"))
    seq = HDF5Sequence(sorted_file, shuffle="auto")
    left = found - (640 << 20) - 24 * LABELS * PER_LABEL  # the figures as documented, not the constants
    assert seq.memory_budget == left
    assert seq.shuffle == "global"  # 960 kB of rows in half of ~270 MB
    assert f"{left / 1e6:.1f} MB left to the data of the {found / 1e6:.1f} MB this process may use" in seq.shuffle_reason
    assert "kept for Python, Keras and the model" in seq.shuffle_reason
    copy = HDF5Sequence(sorted_file, shuffle="auto", memory_budget=seq.memory_budget)  # as a resume passes it again
    assert copy.memory_budget == seq.memory_budget and "of memory_budget" in copy.shuffle_reason
    monkeypatch.setattr(
        orders, "available_memory", lambda: Memory(bytes=400 << 20, source="cgroup v1 memory.limit_in_bytes of /job")
    )
    small = HDF5Sequence(sorted_file, shuffle="auto")
    assert small.shuffle == "blocks" and small.block_plan.pool_blocks == 2
    assert "is too little for Python, Keras and the least pool of blocks: it may run out of memory" in small.shuffle_reason
    asked = HDF5Sequence(sorted_file, shuffle="blocks")  # said whatever chose the order
    assert asked.shuffle_reason.startswith("asked for; ") and "too little" in asked.shuffle_reason
    # Blocks of whole large chunks need more than 8 MiB blocks would: the warning counts the blocks planned.
    monkeypatch.setattr(orders, "available_memory", lambda: Memory(bytes=(640 + 300) << 20, source="MemAvailable"))
    assert "too little" not in HDF5Sequence(sorted_file, shuffle="blocks").shuffle_reason
    big = HDF5Sequence(sorted_file, shuffle="blocks", block_bytes=64 << 20)
    assert "too little" in big.shuffle_reason and "give it " in big.shuffle_reason  # with the figure that would do


def test_the_blocks_held_beside_the_pool_are_what_the_readers_hold():
    # Training reads ahead AHEAD_BLOCKS with READ_THREADS staging buffers; a validation side in file order
    # holds a pool of 2, its AHEAD_BLOCKS and its own staging: the plan leaves room for all of them.
    assert HELD_BLOCKS == AHEAD_BLOCKS + READ_THREADS + (2 + AHEAD_BLOCKS) + READ_THREADS


def test_reading_processes_share_the_memory_each_with_a_pool_of_its_own(sorted_file, monkeypatch):
    import csv2h5.trainer.orders as orders

    found = 3 << 30
    monkeypatch.setattr(orders, "available_memory", lambda: Memory(bytes=found, source="MemAvailable"))
    common = dict(shuffle="blocks")  # blocks of 8 MiB: pools of a few hundred in ~2.5 GB
    alone = HDF5Sequence(sorted_file, **common)
    spread = HDF5Sequence(sorted_file, workers=2, use_multiprocessing=True, **common)
    rows = LABELS * PER_LABEL
    assert alone.memory_budget == found - (640 << 20) - 24 * rows  # the figures as documented
    assert spread.memory_budget == found - (640 << 20) - 3 * 24 * rows - 2 * (256 << 20)  # and each process's own
    expected = plan_blocks(row_bytes=FEATURES, chunk_rows=CHUNK, batch_size=256, memory_budget=spread.memory_budget // 2)
    assert spread.block_plan == expected and spread.block_plan.pool_blocks < alone.block_plan.pool_blocks
    assert "each of the 2 reading processes holds a pool of its own" in spread.shuffle_reason
    threads = HDF5Sequence(sorted_file, workers=2, **common)  # threads share this process's pool
    assert threads.block_plan == alone.block_plan and threads.memory_budget == alone.memory_budget
