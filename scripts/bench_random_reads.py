"""The disk's ceiling for ``blocks``: reads of a block at random places, by read size and reads in flight.

``blocks`` mixes well only if it reads its blocks in a random order, so its rate is bounded by the
disk's rate for large reads at random places, not by its sequential rate. This measures that bound on
one file (default bench_data/ooc_sorted.h5, made by scripts/bench_out_of_core.py): the sequential
rate in 16 MiB ``pread``s, then ``pread``s of 8, 16, 32, 64 and 128 MiB at random, non-overlapping
places, from 1, 2 and 4 threads at once (reads in flight). Each figure reads ``--bytes`` of the file
with its pages dropped from the page cache first (``posix_fadvise(POSIX_FADV_DONTNEED)``, also after
each read, as the reader does); medians of ``--repeats`` runs; rates as ratios to the sequential
rate measured in the same run.

    .venv/bin/python scripts/bench_random_reads.py [FILE]   # under flock of the heavy-job lock
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchutil import drop_cache, machine  # noqa: E402

MIB = 1 << 20


def sequential(path: Path, total: int) -> float:
    """Bytes/s of 16 MiB preads from the start, ``total`` bytes."""
    drop_cache(path)
    fd = os.open(path, os.O_RDONLY)
    buffer = bytearray(16 * MIB)
    done, started = 0, time.perf_counter()
    try:
        while done < total:
            got = os.preadv(fd, [buffer], done)
            if got <= 0:
                break
            os.posix_fadvise(fd, done, got, os.POSIX_FADV_DONTNEED)
            done += got
    finally:
        os.close(fd)
    return done / (time.perf_counter() - started)


def scattered(path: Path, size: int, threads: int, total: int, seed: int) -> float:
    """Bytes/s of ``size``-byte preads at random places, ``threads`` at a time, ``total`` bytes in all."""
    drop_cache(path)
    length = path.stat().st_size
    count = max(threads, total // size)
    offsets = np.random.default_rng(seed).permutation(length // size)[:count] * size
    fd = os.open(path, os.O_RDONLY)
    next_read = iter(offsets.tolist())
    lock = threading.Lock()

    def work() -> None:
        buffer = bytearray(size)
        while True:
            with lock:
                offset = next(next_read, None)
            if offset is None:
                return
            os.preadv(fd, [buffer], offset)
            os.posix_fadvise(fd, offset, size, os.POSIX_FADV_DONTNEED)

    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        os.close(fd)
    return offsets.size * size / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", default=ROOT / "bench_data" / "ooc_sorted.h5")
    parser.add_argument("--bytes", type=float, default=2e9, help="bytes read per figure")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="8,16,32,64,128", help="read sizes, MiB")
    parser.add_argument("--threads", default="1,2,4", help="reads in flight")
    args = parser.parse_args()
    total = int(args.bytes)
    print(f"machine: {machine()}")
    print(
        f"file: {args.file.name}, {args.file.stat().st_size / 1e9:.2f} GB; {total / 1e9:.1f} GB read per figure, "
        f"page cache emptied first; medians of {args.repeats}\n"
    )
    seq = statistics.median(sequential(args.file, total) for _ in range(args.repeats))
    print(f"sequential, 16 MiB preads: {seq / 1e9:.2f} GB/s")
    threads = [int(t) for t in args.threads.split(",")]
    print(f"{'random, read size':18s}" + "".join(f"{f'{t} in flight':>22s}" for t in threads))
    for mib in (int(s) for s in args.sizes.split(",")):
        cells = []
        for t in threads:
            rate = statistics.median(scattered(args.file, mib * MIB, t, total, seed=r) for r in range(args.repeats))
            cells.append(f"{rate / 1e9:.2f} GB/s {rate / seq:5.2f}x")
        print(f"{f'{mib} MiB':18s}" + "".join(f"{c:>22s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
