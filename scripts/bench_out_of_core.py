"""Data larger than memory: each shuffle order read by a process limited to 1.5 GB (a memory cgroup).

The file: bench_data/ooc_sorted.h5, 8,000,000 rows x 785 uint8 columns (784 pixels + the label as
/target), 6.3 GB of rows, sorted by label in runs as data exported by class or by day is. Made once:
100,000 rows of scripts/make_digits_csv.py (make_rows), sorted by label, written as CSV and converted
with ``csv2h5 convert``; then that file joined 80 times with ``csv2h5 merge`` (so each label comes in
runs of ~10,000 rows, ~8 MB). It is left in bench_data/ (gitignored): delete it when done.

Each figure comes from a fresh child process placed in a memory cgroup limited to ``--limit`` bytes
(cgroup v1 ``memory.limit_in_bytes``, or v2 ``memory.max``; the page cache counts against it, as on
a machine or container with that much RAM), after the file's pages were dropped from the page cache
(``posix_fadvise(POSIX_FADV_DONTNEED)``). Creating the cgroup needs root: without it the script says
so and reports nothing. Peak memory is the cgroup's own record (``memory.max_usage_in_bytes`` / v2
``memory.peak``), page cache included.

Per order: rows/s of ``HDF5Sequence.read_batch`` over the first ``--rows-timed`` rows of an epoch (or
``--seconds``, whichever ends first; the order's planning included), against the disk's sequential rate
for the same file in the same run (16 MiB ``pread``s); mean distinct labels per batch of 256 over the
batches read; the cgroup's peak memory. Then, without a limit and with a 500,000-row file cached, the
default order against an in-RAM numpy gather of the same batches (files that fit must keep their speed).

    sudo .venv/bin/python scripts/bench_out_of_core.py       # as root; under flock of the heavy-job lock
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchutil import MemoryCgroup, digits_h5, drop_cache, machine, merged_copies, read_into_cache  # noqa: E402

BATCH = 256
SEED_ROWS, COPIES = 100_000, 80
READ_BYTES = 16 << 20


# -- the data -------------------------------------------------------------------------------------


def _sorted_part(workdir: Path, rows: int, name: str) -> Path:
    """``rows`` MNIST-shaped rows sorted by label, converted with csv2h5."""
    import make_digits_csv

    parts = [make_digits_csv.make_rows(rows, seed=11)]
    return digits_h5(workdir / f"{name}.h5", parts, sort_by_label=True, convert_args=["--sample-shape", "28,28,1"])


def ensure_data(workdir: Path, *, big: bool = True) -> tuple[Path | None, Path]:
    """The 6.3 GB sorted file (made once; None unless ``big``) and a 500,000-row one for the cached comparison."""
    workdir.mkdir(exist_ok=True)
    small = _sorted_part(workdir, 500_000, "ooc_small")
    if not big:
        return None, small
    part = _sorted_part(workdir, SEED_ROWS, "ooc_part")
    whole = workdir / "ooc_sorted.h5"
    if not whole.exists():
        started = time.perf_counter()
        merged_copies(part, COPIES, whole)
        print(f"made {whole} ({whole.stat().st_size / 1e9:.1f} GB) in {time.perf_counter() - started:.0f} s", flush=True)
    return whole, small


def run_child(cgroup: MemoryCgroup | None, args: list[str], data: Path) -> dict:
    """Run this script as a child and return its JSON report: in the cgroup with ``data``'s pages dropped from
    the page cache first, or (no cgroup) without a limit and the page cache left as it is."""
    command = [sys.executable, __file__, "--child", *args]
    if cgroup is None:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    else:
        proc = cgroup.run(command, cold=data, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if cgroup is not None:
        if f"/{cgroup.path.name}" not in report["cgroup"]:
            raise SystemExit(f"the child ran in {report['cgroup']!r}, not in {cgroup.path}; no figure reported")
        report["peak"] = cgroup.peak()
    return report


# -- what a child measures ------------------------------------------------------------------------


def child_sequential(data: Path) -> dict:
    """The disk's sequential rate for this file: 16 MiB preads from start to end."""
    fd = os.open(data, os.O_RDONLY)
    buffer = bytearray(READ_BYTES)
    done, started = 0, time.perf_counter()
    try:
        while True:
            got = os.preadv(fd, [buffer], done)
            if got <= 0:
                break
            done += got
            os.posix_fadvise(fd, done - got, got, os.POSIX_FADV_DONTNEED)  # as the reader does: no cache kept
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    return {"rows_per_s": done / 785 / seconds, "bytes": done, "seconds": seconds}


def child_random_blocks(data: Path, block_bytes: int, count: int) -> dict:
    """The disk's rate for the reads ``blocks`` makes: one pread of a whole block at a random place."""
    fd = os.open(data, os.O_RDONLY)
    size = os.fstat(fd).st_size
    buffer = bytearray(block_bytes)
    offsets = np.random.default_rng(0).permutation(size // block_bytes - 1)[:count] * block_bytes
    started = time.perf_counter()
    try:
        for offset in offsets:
            os.preadv(fd, [buffer], int(offset))
            os.posix_fadvise(fd, int(offset), block_bytes, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    return {"rows_per_s": offsets.size * block_bytes / 785 / seconds, "seconds": seconds}


def child_order(data: Path, shuffle: str, rows_timed: int, seconds: float) -> dict:
    from csv2h5.trainer import HDF5Sequence, readahead

    if shuffle.endswith(":buffered"):  # auto:buffered: scattered loads through the page cache too
        shuffle = shuffle.removesuffix(":buffered")
        readahead.DIRECT_READS = False
    if "@" in shuffle:  # auto@4: the read-ahead reads 4 loads at once
        shuffle, threads = shuffle.split("@")
        readahead.READ_THREADS = int(threads)
    extra = {}
    if shuffle.startswith("blocks") and shuffle != "blocks":  # blocks32: blocks of 32 MiB
        extra = {"block_bytes": int(shuffle[len("blocks") :]) << 20}
        shuffle = "blocks"
    seq = HDF5Sequence(data, batch_size=BATCH, shuffle=shuffle, seed=0, dtype="uint8", **extra)
    distinct, rows = [], 0
    started = time.perf_counter()
    for index in range(len(seq)):
        x, y = seq.read_batch(index, epoch=0)
        rows += x.shape[0]
        if x.shape[0] == BATCH:
            distinct.append(np.unique(y).size)
        if rows >= rows_timed or time.perf_counter() - started > seconds:
            break
    elapsed = time.perf_counter() - started
    reader = getattr(seq, "_reader", None)
    return {
        "rows_per_s": rows / elapsed,
        "rows": rows,
        "seconds": elapsed,
        "distinct": float(np.mean(distinct)),
        "shuffle": seq.shuffle,
        "reason": seq.shuffle_reason,
        "plan": str(seq.block_plan),
        "rows_direct": getattr(reader, "rows_direct", None),
    }


def child_cached(data: Path, batches: int) -> dict:
    """Default order on a file that fits, cached, against an in-RAM numpy gather of the same batches."""
    import h5py
    from csv2h5.trainer import HDF5Sequence

    read_into_cache(data)
    seq = HDF5Sequence(data, batch_size=BATCH, seed=0)  # float32 batches, as training reads them
    raw = HDF5Sequence(data, batch_size=BATCH, seed=0, scale=None)  # the same, not standardised
    with h5py.File(data, "r") as f:
        x_ram, y_ram = f["features"][()], f["target"][()].astype(np.int32)
    order = seq.order(0)

    def in_ram_batch(i: int):  # what an in-RAM PyDataset does per batch: its rows sorted, gathered, their labels
        picked = np.sort(order[i * BATCH : (i + 1) * BATCH])
        return np.take(x_ram, picked, axis=0).astype(np.float32), y_ram[picked]

    offset, factor = seq._finish.prepare.offset, seq._finish.prepare.factor
    batches = min(batches, len(seq))
    rows = [np.sort(seq.order(0)[i * BATCH : (i + 1) * BATCH]) for i in range(batches)]
    out = {"shuffle": seq.shuffle, "reason": seq.shuffle_reason}
    for _ in range(5):
        for name, read in (
            ("sequence", lambda i: seq.read_batch(i, epoch=0)[0]),
            ("numpy", lambda i: np.take(x_ram, rows[i], axis=0).astype(np.float32)),
            ("raw", lambda i: raw.read_batch(i, epoch=0)[0]),
            ("numpy_scaled", lambda i: (np.take(x_ram, rows[i], axis=0).astype(np.float32) - offset) * factor),
            ("numpy_batch", in_ram_batch),
        ):
            started = time.perf_counter()
            for i in range(batches):
                read(i)
            out.setdefault(name, []).append(batches * BATCH / (time.perf_counter() - started))
    return {k: (statistics.median(v) if isinstance(v, list) else v) for k, v in out.items()}


def child_fit(data: Path, steps: int) -> dict:
    """``h5train fit`` with its defaults for ``steps`` batches (the seed MLP), timed from the command line."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=data.parent) as scratch:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "csv2h5.trainer",
                "fit",
                str(data),
                "--epochs",
                "1",
                "--steps-per-epoch",
                str(steps),
                "--progress",
                "none",
                "--run-dir",
                str(Path(scratch) / "run"),
            ],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"h5train fit failed: {proc.stderr.strip()[-800:]}")
    note = next((line for line in proc.stderr.splitlines() if "data order" in line), "")
    return {"seconds": seconds, "note": note}


def child_main(argv: list[str]) -> int:
    kind, data = argv[0], Path(argv[1])
    if kind == "sequential":
        report = child_sequential(data)
    elif kind == "random-blocks":
        report = child_random_blocks(data, int(argv[2]), int(argv[3]))
    elif kind == "cached":
        report = child_cached(data, int(argv[2]))
    elif kind == "fit":
        report = child_fit(data, int(argv[2]))
    else:
        report = child_order(data, kind, int(argv[2]), float(argv[3]))
    report["cgroup"] = Path("/proc/self/cgroup").read_text()
    print(json.dumps(report))
    return 0


# -- the report -----------------------------------------------------------------------------------


def _seconds(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.1f}" for r in runs)


def _rates(runs: list[dict]) -> str:
    return ", ".join(f"{r['rows_per_s']:,.0f}" for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench_data")
    parser.add_argument("--limit", type=float, default=1.5e9, help="bytes the measured process may use")
    parser.add_argument("--rows-timed", type=int, default=8_000_000, help="rows read per order (a whole epoch)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per order (the slow ones)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the fast orders and of the disk rate")
    parser.add_argument("--fit-steps", type=int, default=1000, help="h5train fit steps timed (0: skip)")
    parser.add_argument("--only-cached", action="store_true", help="only the cached comparison (no limit needed)")
    parser.add_argument(
        "--orders",
        default="auto,blocks32,none,window,batch,global",
        help="orders read, in turn; NAME@N reads N loads at once (auto@1: one read-ahead thread); NAME:buffered "
        "reads scattered loads through the page cache, not past it",
    )
    args = parser.parse_args()
    big, small = ensure_data(args.workdir, big=not args.only_cached)
    if big is None:
        return _cached(small)
    cgroup = MemoryCgroup(int(args.limit))
    try:
        print(f"machine: {machine()}")
        print(
            f"file: {big.name}, {big.stat().st_size / 1e9:.2f} GB, rows sorted by label in runs; batch {BATCH}; "
            f"memory cgroup v{cgroup.version} limited to {args.limit / 1e9:.2f} GB; page cache emptied before each run\n"
        )
        disk = [run_child(cgroup, ["sequential", str(big)], big) for _ in range(args.repeats)]
        disk_rate = statistics.median(d["rows_per_s"] for d in disk)
        print(
            f"{'disk, 16 MiB sequential preads':34s} {disk_rate:12,.0f} rows/s  "
            f"({disk_rate * 785 / 1e9:.2f} GB/s; runs {_rates(disk)}); "
            f"peak {max(d['peak'] for d in disk) / 1e9:.2f} GB"
        )
        block = 12033 * 785  # the blocks of this file (9 chunks of 1,337 rows)
        scattered = [run_child(cgroup, ["random-blocks", str(big), str(block), "130"], big) for _ in range(args.repeats)]
        scattered_rate = statistics.median(d["rows_per_s"] for d in scattered)
        print(
            f"{'disk, 9.4 MB preads at random places':34s} {scattered_rate:12,.0f} rows/s  "
            f"{scattered_rate / disk_rate:5.2f}x disk (runs {_rates(scattered)}): the reads blocks makes"
        )
        orders = [(name, args.repeats if name.startswith("auto") else 1) for name in args.orders.split(",")]
        for shuffle, repeats in orders:
            runs = [run_child(cgroup, [shuffle, str(big), str(args.rows_timed), str(args.seconds)], big) for _ in range(repeats)]
            failed = [r["error"] for r in runs if "error" in r]
            if failed:
                print(f"shuffle={shuffle:8s} failed: {failed[0]}")
                continue
            rate = statistics.median(r["rows_per_s"] for r in runs)
            label = f"shuffle={shuffle}" + (f" (-> {runs[0]['shuffle']})" if shuffle.startswith("auto") else "")
            print(
                f"{label:34s} {rate:12,.0f} rows/s  {rate / disk_rate:5.2f}x disk, {rate / scattered_rate:4.2f}x random; "
                f"{runs[0]['distinct']:.2f} labels/batch; {runs[0]['rows']:,} rows in {runs[0]['seconds']:.1f} s; "
                f"peak {max(r['peak'] for r in runs) / 1e9:.2f} GB" + (f"; runs {_rates(runs)}" if repeats > 1 else "")
            )
            if shuffle.startswith("auto"):
                print(f"{'':34s} why: {runs[0]['reason']}; {runs[0]['plan']}; rows read directly {runs[0]['rows_direct']}")
        if args.fit_steps:
            limited = [run_child(cgroup, ["fit", str(big), str(args.fit_steps)], big) for _ in range(args.repeats)]
            print(
                f"\nh5train fit, defaults, {args.fit_steps} steps, limited, cache emptied: "
                f"{statistics.median(r['seconds'] for r in limited):.1f} s (runs "
                f"{_seconds(limited)}); "
                f"peak {max(r['peak'] for r in limited) / 1e9:.2f} GB; {limited[0]['note']}"
            )
        print(f"times the cgroup's usage reached its limit (the kernel then reclaimed page cache): {cgroup.failures()}")
    finally:
        cgroup.remove()
    if args.fit_steps:
        read_into_cache(big)  # the whole file in the page cache, no limit: the in-cache reference
        free = [run_child(None, ["fit", str(big), str(args.fit_steps)], big) for _ in range(args.repeats)]
        if any("error" in r for r in free):
            raise SystemExit(f"h5train fit without a limit failed: {next(r['error'] for r in free if 'error' in r)}")
        free_s = statistics.median(r["seconds"] for r in free)
        print(
            f"h5train fit, defaults, {args.fit_steps} steps, no limit, file cached: {free_s:.1f} s (runs "
            f"{_seconds(free)}); {free[0]['note']}"
        )
        print(f"limited / cached: {statistics.median(r['seconds'] for r in limited) / free_s:.2f}x")
        drop_cache(big)
    return _cached(small)


def _cached(small: Path) -> int:
    cached = run_child(None, ["cached", str(small), "2000"], small)
    if "error" in cached:
        raise SystemExit(f"the cached comparison failed: {cached['error']}")
    print(
        f"\ncached {small.name} (500,000 rows, no limit): default order -> {cached['shuffle']} "
        f"({cached['reason']}): {cached['sequence']:,.0f} rows/s vs in-RAM numpy gather {cached['numpy']:,.0f} "
        f"= {cached['sequence'] / cached['numpy']:.2f}x (read_batch standardises, the gather does not)"
    )
    print(
        f"  scale=None: {cached['raw']:,.0f} rows/s = {cached['raw'] / cached['numpy']:.2f}x the gather; "
        f"the gather then standardised in numpy ((x - mean) * factor): {cached['numpy_scaled']:,.0f} rows/s, "
        f"default read_batch {cached['sequence'] / cached['numpy_scaled']:.2f}x that"
    )
    print(
        f"  the in-RAM batch (its rows sorted, gathered, converted, their labels looked up, as read_batch does): "
        f"{cached['numpy_batch']:,.0f} rows/s; read_batch with scale=None {cached['raw'] / cached['numpy_batch']:.2f}x that"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())
