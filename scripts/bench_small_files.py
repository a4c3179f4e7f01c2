"""How large a converted file is beside its data, for small CSVs (chunks bounded by the rows).

A table of 3 decimal columns, one integer column and a 0/1 target, at several
row counts, is converted with the defaults (csv2h5 on the import path: run it
with PYTHONPATH pointing at another checkout to measure that one beside). For
each: the CSV's bytes, the values' bytes (float32 features + uint8 target), the
file's bytes and their ratio, the chunk shapes, and the conversion's wall time
(median of --repeats runs, in this process, no parser processes).

    python scripts/bench_small_files.py [--rows 100,1000,10000,100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np


def _write_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    a, c, d = (rng.normal(size=rows).round(3) for _ in range(3))
    b = rng.integers(0, 100, rows)
    y = rng.integers(0, 2, rows)
    with open(path, "w") as fh:
        fh.write("a,b,c,d,y\n")
        fh.writelines(f"{a[i]},{b[i]},{c[i]},{d[i]},{y[i]}\n" for i in range(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100,1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import csv2h5
    from csv2h5 import ConvertOptions, convert

    print(f"csv2h5 from {Path(csv2h5.__file__).parent}")
    print(
        f"{'rows':>8} {'csv bytes':>10} {'values':>9} {'h5 bytes':>10} {'h5/values':>9} {'chunks (features, target)':>26}"
        f" {'seconds':>8}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for rows in (int(r) for r in args.rows.split(",")):
            src = Path(scratch) / f"t{rows}.csv"
            _write_csv(src, rows)
            out = Path(scratch) / f"t{rows}.h5"
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                convert(src, out, options=ConvertOptions(target=("y",), overwrite=True, workers=0))
                seconds.append(time.perf_counter() - started)
            with h5py.File(out, "r") as f:
                chunks = (f["features"].chunks[0], f["target"].chunks[0])
                values = f["features"].size * f["features"].dtype.itemsize + f["target"].size * f["target"].dtype.itemsize
            size = out.stat().st_size
            print(
                f"{rows:>8,} {src.stat().st_size:>10,} {values:>9,} {size:>10,} {size / values:>9.2f}"
                f" {str(chunks):>26} {statistics.median(seconds):>8.3f}"
            )


if __name__ == "__main__":
    main()
