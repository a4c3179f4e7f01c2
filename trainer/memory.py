"""How much memory this process may use, container limits included.

A process in a container sees the host's RAM in ``/proc/meminfo``; what it may
use is its memory cgroup's limit (a Kubernetes pod limited to 8 GiB on a
256 GiB node has 8 GiB). So the memory found is the smallest of:

- cgroup v2: ``memory.max`` of the process's cgroup and of each ancestor;
- cgroup v1: ``memory.limit_in_bytes`` of its memory cgroup and of each ancestor;
- ``MemAvailable`` from ``/proc/meminfo`` (free memory plus what the kernel can reclaim).

Page cache counts against a cgroup's limit, so a file "fits" only if it fits
in that limit beside everything else the process holds.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .errors import DataOptionError

_UNLIMITED = 1 << 60  # v1 reports "no limit" as ~2**63 rounded to a page; anything this large means none


@dataclasses.dataclass(frozen=True)
class Memory:
    """Bytes this process may use, and where that figure came from (for messages).

    The memory left to the data (``blocks.data_memory``) also says what it was taken from: ``found``
    bytes, of which ``kept`` are kept for what the process holds beside the data.
    """

    bytes: int
    source: str
    found: int = 0
    kept: int = 0

    def describe(self) -> str:
        """What the figure is, for a message: ``1.1 GB this process may use (cgroup v1 ...)``."""
        if self.source == "memory_budget":
            return f"{format_bytes(self.bytes)} of memory_budget"
        if not self.found:
            return f"{format_bytes(self.bytes)} this process may use ({self.source})"
        return (
            f"{format_bytes(max(0, self.found - self.kept))} left to the data of the {format_bytes(self.found)} this "
            f"process may use ({self.source}; {format_bytes(self.kept)} kept for Python, Keras and the model)"
        )


def available_memory(*, proc: str | Path = "/proc", cgroup_root: str | Path = "/sys/fs/cgroup") -> Memory:
    """The memory this process may use: the smallest of its cgroup limits and MemAvailable.

    Args:
        proc: where ``self/cgroup`` and ``meminfo`` are read (a fake tree in tests).
        cgroup_root: where the cgroup file systems are mounted.
    """
    found = [_mem_available(Path(proc) / "meminfo")]
    found += _cgroup_limits(Path(proc) / "self" / "cgroup", Path(cgroup_root))
    found = [m for m in found if m is not None]
    if not found:  # not Linux, or nothing readable: no figure rather than a guess
        return Memory(bytes=_UNLIMITED, source="no memory limit found")
    return min(found, key=lambda m: m.bytes)


def _mem_available(meminfo: Path) -> Memory | None:
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return Memory(bytes=int(line.split()[1]) * 1024, source="MemAvailable")
    return None


def _cgroup_limits(self_cgroup: Path, root: Path) -> list[Memory]:
    """Every memory limit on the way from the process's cgroups up to the hierarchy roots."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return []
    limits: list[Memory] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one unified hierarchy, at the root or under unified/ (hybrid)
            mount = root if (root / "cgroup.controllers").exists() else root / "unified"
            limits += _walk(mount, path, "memory.max", "cgroup v2 memory.max")
        elif "memory" in controllers.split(","):
            limits += _walk(root / "memory", path, "memory.limit_in_bytes", "cgroup v1 memory.limit_in_bytes")
    return limits


def _walk(mount: Path, path: str, name: str, label: str) -> list[Memory]:
    """Limits in ``name`` from ``mount/path`` up to ``mount``.

    In a cgroup namespace the path in /proc/self/cgroup can name a cgroup that
    is not under the mount (the container sees its own cgroup as the root):
    then the mount itself is the process's cgroup.
    """
    here = mount / path.lstrip("/")
    if not here.is_dir():
        here = mount
    limits = []
    while True:
        value = _read_limit(here / name)
        if value is not None:
            relative = here.relative_to(mount).as_posix()
            limits.append(Memory(bytes=value, source=f"{label} of /{'' if relative == '.' else relative}"))
        if here == mount or mount not in here.parents:
            break
        here = here.parent
    return limits


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text in ("", "max"):
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= _UNLIMITED else value


_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_bytes(text: str | None, option: str = "--memory-budget") -> int | None:
    """``8GB``, ``1.5e9``, ``512MiB`` as a number of bytes (None for no text).

    Raises:
        DataOptionError: not a positive size.
    """
    if text is None:
        return None
    found = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-z]*)\s*", str(text).lower())
    if not found or found.group(2) not in _UNITS:
        raise DataOptionError(f"{option} takes a size such as 8GB, 1.5e9 or 512MiB, got {text!r}")
    value = int(float(found.group(1)) * _UNITS[found.group(2)])
    if value < 1:
        raise DataOptionError(f"{option} must be a positive size, got {text!r}")
    return value


def format_bytes(count: float) -> str:
    """``1.5 GB``-style text for messages (decimal units, as ``df -H`` and cloud limits)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
