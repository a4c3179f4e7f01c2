"""Temporary files written beside an output, and sweeping those a killed process left.

A conversion writes ``.OUT.HOST-PID.tmp`` (and ``.target.tmp``, ``.tmp.repack``)
beside ``OUT`` and renames it at the end, so a crash never leaves a file that
looks finished. SIGKILL (or a power cut) leaves the temporaries themselves,
possibly gigabytes; the next conversion to the same output removes those whose
process is gone. Only this host's are judged: on a shared file system another
machine's conversion may still be writing its own.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
from pathlib import Path

_SUFFIXES = ("tmp", "target.tmp", "tmp.repack")


_HOST_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _host() -> str:
    # Every other character as _ (no regular expression: compiling one costs a conversion 1 ms).
    return "".join(c if c in _HOST_CHARACTERS else "_" for c in platform.node()) or "localhost"


def temporary_path(output: Path, suffix: str = "tmp") -> Path:
    """The name this process writes ``output`` (or its scratch ``suffix``) to before the rename."""
    if suffix not in _SUFFIXES:
        raise ValueError(f"suffix must be one of {_SUFFIXES}, got {suffix!r}")
    return output.with_name(f".{output.name}.{_host()}-{os.getpid()}.{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class Swept:
    """Temporaries removed by :func:`sweep_stale`."""

    output: Path
    paths: tuple[Path, ...] = ()
    pids: tuple[int, ...] = ()  # the processes, gone, that wrote them
    bytes: int = 0

    def __bool__(self) -> bool:
        return bool(self.paths)

    def describe(self) -> str:
        """One line for people."""
        pids = sorted(set(self.pids))
        return (
            f"removed {len(self.paths)} temporary file{'s' if len(self.paths) != 1 else ''}"
            f" ({self.bytes / 1e6:,.1f} MB) beside {self.output} left by an earlier run that was killed"
            f" (process {', '.join(map(str, pids))} is gone): {', '.join(p.name for p in self.paths)}"
        )


def sweep_stale(output: Path) -> Swept:
    """Remove temporaries of earlier runs to ``output`` on this host whose process is gone."""
    # Names without a host come from csv2h5 0.1, which wrote ".OUT.PID.tmp": taken as this host's.
    prefix = f".{output.name}."
    try:  # only names that start as a temporary's can be one (the expression costs 2-3 ms to compile)
        entries = [entry for entry in output.parent.iterdir() if entry.name.startswith(prefix)]
    except OSError:  # a missing or unreadable directory is reported by the caller's own checks
        return Swept(output)
    if not entries:
        return Swept(output)
    suffixes = "|".join(map(re.escape, _SUFFIXES))
    pattern = re.compile(rf"^\.{re.escape(output.name)}\.(?:(?P<host>.+)-)?(?P<pid>\d+)\.(?:{suffixes})$")
    host = _host()
    removed: list[Path] = []
    pids: list[int] = []
    freed = 0
    for entry in sorted(entries):
        found = pattern.match(entry.name)
        if found is None or found["host"] not in (None, host):
            continue
        pid = int(found["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            size = entry.stat().st_size
            entry.unlink()
        except FileNotFoundError:  # removed meanwhile by another sweep
            continue
        except OSError:  # not ours to remove (permissions): leave it, it does no harm to this run
            continue
        removed.append(entry)
        pids.append(pid)
        freed += size
    return Swept(output, tuple(removed), tuple(pids), freed)
