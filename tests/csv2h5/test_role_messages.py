"""Messages about column roles and parts that disagree: each names the option or file it is about."""

from __future__ import annotations

import subprocess
import sys

import h5py
import pytest

from csv2h5 import ConvertOptions, HeaderMismatchError, OptionError, convert
from csv2h5.merge import merge


@pytest.mark.parametrize(
    ("roles", "why"),
    [
        ({"features": ("x1",)}, "--features leaves it out"),
        ({"target": ("city",)}, "it is --target"),
        ({"drop": ("city",)}, "--drop leaves it out"),
    ],
)
def test_a_categorical_column_that_is_no_feature_says_which_option_left_it_out(tmp_path, roles, why):
    src = tmp_path / "c.csv"
    src.write_text("x1,city,y\n1,paris,0\n2,rome,1\n")
    options = ConvertOptions(**{"target": ("y",), **roles}, categorical=("city",))
    with pytest.raises(OptionError, match=rf"--categorical 'city' is not a feature column \({why}\)"):
        convert([src], tmp_path / "c.h5", options=options)


@pytest.mark.parametrize("booleans_first", [True, False])
def test_merge_names_both_files_when_a_column_holds_booleans_in_one(tmp_path, booleans_first):
    (tmp_path / "b.csv").write_text("flag,y\ntrue,1\nfalse,2\n")
    (tmp_path / "n.csv").write_text("flag,y\n1,1\n0,2\n")
    for name in ("b", "n"):
        convert([tmp_path / f"{name}.csv"], tmp_path / f"{name}.h5", options=ConvertOptions(target=("y",)))
    parts = [tmp_path / "b.h5", tmp_path / "n.h5"]
    with pytest.raises(HeaderMismatchError, match=r"column 'flag' holds booleans in \S*b\.h5 but not in \S*n\.h5;"):
        merge(parts if booleans_first else parts[::-1], tmp_path / "m.h5")


def test_merge_says_which_way_converting_again_stores_a_column_coded_in_one_part(tmp_path):
    (tmp_path / "p1.csv").write_text("num,f,label\n5,0.5,cat\n7,1.5,dog\n")
    (tmp_path / "p4.csv").write_text("num,f,label\nhi,0.5,cat\nlo,1.5,dog\n")
    convert([tmp_path / "p1.csv"], tmp_path / "p1.h5", options=ConvertOptions(target=("label",)))
    convert([tmp_path / "p4.csv"], tmp_path / "p4.h5", options=ConvertOptions(target=("label",), categorical=("num",)))
    with pytest.raises(HeaderMismatchError) as refused:
        merge([tmp_path / "p1.h5", tmp_path / "p4.h5"], tmp_path / "m.h5")
    message = str(refused.value)
    p1, p4 = tmp_path / "p1.h5", tmp_path / "p4.h5"
    assert f"{p4}'s CSV again with --like {p1} to store it as numbers" in message
    assert f"{p1}'s with --like {p4} to store it as codes" in message
    # what the second way gives: p1's numbers as codes, which merge with p4
    convert([tmp_path / "p1.csv"], tmp_path / "p1c.h5", options=ConvertOptions(like=str(p4)))
    with h5py.File(tmp_path / "p1c.h5", "r") as f:
        assert "num" in f["categories"]
    merge([tmp_path / "p1c.h5", p4], tmp_path / "m.h5")


def test_a_column_name_with_a_comma_is_named_by_its_index(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('x,y,"the,label"\n1,2,a\n3,4,b\n')

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(tmp_path / "q.h5"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    done = run("--target", "the,label")
    assert done.returncode == 2
    assert "column 'the,label' holds a comma" in done.stderr and "(--target 2)" in done.stderr
    done = run("--target", "2")
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "q.h5", "r") as f:
        assert list(f["target"].attrs["columns"]) == ["the,label"]
        assert list(f["features"].attrs["columns"]) == ["x", "y"]
