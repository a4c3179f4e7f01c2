"""Benchmark: csv2h5 convert against the hand-written pandas baseline, in one run.

    python scripts/bench_convert.py                 # 600,000 rows (~1.1 GB), 3 runs each
    python scripts/bench_convert.py --scale 10      # also the 10x file, for memory
    python scripts/bench_convert.py --rows 100000 --runs 1   # quick look

The baseline is what people write by hand: ``pandas.read_csv(chunksize=...)``
appended to a resizable h5py uint8 dataset. Every command runs in its own
process; memory is sampled from /proc (RssAnon of the process tree, and RssFile
separately). The CSV is read once beforehand so every run reads it from the
page cache.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python, run_measured  # noqa: E402

BASELINE = textwrap.dedent("""
    import sys, h5py, numpy as np, pandas as pd
    src, dst = sys.argv[1], sys.argv[2]
    with h5py.File(dst, "w") as f:
        x = y = None
        for chunk in pd.read_csv(src, chunksize=10_000):
            pixels = chunk.iloc[:, 1:].to_numpy(dtype=np.uint8)
            labels = chunk.iloc[:, 0].to_numpy(dtype=np.uint8)
            if x is None:
                x = f.create_dataset("features", shape=(0, pixels.shape[1]), maxshape=(None, pixels.shape[1]),
                                     dtype="uint8", chunks=True)
                y = f.create_dataset("target", shape=(0,), maxshape=(None,), dtype="uint8", chunks=True)
            n = x.shape[0]
            x.resize(n + len(chunk), axis=0); x[n:] = pixels
            y.resize(n + len(chunk), axis=0); y[n:] = labels
""")


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=int, default=0, help="also convert a file this many times larger (memory check)")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(exist_ok=True)
    csv = work / f"digits_{args.rows}.csv"
    if not csv.exists():
        subprocess.run([python(), str(Path(__file__).parent / "make_digits_csv.py"), str(csv), "--rows", str(args.rows)], check=True)
    size_mb = csv.stat().st_size / 1e6
    _warm(csv)
    out = work / "out.h5"
    baseline_py = work / "baseline.py"
    baseline_py.write_text(BASELINE)
    print(f"machine: {machine()}")
    print(f"input: {csv.name}, {args.rows:,} rows, {size_mb:,.1f} MB; median of {args.runs} runs\n")

    def measure(label: str, cmd: list[str], runs: int, scale: int = 1) -> dict[str, float]:
        times, anon, anon_main, files = [], [], [], []
        for _ in range(runs):
            out.unlink(missing_ok=True)
            seconds, mem, _ = run_measured(cmd)
            times.append(seconds)
            anon.append(mem.peak_anon_tree_kb / 1024)
            anon_main.append(mem.peak_anon_main_kb / 1024)
            files.append(mem.peak_file_tree_kb / 1024)
        t = median(times)
        row = {"seconds": t, "mb_s": scale * size_mb / t, "rows_s": scale * args.rows / t, "anon": max(anon),
               "anon_main": max(anon_main), "file": max(files), "out_mb": out.stat().st_size / 1e6}
        print(f"{label:28s} {t:7.2f} s {row['mb_s']:7.1f} MB/s {row['rows_s']:9,.0f} rows/s  "
              f"RssAnon peak {row['anon']:6.0f} MB (main {row['anon_main']:4.0f})  RssFile {row['file']:5.0f} MB  "
              f"out {row['out_mb']:6.1f} MB", flush=True)
        return row

    csv2h5 = [python(), "-m", "csv2h5", "convert", str(csv), "-o", str(out), "--target", "label", "--quiet", "--overwrite"]
    results = {"baseline": measure("baseline (pandas chunks)", [python(), str(baseline_py), str(csv), str(out)], args.runs)}
    for comp in ("none", "lzf", "gzip"):
        results[comp] = measure(f"csv2h5 --compression {comp}", csv2h5 + ["--compression", comp], args.runs)
    results["one_core"] = measure("csv2h5 none, 1 core", ["taskset", "-c", "0"] + csv2h5, args.runs) if shutil.which("taskset") else None
    ratio = results["baseline"]["seconds"] / results["none"]["seconds"]
    print(f"\nspeed-up over baseline (none): {ratio:.2f}x  (target >= 2.5x)")
    print(f"peak RssAnon (process tree): {results['none']['anon']:.0f} MB  (target <= 512 MB)")
    if args.scale > 1:
        big = work / f"digits_{args.rows}_x{args.scale}.csv"
        if not big.exists():  # the 1x rows repeated: the same data, 10x the length
            with open(big, "wb") as dst:
                with open(csv, "rb") as src:
                    dst.write(src.read().split(b"\n", 1)[0] + b"\n")
                for _ in range(args.scale):
                    with open(csv, "rb") as src:
                        src.readline()
                        shutil.copyfileobj(src, dst, 64 << 20)
        row = measure(f"csv2h5 none, {args.scale}x rows", csv2h5[:4] + [str(big)] + csv2h5[5:], 1, args.scale)
        print(f"peak RssAnon at {args.scale}x rows: {row['anon']:.0f} MB vs {results['none']['anon']:.0f} MB at 1x")
        big.unlink()
    out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
