"""Some of the file's rows (a split, a shard, indices) read ahead like the whole file, within the same budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.readahead import AHEAD_BLOCKS, plan_loads
from csv2h5.trainer.rowfile import RowFile

from csv2h5 import ConvertOptions, convert

ROWS, FEATURES, BATCH = 100_000, 12, 256
BUDGET = 240_000  # a pool of 6 blocks of 12,000 bytes (and 14 held beside it); no subset below fits in half of it


def _numbered_file(folder: Path, chunk_rows: int) -> Path:
    """Rows whose first three values spell their row number."""
    x = np.random.default_rng(0).integers(0, 256, size=(ROWS, FEATURES), dtype=np.uint8)
    number = np.arange(ROWS)
    x[:, 0], x[:, 1], x[:, 2] = number % 256, number // 256 % 256, number // 65536
    labels = np.random.default_rng(1).integers(0, 3, ROWS)
    csv = folder / "numbered.csv"
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["label"])
    np.savetxt(csv, np.column_stack([x, labels]), fmt="%d", delimiter=",", header=header, comments="")
    convert([csv], folder / "numbered.h5", options=ConvertOptions(target=("label",), chunk_rows=chunk_rows))
    return folder / "numbered.h5"


@pytest.fixture(scope="module")
def numbered_file(tmp_path_factory) -> Path:
    """Chunks of 500 rows, back to back: loads are read from the file with large reads."""
    return _numbered_file(tmp_path_factory.mktemp("numbered"), 500)


@pytest.fixture(scope="module")
def small_chunks_file(tmp_path_factory) -> Path:
    """Chunks of 40 rows, which HDF5 does not lay back to back: loads are gathered from the memory map."""
    return _numbered_file(tmp_path_factory.mktemp("small_chunks"), 40)


def _numbers(x: np.ndarray) -> np.ndarray:
    return x[:, 0].astype(np.int64) + 256 * x[:, 1].astype(np.int64) + 65536 * x[:, 2].astype(np.int64)


def _subset(path: Path, subset: str, shuffle: str) -> HDF5Sequence:
    common = dict(scale=None, batch_size=BATCH, seed=3, dtype="uint8", memory_budget=BUDGET, block_bytes=1000 * FEATURES)
    if subset.startswith("split"):  # as h5train fit splits off its validation rows: at random
        train, val = HDF5Sequence(path, shuffle=shuffle, **common).split(0.1, seed=5)  # val: shuffle none
        return train if subset == "split 90%" else HDF5Sequence(path, shuffle=shuffle, indices=val.indices, **common)
    kwargs = {
        "whole": {},
        "shard (1,4)": {"shard": (1, 4)},
        "every 8th": {"indices": np.arange(0, ROWS, 8)},
        "random 20%": {"indices": np.sort(np.random.default_rng(2).choice(ROWS, ROWS // 5, replace=False))},
        "reversed": {"indices": np.arange(ROWS)[::-1].copy()},
        "permuted": {"indices": np.random.default_rng(4).permutation(ROWS)},  # with "none": read in this order
    }[subset]
    return HDF5Sequence(path, shuffle=shuffle, **common, **kwargs)


@pytest.mark.parametrize("shuffle", ["blocks", "none"])
@pytest.mark.parametrize(
    "subset", ["whole", "split 90%", "split 10%", "shard (1,4)", "every 8th", "random 20%", "reversed", "permuted"]
)
def test_subsets_are_read_ahead_like_the_whole_file_within_the_budget(numbered_file, subset, shuffle):
    """The blocks of a subset are cut in its own rows, which lie far apart in the file: each block is still
    read ahead once, and held in the memory a block of the whole file takes."""
    _read_ahead_like_the_whole_file(_subset(numbered_file, subset, shuffle), shuffle, preadv=True)


@pytest.mark.parametrize(
    ("subset", "shuffle"), [("split 10%", "none"), ("every 8th", "blocks"), ("random 20%", "blocks"), ("permuted", "none")]
)
def test_subsets_of_a_file_read_through_its_memory_map_are_read_ahead_too(small_chunks_file, subset, shuffle):
    _read_ahead_like_the_whole_file(_subset(small_chunks_file, subset, shuffle), shuffle, preadv=False)


def _read_ahead_like_the_whole_file(seq: HDF5Sequence, shuffle: str, *, preadv: bool) -> None:
    plan = seq.block_plan
    assert plan is not None and seq.shuffle == shuffle
    for epoch in (0, 1):
        order = seq.order(epoch)
        for i in range(len(seq)):
            x, _ = seq.read_batch(i, epoch=epoch)
            wanted = order[i * BATCH : (i + 1) * BATCH]
            assert np.array_equal(_numbers(x), wanted if shuffle == "none" else np.sort(wanted))
    reader = seq._readers.reader
    assert (reader._file is not None) == preadv  # large reads of the file, or gathers from its memory map
    assert reader.rows_direct == 0  # no row read one at a time
    assert reader.rows_loaded == 2 * seq.num_rows  # each row loaded once an epoch
    assert reader.peak_bytes <= (plan.pool_blocks + AHEAD_BLOCKS) * (plan.block_rows + BATCH) * FEATURES


def test_a_batch_out_of_file_order_uses_each_load_once():
    """File order of indices out of order: a batch's rows are not sorted; each load it reads counts once, so
    the load is dropped as soon as its last batch is read."""
    batches = [np.array([5, 0, 6, 1]), np.array([7, 4])]  # chunks of 2 rows, blocks of 4: loads rows 0..2 and 4..8
    schedule = plan_loads(batches, chunk_rows=2, block_rows=4, file_rows=8)
    assert schedule.starts.tolist() == [0, 4] and schedule.stops.tolist() == [2, 8]
    assert schedule.uses.tolist() == [1, 2]  # load 0: batch 0; load 1: batches 0 and 1
    assert [schedule.loads_of(i).tolist() for i in (0, 1)] == [[0, 1], [1]]


@pytest.mark.parametrize("direct", [True, False])
def test_row_file_gathers_scattered_rows_reading_the_runs_that_hold_them(tmp_path, direct):
    values = np.random.default_rng(5).integers(0, 256, size=(3001, 785), dtype=np.uint8)
    path = tmp_path / "rows.bin"
    path.write_bytes(b"\xff" * 1234 + values.tobytes())
    rows = np.array([3, 3, 4, 10, 11, 200, 1000, 1001, 1030, 3000])  # a row twice, gaps small and large
    file = RowFile(str(path), 1234, 785, drop_cache=True, direct=direct)
    try:
        if direct and not file.direct:
            pytest.skip("this file system refuses O_DIRECT")
        for piece, gap, read in [
            (10_000, 100, (11 - 3 + 1) + 1 + (1030 - 1000 + 1) + 1),  # runs 3..11, 200, 1000..1030, 3000
            (10_000, 10_000, 3000 - 3 + 1),  # one run: every row from the first to the last
            (4, 100, (4 + 2) + 1 + (4 + 1) + 1),  # pieces of at most 4 rows: 3..6, 10..11, 200, 1000..1003, 1030, 3000
        ]:
            into = np.zeros((rows.size, 785), dtype=np.uint8)
            assert file.gather(rows, into, piece_rows=piece, gap_rows=gap) == read
            assert np.array_equal(into, values[rows])  # numpy's gather of the written rows is the oracle
        assert file.direct == direct
    finally:
        file.close()
