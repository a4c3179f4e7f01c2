"""Shared helpers for the benchmark scripts: timing, memory sampling, machine facts, MNIST-shaped files,
the page cache and memory cgroups."""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path


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


# -- MNIST-shaped files, and the page cache ---------------------------------------------------------


def digits_h5(
    out: Path, parts: Iterable[tuple[object, object]], *, sort_by_label: bool = False, convert_args: Sequence[str] = ()
) -> Path:
    """An MNIST-shaped csv2h5 file (``label`` as /target, 784 pixels), made once from ``(labels, pixels)`` parts.

    The parts are written as one CSV (each sorted by label first when ``sort_by_label``: data exported by
    class or by day comes in runs of a label), converted with ``csv2h5 convert``, and the CSV removed.
    """
    import make_digits_csv  # beside this module, as the scripts import it
    import numpy as np

    if out.exists():
        return out
    csv = out.with_suffix(".csv")
    with open(csv, "wb") as fh:
        fh.write((",".join(["label"] + [f"pixel{i}" for i in range(make_digits_csv.PIXELS)]) + "\n").encode())
        for labels, pixels in parts:
            picked = np.argsort(labels, kind="stable") if sort_by_label else slice(None)
            table = np.column_stack([labels[picked], pixels[picked]])
            for start in range(0, table.shape[0], 4096):
                fh.write(make_digits_csv.format_rows(table[start : start + 4096]))
    command = [python(), "-m", "csv2h5", "convert", str(csv), "-o", str(out), "--target", "label", "--quiet"]
    subprocess.run([*command, *convert_args], check=True)
    csv.unlink()
    return out


def sorted_copies_file(workdir: Path) -> Path:
    """A 1,500,000-row MNIST-shaped file (1.18 GB) sorted by label in runs: three copies of a 500,000-row
    file, merged (each made once; the rows are generated only when the small file is missing)."""
    import make_digits_csv  # beside this module, as the scripts import it

    workdir.mkdir(exist_ok=True)
    part = digits_h5(
        workdir / "ooc_small.h5",
        (make_digits_csv.make_rows(500_000, seed=11) for _ in range(1)),
        sort_by_label=True,
        convert_args=["--sample-shape", "28,28,1"],
    )
    return merged_copies(part, 3, workdir / "ooc_subsets.h5")


def merged_copies(part: Path, copies: int, out: Path) -> Path:
    """``copies`` copies of ``part`` merged into ``out`` (made once): a large file from a small one.

    ``csv2h5 merge`` refuses one file given twice (its rows would be stored twice by mistake), so each
    copy is a file of its own, removed once merged.
    """
    import shutil

    if out.exists():
        return out
    names = [out.with_name(f"{out.stem}.copy{i}.h5") for i in range(copies)]
    try:
        for name in names:
            shutil.copyfile(part, name)
        command = [python(), "-m", "csv2h5", "merge", *map(str, names), "-o", str(out), "--quiet"]
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)  # its note that the parts hold the same rows
    finally:
        for name in names:
            name.unlink(missing_ok=True)
    return out


def drop_cache(path: Path) -> None:
    """Drop ``path``'s pages from the page cache (``posix_fadvise(POSIX_FADV_DONTNEED)``): the next read is cold."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_into_cache(path: Path) -> None:
    """Read ``path`` whole, so its pages are in the page cache (as in any second epoch over a file that fits)."""
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


class MemoryCgroup:
    """A memory cgroup of its own, limited to ``limit`` bytes (the page cache counts against it).

    cgroup v1 ``memory.limit_in_bytes`` or v2 ``memory.max``; making it needs root, and without it the
    benchmark stops rather than report a figure it could not limit. Remove it with ``remove()``.
    """

    def __init__(self, limit: int) -> None:
        name = f"csv2h5-bench-{os.getpid()}"
        v1 = Path("/sys/fs/cgroup/memory")
        if (v1 / "memory.limit_in_bytes").exists():
            self.path, self.version = v1 / name, 1
        else:
            self.path, self.version = Path("/sys/fs/cgroup") / name, 2
        try:
            self.path.mkdir()
            (self.path / ("memory.limit_in_bytes" if self.version == 1 else "memory.max")).write_text(str(limit))
            if self.version == 1 and (self.path / "memory.memsw.limit_in_bytes").exists():
                (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit))  # no swapping past it either
        except OSError as exc:
            raise SystemExit(
                f"cannot make a memory cgroup at {self.path} ({exc}); run as root on a machine "
                "with cgroup memory control. No figure is reported without the limit."
            ) from None
        self.limit = limit

    def run(self, command: Sequence[str], *, cold: Path, **kwargs: object) -> subprocess.CompletedProcess:
        """``subprocess.run(command)`` in this cgroup, ``cold``'s pages dropped from the page cache first, the peak reset."""
        self._reset(cold)
        return subprocess.run(list(command), preexec_fn=self._enter, **kwargs)

    def start(self, command: Sequence[str], *, cold: Path, **kwargs: object) -> subprocess.Popen:
        """As ``run``, but returns the running process (to sample its memory while it runs)."""
        self._reset(cold)
        return subprocess.Popen(list(command), preexec_fn=self._enter, **kwargs)

    def _reset(self, cold: Path) -> None:
        drop_cache(cold)
        if self.version == 1:
            (self.path / "memory.max_usage_in_bytes").write_text("0")

    def _enter(self) -> None:
        """In the child before exec: move it into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int:
        """The most the cgroup has used since the last ``run`` (v2: since it was made), page cache included."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int((self.path / name).read_text())

    def failures(self) -> int:
        """How often usage reached the limit (v1 failcnt; v2 memory.events 'max')."""
        if self.version == 1:
            return int((self.path / "memory.failcnt").read_text())
        for line in (self.path / "memory.events").read_text().splitlines():
            if line.startswith("max "):
                return int(line.split()[1])
        return 0

    def kill_left(self, grace: float = 5.0) -> int:
        """Kill every process still in the cgroup ``grace`` seconds after the run ended (children that
        outlived it); how many there were."""
        deadline = time.monotonic() + grace
        while (self.path / "cgroup.procs").read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while (self.path / "cgroup.procs").read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(pids)

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


def conversion_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of the scripts that time ``csv2h5.convert`` of one CSV in their own process."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--target", action="append", default=[])
    parser.add_argument("--no-header", action="store_true")
    return parser


def conversion_options(args: argparse.Namespace):
    """The ``ConvertOptions`` those arguments ask for (the output replaced on every run)."""
    from csv2h5 import ConvertOptions

    return ConvertOptions(target=tuple(args.target), header=not args.no_header, overwrite=True, workers=args.workers)
