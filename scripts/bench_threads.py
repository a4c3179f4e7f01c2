"""Parsing blocks in threads of one process against parser processes: which scales with cores.

    python scripts/bench_threads.py data.csv --target label [--no-header] [--blocks 40] [--runs 3]

Reads the file's first ``--blocks`` blocks into memory (as the serial path cuts
them), records the plan ``csv2h5.convert`` parses them with, then times parsing
all of them (after one untimed pass, with glibc keeping freed memory as the
converter's parsers do): in this thread, in a pool of 2 threads, and in a pool of 2
processes (forked after the blocks are read, so only the parse is timed; the
results are sent back pickled, which the converter avoids through shared
memory). Prints JSON: seconds per way, median of ``--runs``, and the speedup
of each pool over one thread. Threads win only where the parse releases the
GIL (pyarrow's CSV reader and most numpy calls do; the Python around them does not).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

_BLOCKS: list = []  # (block, plan), inherited by forked processes


def _parse(i: int) -> int:
    from csv2h5.reader import parse_block

    block, plan = _BLOCKS[i]
    return parse_block(block, plan).rows


def _record(csv: Path, target: str, header: bool, blocks: int) -> None:
    from csv2h5 import ConvertOptions, convert

    convert_module = sys.modules["csv2h5.convert"]  # the package exports a function of that name

    # With no parser processes a conversion parses every block in its own process, through this name.
    real = convert_module.parse_block

    def recording(block, plan):
        if len(_BLOCKS) < blocks:
            _BLOCKS.append((block, plan))
        return real(block, plan)

    convert_module.parse_block = recording
    try:
        with tempfile.TemporaryDirectory() as scratch:
            convert(csv, Path(scratch) / "out.h5", options=ConvertOptions(target=(target,), header=header, workers=0))
    finally:
        convert_module.parse_block = real


def _keep_freed_memory() -> None:
    import ctypes

    from csv2h5 import pool

    pool._keep_freed_memory(ctypes.CDLL("libc.so.6"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--target", required=True)
    parser.add_argument("--no-header", action="store_true")
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _record(args.csv, args.target, not args.no_header, args.blocks)
    indices = range(len(_BLOCKS))
    _keep_freed_memory()  # as the converter's parser processes do (pool._keep_freed_memory), threads alike
    [_parse(i) for i in indices]  # warm
    threads, processes = ThreadPoolExecutor(2), ProcessPoolExecutor(2)
    list(processes.map(_parse, indices))  # started and warm before timing
    ways = {
        "1 thread": lambda: [_parse(i) for i in indices],
        "2 threads": lambda: list(threads.map(_parse, indices)),
        "2 processes": lambda: list(processes.map(_parse, indices)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.runs):
        for name, way in ways.items():
            started = time.perf_counter()
            way()
            seconds[name].append(time.perf_counter() - started)
    threads.shutdown()
    processes.shutdown()
    median = {name: statistics.median(runs) for name, runs in seconds.items()}
    mb = sum(block.size for block, _ in _BLOCKS) / 1e6
    json.dump(
        {
            "mb": round(mb, 1),
            "blocks": len(_BLOCKS),
            "seconds": {k: round(v, 3) for k, v in median.items()},
            "speedup": {k: round(median["1 thread"] / v, 2) for k, v in median.items()},
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
