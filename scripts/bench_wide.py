"""Benchmark: wide files (100,000 columns), csv2h5's row-major path against reading them column by column.

    python scripts/bench_wide.py                 # both shapes, 3 alternating rounds, and the per-block crossover
    python scripts/bench_wide.py --runs 1 --no-crossover    # a quick look

Shapes (generated once into --workdir, then reused), the issue's two:
- decimals: 40 rows x 100,000 values printed %.6f, and a 0/1 label (36 MB);
- integers: 24 rows x 100,000 integers 0-255, and a text label a/b (10 MB).

Tools, each in its own process, alternating in every round: ``csv2h5 convert``;
the same with the row-major path turned off (every block read column by column,
as before it existed); and ``pandas.read_csv`` of the whole file into h5py (the label as category codes).
Peak memory is RssAnon of the process tree (main process and parser workers).

The crossover: CPU time to parse one 4 MiB block with the row-major path and
with the column path (typed pyarrow), at 30 to 10,000 columns, in this process:
the reason the row-major path starts at reader.wide.WIDE_COLUMNS columns.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python, run_measured  # noqa: E402

COLUMNS = 100_000
TOOLS = ("csv2h5", "csv2h5 column by column", "pandas")
# csv2h5's command line with the row-major path off: workers are forked, so they inherit the setting.
_COLUMN_BY_COLUMN = (
    "import sys, csv2h5.reader.wide as wide; wide.WIDE_COLUMNS = 10**9; from csv2h5.cli import main;"
    " sys.argv[0] = 'csv2h5'; main()"
)
# What a user would write: pandas.read_csv (these files are small), the label as category codes, h5py.
_PANDAS = """
import sys, h5py, pandas as pd
frame = pd.read_csv(sys.argv[1])
labels = frame.pop("label").astype("category").cat.codes.to_numpy()
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("features", data=frame.to_numpy(dtype=sys.argv[3]), chunks=True)
    f.create_dataset("target", data=labels)
"""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _make(path: Path, shape: str) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        fh.write(",".join(f"g{i}" for i in range(COLUMNS)) + ",label\n")
        if shape == "decimals":
            for r, row in enumerate(rng.random((40, COLUMNS))):
                fh.write(",".join(f"{v:.6f}" for v in row) + f",{r % 2}\n")
        else:
            for r, row in enumerate(rng.integers(0, 256, (24, COLUMNS))):
                fh.write(",".join(map(str, row)) + f",{'ab'[r % 2]}\n")


def _command(tool: str, shape: str, csv: Path, out: Path) -> list[str]:
    args = ["convert", str(csv), "-o", str(out), "--target", "label", "--quiet", "--overwrite"]
    if tool == "csv2h5":
        return [python(), "-m", "csv2h5", *args]
    if tool == "csv2h5 column by column":
        return [python(), "-c", _COLUMN_BY_COLUMN, *args]
    return [python(), "-c", _PANDAS, str(csv), str(out), "float32" if shape == "decimals" else "uint8"]


def _crossover() -> None:
    from csv2h5.reader import Dialect, ParsePlan, TextBlock, typed, wide

    print("\ncrossover: CPU seconds to parse one 4 MiB block (min of 3), row-major vs column by column")
    print("| columns | cells | row-major | column by column | row-major / column |")
    print("|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(1)
    limit, wide.WIDE_COLUMNS = wide.WIDE_COLUMNS, 1
    try:
        for ncol in (30, 100, 300, 1000, 2000, 3000, 10_000):
            for kind in ("decimals", "integers"):
                rows = max(1, (4 << 20) // (ncol * (9 if kind == "decimals" else 4)))
                values = rng.random((rows, ncol)) if kind == "decimals" else rng.integers(0, 1000, (rows, ncol))
                text = (lambda v: f"{v:.6f}") if kind == "decimals" else str
                data = ("\n".join(",".join(map(text, row)) + ",x" for row in values) + "\n").encode()
                plan = ParsePlan(tuple(f"c{i}" for i in range(ncol + 1)), Dialect(), tuple(range(ncol)), (ncol,), ())
                block = TextBlock("block", 0, 1, data)
                seconds = {}
                for name, parse in (("row-major", wide.parse_wide), ("column", typed.parse_typed)):
                    best = float("inf")
                    for _ in range(3):
                        start = time.process_time()
                        assert parse(block, data, plan) is not None
                        best = min(best, time.process_time() - start)
                    seconds[name] = best
                print(
                    f"| {ncol:,} | {kind} | {seconds['row-major']:.3f} | {seconds['column']:.3f}"
                    f" | {seconds['row-major'] / seconds['column']:.2f} |",
                    flush=True,
                )
    finally:
        wide.WIDE_COLUMNS = limit
    print(f"(the row-major path starts at {limit:,} columns)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="alternating rounds")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    parser.add_argument("--no-crossover", dest="crossover", action="store_false")
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(exist_ok=True)
    print(f"machine: {machine()}")
    print(f"load average at start: {_load()}")
    inputs = {}
    for shape in ("decimals", "integers"):
        csv = work / f"wide_{shape}.csv"
        if not csv.exists():
            _make(csv, shape)
        inputs[shape] = csv
    results = {shape: {tool: [] for tool in TOOLS} for shape in inputs}
    for round_ in range(args.runs):
        for shape, csv in inputs.items():
            for tool in TOOLS:
                out = work / f"out_wide_{shape}_{tool.replace(' ', '_')}.h5"
                seconds, mem, _ = run_measured(_command(tool, shape, csv, out))
                results[shape][tool].append((seconds, mem.peak_anon_tree_kb / 1024))
        print(f"round {round_ + 1}/{args.runs} done, load average {_load()}", flush=True)
    for shape, csv in inputs.items():
        runs = results[shape]
        print(f"\n{shape}: {csv.name}, {csv.stat().st_size / 1e6:,.1f} MB; median of {args.runs} rounds")
        print("| tool | time | MB/s | vs column by column | vs pandas | peak RssAnon tree |")
        print("|---|---:|---:|---:|---:|---:|")
        for tool, measured in runs.items():
            t = median([s for s, _ in measured])
            vs_columns = median([b[0] / s[0] for b, s in zip(runs["csv2h5 column by column"], measured)])
            vs_pandas = median([b[0] / s[0] for b, s in zip(runs["pandas"], measured)])
            print(
                f"| {tool} | {t:.2f} s | {csv.stat().st_size / 1e6 / t:,.1f} | {vs_columns:.2f}x | {vs_pandas:.2f}x"
                f" | {max(m for _, m in measured):,.0f} MB |"
            )
        import h5py

        with (
            h5py.File(work / f"out_wide_{shape}_csv2h5.h5", "r") as a,
            h5py.File(work / f"out_wide_{shape}_csv2h5_column_by_column.h5", "r") as b,
        ):
            same = np.array_equal(a["features"][()], b["features"][()]) and np.array_equal(a["target"][()], b["target"][()])
        print(f"row-major and column-by-column files hold the same values: {same}")
    if args.crossover:
        _crossover()
    print(f"\nload average at end: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
