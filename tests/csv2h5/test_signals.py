"""A conversion interrupted by SIGINT or killed by SIGKILL leaves no file at OUTPUT."""

from __future__ import annotations

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
    make_digits_csv.write_csv(path, rows=40_000, seed=1, label=True)  # ~70 MB: a few seconds to convert
    return path


def _start(src: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(out), "--target", "label", "--quiet",
         "--compression", "gzip"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_temporary(out: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(f".{out.name}.*.tmp")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary file appeared"
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the conversion


@pytest.mark.slow
def test_sigint_exits_130_and_removes_the_temporary(big_csv, tmp_path):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["error: interrupted; nothing was written (no partial output left)"]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def _interrupt(src: Path, out: Path, how: signal.Signals) -> subprocess.CompletedProcess:
    proc = _start(src, out)
    _wait_for_temporary(out, proc)
    proc.send_signal(how)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.slow
def test_sigkill_leaves_no_output(big_csv, tmp_path):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    assert not out.exists()  # a stale hidden temporary may remain: SIGKILL cannot be handled


@pytest.mark.slow
def test_sigterm_cleans_up_like_sigint(big_csv, tmp_path):
    out = tmp_path / "out.h5"
    done = _interrupt(big_csv, out, signal.SIGTERM)
    assert done.returncode == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
