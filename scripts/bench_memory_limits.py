"""``h5train fit`` with its defaults under a memory limit: does it finish, and what does it hold?

    sudo python scripts/bench_memory_limits.py [--workdir bench_data] [--limits-mib 512,640,768,1024,1536]
    sudo python scripts/bench_memory_limits.py --limits-mib 1024,1536,2048 --fit-args="--processes --loaders 2"

A container's memory limit counts everything the process holds: Python, Keras
and its backend, the model, the row lists and orders, the pool of blocks and
the blocks read ahead, and the page cache. This script runs ``h5train fit FILE
--epochs 2 --steps-per-epoch N`` (every other option at its default: ``auto``
order, a 10% validation split, the seed MLP, JAX) on the 1.2 GB MNIST-shaped
file of ``bench_subsets.py`` (three copies of a 500,000-row file sorted by
label, merged), in a fresh process inside a memory cgroup limited to each of
``--limits-mib``, the file's pages dropped first. Per limit: the exit status
(-9: killed at the limit), the order and pool h5train chose (its note line),
wall seconds, the process tree's peak RssAnon (sampled every 20 ms: what the
limit cannot reclaim), the cgroup's peak (page cache included: at the limit
the kernel reclaims page cache, which is not a failure), and how many of its
processes were still running 5 s after it ended (killed then). ``--fit-args`` adds
options to every run (reading processes, another backend). Needs root (the cgroup).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchutil import MemoryCgroup, MemorySampler, machine, sorted_copies_file  # noqa: E402


def _h5train() -> list[str]:
    return [sys.executable, "-c", "from csv2h5.trainer.cli import main; main()"]


def _fit(path: Path, limit_mib: int, steps: int, extra: list[str]) -> dict:
    """One ``h5train fit`` in a cgroup of ``limit_mib``; its figures."""
    cgroup = MemoryCgroup(limit_mib << 20)
    try:
        with tempfile.TemporaryDirectory() as runs:
            command = [*_h5train(), "fit", str(path), "--epochs", "2", "--steps-per-epoch", str(steps)]
            command += ["--run-dir", str(Path(runs) / "run"), "--progress", "none", *extra]
            started = time.perf_counter()
            with open(Path(runs) / "stderr", "w+") as stderr:  # a file, not a pipe: a child left behind cannot hold it
                proc = cgroup.start(command, cold=path, stdout=subprocess.DEVNULL, stderr=stderr)
                with MemorySampler(proc.pid) as memory:
                    proc.wait()
                seconds = time.perf_counter() - started
                left = cgroup.kill_left()  # reading processes that outlived their training process
                stderr.seek(0)
                err = stderr.read()
        note = re.search(r"note: data order: shuffle=(\w+)", err)
        pool = re.search(r"; a pool of (\d+) blocks", err)
        return {
            "limit": limit_mib,
            "exit": proc.returncode,
            "order": note.group(1) if note else "?",
            "pool": int(pool.group(1)) if pool else None,
            "too little": "too little" in err,
            "seconds": seconds,
            "anon": memory.peak_anon_tree_kb >> 10,
            "peak": cgroup.peak() >> 20,
            "error": err.strip().splitlines()[-1] if proc.returncode not in (0, -9) and err.strip() else "",
            "left": left,
        }
    finally:
        cgroup.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    parser.add_argument("--limits-mib", default="512,640,768,1024,1536")
    parser.add_argument("--steps", type=int, default=600, help="steps per epoch (2 epochs)")
    parser.add_argument("--fit-args", default="", help="more h5train fit options, e.g. '--processes --loaders 2'")
    args = parser.parse_args()
    path = sorted_copies_file(args.workdir)  # larger than the limits measured
    size = path.stat().st_size / 1e6
    print(f"{machine()}\nfile {path.name}: {size:.0f} MB; h5train fit, 2 epochs of {args.steps} steps {args.fit_args}")
    print("| limit (MiB) | exit | order, pool | seconds | peak RssAnon (MiB) | cgroup peak (MiB) | processes left behind |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for limit in [int(x) for x in args.limits_mib.split(",")]:
        got = _fit(path, limit, args.steps, args.fit_args.split())
        status = {0: "finished", -9: "killed (-9)"}.get(got["exit"], f"exit {got['exit']}: {got['error']}")
        pool = f"{got['order']}, {got['pool']} blocks" if got["pool"] else got["order"]
        pool += ", noted too little" if got["too little"] else ""
        print(
            f"| {limit:,} | {status} | {pool} | {got['seconds']:.1f} | {got['anon']:,} | {got['peak']:,} | {got['left']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
