"""The training input: one stream over the remaining epochs, as tf.data (TensorFlow) or read ahead on a pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from csv2h5.trainer import HDF5Sequence, epoch_order
from csv2h5.trainer.errors import LoaderError
from csv2h5.trainer.pipeline import training_input, validation_input

ROWS = 103  # as in conftest.make_file


def _expected(x, y, *, seed, epochs, batch):
    """Batches of each epoch, built here from the rows and the sampler."""
    out = []
    for epoch in epochs:
        order = epoch_order(ROWS, seed=seed, epoch=epoch)
        for i in range(0, ROWS, batch):
            rows = np.sort(order[i : i + batch])
            out.append((x[rows].astype(np.float32), y[rows]))
    return out


def _as_numpy(batch):
    return tuple(np.asarray(part) for part in batch)


@pytest.mark.parametrize("kind,compression", [("tf.data", "none"), ("tf.data", "lzf"), ("threads", "lzf"), ("processes", "none")])
def test_the_stream_runs_over_epoch_boundaries_in_seed_epoch_order(tmp_path, make_data, kind, compression):
    """A resumed run (first_epoch=2) starts at epoch 2's order; epochs follow each other without a gap.

    tf.data and the thread pool read batches in parallel: lzf files go through the chunk cache.
    """
    path, x, y = make_data(tmp_path, compression=compression)
    seq = HDF5Sequence(path, batch_size=16, seed=9, shuffle="global", scale=None)
    fit_input = training_input(seq, first_epoch=2, epochs=5, tf_data=kind == "tf.data", workers=2, processes=kind == "processes")
    assert fit_input.steps_per_epoch == len(seq) == 7
    got = [_as_numpy(b) for b in fit_input.data]
    expected = _expected(x, y, seed=9, epochs=[2, 3, 4], batch=16)
    assert len(got) == len(expected) == 21
    for (xa, ya), (xb, yb) in zip(got, expected, strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_validation_as_tf_data_is_one_epoch_in_file_order_each_time(data):
    path, x, y = data
    val = HDF5Sequence(path, batch_size=40, shuffle=False, scale=None)
    dataset = validation_input(val, tf_data=True)
    for _ in range(2):  # Keras iterates it afresh for every evaluation
        xs, ys = zip(*(_as_numpy(b) for b in dataset))
        assert np.array_equal(np.concatenate(xs), x.astype(np.float32)) and np.array_equal(np.concatenate(ys), y)
    assert validation_input(val, tf_data=False) is val


@pytest.mark.parametrize(
    "processes,expected",
    [
        # A worker that dies while the pool spawns its replacement makes submit fail on the pool's closed pipes:
        # the same event as the pool reporting itself broken, which the command line turns into one line, exit 2.
        (True, LoaderError),
        (False, OSError),  # threads cannot die alone: an OSError there is the reader's own and keeps its type
    ],
)
def test_an_os_error_from_submit_is_a_dead_worker_only_on_a_process_pool(data, monkeypatch, processes, expected):
    import concurrent.futures

    path, _, _ = data
    seq = HDF5Sequence(path, batch_size=16, seed=1, shuffle="global", scale=None)

    def submit(self, *args, **kwargs):
        raise OSError("handle is closed")

    pool = concurrent.futures.ProcessPoolExecutor if processes else concurrent.futures.ThreadPoolExecutor
    monkeypatch.setattr(pool, "submit", submit)
    stream = training_input(seq, first_epoch=0, epochs=1, tf_data=False, workers=2, processes=processes).data
    with pytest.raises(expected) as raised:
        next(iter(stream))
    assert (LoaderError.MARK in str(raised.value)) == processes


def _alive(pid: int) -> bool:
    try:
        state = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:")]
    except OSError:
        return False
    return not state or "Z" not in state[0].split()[1]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("when", ["after a batch", "while the readers start"])
def test_reading_processes_end_when_their_training_process_is_killed(tmp_path, make_data, when):
    # A training process killed outright (by a memory limit, or SIGKILL) cannot shut its pool down: the
    # reading processes must notice on their own rather than hold their memory for nobody, also those
    # still importing Keras when it died (they are then init's children already).
    path, _, _ = make_data(tmp_path)
    first = "next(stream)" if when == "after a batch" else "threading.Thread(target=next, args=(stream,), daemon=True).start()"
    script = f"""
import os, threading, time
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.pipeline import training_input
seq = HDF5Sequence({str(path)!r}, batch_size=8, seed=1)
stream = training_input(seq, first_epoch=0, epochs=1000, tf_data=False, workers=2, processes=True).data
{first}
me = os.getpid()
children = ""
while len(children.split()) < 2:
    time.sleep(0.05)
    children = open(f"/proc/{{me}}/task/{{me}}/children").read()
time.sleep({0.5 if when != "after a batch" else 0})  # they have their start-up data and are importing Keras
print(children, flush=True)
time.sleep(300)
"""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        try:
            children = [int(pid) for pid in proc.stdout.readline().split()]
            assert len(children) >= 2 and all(_alive(pid) for pid in children)  # the two readers (and a resource tracker)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in children if _alive(pid)]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, "reading processes outlived their training process"
