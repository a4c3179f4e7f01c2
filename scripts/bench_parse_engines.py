"""One core's CSV parse: pyarrow as csv2h5's parsers call it against polars' ``read_csv``, on the same block bytes.

    python scripts/bench_parse_engines.py data.csv --target Class [--no-header] [--blocks 10] [--runs 5]

Cuts the file's first ``--blocks`` blocks as a conversion does (4 MiB each) and
parses each block's bytes, in one thread each, in these ways:

- ``pyarrow`` — ``pyarrow.csv.read_csv`` with csv2h5's options (``reader.arrow.read_table``:
  features as float64, the target as strings, pandas' missing-value spellings);
- ``pyarrow all float64`` — the same with the target read as float64 too;
- ``csv2h5 parse_block`` — everything a parser process does with a block besides
  sending it back (the pyarrow parse, the checks, value ranges, statistics, the target);
- ``polars`` — ``polars.read_csv`` of the same bytes, every column float64 but the target
  (read as strings), the same missing-value spellings; polars in a child process started
  with ``POLARS_MAX_THREADS=1``, so it parses with one thread as each parser process does;
- ``polars target as text, only empty cells missing`` — the same without the missing-value list
  (polars' default: only an empty cell is missing);
- ``polars all float64`` — every column float64, polars' default missing values;
- ``csv2h5 parse_block, polars' parse`` — a sketch of parse_block with polars as its engine
  for blocks of plain numbers: ``polars all float64``, the features taken column-major, the
  target as float64, then the same checks and summaries as the pyarrow path (typed_columns,
  value range, float32 exactness, statistics); no fallbacks, so only for files that need none.

And the CPU seconds of ``import polars`` in that child (pyarrow and csv2h5 already
imported there, as in a parser process): a parser process would pay it once.

CPU seconds of the process (``time.process_time``) per MB of CSV, the median of
``--runs`` passes over all the blocks after one untimed pass. Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _blocks(csv: Path, header: bool, count: int) -> list[bytes]:
    from csv2h5.reader import Dialect, Source, iter_blocks, read_header

    source = Source(csv)
    try:
        found = read_header(source, dialect=Dialect(delimiter=","), header=header, names=None, skip_rows=0, block_bytes=4 << 20)
        blocks = []
        for block in iter_blocks(source, found, block_bytes=4 << 20):
            blocks.append(block.text())
            if len(blocks) == count:
                break
        return blocks, found
    finally:
        source.close()


def _timed(parse, blocks: list[bytes], runs: int) -> float:
    """CPU ms per MB of CSV: the median of ``runs`` passes, after one untimed pass."""
    for data in blocks:
        parse(data)
    mb = sum(len(b) for b in blocks) / 1e6
    passes = []
    for _ in range(runs):
        started = time.process_time()
        for data in blocks:
            parse(data)
        passes.append((time.process_time() - started) / mb * 1e3)
    return statistics.median(passes)


def _polars(args: argparse.Namespace, names: list[str], target: int, plan) -> tuple[dict[str, float], float]:
    """Runs in a child process with POLARS_MAX_THREADS=1 (the pool's size is fixed at import)."""
    started = time.process_time()
    import polars as pl

    imported = time.process_time() - started
    from csv2h5.reader.arrow import NA_VALUES

    blocks, _ = _blocks(args.csv, not args.no_header, args.blocks)

    def read(schema: dict, nulls: list[str] | None):
        return lambda data: pl.read_csv(io.BytesIO(data), has_header=False, new_columns=names, schema=schema, null_values=nulls)

    with_text = {n: (pl.String if i == target else pl.Float64) for i, n in enumerate(names)}
    numbers = dict.fromkeys(names, pl.Float64)
    assert pl.thread_pool_size() == 1, pl.thread_pool_size()
    return {
        "polars": _timed(read(with_text, list(NA_VALUES)), blocks, args.runs),
        "polars target as text, only empty cells missing": _timed(read(with_text, None), blocks, args.runs),
        "polars all float64": _timed(read(numbers, None), blocks, args.runs),
        "csv2h5 parse_block, polars' parse": _parse_block_with_polars(args, blocks, plan, read(numbers, None)),
    }, imported * 1e3


def _parse_block_with_polars(args: argparse.Namespace, blocks: list[bytes], plan, read) -> float:
    """parse_block with polars' parse of every column as float64 in place of the pyarrow one (a sketch, no fallbacks)."""
    from unittest import mock

    from csv2h5.reader import parse as parse_module
    from csv2h5.reader import parse_block
    from csv2h5.reader.blocks import TextBlock
    from csv2h5.reader.plan import ParsePlan
    from csv2h5.reader.typed import first_row_line, typed_columns

    features = [plan.names[i] for i in plan.features]
    bare = ParsePlan(plan.names, plan.dialect, plan.features, (), ())  # the target is read here, as float64

    def parse(block, data, _plan):
        frame = read(data)
        columns = typed_columns(
            bare, frame.height, None, first_row_line(block, data), numbers=frame.select(features).to_numpy(order="fortran")
        )
        columns.target = frame.get_column(plan.names[plan.target[0]]).to_numpy()
        return columns

    with mock.patch.object(parse_module, "parse_typed", parse):
        return _timed(lambda data: parse_block(TextBlock(str(args.csv), 0, 1, data), plan), blocks, args.runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--target", required=True)
    parser.add_argument("--no-header", action="store_true")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--polars-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import pyarrow as pa

    from csv2h5.reader import ParsePlan, parse_block
    from csv2h5.reader.arrow import read_table
    from csv2h5.reader.blocks import TextBlock
    from csv2h5.schema import resolve_columns

    blocks, header = _blocks(args.csv, not args.no_header, args.blocks)
    names = list(header.names)
    roles = resolve_columns(
        names, target=(args.target,), features=None, drop=(), categorical=(), datetime=(), header=not args.no_header
    )
    target = roles.target[0]
    plan = ParsePlan(tuple(names), header.dialect, roles.features, roles.target, roles.categorical)
    if args.polars_child:
        json.dump(_polars(args, names, target, plan), sys.stdout)
        return 0
    with_text = {i: (pa.string() if i == target else pa.float64()) for i in range(len(names))}
    numbers = dict.fromkeys(range(len(names)), pa.float64())
    results = {
        "pyarrow": _timed(lambda data: read_table(data, plan, with_text, None), blocks, args.runs),
        "pyarrow all float64": _timed(lambda data: read_table(data, plan, numbers, None), blocks, args.runs),
        "csv2h5 parse_block": _timed(lambda data: parse_block(TextBlock(str(args.csv), 0, 1, data), plan), blocks, args.runs),
    }
    child = subprocess.run(
        [sys.executable, __file__, *sys.argv[1:], "--polars-child"],
        env={**os.environ, "POLARS_MAX_THREADS": "1"},
        check=True,
        capture_output=True,
        text=True,
    )
    polars_results, import_ms = json.loads(child.stdout)
    results.update(polars_results)
    mb = sum(len(b) for b in blocks) / 1e6
    json.dump(
        {
            "csv": args.csv.name,
            "mb": round(mb, 1),
            "cpu_ms_per_mb": {k: round(v, 2) for k, v in results.items()},
            "import_polars_cpu_ms": round(import_ms, 1),
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
