"""Where a parser process's CPU goes in a real conversion: the parse, reading, counting, shared memory, the pipe.

    python scripts/bench_parser_split.py data.csv --workers 2 --runs 2 --target label [--no-header]

Wraps the functions a parser process calls (``reader.parse_block``, ``TextBlock.text``:
the ``pread`` of its byte range, ``count_byte``: its line ends and quotes, ``share``:
rows and labels written to shared memory, ``copy_rows``: rows copied into the output,
the labels' tally, the pipe's ``send`` and ``recv``) before the parsers are forked, times
each with ``time.thread_time``, and runs ``csv2h5.convert`` in this process (after one
warm-up conversion). Each parser writes its sums after every task to a scratch
directory; the report gives, per run and per parser, CPU ms per MB of the whole CSV
for each part, its whole CPU (``process_time``: every thread), its minor page faults and the CPU ms
of its first tasks against its median task,
beside ``getrusage(RUSAGE_CHILDREN)`` of all parsers (user and system). Prints JSON.
Parts nest: the pread of a block that is not speculative is inside ``parse_block``.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import conversion_arguments, conversion_options  # noqa: E402

_sums: dict[str, list[float]] = {}


def _timed(name: str, fn):
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            part = _sums.setdefault(name, [0.0, 0])
            part[0] += time.thread_time() - started
            part[1] += 1

    return inner


def _forked() -> None:
    _sums.clear()
    _state.pop("cpu", None)
    _state.pop("each", None)


def _instrument(scratch: Path) -> None:
    """Wrap the parser's steps (in this process: the forked parsers inherit the wrappers)."""
    from multiprocessing.connection import Connection

    import csv2h5.pool as pool
    from csv2h5.reader.blocks import TextBlock

    os.register_at_fork(after_in_child=_forked)  # a parser counts its own calls, not the main process's
    TextBlock.text = _timed("pread", TextBlock.text)
    Connection.send = _timed("pipe send", Connection.send)
    Connection.recv = _timed("pipe recv", Connection.recv)
    for name in ("count_byte", "parse_block", "share", "copy_rows", "target_numbers", "distinct_labels"):
        setattr(pool, name, _timed(name, getattr(pool, name)))
    _state.update(task=_timed("task", pool._parse_in_worker), scratch=scratch)
    pool._parse_in_worker = _parse_in_worker


_state: dict = {}


def _parse_in_worker(*args):
    """The parser's task, timed; its sums written after each (picklable by name: a module-level function)."""
    if "cpu" not in _state:
        _state.update(cpu=time.process_time(), faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    started = time.thread_time()
    result = _state["task"](*args)
    _state.setdefault("each", []).append((time.thread_time() - started) * 1e3)
    record = {
        "task_ms": _state["each"],
        "parts": _sums,
        "process_cpu": time.process_time() - _state["cpu"],
        "minor_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - _state["faults"],
    }
    (_state["scratch"] / f"{os.getpid()}.json").write_text(json.dumps(record))
    return result


def _cpu(usage) -> tuple[float, float]:
    return usage.ru_utime, usage.ru_stime


def main() -> int:
    parser = conversion_arguments(__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where the output and the sums go (default: beside the CSV)")
    args = parser.parse_args()
    from csv2h5 import convert

    options = conversion_options(args)
    mb = args.csv.stat().st_size / 1e6
    runs = []
    with tempfile.TemporaryDirectory(dir=args.workdir or args.csv.parent) as scratch:
        sums = Path(scratch) / "sums"
        sums.mkdir()
        _instrument(sums)
        out = Path(scratch) / "out.h5"
        convert(args.csv, out, options=options)  # warm-up: imports, first-touch of the page cache
        for _ in range(args.runs):
            for left in sums.iterdir():
                left.unlink()
            out.unlink()
            before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            convert(args.csv, out, options=options)
            seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
            (user0, sys0), (user1, sys1) = _cpu(before), _cpu(after)
            parsers = []
            for path in sorted(sums.iterdir()):
                record = json.loads(path.read_text())
                parts = {k: {"ms_per_mb": round(v[0] / mb * 1e3, 2), "calls": v[1]} for k, v in record["parts"].items()}
                parsers.append(
                    {
                        "process_ms_per_mb": round(record["process_cpu"] / mb * 1e3, 2),
                        "minor_faults": record["minor_faults"],
                        "first_tasks_ms": [round(t, 1) for t in record["task_ms"][:3]],
                        "median_task_ms": round(statistics.median(record["task_ms"]), 1),
                        "parts": parts,
                    }
                )
            runs.append(
                {
                    "seconds": round(seconds, 2),
                    "parsers_user_ms_per_mb": round((user1 - user0) / mb * 1e3, 2),
                    "parsers_system_ms_per_mb": round((sys1 - sys0) / mb * 1e3, 2),
                    "parsers": parsers,
                }
            )
    json.dump({"mb": round(mb, 1), "workers": args.workers, "runs": runs}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
