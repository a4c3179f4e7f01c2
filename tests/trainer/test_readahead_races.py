"""Batches read ahead by several threads at once, across the boundaries of epochs: the rows and labels of each."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from csv2h5.trainer import HDF5Sequence

ROWS, BATCH, EPOCHS, THREADS = 1500, 16, 6, 4


@pytest.mark.parametrize("shuffle", ["blocks", "none"])
@pytest.mark.parametrize("seed", range(3))
def test_threads_reading_across_epochs_get_each_batch_its_own_rows(tmp_path, make_data, shuffle, seed):
    """Threads take the stream of batches as tf.data and the read-ahead pool do (batch k is batch k % len of
    epoch k // len), so a batch of one epoch may wait for its load while another thread begins the next epoch."""
    path, x, y = make_data(tmp_path, rows=ROWS, chunk_rows=8, seed=seed)
    seq = HDF5Sequence(
        path, batch_size=BATCH, shuffle=shuffle, seed=seed, scale=None, memory_budget=6_000, block_bytes=384, training=False
    )
    assert seq.block_plan is not None  # read ahead in blocks: the file does not fit in the budget
    n = len(seq)
    got: dict[int, tuple[np.ndarray, np.ndarray] | BaseException] = {}
    turn = iter(range(EPOCHS * n))
    turn_lock = threading.Lock()

    def read() -> None:
        while True:
            with turn_lock:
                k = next(turn, None)
            if k is None:
                return
            try:
                got[k] = seq.read_batch(k % n, epoch=k // n)
            except BaseException as error:  # noqa: BLE001 - reported below, with the batch it came from
                got[k] = error

    readers = [threading.Thread(target=read, daemon=True) for _ in range(THREADS)]
    for thread in readers:
        thread.start()
    deadline = time.monotonic() + 60  # one bound for all: a hang fails the test, not the suite
    for thread in readers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = any(thread.is_alive() for thread in readers)
    seq._readers.reader.close()  # lets a batch that waits forever go
    assert not stuck, f"reading threads hung: {len(got)} of {EPOCHS * n} batches read"
    for k in range(EPOCHS * n):
        epoch, i = divmod(k, n)
        assert not isinstance(got[k], BaseException), f"epoch {epoch} batch {i}: {got[k]!r}"
        rows = np.asarray(seq.order(epoch))[i * BATCH : (i + 1) * BATCH]
        rows = rows if shuffle == "none" else np.sort(rows)
        values, labels = got[k]
        assert np.array_equal(values, x[rows]), f"epoch {epoch} batch {i}: wrong rows"
        assert np.array_equal(np.ravel(labels), y[rows]), f"epoch {epoch} batch {i}: wrong labels"
