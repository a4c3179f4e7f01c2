"""Benchmark: what every ``csv2h5`` command pays before its first row, in fresh processes.

    python scripts/bench_startup.py [--runs 15] [--compare PATH[:PATH...]] [--importtime-runs 5]

Cases: ``csv2h5 --version``, ``csv2h5 --help``, and ``csv2h5 convert`` of a
2-row file with a text target (the fixed cost of every conversion; target
<= 0.4 s), with ``--quiet`` and without (stderr a pipe, not a terminal). Each
case runs ``python -m csv2h5 ...`` in a fresh process, the cases alternating,
and reports the median wall time and the median CPU time of the process
(user + system, from ``wait4``), with the load average before and after: on a
shared machine the CPU time says more than the wall time.

With ``--compare PATHS`` the same cases also run with those folders first on
``sys.path`` (interleaved with the others, same interpreter): another checkout of
the project, and/or another version of a dependency unpacked from its wheel,
for a before/after comparison in one run.

Then the conversion under ``python -X importtime``: each module's own import
time added up by top-level package (a package's share excludes the packages it
pulls in), milliseconds, median of ``--importtime-runs``.

Bytecode caches are kept (PYTHONDONTWRITEBYTECODE is removed from the children's
environment), as an installed package has them.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python  # noqa: E402

TWO_ROWS = "a,b,label\n1,2.5,x\n3,4.5,y\n"
# The children run here: ``python -m`` puts the working directory first on sys.path, before
# PYTHONPATH, so run from a checkout every setup would import that checkout's csv2h5.
_OUTSIDE = tempfile.gettempdir()
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| *(\S+)")


def _cases(work: Path) -> dict[str, list[str]]:
    small = work / "two_rows.csv"
    small.write_text(TWO_ROWS)
    out = work / "two_rows.h5"
    return {
        "csv2h5 --version": ["--version"],
        "csv2h5 --help": ["--help"],
        "csv2h5 convert (2 rows)": ["convert", str(small), "-o", str(out), "--target", "label", "--overwrite", "--quiet"],
        # without --quiet a progress bar is asked for; stderr is a pipe here, as in scripts and jobs
        "  the same, no --quiet": ["convert", str(small), "-o", str(out), "--target", "label", "--overwrite"],
    }


def _environment(paths: str | None) -> dict[str, str]:
    # Bytecode caches kept, as an installed package has them: with PYTHONDONTWRITEBYTECODE set,
    # every run compiles the project's modules from source again (about 60 ms of CPU on this machine).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if paths:
        env["PYTHONPATH"] = paths + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _once(args: list[str], paths: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one fresh ``python -m csv2h5 ARGS``."""
    env = _environment(paths)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [python(), "-m", "csv2h5", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=_OUTSIDE
    )
    stderr = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"csv2h5 {' '.join(args)} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime


def import_breakdown(args: list[str], paths: str | None, runs: int) -> tuple[float, list[tuple[str, float]]]:
    """(total ms, [(top-level package, ms)]) that a fresh ``python -m csv2h5 ARGS`` spends importing, medians."""
    env = _environment(paths)
    totals: dict[str, list[float]] = collections.defaultdict(list)
    for run in range(runs):
        result = subprocess.run(
            [python(), "-X", "importtime", "-m", "csv2h5", *args],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=_OUTSIDE,
        )
        for line in result.stderr.splitlines():
            match = IMPORT_LINE.match(line)
            if match is not None:  # each module's own time, added up by its top-level package
                name = match[3].split(".")[0]
                totals[name] += [0.0] * (run - len(totals[name]) + 1)
                totals[name][run] += int(match[1]) / 1000
    for values in totals.values():  # a package some run did not import counts 0 there
        values += [0.0] * (runs - len(values))
    total = median([sum(values[run] for values in totals.values()) for run in range(runs)])
    return total, sorted(((name, median(values)) for name, values in totals.items()), key=lambda item: -item[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per case (alternating)")
    parser.add_argument("--compare", help="folders put first on sys.path for a second set of runs (os.pathsep-separated)")
    parser.add_argument("--importtime-runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; {args.runs} runs per case, alternating; {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    setups = {"as installed": None}
    if args.compare:
        setups["--compare"] = os.pathsep.join(str(Path(p).resolve()) for p in args.compare.split(os.pathsep))
        print(f"--compare: {setups['--compare']} first on sys.path")
    with tempfile.TemporaryDirectory(prefix="csv2h5-startup-") as tmp:
        cases = _cases(Path(tmp))
        results: dict[tuple[str, str], list[tuple[float, float]]] = collections.defaultdict(list)
        for paths in setups.values():  # warm the page cache and write the bytecode caches
            for argv in cases.values():
                _once(argv, paths)
        for _ in range(args.runs):
            for case, argv in cases.items():
                for label, paths in setups.items():
                    results[case, label].append(_once(argv, paths))
        print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
        print("\n| case | setup | wall median | wall min-max | CPU (user+sys) median |")
        print("|---|---|---:|---:|---:|")
        for (case, label), runs in results.items():
            walls = [w for w, _ in runs]
            cpus = [c for _, c in runs]
            print(f"| {case} | {label} | {median(walls):.3f} s | {min(walls):.3f}-{max(walls):.3f} s | {median(cpus):.3f} s |")
        for label, paths in setups.items():
            total, breakdown = import_breakdown(cases["csv2h5 convert (2 rows)"], paths, args.importtime_runs)
            shown = ", ".join(f"{name} {ms:.0f}" for name, ms in breakdown[:14] if ms >= 1)
            print(
                f"\nimports of the 2-row conversion ({label}; ms, median of {args.importtime_runs}): {total:.0f} in all; {shown}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
