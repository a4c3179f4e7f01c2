"""Bounded memory: a conversion's peak anonymous memory has a bound, whatever the number of rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from benchutil import run_measured

# Peak RssAnon + RssShmem of the process tree (main process and parser workers; parsed blocks
# reach the main process through shared memory, which RssAnon does not count). Measured on 2 cores:
# ~290 MB for integers (the fast path; BENCHMARKS.md's target is 512 MB) and ~570 MB with a
# column of decimals (pyarrow's path), at any size.
BOUND_MB = {"integers": 512, "decimals": 768}
# A small file already of many 4 MiB blocks, and a larger one: 10x the rows, 4x with decimals,
# which parse slower. The decimals' peak climbs over the first dozen blocks while each parser
# process's allocator settles (measured: 475, 488, 538, 545 and 542 MB at 12, 24, 48, 96 and
# 192 MB of CSV), so their small file starts past that: flat is about what more rows add.
SIZES_MB = {"integers": (16, 160), "decimals": (48, 192)}
# Two bytes of text per value: holding the larger file's rows would take 72 MB more as uint8,
# 144 MB more as float32.
GROWTH_MB = 48


def _write_csv(path: Path, megabytes: int, *, decimals: bool) -> None:
    """Rows of 32 one-digit integers (the last a decimal with ``decimals``), repeated to the size."""
    table = np.random.default_rng(0).integers(0, 10, (5000, 32))
    rows = [",".join(map(str, r[:31])) + (f",{r[31] / 4}" if decimals else f",{r[31]}") for r in table]
    block = ("\n".join(rows) + "\n").encode()
    with open(path, "wb") as fh:
        fh.write((",".join(f"c{i}" for i in range(32)) + "\n").encode())
        for _ in range(megabytes * 10**6 // len(block)):
            fh.write(block)


def _peak_anon_mb(src: Path) -> float:
    cmd = [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(src.with_suffix(".h5")), "--quiet"]
    _, memory, _ = run_measured(cmd)
    return memory.peak_anon_shmem_tree_kb / 1024


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(BOUND_MB))
def test_peak_memory_is_bounded_and_flat_in_the_rows(tmp_path, shape):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    for path, megabytes in zip((small, large), SIZES_MB[shape]):
        _write_csv(path, megabytes, decimals=shape == "decimals")
    small_mb, large_mb = _peak_anon_mb(small), _peak_anon_mb(large)
    assert small_mb < BOUND_MB[shape] and large_mb < BOUND_MB[shape], (small_mb, large_mb)
    assert large_mb - small_mb < GROWTH_MB, (small_mb, large_mb)
