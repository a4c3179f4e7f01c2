"""Wide tables (gene expression, bag of words): 100,000 columns convert fast, in bounded memory, and read back by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.info import describe

COLUMNS = 100_000
# The child's own peak resident memory (KiB). Not getrusage's ru_maxrss: Linux carries it over exec,
# so a child of a large pytest process starts from the parent's peak.
PRINT_PEAK_KB = "print(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')))\n"


def _write_wide(path: Path, rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 256, size=(rows, COLUMNS))
    with open(path, "w") as fh:
        fh.write(",".join(f"gene_{i:06d}" for i in range(COLUMNS)) + ",label\n")
        for r, row in enumerate(values):
            fh.write(",".join(map(str, row)) + f",{'ab'[r % 2]}\n")
    return values


@pytest.mark.slow
def test_100000_columns_convert_and_keep_their_names(tmp_path):
    csv = tmp_path / "wide.csv"
    values = _write_wide(csv, rows=24, seed=0)
    out = tmp_path / "wide.h5"
    # A child process, so its peak memory is its own and a hang cannot stall the suite.
    code = (
        "from csv2h5 import convert, ConvertOptions\n"
        f"convert([{str(csv)!r}], {str(out)!r}, options=ConvertOptions(target=('label',)))\n" + PRINT_PEAK_KB
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 1_000_000  # KiB: well under 1 GB for an 11 MB input
    expected = pd.read_csv(csv)
    with h5py.File(out, "r") as f:
        names = [c.decode() if isinstance(c, bytes) else c for c in f["features"].attrs["columns"]]
        assert names == list(expected.columns[:-1])
        np.testing.assert_array_equal(f["features"][()], values)
        assert f["features"].dtype == np.uint8
        assert [c.decode() if isinstance(c, bytes) else c for c in f["target"].attrs["classes"]] == ["a", "b"]
    info = describe(out)
    assert info["features"] == COLUMNS and info["columns"][-1] == f"gene_{COLUMNS - 1:06d}"
    listed = subprocess.run(
        [sys.executable, "-m", "csv2h5", "info", str(out), "--json"], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["columns"][:2] == ["gene_000000", "gene_000001"]


def _write_wide_decimals(path: Path, rows: int) -> None:
    values = np.random.default_rng(3).random((rows, COLUMNS))
    with open(path, "w") as fh:
        fh.write(",".join(f"g{i}" for i in range(COLUMNS)) + "\n")
        for row in values:
            fh.write(",".join(f"{v:.6f}" for v in row) + "\n")


@pytest.mark.slow
def test_100000_columns_of_decimals_convert_in_bounded_time_and_memory(tmp_path):
    csv = tmp_path / "wide.csv"
    _write_wide_decimals(csv, rows=40)  # 36 MB
    out = tmp_path / "wide.h5"
    # One process (workers=0), so its CPU time and peak memory are the conversion's own. Before the
    # row-major path for wide blocks: ~10 s of CPU and ~1 GB; now ~1 s and ~240 MB (2 cores).
    code = (
        "import resource; from csv2h5 import convert, ConvertOptions\n"
        f"convert([{str(csv)!r}], {str(out)!r}, options=ConvertOptions(workers=0))\n"
        "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(usage.ru_utime + usage.ru_stime)\n" + PRINT_PEAK_KB
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    cpu_s, peak_kb = done.stdout.split()[-2:]
    assert float(cpu_s) < 5 and int(peak_kb) < 500_000, (cpu_s, peak_kb)
    expected = pd.read_csv(csv).to_numpy()
    with h5py.File(out, "r") as f:
        assert f["features"].dtype == np.float32  # 6-digit decimals: float32 gives each back
        np.testing.assert_array_equal(f["features"][()], expected.astype(np.float32))


@pytest.mark.slow
def test_wide_parts_merge_and_read_as_one(tmp_path):
    from csv2h5.trainer import HDF5Sequence

    from csv2h5.merge import merge

    parts, blocks = [], []
    for seed in (1, 2):
        csv = tmp_path / f"part{seed}.csv"
        blocks.append(_write_wide(csv, rows=6, seed=seed))
        out = tmp_path / f"part{seed}.h5"
        convert([csv], out, options=ConvertOptions(target=("label",)))
        parts.append(out)
    merged = tmp_path / "merged.h5"
    merge(parts, merged)
    whole = np.concatenate(blocks)
    with h5py.File(merged, "r") as f:
        assert len(f["features"].attrs["columns"]) == COLUMNS
        np.testing.assert_array_equal(f["features"][()], whole)
    seq = HDF5Sequence([str(p) for p in parts], batch_size=12, shuffle=False, dtype="uint8", scale=None)
    x, _ = seq[0]
    np.testing.assert_array_equal(x, whole)
