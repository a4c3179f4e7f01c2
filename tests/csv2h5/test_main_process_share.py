"""What the main process no longer does per block: map numeric labels (a parser copies them into the target's
scratch file) or feature rows (copied into the output), receive the parse plan again (sent to a worker only
when it changes)."""

from __future__ import annotations

import multiprocessing

import h5py
import numpy as np
import pandas as pd
import pytest
from decimal_tables import decimal_csv, stored

from csv2h5 import ConvertOptions, convert, shared
from csv2h5.layout import CLASS_COUNTS, stats_path
from csv2h5.processes import ParserProcesses


def test_numeric_labels_are_copied_by_parsers_not_mapped_here(tmp_path, monkeypatch):
    src = tmp_path / "d.csv"
    frame = decimal_csv(src, 60_000)
    opened: list[tuple[int, ...]] = []
    real_open = shared.SharedArray.open

    def counting(self):
        opened.append(self.shape)
        return real_open(self)

    monkeypatch.setattr(shared.SharedArray, "open", counting)
    out = tmp_path / "d.h5"
    # Blocks of 256 KiB (26 of them), kinds decided on the first 512 KiB: the labels of the blocks held back
    # until then (and of the one that ends the wait, received before it) are mapped; the rest are not.
    convert([src], out, options=ConvertOptions(target=("y",), block_bytes=256 << 10, infer_bytes=512 << 10, workers=2))
    labels_mapped = [shape for shape in opened if len(shape) == 1]
    assert len(labels_mapped) <= 3, f"{len(labels_mapped)} blocks' labels were mapped by the main process"
    # Feature rows, held or not while the kinds are decided, are copied into the file by the parsers.
    rows_mapped = [shape for shape in opened if len(shape) == 2]
    assert not rows_mapped, f"{len(rows_mapped)} blocks' feature rows were mapped by the main process"
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["target"][()], frame["y"].to_numpy())
        np.testing.assert_array_equal(f[stats_path(CLASS_COUNTS)][()], np.bincount(frame["y"].to_numpy()))
        np.testing.assert_array_equal(stored(f), frame.iloc[:, :12].to_numpy())
    assert not list(shared.SHARED_DIR.glob("csv2h5-*-*-*"))  # the parsers removed the files they copied from


@pytest.mark.parametrize("labels", [[0, 1, 2], [0, 2, 5], [3, 1], [0.5, 2.0]])
def test_numeric_labels_become_sorted_class_codes_with_their_counts(tmp_path, labels):
    """Labels 0..K-1 are their own codes; any others are coded in sorted order (numpy's unique as the oracle)."""
    rng = np.random.default_rng(3)
    rows = 30_000
    y = rng.permutation(np.resize(np.asarray(labels), rows))
    pd.DataFrame({"a": rng.normal(size=rows).round(3), "y": y}).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "d.h5"
    convert(tmp_path / "d.csv", out, options=ConvertOptions(target=("y",), task="classification", block_bytes=1 << 16, workers=2))
    classes, codes = np.unique(y, return_inverse=True)
    with h5py.File(out) as f:
        np.testing.assert_array_equal(np.asarray(f["target"].attrs["classes"], dtype=np.float64), classes)
        np.testing.assert_array_equal(f["target"][()], codes)
        np.testing.assert_array_equal(f[stats_path(CLASS_COUNTS)][()], np.bincount(codes))


def _nothing() -> None:
    pass


def _echo(tag: int, plan: object) -> tuple[int, object]:
    return tag, plan


def test_an_argument_kept_in_the_workers_is_the_one_last_sent():
    """With ``kept``, a worker is sent the argument only when it changes: every task still sees the right one."""
    pool = ParserProcesses(2, multiprocessing.get_context("forkserver"), _nothing, ())
    try:
        plans = [("plan", 1)] * 5 + [("plan", 2)] * 4 + [("plan", 3)] * 3
        tasks = [pool.submit(_echo, i, plan, kept=1) for i, plan in enumerate(plans)]
        assert [task.result() for task in tasks] == list(enumerate(plans))
    finally:
        pool.shutdown()
