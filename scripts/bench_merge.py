"""Benchmark: joining converted parts, and reading parts whose vocabularies differ.

    python scripts/bench_merge.py               # both sections, default sizes
    python scripts/bench_merge.py --rows 100000 --table-rows 200000
    python scripts/bench_merge.py --only vocabularies

Section "join": the 600,000-row digits file cut into 3 parts; the time to make
the joined file by copying (csv2h5 merge) and as an HDF5 virtual dataset, then
global-shuffle batch reads (HDF5Sequence, batch 256, float32) from the copy,
from the virtual dataset, and from the parts read as one (a glob).

Section "vocabularies": a penguin-shaped table (7 features, 2 of them
categorical; scripts/make_penguins_csv.py) cut by island into 3 parts, which
therefore have different island vocabularies, sex orders and class sets. The
same parts are converted twice: each alone (read as one, 2 of the 3 parts go
through lookup tables) and each --like the previous (equal vocabularies: no
lookup). Global-shuffle batch reads of both, alternating over rounds in one
process, medians; and of their merge, for reference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _parts(work: Path, rows: int, count: int) -> list[Path]:
    """Cut the converted file into ``count`` csv2h5 files (CSV parts, converted one by one)."""
    csv = work / f"digits_{rows}.csv"
    if not csv.exists():
        subprocess.run([python(), str(Path(__file__).parent / "make_digits_csv.py"), str(csv), "--rows", str(rows)], check=True)
    lines = csv.read_bytes().split(b"\n", 1)
    header, body = lines[0] + b"\n", lines[1]
    records = body.splitlines(keepends=True)
    out = []
    for k in range(count):
        part_csv = work / f"part{k}_{rows}.csv"
        part_h5 = work / f"part{k}_{rows}.h5"
        if not part_h5.exists():
            a, b = k * len(records) // count, (k + 1) * len(records) // count
            part_csv.write_bytes(header + b"".join(records[a:b]))
            subprocess.run(
                [python(), "-m", "csv2h5", "convert", str(part_csv), "-o", str(part_h5), "--target", "label", "--quiet"],
                check=True,
            )
            part_csv.unlink()
        out.append(part_h5)
    return out


def _virtual(parts: list[Path], out: Path) -> None:
    import h5py

    with h5py.File(parts[0], "r") as f0:
        width, dtype = f0["features"].shape[1], f0["features"].dtype
        attrs = dict(f0.attrs)
        feature_attrs = dict(f0["features"].attrs)
    sizes = []
    for p in parts:
        with h5py.File(p, "r") as f:
            sizes.append(f["features"].shape[0])
    layout = h5py.VirtualLayout(shape=(sum(sizes), width), dtype=dtype)
    start = 0
    for p, n in zip(parts, sizes):
        layout[start : start + n] = h5py.VirtualSource(str(p.resolve()), "features", shape=(n, width))
        start += n
    with h5py.File(out, "w") as g:
        g.create_virtual_dataset("features", layout)
        for k, v in feature_attrs.items():
            g["features"].attrs[k] = v
        for k, v in attrs.items():
            g.attrs[k] = v
        g.attrs["rows"] = sum(sizes)


def _rate(seq, batches: int) -> float:
    seq[0]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for i in range(batches):
            seq[i]
        times.append(time.perf_counter() - t)
    return batches * seq.batch_size / median(times)


def _vocabulary_parts(work: Path, rows: int) -> dict[str, list[Path]]:
    """The penguin table cut by island, converted alone and --like the previous part."""
    import make_penguins_csv

    out: dict[str, list[Path]] = {"alone": [], "like": []}
    csvs = sorted(work.glob(f"penguins_{rows}/*.csv"))
    if not csvs:
        csvs = make_penguins_csv.write_parts(make_penguins_csv.make_table(rows, seed=0), work / f"penguins_{rows}", by="island")
    for csv in csvs:
        for kind in out:
            h5 = csv.with_name(f"{csv.stem}_{kind}.h5")
            if not h5.exists():
                roles = (
                    ["--like", str(out[kind][-1])]
                    if kind == "like" and out[kind]
                    else ["--target", "species", "--categorical", "island,sex"]
                )
                subprocess.run(
                    [python(), "-m", "csv2h5", "convert", str(csv), "-o", str(h5), "--quiet", *roles],
                    check=True,
                    stderr=subprocess.DEVNULL,
                )  # the single-class part warns
            out[kind].append(h5)
    return out


def _pass_rate(seq, batches: int) -> float:
    t = time.perf_counter()
    for i in range(batches):
        seq[i % len(seq)]
    return batches * seq.batch_size / (time.perf_counter() - t)


def vocabularies(args: argparse.Namespace) -> None:
    from csv2h5.trainer import HDF5Sequence

    parts = _vocabulary_parts(args.workdir, args.table_rows)
    merged = args.workdir / f"penguins_{args.table_rows}_merged.h5"
    subprocess.run(
        [python(), "-m", "csv2h5", "merge", *map(str, parts["alone"]), "-o", str(merged), "--overwrite", "--quiet"], check=True
    )
    for path in (*parts["alone"], *parts["like"], merged):
        path.read_bytes()  # page cache, as in any second epoch
    sequences = {
        "parts, other vocabularies (lookup tables)": HDF5Sequence(
            [str(p) for p in parts["alone"]], batch_size=256, shuffle="global"
        ),
        "parts, equal vocabularies (converted --like)": HDF5Sequence(
            [str(p) for p in parts["like"]], batch_size=256, shuffle="global"
        ),
        "merged file (reference)": HDF5Sequence(merged, batch_size=256, shuffle="global"),
    }
    tables = [sorted(codes) for codes in sequences["parts, other vocabularies (lookup tables)"].info.part_codes]
    rates: dict[str, list[float]] = {name: [] for name in sequences}
    for seq in sequences.values():
        _pass_rate(seq, 20)  # warm up: maps, first pages
    for _ in range(args.rounds):  # alternate, so a noisy stretch of a shared machine hits every reader
        for name, seq in sequences.items():
            rates[name].append(_pass_rate(seq, args.batches))
    print(
        f"\n[vocabularies] {args.table_rows:,} penguin rows (7 features, island and sex categorical) cut by island "
        f"into 3 parts; lookup tables per part (feature columns): {tables}"
    )
    print(
        f"batch 256, global shuffle, float32, (x, y); {args.batches} batches a pass, median of {args.rounds} alternating rounds"
    )
    base = median(rates["parts, equal vocabularies (converted --like)"])
    for name, values in rates.items():
        rate = median(values)
        print(
            f"  {name:48s} {rate:12,.0f} rows/s  {rate / base:5.2f}x  {256 / rate * 1e6:6.1f} us/batch  "
            f"(rounds: {', '.join(f'{v / 1e3:,.0f}k' for v in values)})"
        )


def join(args: argparse.Namespace) -> None:
    parts = _parts(args.workdir, args.rows, args.parts)
    copy, virtual = args.workdir / f"merged_{args.rows}.h5", args.workdir / f"virtual_{args.rows}.h5"
    for p in parts:  # page cache, as in any second epoch
        p.read_bytes()
    t = time.perf_counter()
    subprocess.run([python(), "-m", "csv2h5", "merge", *map(str, parts), "-o", str(copy), "--overwrite", "--quiet"], check=True)
    copy_s = time.perf_counter() - t
    t = time.perf_counter()
    _virtual(parts, virtual)
    virtual_s = time.perf_counter() - t
    copy.read_bytes()

    from csv2h5.trainer import HDF5Sequence

    print(f"\n[join] {args.rows:,} rows in {args.parts} converted parts; batch 256, global shuffle, float32; median of 3\n")
    print(
        f"make the joined file: copy (csv2h5 merge) {copy_s:.2f} s, {copy.stat().st_size / 1e6:.0f} MB; "
        f"virtual dataset {virtual_s:.3f} s, {virtual.stat().st_size / 1e3:.0f} kB"
    )
    few = max(2, args.batches // 50)
    for name, spec, batches in (
        ("copy (one memory map)", copy, args.batches),
        ("parts read as one (a map per part)", [str(p) for p in parts], args.batches),
        ("virtual dataset (no chunk offsets: chunk reader)", virtual, few),
    ):
        seq = HDF5Sequence(spec, batch_size=256, shuffle="global", targets=False)
        print(f"  {name:50s} {_rate(seq, batches):12,.0f} rows/s ({batches} batches)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000, help="digits rows for the join section")
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--table-rows", type=int, default=2_000_000, help="penguin rows for the vocabularies section")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["join", "vocabularies"])
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    args.workdir.mkdir(exist_ok=True)
    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.only in (None, "join"):
        join(args)
    if args.only in (None, "vocabularies"):
        vocabularies(args)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
