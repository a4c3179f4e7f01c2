"""Where a conversion's CPU goes: the main process against the parser processes (bench_convert.py runs this).

    python scripts/bench_cpu_split.py data.csv --workers 2 --runs 2 -- --target label

Runs ``csv2h5.convert`` in this process (after one warm-up conversion, so imports
and the page cache are paid), and reports as JSON per run: wall seconds, CPU
seconds of this process (``getrusage(RUSAGE_SELF)``: reading offsets, ordering,
writing) and of its children (``RUSAGE_CHILDREN``: the parser processes, counted
once they exit at the end of each conversion). The arguments after ``--`` are
``csv2h5 convert`` options: --target NAME (repeatable), --no-header.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import conversion_arguments, conversion_options  # noqa: E402


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = conversion_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    from csv2h5 import convert

    options = conversion_options(args)
    runs = []
    with tempfile.TemporaryDirectory(dir=args.csv.parent) as scratch:
        out = Path(scratch) / "out.h5"
        convert(args.csv, out, options=options)  # warm-up: imports, first-touch of the page cache
        for _ in range(args.runs):
            out.unlink()  # replacing a file costs the kernel its pages: not part of converting
            main0, children0, started = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
            convert(args.csv, out, options=options)
            runs.append(
                {
                    "seconds": time.perf_counter() - started,
                    "main_cpu": _cpu(resource.RUSAGE_SELF) - main0,
                    "parsers_cpu": _cpu(resource.RUSAGE_CHILDREN) - children0,
                }
            )
    json.dump({"mb": args.csv.stat().st_size / 1e6, "runs": runs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
