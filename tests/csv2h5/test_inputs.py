"""Glob patterns the commands expand themselves (a quoted pattern, or a shell that expands none), and
several files described by ``csv2h5 info``.

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


def _converted(days: list[Path], tmp_path: Path) -> list[Path]:
    outs = []
    for csv in sorted(days, key=lambda p: p.name):
        outs.append(tmp_path / csv.with_suffix(".h5").name)
        convert([csv], outs[-1])
    return outs


def test_info_describes_each_file_in_turn(days, tmp_path):
    outs = _converted(days, tmp_path)
    single = [_run("info", str(p)) for p in outs]
    assert all(done.returncode == 0 for done in single)
    both = _run("info", str(outs[0]), str(outs[1]))
    assert both.returncode == 0, both.stderr
    assert both.stdout == single[0].stdout + "\n" + single[1].stdout  # blocks as alone, a blank line between
    quoted = _run("info", "day-*.h5", cwd=tmp_path)
    assert quoted.returncode == 0, quoted.stderr
    blocks = quoted.stdout.strip().split("\n\n")
    assert [b.split(":")[0] for b in blocks] == ["day-01.h5", "day-02.h5", "day-10.h5"]
    assert [b.splitlines()[1] for b in blocks] == ["rows      5"] * 3


def test_info_json_is_one_object_for_one_file_and_a_list_for_several(days, tmp_path):
    outs = _converted(days, tmp_path)
    one = _run("info", str(outs[0]), "--json")
    assert one.returncode == 0, one.stderr
    alone = json.loads(one.stdout)
    assert isinstance(alone, dict) and alone["path"] == str(outs[0]) and alone["rows"] == 5
    assert alone["columns"] == ["a", "b"] and alone["stats"]["max"] == [4.0, 8.0]  # oracle: the CSV's values
    several = _run("info", *map(str, outs), "--json")
    assert several.returncode == 0, several.stderr
    listed = json.loads(several.stdout)
    assert isinstance(listed, list) and [d["path"] for d in listed] == list(map(str, outs))
    assert listed[0] == alone
    assert [d["stats"]["min"] for d in listed] == [[0.0, 0.0], [50.0, 100.0], [100.0, 200.0]]
    matched_one = _run("info", "day-1*.h5", "--json", cwd=tmp_path)  # a pattern: a list, however many it matches
    assert matched_one.returncode == 0, matched_one.stderr
    assert [d["rows"] for d in json.loads(matched_one.stdout)] == [5]


def test_info_with_a_bad_file_among_several_prints_one_error_and_nothing_else(days, tmp_path):
    outs = _converted(days, tmp_path)
    for bad, line in (
        (days[0], f"error: {days[0]} is not a readable HDF5 file"),
        (tmp_path / "no-*.h5", f"error: {tmp_path / 'no-*.h5'} matches no file; check the pattern"),
    ):
        done = _run("info", str(outs[0]), str(bad), "--json")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith(line), done.stderr
