"""Benchmark: HDF5Sequence batch reads against an in-RAM numpy gather and h5py fancy indexing.

    python scripts/bench_loader.py                  # 600,000-row digits file
    python scripts/bench_loader.py --rows 100000    # quick look

All readers run in this one process over the same file; each figure is the
median of several repetitions. The file is read once first, so the memory map
reads from the page cache, as the in-RAM baseline reads from RAM.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from benchutil import machine, median, python  # noqa: E402

BATCH = 256


def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rate(fn, rows_per_call: int, calls: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(calls):
            fn(i)
        times.append(time.perf_counter() - start)
    return rows_per_call * calls / median(times)


def _ensure(work: Path, rows: int, compression: str) -> Path:
    csv = work / f"digits_{rows}.csv"
    out = work / f"digits_{rows}_{compression}.h5"
    if not csv.exists():
        subprocess.run([python(), str(Path(__file__).parent / "make_digits_csv.py"), str(csv), "--rows", str(rows)], check=True)
    if not out.exists():
        subprocess.run(
            [
                python(),
                "-m",
                "csv2h5",
                "convert",
                str(csv),
                "-o",
                str(out),
                "--target",
                "label",
                "--compression",
                compression,
                "--quiet",
            ],
            check=True,
        )
    return out


def shuffle_quality(order: np.ndarray) -> float:
    """Mean |i - j| of consecutive rows over a uniform shuffle's (n / 3): 1.0 is uniform."""
    return float(np.abs(np.diff(order)).mean() / (order.size / 3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--batches", type=int, default=400, help="batches timed per repetition")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    args.workdir.mkdir(exist_ok=True)
    plain = _ensure(args.workdir, args.rows, "none")
    lzf = _ensure(args.workdir, args.rows, "lzf")

    import h5py
    from csv2h5.trainer import HDF5Sequence

    with open(plain, "rb") as fh:  # page cache, as in any second epoch
        while fh.read(64 << 20):
            pass
    print(f"machine: {machine()}")
    print(f"file: {plain.name}, {args.rows:,} rows x 784 uint8, batch {BATCH}, float32 out; median of 3\n")
    rng = np.random.default_rng(0)
    batches = [np.sort(rng.choice(args.rows, BATCH, replace=False)) for _ in range(args.batches)]
    results: dict[str, float] = {}

    with h5py.File(plain, "r") as f:
        x_ram = f["features"][()]
    results["in-RAM numpy x[idx].astype(float32)"] = _rate(
        lambda i, x=x_ram: x[batches[i]].astype(np.float32), BATCH, args.batches
    )
    anon_ram = _status("RssAnon")
    x_ram = None  # freed before the readers of the file are measured

    for mode in ("global", "batch", "window"):
        seq = HDF5Sequence(plain, batch_size=BATCH, shuffle=mode, seed=0)
        seq[0]
        results[f"HDF5Sequence shuffle={mode}"] = _rate(seq.__getitem__, BATCH, min(args.batches, len(seq)))
    seq = HDF5Sequence(plain, batch_size=BATCH, shuffle="global")
    quality = {
        mode: shuffle_quality(HDF5Sequence(plain, batch_size=BATCH, shuffle=mode).order())
        for mode in ("global", "window", "batch")
    }
    quality["window (lzf)"] = shuffle_quality(HDF5Sequence(lzf, batch_size=BATCH, shuffle="window").order())
    lzf_seq = HDF5Sequence(lzf, batch_size=BATCH, shuffle="window", seed=0)
    results["HDF5Sequence lzf shuffle=window"] = _rate(lambda i: lzf_seq[i], BATCH, min(args.batches, len(lzf_seq)))
    few = max(2, args.batches // 40)
    with h5py.File(plain, "r") as f:
        ds = f["features"]
        results["h5py fancy indexing ds[idx]"] = _rate(lambda i: ds[batches[i]].astype(np.float32), BATCH, few, repeats=1)
    with h5py.File(lzf, "r") as f:
        ds = f["features"]
        results["h5py fancy indexing, lzf"] = _rate(lambda i: ds[batches[i]].astype(np.float32), BATCH, 1, repeats=1)

    ram = results["in-RAM numpy x[idx].astype(float32)"]
    for name, rate in results.items():
        print(f"{name:40s} {rate:12,.0f} rows/s  {rate / ram:6.2f}x in-RAM")
    ours = results["HDF5Sequence shuffle=global"]
    print(
        f"\nglobal shuffle vs in-RAM: {ours / ram:.2f}x (target >= 0.8x); vs h5py fancy indexing: "
        f"{ours / results['h5py fancy indexing ds[idx]']:.0f}x (target >= 50x)"
    )
    print(
        "shuffle quality (mean |i-j| of consecutive rows / uniform's): " + ", ".join(f"{k} {v:.3f}" for k, v in quality.items())
    )
    print(
        f"memory: RssAnon with the in-RAM copy {anon_ram:.0f} MB; now RssAnon {_status('RssAnon'):.0f} MB,"
        f" RssFile (memory map pages) {_status('RssFile'):.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
