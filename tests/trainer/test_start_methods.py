"""model.fit on HDF5Sequence with worker processes started by spawn and by forkserver.

Keras's PyDataset takes ``multiprocessing.Pool``, so it follows the process's
start method. Under spawn and forkserver a worker gets the sequence by pickling
(no open HDF5 handle crosses over: each process opens the file itself) and
imports the reader afresh. The oracle: the same model trained in-process on the
same sequence; batches arrive in order whatever the pool, so the weights must be
equal bit for bit.

Each case runs in a fresh Python process that sets its start method first, as a
user's script does: Keras keeps process-wide multiprocessing objects, which a
process that already used fork cannot hand to spawned workers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CLASSES, FEATURES = 3, 12  # as in conftest.make_file


def _trained_weights(path: str, **pool) -> list[np.ndarray]:
    import keras
    from csv2h5.trainer import HDF5Sequence

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seq = HDF5Sequence(path, batch_size=16, shuffle="global", scale="unit", seed=4, **pool)
    seq[0]  # the parent has the file open before the workers start
    model.fit(seq, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


def run_case(method: str, path: str, out: str) -> None:
    """In a fresh process: train in-process and with 2 worker processes started by ``method``."""
    import multiprocessing

    multiprocessing.set_start_method(method)
    in_process = _trained_weights(path)
    in_workers = _trained_weights(path, workers=2, use_multiprocessing=True, max_queue_size=4)
    np.savez(
        out,
        method=multiprocessing.get_start_method(),
        **{f"a{i}": w for i, w in enumerate(in_process)},
        **{f"b{i}": w for i, w in enumerate(in_workers)},
    )


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_fit_with_worker_processes_equals_fit_in_process(data, tmp_path, method):
    path, _, _ = data
    out = tmp_path / "weights.npz"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from test_start_methods import run_case; run_case({method!r}, {str(path)!r}, {str(out)!r})"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = np.load(out)
    assert str(found["method"]) == method
    pairs = len([k for k in found.files if k.startswith("a")])
    assert pairs == 4  # two Dense layers, a kernel and a bias each
    for i in range(pairs):
        assert np.array_equal(found[f"a{i}"], found[f"b{i}"]), f"weights differ under {method}"
