"""--na-values spellings that are numbers match cells of that value in number columns, as pandas' na_values= does."""

from __future__ import annotations

from unittest import mock

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError
from csv2h5.reader import parse as parse_module
from csv2h5.reader import wide as wide_module

NV = "a,b\n-999,1\n-999.0,2\n5,3\n-999.00,4\n-9.99e2,5\n-999.0001,6\n 999 ,7\n"

# How a block is read: each path on its own, and parser processes.
PATHS = {
    "default": {},
    "text": {"typed": False},
    "small blocks": {"block_bytes": 16},
    "workers": {"block_bytes": 16, "workers": 2},
}


def _convert(tmp_path, text: str, *, typed: bool = True, **options) -> dict[str, np.ndarray]:
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_text(text)
    options.setdefault("workers", 0)
    typed_path = parse_module.parse_typed if typed else lambda *args: None
    with mock.patch.object(parse_module, "parse_typed", typed_path):
        convert([src], out, options=ConvertOptions(overwrite=True, **options))
    with h5py.File(out, "r") as f:
        found = {name: f[name][()] for name in ("features", "stats/nan_count")}
        found["categories"] = {name: list(f["categories"][name].asstr()[()]) for name in f.get("categories", {})}
        return found


def _pandas(tmp_path, na_values: list[str], **kwargs) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "in.csv", na_values=na_values, **kwargs)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_number_is_missing_however_written(tmp_path, path):
    found = _convert(tmp_path, NV, na_values=("-999",), **PATHS[path])
    expected = _pandas(tmp_path, ["-999"])
    np.testing.assert_array_equal(found["features"].astype(np.float64), expected.to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(found["stats/nan_count"], expected.isna().sum().to_numpy())
    assert found["stats/nan_count"][0] == 4  # -999.0001 and 999 are numbers


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize(("given", "cells"), [("99", "99.0,1\n5,2\n"), ("99.0", "99,1\n5,2\n"), ("1e3", "1000,1\n5,2\n")])
def test_a_whole_number_matches_either_writing(tmp_path, path, given, cells):
    found = _convert(tmp_path, "a,b\n" + cells, na_values=(given,), **PATHS[path])
    expected = _pandas(tmp_path, [given])
    np.testing.assert_array_equal(found["features"].astype(np.float64), expected.to_numpy(dtype=np.float64))


def test_a_block_of_digits_holding_the_value_is_read_with_it_missing(tmp_path):
    # "7" is read by the fast path for small integers unless it holds a --na-values number.
    found = _convert(tmp_path, "a,b\n7,1\n3,2\n", na_values=("7.0",))
    np.testing.assert_array_equal(found["features"].astype(np.float64), _pandas(tmp_path, ["7.0"]).to_numpy(dtype=np.float64))


@pytest.mark.parametrize("fill", [0, 0.5])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_fill_goes_into_them_as_into_empty_cells(tmp_path, path, fill):
    text = NV.replace("5,3", ",3").replace("-999.0001", "12")  # integers, some empty or missing by value
    found = _convert(tmp_path, text, na_values=("-999",), fill=fill, **PATHS[path])
    expected = _pandas(tmp_path, ["-999"]).fillna(fill)
    np.testing.assert_array_equal(found["features"].astype(np.float64), expected.to_numpy(dtype=np.float64))
    assert not found["stats/nan_count"].any()
    if fill == 0:  # an integer fill keeps integers integer, with or without empty cells
        assert found["features"].dtype.kind in "iu"


def test_wide_files_are_read_row_major_with_them(tmp_path):
    names = [f"c{i}" for i in range(2100)]
    marks = ["-999.0", "-9.99e2", "?", "-999"]
    rows = [",".join([marks[(r + i) % 4] if (r + i) % 7 == 0 else str(r + i) for i in range(2100)]) for r in range(5)]
    text = "\n".join([",".join(names), *rows]) + "\n"
    read = []

    def spy(*args):
        read.append(wide_module.parse_wide(*args))
        return read[-1]

    with mock.patch.object(parse_module, "parse_wide", spy):
        found = _convert(tmp_path, text, na_values=("-999", "?"))
    assert read and all(parsed is not None for parsed in read)  # the wide path read every block
    expected = _pandas(tmp_path, ["-999", "?"])
    np.testing.assert_array_equal(found["features"].astype(np.float64), expected.to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(found["stats/nan_count"], expected.isna().sum().to_numpy())


def test_text_columns_match_the_spellings_only(tmp_path):
    # In a column of text pandas compares the spellings, each whole number written both ways: -9.99e2 stays a word.
    text = "a,b\n-999.0,1\nabc,2\n-9.99e2,3\n-999,4\n"
    found = _convert(tmp_path, text, na_values=("-999",), categorical=("a",))
    expected = _pandas(tmp_path, ["-999"])
    assert found["categories"]["a"] == [v for v in expected.a.dropna().unique()]
    assert found["stats/nan_count"][0] == expected.a.isna().sum() == 2


@pytest.mark.parametrize("typed", [True, False])
def test_a_missing_number_label_is_refused_as_an_empty_one(tmp_path, typed):
    with pytest.raises(BadValueError, match=r"in\.csv:3: target column 'y' has '-9\.99e2', a missing value by --na-values"):
        _convert(tmp_path, "a,y\n1,2\n2,-9.99e2\n3,1\n", typed=typed, na_values=("-999",), target=("y",))
