"""A conversion interrupted by SIGINT or killed by SIGKILL leaves no file at OUTPUT.

The CSV is fed through a named pipe and only half of it is written before the
signal, so the signal always lands in the middle of the conversion, however
fast the machine is.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    import make_digits_csv

    path = tmp_path / "big.csv"
    make_digits_csv.write_csv(path, rows=20_000, seed=1, label=True)  # ~36 MB: many 4 MiB blocks
    return path


def _ctrl_c_default() -> None:
    """In the child: Ctrl-C as at a terminal, even if this test runs where SIGINT is ignored
    (a background job of a script inherits SIG_IGN, and Python then keeps it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _open_writer(fifo: Path, proc: subprocess.Popen) -> int:
    """The pipe's writing end, once the converter has opened the reading end."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the converter never opened its input"
        time.sleep(0.01)


def _wait_for_temporary(out: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(f".{out.name}.*.tmp")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary file appeared"
        time.sleep(0.01)


# How much of the input the converter has when the signal comes: none yet (early), half
# (mid-block), all of it with the pipe still open (the end, before the final blocks and rename).
STAGES = {"early": 0.0, "middle": 0.5, "end": 1.0}


def _interrupt(src: Path, out: Path, how: signal.Signals, stage: str = "middle") -> subprocess.CompletedProcess:
    fifo = out.parent / "input.pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csv2h5",
            "convert",
            str(fifo),
            "-o",
            str(out),
            "--target",
            "label",
            "--quiet",
            "--compression",
            "gzip",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_default,
    )
    data = src.read_bytes()
    fd = _open_writer(fifo, proc)
    os.set_blocking(fd, True)
    try:
        fed = int(len(data) * STAGES[stage])
        if fed:
            os.write(fd, data[:fed])  # returns once the converter has taken most of it
            _wait_for_temporary(out, proc)
        else:
            time.sleep(0.5)  # the converter waits for its first bytes
        assert proc.poll() is None, "the conversion ended without the end of its input"
        proc.send_signal(how)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        try:
            os.close(fd)
        except OSError:
            pass
    fifo.unlink()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGES))
def test_sigint_exits_130_and_removes_the_temporary(big_csv, tmp_path, stage):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGINT, stage)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["error: interrupted; nothing was written (no partial output left)"]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_leaves_no_output(big_csv, tmp_path, stage):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGKILL, stage)
    assert done.returncode == -signal.SIGKILL
    assert not out.exists()  # a stale hidden temporary may remain: SIGKILL cannot be handled, but nothing else
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "big.csv")
    assert all(name.startswith(".out.h5.") and name.endswith(".tmp") for name in left), left


@pytest.mark.slow
def test_sigterm_cleans_up_like_sigint(big_csv, tmp_path):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGTERM)
    assert done.returncode == 130
    assert done.stderr.strip().splitlines() == ["error: interrupted; nothing was written (no partial output left)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
