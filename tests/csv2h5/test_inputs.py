"""Glob patterns the commands expand themselves (a quoted pattern, or a shell that expands none).

The commands run in subprocesses with their arguments as a list: no shell sees the patterns, as
with Windows ``cmd`` or PowerShell.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import convert
from csv2h5.errors import InputError
from csv2h5.inputs import expand_patterns
from csv2h5.merge import merge


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csv2h5", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def _rows(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["features"][()].astype(np.float64)


@pytest.fixture
def days(tmp_path) -> list[Path]:
    """Three CSVs of one header, written out of name order; day-10 sorts after day-02 by name."""
    paths = []
    for day, start in (("day-10", 100), ("day-01", 0), ("day-02", 50)):
        frame = pd.DataFrame({"a": np.arange(start, start + 5), "b": np.arange(start, start + 5) * 2})
        frame.to_csv(tmp_path / f"{day}.csv", index=False)
        paths.append(tmp_path / f"{day}.csv")
    return paths


def _joined(paths: list[Path]) -> np.ndarray:
    """The oracle: pandas reading the CSVs one after the other."""
    return pd.concat([pd.read_csv(p) for p in paths]).to_numpy(dtype=np.float64)


def test_patterns_expand_sorted_by_name_and_an_existing_name_is_taken_as_it_is(tmp_path):
    for name in ("b.csv", "a.csv", "c.txt", "odd[1].csv", "odd1.csv"):
        (tmp_path / name).write_text("x\n1\n")
    found = expand_patterns([str(tmp_path / "*.csv"), "-", str(tmp_path / "missing.csv")])
    assert found == [tmp_path / n for n in ("a.csv", "b.csv", "odd1.csv", "odd[1].csv")] + [Path("-"), tmp_path / "missing.csv"]
    # a file whose name holds pattern characters is that file, not the files the pattern matches (odd1.csv)
    assert expand_patterns([tmp_path / "odd[1].csv"]) == [tmp_path / "odd[1].csv"]
    assert expand_patterns([str(tmp_path / "?.csv")]) == [tmp_path / "a.csv", tmp_path / "b.csv"]
    with pytest.raises(InputError, match=r"^\S*nothing-\*\.csv matches no file; check the pattern$"):
        expand_patterns([tmp_path / "a.csv", tmp_path / "nothing-*.csv"])


def test_convert_expands_a_quoted_pattern_in_name_order(days, tmp_path):
    out = tmp_path / "all.h5"
    done = _run("convert", "day-*.csv", "-o", str(out), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ordered = sorted(days, key=lambda p: p.name)
    np.testing.assert_array_equal(_rows(out), _joined(ordered))
    with h5py.File(out, "r") as f:
        assert [s["name"] for s in json.loads(f.attrs["sources"])] == ["day-01.csv", "day-02.csv", "day-10.csv"]
    # the Python API takes a pattern too, alone or in a list
    convert(str(tmp_path / "day-0?.csv"), tmp_path / "two.h5")
    np.testing.assert_array_equal(_rows(tmp_path / "two.h5"), _joined(ordered[:2]))


def test_convert_pattern_errors_are_one_line(days, tmp_path):
    out = tmp_path / "all.h5"
    cases = [
        (("convert", "week-*.csv", "-o", str(out)), "error: week-*.csv matches no file; check the pattern"),
        # a file named and matched by a pattern too would be stored twice
        (("convert", "day-02.csv", "day-*.csv", "-o", str(out)), "error: day-02.csv is given twice"),
    ]
    for args, line in cases:
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.splitlines() == [done.stderr.strip()], done.stderr
        assert done.stderr.startswith(line), done.stderr
        assert not out.exists()


def test_convert_takes_standard_input_beside_a_pattern(days, tmp_path):
    out = tmp_path / "all.h5"
    piped = (tmp_path / "day-10.csv").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "csv2h5", "convert", "day-0*.csv", "-", "-o", str(out), "-q"],
        input=piped,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(_rows(out), _joined(sorted(days, key=lambda p: p.name)))


def test_merge_expands_a_quoted_pattern_in_name_order(days, tmp_path):
    (tmp_path / "parts").mkdir()
    for csv in days:
        convert([csv], tmp_path / "parts" / csv.with_suffix(".h5").name)
    done = _run("merge", "parts/*.h5", "-o", "all.h5", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(_rows(tmp_path / "all.h5"), _joined(sorted(days, key=lambda p: p.name)))
    done = _run("merge", "parts/day-3*.h5", "parts/day-01.h5", "-o", "none.h5", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == "error: parts/day-3*.h5 matches no file; check the pattern"
    # a single string in Python is one pattern, not a list of characters
    merge(str(tmp_path / "parts" / "day-0*.h5"), tmp_path / "two.h5")
    np.testing.assert_array_equal(_rows(tmp_path / "two.h5"), _joined(sorted(days, key=lambda p: p.name)[:2]))
