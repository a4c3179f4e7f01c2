"""Reading a subset of a file larger than memory: the sides of a split, a shard, a sparse sample.

    sudo python scripts/bench_subsets.py [--workdir bench_data] [--limit-mb 1024] [--rounds 3]

``h5train fit`` holds 10% of the rows out at random for validation, so on data
larger than memory the training side is a random 90% of the file (read in the
``blocks`` order) and the validation side a random, sparse 10% (read in file
order). A process given a shard, or ``indices`` of a sample, reads a subset
too. This script reads one epoch of each such subset of a 1,500,000-row
MNIST-shaped file (1.2 GB, rows sorted by label in runs; three copies of a
500,000-row file, merged) in a process limited
to ``--limit-mb`` of memory by a memory cgroup (the page cache counts against
it, so the file cannot stay cached), the file's pages dropped before each run,
with the memory budget ``HDF5Sequence`` finds for itself (the cgroup's limit).
Per subset: rows/s, the share of rows a batch had to read one at a time
(``rows_direct``: the read-ahead missed them), file rows read per row used,
and the cgroup's peak; beside it, the disk's own sequential rate for the same
file, in the same run. Medians of ``--rounds`` runs. Needs root (the cgroup).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchutil import MemoryCgroup, machine, median, sorted_copies_file  # noqa: E402

BATCH = 256
CASES = ("whole file", "split 90% (training side)", "split 10% (validation side)", "shard 1 of 4", "random 1%")


def _subset(name: str, path: str):
    """The sequence ``h5train`` (or a Python user) would read for subset ``name``."""
    import numpy as np
    from csv2h5.trainer import HDF5Sequence

    common = dict(batch_size=BATCH, scale=None, missing=None, seed=1)
    whole = HDF5Sequence(path, **common)
    if name == "whole file":
        return whole
    if name.startswith("split"):
        train, val = whole.split(0.1)
        return train if "90%" in name else val
    if name == "shard 1 of 4":
        return HDF5Sequence(path, shard=(1, 4), **common)
    rows = np.sort(np.random.default_rng(0).choice(whole.num_rows, whole.num_rows // 100, replace=False))
    return HDF5Sequence(path, indices=rows, **common)


def _child(name: str, path: str) -> None:
    """One epoch of subset ``name``, timed; prints its figures as JSON."""
    seq = _subset(name, path)
    seq.order(0)  # the epoch's order is made before the clock starts, as fit makes it once
    started = time.perf_counter()
    for i in range(len(seq)):
        seq.read_batch(i, epoch=0)
    seconds = time.perf_counter() - started
    reader = seq._readers.reader  # None: the rows fit in the budget and are read from the memory map
    direct = reader.rows_direct if reader is not None else None
    read = getattr(reader, "rows_read", None) if reader is not None else None
    print(json.dumps({"rows": seq.num_rows, "seconds": seconds, "shuffle": seq.shuffle, "direct": direct, "read": read}))


def _sequential(path: str) -> None:
    """The disk's rate for the whole file in 16 MiB reads (cold): what any reader's rows/s compares with."""
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        while fh.read(16 << 20):
            pass
    print(json.dumps({"seconds": time.perf_counter() - started, "bytes": os.path.getsize(path)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    parser.add_argument("--limit-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--sequential", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    if args.sequential:
        _sequential(args.sequential)
        return 0
    path = sorted_copies_file(
        args.workdir
    )  # larger than the limit, with room for Keras  # larger than the limit, with room for Keras
    size = path.stat().st_size
    print(f"{machine()}\nfile {path.name}: {size / 1e6:.0f} MB; memory limit {args.limit_mb} MB (a memory cgroup)")
    cgroup = MemoryCgroup(args.limit_mb << 20)
    me = [sys.executable, __file__]
    figures: dict[str, list[dict]] = {name: [] for name in (*CASES, "disk")}
    try:
        for _ in range(args.rounds):  # rounds alternate over the cases, so a slow minute touches them all
            for name in CASES:
                done = cgroup.run([*me, "--child", name, str(path)], cold=path, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{name}: exit {done.returncode} (killed at the limit?) {done.stderr}", file=sys.stderr)
                    return 1
                figures[name].append({**json.loads(done.stdout.splitlines()[-1]), "peak": cgroup.peak()})
            done = cgroup.run([*me, "--sequential", str(path)], cold=path, capture_output=True, text=True, check=True)
            figures["disk"].append(json.loads(done.stdout))
    finally:
        cgroup.remove()
    disk_rate = median([f["bytes"] / f["seconds"] for f in figures["disk"]])
    rows = figures["whole file"][0]["rows"]
    row_bytes = size / rows
    print(f"disk, sequential 16 MiB reads: {disk_rate / 1e6:.0f} MB/s = {disk_rate / row_bytes:,.0f} rows/s")
    print(
        "| subset | order | rows | rows/s | vs disk sequential (rows used) | read one at a time"
        " | file rows read per row used | cgroup peak |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in CASES:
        runs = figures[name]
        rate = median([f["rows"] / f["seconds"] for f in runs])
        first = runs[0]
        direct = "-" if first["direct"] is None else f"{median([f['direct'] / f['rows'] for f in runs]):.1%}"
        read = "-" if first["read"] is None else f"{median([f['read'] / f['rows'] for f in runs]):.2f}"
        peak = median([f["peak"] for f in runs]) / 2**20
        print(
            f"| {name} | {first['shuffle']} | {first['rows']:,} | {rate:,.0f} | {rate * row_bytes / disk_rate:.2f}x"
            f" | {direct} | {read} | {peak:.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
