"""End-to-end runs of the csv2h5 command in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csv2h5", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_convert_and_info(digits_csv, tmp_path):
    out = tmp_path / "d.h5"
    done = _run("convert", str(digits_csv), "-o", str(out), "--target", "label", "--sample-shape", "28,28,1")
    assert done.returncode == 0, done.stderr
    assert "600 rows x 784 features (uint8)" in done.stdout
    info = json.loads(_run("info", str(out), "--json").stdout)
    assert info["rows"] == 600 and info["sample_shape"] == [28, 28, 1] and info["target"]["task"] == "classification"


def test_user_errors_are_one_line_exit_2_and_leave_nothing(digits_csv, tmp_path):
    out = tmp_path / "o.h5"
    cases = [
        ("convert", str(tmp_path / "missing.csv"), "-o", str(out)),
        ("convert", str(digits_csv), "-o", str(out), "--target", "lable"),
        ("convert", str(digits_csv), "-o", str(out), "--sample-shape", "28,28,2"),
        ("convert", str(digits_csv), "-o", str(tmp_path / "nodir" / "o.h5")),
        ("convert", str(digits_csv), "-o", str(out), "--dtype", "int4"),
        ("info", str(digits_csv)),
    ]
    for args in cases:
        done = _run(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, done.stderr)
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir()] == [digits_csv.name]
