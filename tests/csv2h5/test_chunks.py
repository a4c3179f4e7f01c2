"""Chunk shapes bounded by the data: a small file takes about its data's bytes, and grows sensibly."""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.merge import merge
from csv2h5.schema import CHUNK_BYTES
from trainer.rows import RowSource
from trainer.sequence import epoch_order


def _table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows).round(3),
            "b": rng.integers(0, 100, rows),
            "c": rng.normal(size=rows).round(2),
            "y": rng.integers(0, 2, rows),
        }
    )


def _chunks(path) -> tuple[int, int, int]:
    with h5py.File(path, "r") as f:
        return f["features"].chunks[0], f["target"].chunks[0], f["features"].shape[0]


def test_a_small_csv_gives_a_small_file(tmp_path):
    """1,000 rows x 3 float32 features and a uint8 target are 13 kB of values: not 2 MB of whole default chunks."""
    table = _table(1000, 0)
    table.to_csv(tmp_path / "small.csv", index=False)
    out = tmp_path / "small.h5"
    done = subprocess.run(
        [sys.executable, "-m", "csv2h5", "convert", str(tmp_path / "small.csv"), "-o", str(out), "--target", "y", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    features_chunk, target_chunk, rows = _chunks(out)
    assert features_chunk <= rows == 1000 and target_chunk <= rows
    values_bytes = 1000 * (3 * 4 + 1)
    assert out.stat().st_size < values_bytes + 64 * 1024  # values, stats, vocabulary-free metadata
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["features"][()], table[["a", "b", "c"]].to_numpy(np.float32))
        np.testing.assert_array_equal(f["target"][()], table["y"].to_numpy())
    source = RowSource(str(out))  # the trainer's memory map reads it
    try:
        assert source.mapped
        np.testing.assert_array_equal(
            source.take(np.array([999, 0, 5])), table[["a", "b", "c"]].to_numpy(np.float32)[[999, 0, 5]]
        )
    finally:
        source.close()
    window = epoch_order(rows, seed=1, epoch=0, mode="window", chunk_rows=features_chunk)
    assert sorted(window) == list(range(rows))


@pytest.mark.parametrize("compression", ["none", "lzf"])
def test_rows_appended_to_a_small_file_get_full_size_chunks(tmp_path, compression):
    small, big = _table(1000, 0), _table(200_000, 1)
    small.to_csv(tmp_path / "small.csv", index=False)
    big.to_csv(tmp_path / "big.csv", index=False)
    out = tmp_path / "grown.h5"
    convert(tmp_path / "small.csv", out, options=ConvertOptions(target=("y",), compression=compression))
    assert _chunks(out)[0] == 1000
    convert(tmp_path / "big.csv", out, options=ConvertOptions(target=("y",), append=True))
    features_chunk, target_chunk, rows = _chunks(out)
    assert rows == 201_000
    assert features_chunk == CHUNK_BYTES // (3 * 4)  # as a file converted in one go would have
    assert target_chunk <= rows
    expected = pd.concat([small, big])
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["features"][()], expected[["a", "b", "c"]].to_numpy(np.float32))
        np.testing.assert_array_equal(f["target"][()], expected["y"].to_numpy())
        assert f.attrs["rows"] == 201_000


def test_a_small_file_appended_to_and_widened(tmp_path):
    """Small integers first (uint8), then decimals: the few rows move to the wider dtype and the new chunking."""
    pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]}).to_csv(tmp_path / "ints.csv", index=False)
    pd.DataFrame({"a": [0.5, 1.25], "y": [1, 1]}).to_csv(tmp_path / "decimals.csv", index=False)
    out = tmp_path / "w.h5"
    convert(tmp_path / "ints.csv", out, options=ConvertOptions(target=("y",)))
    convert(tmp_path / "decimals.csv", out, options=ConvertOptions(target=("y",), append=True))
    features_chunk, target_chunk, rows = _chunks(out)
    assert rows == 5 and features_chunk <= 5 and target_chunk <= 5
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["features"][:, 0], [1, 2, 3, 0.5, 1.25])
        np.testing.assert_array_equal(f["target"][()], [0, 1, 0, 1, 1])


def test_merged_small_parts_are_bounded_by_their_rows_and_chunk_rows_asked_for_stay(tmp_path):
    _table(300, 0).to_csv(tmp_path / "p.csv", index=False)
    part = tmp_path / "p.h5"
    convert(tmp_path / "p.csv", part, options=ConvertOptions(target=("y",)))
    parts = [part, tmp_path / "p2.h5", tmp_path / "p3.h5"]  # three files: one file given twice is refused
    for copy in parts[1:]:
        shutil.copyfile(part, copy)
    merge(parts, tmp_path / "m.h5")
    features_chunk, target_chunk, rows = _chunks(tmp_path / "m.h5")
    assert rows == 900 and features_chunk == 900 and target_chunk <= 900
    asked = tmp_path / "asked.h5"
    convert(tmp_path / "p.csv", asked, options=ConvertOptions(target=("y",), chunk_rows=64))
    assert _chunks(asked)[0] == 64
