"""A column of numbers but for placeholder cells ("?", "-", "n/a") is not text: --na-values is the advice, not codes."""

from __future__ import annotations

from unittest import mock

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError
from csv2h5.reader import wide as wide_module


def _table(tmp_path, mark: str = "?", rows: int = 200):
    """UCI-shaped: ages with one placeholder, a text column, labels."""
    r = np.random.default_rng(1)
    age = r.integers(18, 90, rows).astype(object)
    age[17] = mark
    frame = pd.DataFrame({"age": age, "city": r.choice(["Paris", "Oslo"], rows), "y": r.choice(["a", "b"], rows)})
    src = tmp_path / "qa.csv"
    frame.to_csv(src, index=False)
    return src


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("block_bytes", [64, 1 << 20])  # the placeholder in a block of its own, or among numbers
@pytest.mark.parametrize("mark", ["?", "-", "N.A.", "Unknown"])
def test_auto_refuses_a_column_of_numbers_with_a_placeholder(tmp_path, mark, block_bytes, wide):
    src = _table(tmp_path, mark)
    options = dict(target=("y",), categorical=("auto",), block_bytes=block_bytes, workers=0)
    with mock.patch.object(wide_module, "WIDE_COLUMNS", 1 if wide else wide_module.WIDE_COLUMNS):
        with pytest.raises(BadValueError) as refused:
            convert([src], tmp_path / "qa.h5", options=ConvertOptions(**options))
        said = str(refused.value)
        assert said.startswith(f"{src}:19: column 'age' holds numbers and {mark!r}")
        assert "--na-values" in said and "--categorical auto,age" in said and "--drop age" in said
        assert not (tmp_path / "qa.h5").exists()
        # As advised: the placeholder is a missing cell, as pandas reads it with na_values.
        convert([src], tmp_path / "qa.h5", options=ConvertOptions(**options, na_values=(mark,)))
    expected = pd.read_csv(src, na_values=[mark])
    with h5py.File(tmp_path / "qa.h5", "r") as f:
        assert list(f["features"].attrs["columns"]) == ["age", "city"] and list(f["categories"]) == ["city"]
        np.testing.assert_array_equal(f["features"][:, 0], expected.age.to_numpy(dtype=np.float32))


def test_naming_the_column_stores_its_codes(tmp_path):
    src = _table(tmp_path)
    convert([src], tmp_path / "qa.h5", options=ConvertOptions(target=("y",), categorical=("auto", "age")))
    with h5py.File(tmp_path / "qa.h5", "r") as f:
        assert "?" in list(f["categories/age"].asstr()[()])


@pytest.mark.parametrize("other", ["x", "abc", "1a"])
def test_a_column_with_other_text_is_still_text_to_auto(tmp_path, other):
    src = tmp_path / "t.csv"
    src.write_text(f"a,b\n1,2\n?,3\n{other},4\n5,5\n")
    convert([src], tmp_path / "t.h5", options=ConvertOptions(categorical=("auto",)))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert list(f["categories/a"].asstr()[()]) == ["1", "?", other, "5"]


def test_the_refusal_of_text_keeps_the_placeholder_hint_for_a_column_of_numbers(tmp_path):
    src = tmp_path / "q1.csv"
    src.write_text("a,b,cat\n1,2,u\n?,3,v\n4,5,u\n")
    with pytest.raises(BadValueError) as refused:
        convert([src], tmp_path / "q1.h5")
    said = str(refused.value)
    assert "pass --categorical cat --na-values '?' (" in said, said
    assert "a: numbers, with '?' for a missing cell" in said
    assert "--categorical a" not in said


def test_every_placeholder_of_the_columns_is_named(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text("a,b,cat\n1,2,u\n?,3,v\n4,N.A.,u\n-,5,u\n6,7,w\n")
    with pytest.raises(BadValueError) as refused:
        convert([src], tmp_path / "q.h5", options=ConvertOptions(categorical=("auto",)))
    said = str(refused.value)
    assert "(so would b)" in said and "if they mark missing cells: --na-values '?' --na-values - --na-values N.A.;" in said, said
    convert([src], tmp_path / "q.h5", options=ConvertOptions(categorical=("auto",), na_values=("?", "-", "N.A.")))
    with h5py.File(tmp_path / "q.h5", "r") as f:
        expected = pd.read_csv(src, na_values=["?", "-", "N.A."])[["a", "b"]].to_numpy(dtype=np.float32)
        np.testing.assert_array_equal(f["features"][:, :2], expected)


def test_the_column_named_first_is_the_one_whose_cell_comes_first(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text("a,b,cat\n1,2,u\n3,?,v\n?,5,u\n")
    with pytest.raises(BadValueError, match=r"q\.csv:3: column 'b' holds numbers and '\?', .* \(so would a\);"):
        convert([src], tmp_path / "q.h5", options=ConvertOptions(categorical=("auto",)))
