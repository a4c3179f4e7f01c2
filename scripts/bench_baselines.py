"""The converters a user would write by hand, for scripts/bench_convert.py to measure against.

Each streams a CSV into resizable h5py datasets ``/features`` (in the dtype given)
and ``/target`` (uint8 labels), in bounded memory:

    python scripts/bench_baselines.py pandas  in.csv out.h5 --target 0 --dtype uint8 --chunk-rows 10000
    python scripts/bench_baselines.py polars  in.csv out.h5 --target 0 --dtype float32 --no-header
    python scripts/bench_baselines.py pyarrow in.csv out.h5 --target 30 --dtype float64

``pandas``: ``pandas.read_csv(chunksize=...)``. ``polars``:
``polars.scan_csv(...).collect_batches()`` (polars' streaming engine).
``pyarrow``: ``pyarrow.csv.open_csv`` (a streaming reader over blocks).

Two more are not converters but floors: ``pyarrow-read`` and ``polars-read`` parse
the whole file into memory with every core (``pyarrow.csv.read_csv``,
``polars.read_csv``), each with its own type inference, and write nothing. No
converter that parses with them can be faster than that; memory is not bounded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import h5py
import numpy as np


def _pandas(args: argparse.Namespace) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import pandas as pd

    for chunk in pd.read_csv(args.src, header=0 if args.header else None, chunksize=args.chunk_rows):
        table = chunk.to_numpy()
        yield np.delete(table, args.target, axis=1).astype(args.dtype), table[:, args.target].astype(np.uint8)


def _polars(args: argparse.Namespace) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import polars as pl

    frame = pl.scan_csv(args.src, has_header=args.header)
    target = frame.collect_schema().names()[args.target]
    for batch in frame.collect_batches(chunk_size=args.chunk_rows):
        labels = batch.get_column(target).cast(pl.UInt8).to_numpy()
        yield batch.drop(target).to_numpy().astype(args.dtype, copy=False), labels


def _pyarrow(args: argparse.Namespace) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        args.src, read_options=pacsv.ReadOptions(autogenerate_column_names=not args.header, block_size=8 << 20)
    )
    for batch in reader:
        columns = [batch.column(j).to_numpy(zero_copy_only=False) for j in range(batch.num_columns)]
        labels = columns.pop(args.target).astype(np.uint8)
        yield np.column_stack(columns).astype(args.dtype, copy=False), labels


def _read_only(args: argparse.Namespace) -> int:
    """Parse the whole file into memory and drop it: the parser's own speed, with every core."""
    if args.tool == "pyarrow-read":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(args.src, read_options=pacsv.ReadOptions(autogenerate_column_names=not args.header))
    else:
        import polars as pl

        table = pl.read_csv(args.src, has_header=args.header)
    return 0 if table.shape[0] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=("pandas", "polars", "pyarrow", "pyarrow-read", "polars-read"))
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--target", type=int, required=True, help="position of the label column")
    parser.add_argument("--dtype", default="float32", help="feature dtype")
    parser.add_argument("--no-header", dest="header", action="store_false")
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.tool.endswith("-read"):
        return _read_only(args)
    batches = {"pandas": _pandas, "polars": _polars, "pyarrow": _pyarrow}[args.tool](args)
    with h5py.File(args.dst, "w") as f:
        x = y = None
        for features, labels in batches:
            if x is None:
                x = f.create_dataset(
                    "features", shape=(0, features.shape[1]), maxshape=(None, features.shape[1]), dtype=args.dtype, chunks=True
                )
                y = f.create_dataset("target", shape=(0,), maxshape=(None,), dtype="uint8", chunks=True)
            n = x.shape[0]
            x.resize(n + len(features), axis=0)
            x[n:] = features
            y.resize(n + len(labels), axis=0)
            y[n:] = labels
    return 0


if __name__ == "__main__":
    sys.exit(main())
