"""Target labels: several target columns, and refused labels named by their line and cell."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import BadValueError, ConvertOptions, convert


@pytest.mark.parametrize("block_bytes, workers", [(1 << 20, 0), (64, 0), (64, 2)])
def test_a_text_label_for_regression_is_the_one_named(tmp_path, block_bytes, workers):
    src = tmp_path / "r.csv"
    src.write_text("a,y\n1,0.5\n2,1.5\n3,2.5\n4,cat\n5,3.5\n")  # 'cat' on line 5; every other label a number
    out = tmp_path / "r.h5"
    options = ConvertOptions(target=("y",), task="regression", block_bytes=block_bytes, workers=workers)
    with pytest.raises(BadValueError, match=r"r\.csv:5: target 'y' has 'cat', which is not a number"):
        convert([src], out, options=options)
    assert not out.exists()


@pytest.mark.parametrize("workers", [0, 2])
def test_text_labels_after_numeric_ones_name_the_first_text_label(tmp_path, workers):
    src = tmp_path / "t.csv"
    rows = [f"{i},{i % 3}" for i in range(200)]
    rows[150] = "150,cat"  # line 152: after the rows that decide the kinds, in a block of numbers
    src.write_text("a,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "t.h5"
    options = ConvertOptions(target=("label",), block_bytes=256, infer_bytes=256, workers=workers)
    with pytest.raises(BadValueError, match=r"t\.csv:152: target column 'label' has 'cat'"):
        convert([src], out, options=options)
    assert not out.exists()


def test_a_decimal_comma_label_is_a_number_beside_text(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("a;y\n1;0,5\n2;dog\n")
    with pytest.raises(BadValueError, match=r"c\.csv:3: target 'y' has 'dog'"):
        convert([src], tmp_path / "c.h5", options=ConvertOptions(target=("y",), task="regression", decimal=","))


@pytest.mark.parametrize("block_bytes", [1 << 20, 32])
def test_a_target_integer_beyond_2_53_is_named_with_its_line(tmp_path, block_bytes):
    src = tmp_path / "b.csv"
    src.write_text("a,y,z\n1,5,1\n2,7,1\n3,9,9007199254740993\n4,5,1\n")
    options = ConvertOptions(target=("y", "z"), task="regression", block_bytes=block_bytes, workers=0)
    with pytest.raises(BadValueError, match=r"b\.csv:4: target 'z' has 9007199254740993, an integer beyond 2\*\*53"):
        convert([src], tmp_path / "b.h5", options=options)


@pytest.mark.parametrize("block_bytes, workers", [(1 << 20, 0), (32, 0), (32, 2)])
def test_several_target_columns_are_stored_as_pandas_reads_them(tmp_path, block_bytes, workers):
    src = tmp_path / "m.csv"
    src.write_text("a,y,z\n1,5,1\n2,7.5,1\n3,9,4\n4,5,-2\n5,1e3,0\n")
    out = tmp_path / "m.h5"
    convert([src], out, options=ConvertOptions(target=("y", "z"), task="regression", block_bytes=block_bytes, workers=workers))
    expected = pd.read_csv(src)
    with h5py.File(out, "r") as f:
        assert f["target"].attrs["task"] == "regression"
        assert list(f["target"].attrs["columns"]) == ["y", "z"]
        assert np.array_equal(f["target"][()], expected[["y", "z"]].to_numpy(np.float32))
        assert np.array_equal(f["features"][()].ravel(), expected["a"].to_numpy())


@pytest.mark.parametrize("workers", [0, 2])
def test_a_regression_target_beyond_float32_is_refused_not_stored_as_infinity(tmp_path, workers):
    src = tmp_path / "y.csv"
    src.write_text("a,y\n1,0.5\n2,3e38\n3,-1e39\n4,inf\n")  # 3e38 and inf fit float32; -1e39 does not
    out = tmp_path / "y.h5"
    options = ConvertOptions(target=("y",), task="regression", workers=workers)
    with pytest.raises(BadValueError, match=r"target 'y' has -1e\+39 in data row 3, beyond the range of float32"):
        convert([src], out, options=options)
    assert not out.exists()
    src.write_text("a,y\n1,0.5\n2,3e38\n4,inf\n")
    convert([src], out, options=options)
    with h5py.File(out, "r") as f:
        assert np.array_equal(f["target"][()], pd.read_csv(src)["y"].to_numpy(np.float32))


@pytest.mark.parametrize("workers", [0, 2])
def test_classification_asked_for_a_quantity_warns_and_keeps_every_class(tmp_path, workers):
    """--task classification on 1,500 distinct prices: as asked, a class each, and a warning naming --task regression."""
    src = tmp_path / "p.csv"
    prices = np.round(np.random.default_rng(1).uniform(0, 1000, 1500), 3)
    src.write_text("x,price\n" + "".join(f"{i},{p}\n" for i, p in enumerate(prices)))
    report = convert([src], tmp_path / "p.h5", options=ConvertOptions(target=("price",), task="classification", workers=workers))
    distinct = pd.read_csv(src)["price"].nunique()  # the oracle: pandas' count of distinct values
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert len(f["target"].attrs["classes"]) == distinct
    assert f"target 'price' holds {distinct:,} classes, one per distinct number; pass --task regression" in " ".join(
        report.warnings
    )
