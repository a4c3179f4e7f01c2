"""Benchmark: csv2h5 convert against hand-written converters, on three shapes of CSV, in one run.

    python scripts/bench_convert.py                      # all shapes, full size, 3 alternating rounds
    python scripts/bench_convert.py --scale 10           # and HIGGS at 10x the rows, for memory
    python scripts/bench_convert.py --shapes higgs --rows-fraction 0.1 --runs 1   # a quick look

Shapes (generated once into --workdir, then reused):
- mnist: 600,000 rows x 785 small integers (label + 784 pixels), ~1.1 GB (make_digits_csv.py);
- higgs: 1,000,000 rows, no header, label + 28 float32 values printed %.18e, ~730 MB;
- creditcard: 284,807 rows, quoted header, Time, V1..V28 as repr float64, Amount, quoted class, ~161 MB
  (both make_decimal_csv.py).

Tools, each in its own process: pandas ``read_csv(chunksize=...)``, polars
``scan_csv().collect_batches()`` and pyarrow ``open_csv`` into h5py (bench_baselines.py),
and ``csv2h5 convert`` with no compression, lzf and gzip; and, as floors no converter built
on them can beat, each parser alone (``pyarrow-read``, ``polars-read``: the whole file into
memory with every core, nothing written). Every round runs every tool
on every shape, so a noisy minute hits all of them; ratios are taken within a round and
their median reported. Memory is sampled from /proc every 20 ms over the process tree:
RssAnon (heap, arrays) apart from RssFile (mapped files). The CSV is read once
beforehand so every run reads it from the page cache. csv2h5's output is checked
value by value against ``pandas.read_csv``.

Where csv2h5's CPU goes (bench_cpu_split.py: ``convert()`` in a warm process,
getrusage): the main process's CPU per MB of CSV (it orders, writes and reports;
whatever it does is serial) and the parser processes' (parallel). From those two
figures: the serial ceiling (MB per main CPU-second: no number of cores passes it)
and a projection for n cores, ``1000 / max(main, (main + parsers) / n)`` MB/s (the
main process works beside the parsers, so its share is a ceiling, not an added
term); the projection's 1 -> 2 parser speedup on this machine's 2 cores,
``max(main, parsers) / ((main + parsers) / 2)``, is set against the measured one.
And the fixed cost: ``csv2h5 convert`` of a 2-row file from the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python, run_measured  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    rows: int
    header: bool
    target: int  # position of the label column
    dtype: str  # feature dtype the hand-written converters store (csv2h5 infers its own)
    chunk_rows: int  # rows per pandas chunk / polars batch in the hand-written converters

    def make(self, path: Path, rows: int) -> None:
        if self.name == "mnist":
            cmd = [python(), str(SCRIPTS / "make_digits_csv.py"), str(path), "--rows", str(rows)]
        else:
            cmd = [python(), str(SCRIPTS / "make_decimal_csv.py"), str(path), "--shape", self.name, "--rows", str(rows)]
        subprocess.run(cmd, check=True)

    def csv2h5_args(self) -> list[str]:
        target = "label" if self.name == "mnist" else ("c0" if self.name == "higgs" else "Class")
        return ["--target", target] + ([] if self.header else ["--no-header"])


SHAPES = {
    "mnist": Shape("mnist", 600_000, True, 0, "uint8", 10_000),
    "higgs": Shape("higgs", 1_000_000, False, 0, "float32", 50_000),
    "creditcard": Shape("creditcard", 284_807, True, 30, "float64", 50_000),
}
TOOLS = ("pandas", "polars", "pyarrow", "csv2h5", "csv2h5 lzf", "csv2h5 gzip", "pyarrow-read", "polars-read")
FLOORS = ("pyarrow-read", "polars-read")  # the parsers alone, whole file in memory, every core, nothing written


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_inputs(shapes: list[Shape], work: Path, rows_fraction: float) -> dict[str, tuple[Path, int]]:
    """Each shape's CSV in ``work`` (made once, then reused) and its row count: shape name -> (path, rows)."""
    inputs = {}
    for shape in shapes:
        rows = max(1, int(shape.rows * rows_fraction))
        csv = work / f"{shape.name}_{rows}.csv"
        if not csv.exists():
            shape.make(csv, rows)
        inputs[shape.name] = (csv, rows)
    return inputs


def _command(tool: str, shape: Shape, csv: Path, out: Path) -> list[str]:
    if tool.startswith("csv2h5"):
        compression = tool.split()[1] if " " in tool else "none"
        return [
            python(),
            "-m",
            "csv2h5",
            "convert",
            str(csv),
            "-o",
            str(out),
            "--quiet",
            "--overwrite",
            "--compression",
            compression,
        ] + shape.csv2h5_args()
    return [
        python(),
        str(SCRIPTS / "bench_baselines.py"),
        tool,
        str(csv),
        str(out),
        "--target",
        str(shape.target),
        "--dtype",
        shape.dtype,
        "--chunk-rows",
        str(shape.chunk_rows),
    ] + ([] if shape.header else ["--no-header"])


def _measure(cmd: list[str], out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    seconds, mem, _ = run_measured(cmd)
    return {
        "seconds": seconds,
        "anon": mem.peak_anon_tree_kb / 1024,
        "anon_main": mem.peak_anon_main_kb / 1024,
        "file": mem.peak_file_tree_kb / 1024,
        "shmem": mem.peak_shmem_tree_kb / 1024,
        "out_mb": out.stat().st_size / 1e6 if out.exists() else 0.0,
    }


def verify(shape: Shape, csv: Path, h5: Path) -> str:
    """Compare a csv2h5 file with pandas.read_csv value by value; return a one-line verdict."""
    import h5py
    import pandas as pd

    with h5py.File(h5, "r") as f:
        features, target = f["features"], f["target"]
        classes = np.asarray(target.attrs["classes"])
        readings = str(features.attrs.get("float32_values", ""))
        start = 0
        for chunk in pd.read_csv(csv, header=0 if shape.header else None, chunksize=100_000):
            table = chunk.to_numpy(dtype=np.float64)
            expected = np.delete(table, shape.target, axis=1)
            stored = features[start : start + len(chunk)]
            if stored.dtype == np.float32 and "exact" not in readings:
                got = stored.astype(str).astype(np.float64)  # each float32 stands for its shortest decimal
            else:
                got = stored.astype(np.float64)
            if not np.array_equal(got, expected, equal_nan=True):
                row, col = np.argwhere(~((got == expected) | (np.isnan(got) & np.isnan(expected))))[0]
                return f"MISMATCH at row {start + row}, column {col}: {got[row, col]!r} vs {expected[row, col]!r}"
            if not np.array_equal(classes[target[start : start + len(chunk)]].astype(np.float64), table[:, shape.target]):
                return f"MISMATCH in the target near row {start}"
            start += len(chunk)
        if start != features.shape[0]:
            return f"MISMATCH: {features.shape[0]} rows stored, pandas read {start}"
        return f"exact ({start:,} rows x {features.shape[1]} features as {features.dtype}, every value equal)"


def _same_values(a: Path, b: Path) -> bool:
    import h5py

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        return all(np.array_equal(fa[k][()], fb[k][()]) for k in ("features", "target"))


def _print_table(shape: Shape, csv: Path, rows: int, results: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    size_mb = csv.stat().st_size / 1e6
    print(f"\n{shape.name}: {csv.name}, {rows:,} rows, {size_mb:,.1f} MB; median of {len(results['pandas'])} rounds")
    print("| tool | time | MB/s | rows/s | vs pandas | vs polars | peak RssAnon tree / main | RssShmem | RssFile | output |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    # pyarrow-read and polars-read: the parser alone, whole file in memory, every core, nothing written
    ratios = {}
    for tool, runs in results.items():
        t = median([r["seconds"] for r in runs])
        vs_pandas = median([p["seconds"] / r["seconds"] for p, r in zip(results["pandas"], runs)])
        ratios[tool] = vs_pandas
        shown_polars = "-"  # polars not timed in this run
        if "polars" in results:
            vs_polars = median([p["seconds"] / r["seconds"] for p, r in zip(results["polars"], runs)])
            ratios[tool + " vs polars"] = vs_polars
            shown_polars = f"{vs_polars:.2f}x"
        output = "(none)" if tool in FLOORS else f"{runs[-1]['out_mb']:,.1f} MB"
        print(
            f"| {tool} | {t:.2f} s | {size_mb / t:,.1f} | {rows / t:,.0f} | {vs_pandas:.2f}x | {shown_polars}"
            f" | {max(r['anon'] for r in runs):,.0f} / {max(r['anon_main'] for r in runs):,.0f} MB"
            f" | {max(r.get('shmem', 0) for r in runs):,.0f} MB | {max(r['file'] for r in runs):,.0f} MB | {output} |",
            flush=True,
        )
    return ratios


PROJECTED_CORES = (4, 8, 16, 64)


def cpu_split(shape: Shape, csv: Path, runs: int) -> dict[str, float]:
    """Main-process and parser CPU per MB of CSV (2 parsers), and the wall time with 1 and 2 parsers."""
    measured: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for _ in range(runs):
        for workers in (1, 2):  # alternating: a noisy minute hits both
            cmd = [python(), str(SCRIPTS / "bench_cpu_split.py"), str(csv), "--workers", str(workers), "--runs", "1"]
            cmd += shape.csv2h5_args()
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            measured[workers].extend(out["runs"])
            size_mb = out["mb"]
    two = measured[2]
    main_ms = median([r["main_cpu"] for r in two]) / size_mb * 1000
    parsers_ms = median([r["parsers_cpu"] for r in two]) / size_mb * 1000
    speedup = median([a["seconds"] / b["seconds"] for a, b in zip(measured[1], measured[2])])
    return {
        "main_ms_per_mb": main_ms,
        "parsers_ms_per_mb": parsers_ms,
        "measured_speedup": speedup,
        "seconds_1": median([r["seconds"] for r in measured[1]]),
        "seconds_2": median([r["seconds"] for r in two]),
    }


def _projected_mb_s(main_ms: float, parsers_ms: float, cores: int) -> float:
    return 1000 / max(main_ms, (main_ms + parsers_ms) / cores)


def _print_cpu_split(splits: dict[str, dict[str, float]]) -> None:
    print("\nwhere csv2h5's CPU goes (convert() in a warm process, 2 parsers; medians):")
    print(
        "| shape | main CPU ms/MB | parsers CPU ms/MB | serial ceiling MB/s | "
        + " | ".join(f"{n} cores MB/s" for n in PROJECTED_CORES)
        + " | 1->2 parsers projected | measured (1 / 2 parsers wall) |"
    )
    print("|---|---:|---:|---:|" + "---:|" * len(PROJECTED_CORES) + "---:|---:|")
    for name, split in splits.items():
        main_ms, parsers_ms = split["main_ms_per_mb"], split["parsers_ms_per_mb"]
        projected = max(main_ms, parsers_ms) / ((main_ms + parsers_ms) / 2)
        print(
            f"| {name} | {main_ms:.2f} | {parsers_ms:.2f} | {1000 / main_ms:,.0f} | "
            + " | ".join(f"{_projected_mb_s(main_ms, parsers_ms, n):,.0f}" for n in PROJECTED_CORES)
            + f" | {projected:.2f}x | {split['measured_speedup']:.2f}x ({split['seconds_1']:.2f} / {split['seconds_2']:.2f} s) |"
        )


def startup_seconds(work: Path, runs: int = 5) -> float:
    """``csv2h5 convert`` of a 2-row file from the command line, median of ``runs`` after one run not counted.

    The run not counted writes the bytecode caches a fresh checkout lacks (an installed wheel
    compiles them at install, and a user's second run has them) and warms the page cache.
    """
    small = work / "two_rows.csv"
    small.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    out = work / "two_rows.h5"
    cmd = [python(), "-m", "csv2h5", "convert", str(small), "-o", str(out), "--target", "label", "--overwrite", "--quiet"]
    env = {"PYTHONDONTWRITEBYTECODE": ""}  # bytecode caches written and kept (an empty value unsets the variable)
    run_measured(cmd, env=env)
    times = []
    for _ in range(runs):
        seconds, _, _ = run_measured(cmd, env=env)
        times.append(seconds)
    out.unlink(missing_ok=True)
    return median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="mnist,higgs,creditcard", help="comma-separated: mnist, higgs, creditcard")
    parser.add_argument("--runs", type=int, default=3, help="alternating rounds")
    parser.add_argument("--rows-fraction", type=float, default=1.0, help="scale every shape's row count (quick looks)")
    parser.add_argument("--scale", type=int, default=0, help="also convert --scale-shape at this many times the rows")
    parser.add_argument("--scale-shape", default="higgs", choices=sorted(SHAPES))
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    parser.add_argument("--no-tools", action="store_true", help="only the CPU split and the start-up time")
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated tools to time (csv2h5 and pandas at least: the tables' ratios need them)",
    )
    args = parser.parse_args()
    shapes = [SHAPES[name] for name in args.shapes.split(",")]
    tools = tuple(tool for tool in TOOLS if tool in args.tools.split(","))
    work = args.workdir
    work.mkdir(exist_ok=True)
    import h5py
    import pandas
    import pyarrow

    try:
        import polars
    except ImportError:
        parser.error("polars is one of the tools measured: pip install '.[bench]'")

    print(f"machine: {machine()}")
    print(
        f"versions: pandas {pandas.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__},"
        f" h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})"
    )
    print(f"load average at start: {_load()}")
    inputs = make_inputs(shapes, work, args.rows_fraction)
    splits = {}
    for shape in shapes:
        csv, _ = inputs[shape.name]
        _warm(csv)
        splits[shape.name] = cpu_split(shape, csv, args.runs)
    _print_cpu_split(splits)
    print(
        f"csv2h5 convert of a 2-row file: {startup_seconds(work):.2f} s, median of 5 after one warm-up run"
        " that writes the bytecode caches (target <= 0.4 s)",
        flush=True,
    )
    if args.no_tools:
        return 0
    results = {shape.name: {tool: [] for tool in tools} for shape in shapes}
    for round_ in range(args.runs):
        for shape in shapes:
            csv, _ = inputs[shape.name]
            _warm(csv)
            for tool in tools:
                out = work / f"out_{shape.name}_{tool.replace(' ', '_')}.h5"
                results[shape.name][tool].append(_measure(_command(tool, shape, csv, out), out))
        print(f"round {round_ + 1}/{args.runs} done, load average {_load()}", flush=True)
    summary = {}
    for shape in shapes:
        csv, rows = inputs[shape.name]
        summary[shape.name] = _print_table(shape, csv, rows, results[shape.name])
        outputs = {tool: work / f"out_{shape.name}_{tool.replace(' ', '_')}.h5" for tool in tools}
        print(f"values: {verify(shape, csv, outputs['csv2h5'])}")
        if "csv2h5 lzf" in outputs and "csv2h5 gzip" in outputs:
            same = all(_same_values(outputs["csv2h5"], outputs[name]) for name in ("csv2h5 lzf", "csv2h5 gzip"))
            print(f"lzf and gzip files hold the same values as uncompressed: {same}")
    print("\ntargets (ratios are medians of per-round ratios):")
    for shape in shapes:
        peak = max(r["anon"] for tool in tools if tool.startswith("csv2h5") for r in results[shape.name][tool])
        pandas_target = {"mnist": 3.5}.get(shape.name, 2.0)
        polars_target = {"higgs": " (target >= 1.0x)", "creditcard": " (target >= 0.9x)"}.get(shape.name, "")
        vs_polars = summary[shape.name].get("csv2h5 vs polars")
        polars_part = "" if vs_polars is None else f" {vs_polars:.2f}x polars streaming{polars_target},"
        print(
            f"  {shape.name}: csv2h5 {summary[shape.name]['csv2h5']:.2f}x pandas (target >= {pandas_target}x),{polars_part}"
            f" peak RssAnon {peak:,.0f} MB (target <= 512 MB),"
            f" main CPU {splits[shape.name]['main_ms_per_mb']:.2f} ms/MB (target <= 0.3),"
            f" 1->2 parsers {splits[shape.name]['measured_speedup']:.2f}x (target >= 1.8x)"
        )
    if args.scale > 1:
        shape = SHAPES[args.scale_shape]
        csv, rows = inputs.get(shape.name) or (work / f"{shape.name}_{shape.rows}.csv", shape.rows)
        if not csv.exists():
            shape.make(csv, rows)
        big = work / f"{shape.name}_{rows}_x{args.scale}.csv"
        with open(big, "wb") as dst:  # the 1x rows repeated: the same data, `scale` times the length
            for copy in range(args.scale):
                with open(csv, "rb") as src:
                    if shape.header and copy:
                        src.readline()
                    shutil.copyfileobj(src, dst, 64 << 20)
        out = work / "out_scaled.h5"
        row = _measure(_command("csv2h5", shape, big, out), out)
        one = max(r["anon"] for r in results.get(shape.name, {}).get("csv2h5", [])) if shape.name in results else None
        print(
            f"\n{shape.name} x{args.scale} ({args.scale * rows:,} rows, {big.stat().st_size / 1e9:.1f} GB):"
            f" {row['seconds']:.1f} s, {big.stat().st_size / 1e6 / row['seconds']:,.1f} MB/s,"
            f" peak RssAnon {row['anon']:,.0f} MB (main {row['anon_main']:,.0f})" + (f" vs {one:,.0f} MB at 1x" if one else "")
        )
        big.unlink()
        out.unlink()
    print(f"\nload average at end: {_load()}")
    (work / "bench_convert.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
