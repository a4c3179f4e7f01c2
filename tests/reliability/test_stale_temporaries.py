"""A killed conversion's temporary files are removed by the next conversion to the same output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest


def _csv(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a,b,label"] + [f"{a},{b},{a % 3}" for a, b in rng.integers(0, 100, size=(rows, 2))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _convert(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(out), "--target", "label", "--quiet", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this id now (barring reuse within the test)


def test_temporaries_of_a_dead_process_are_removed_and_reported(tmp_path):
    src = _csv(tmp_path / "in.csv", 50)
    out = tmp_path / "out.h5"
    host = socket.gethostname()
    dead = _dead_pid()
    stale = [
        tmp_path / f".out.h5.{host}-{dead}.tmp",
        tmp_path / f".out.h5.{host}-{dead}.target.tmp",
        tmp_path / f".out.h5.{dead}.tmp",
    ]  # the last: the name csv2h5 0.1 used
    for path in stale:
        path.write_bytes(b"x" * 1000)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    kept = [
        tmp_path / f".out.h5.{host}-{live.pid}.tmp",  # a conversion still running
        tmp_path / f".out.h5.otherhost-{dead}.tmp",  # another machine's, on a shared disk
        tmp_path / f".other.h5.{host}-{dead}.tmp",
    ]  # another output's
    for path in kept:
        path.write_bytes(b"y")
    try:
        done = _convert(src, out)
    finally:
        live.kill()
        live.wait()
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: removed 3 temporary files"), lines
    assert f"process {dead} is gone" in lines[0]
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    with h5py.File(out, "r") as f:
        assert f["features"].shape == (50, 2)


@pytest.mark.slow
def test_a_conversion_killed_with_sigkill_is_swept_by_the_next(tmp_path):
    src = _csv(tmp_path / "in.csv", 1_500_000)  # half of it is more than one 4 MiB block
    out = tmp_path / "out.h5"
    fifo = tmp_path / "in.pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "csv2h5", "convert", str(fifo), "-o", str(out), "--target", "label", "--quiet"],
        stderr=subprocess.DEVNULL,
    )
    data = src.read_bytes()
    with open(fifo, "wb") as fh:  # half the input, so the kill lands mid-conversion
        fh.write(data[: len(data) // 2])
        fh.flush()
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob(".out.h5.*tmp"))) < 2:  # the output and the target scratch
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = sorted(p.name for p in tmp_path.glob(".out.h5.*"))
    assert len(left) == 2 and not out.exists(), left
    done = _convert(src, out)
    assert done.returncode == 0, done.stderr
    assert f"process {proc.pid} is gone" in done.stderr and done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.pipe", "out.h5"]
