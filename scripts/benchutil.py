"""Shared helpers for the benchmark scripts: timing, memory sampling, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _shared_files_kb(pid: int) -> int:
    """Memory held by csv2h5's shared files of the conversion run by ``pid`` not mapped by any process.

    Parser processes leave parsed rows in ``/dev/shm/csv2h5-<pid>-...`` (tmpfs: memory); rows
    they copy into the output themselves are never mapped, so no process's RssShmem holds them.
    """
    total = 0
    try:
        with os.scandir("/dev/shm") as entries:
            for entry in entries:
                if entry.name.startswith(f"csv2h5-{pid}-"):
                    try:
                        total += entry.stat().st_blocks * 512
                    except OSError:  # removed meanwhile
                        pass
    except OSError:
        return 0
    return total // 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            kids = [int(x) for x in fh.read().split()]
    except OSError:
        return []
    out = list(kids)
    for kid in kids:
        out.extend(_children(kid))
    return out


class MemorySampler:
    """Samples RssAnon and RssFile of a process (and its children) every few ms; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_anon_main_kb = 0
        self.peak_anon_tree_kb = 0
        self.peak_file_tree_kb = 0
        # shared memory mapped, and csv2h5's shared files mapped by none (parsed blocks on their way to the file)
        self.peak_shmem_tree_kb = 0
        self.peak_anon_shmem_tree_kb = 0  # both at once: arrays, wherever they are kept
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid] + _children(self.pid)
            anon = [_status_kb(p, "RssAnon") for p in pids]
            files = [_status_kb(p, "RssFile") for p in pids]
            shmem = sum(_status_kb(p, "RssShmem") for p in pids) + _shared_files_kb(self.pid)
            self.peak_shmem_tree_kb = max(self.peak_shmem_tree_kb, shmem)
            self.peak_anon_shmem_tree_kb = max(self.peak_anon_shmem_tree_kb, sum(anon) + shmem)
            self.peak_anon_main_kb = max(self.peak_anon_main_kb, anon[0])
            self.peak_anon_tree_kb = max(self.peak_anon_tree_kb, sum(anon))
            self.peak_file_tree_kb = max(self.peak_file_tree_kb, sum(files))
            time.sleep(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, MemorySampler, str]:
    """Run a command; return (seconds, memory peaks, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    with MemorySampler(proc.pid) as mem:
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    return seconds, mem, out


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """One line describing the machine, for BENCHMARKS.md."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numpy

    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}, numpy {numpy.__version__}"
    )


def python() -> str:
    return sys.executable
