"""--fill fills number columns only: a missing boolean, date or category stays NaN, whatever the block size."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError, SchemaError


def _rows(count: int) -> str:
    lines = ["x,flag,day,word"]
    for i in range(count):
        x = "" if i % 7 == 3 else str(i)
        flag = "" if i < 50 or i % 5 == 0 else ("true" if i % 2 else "false")  # empty in the first rows: blocks of none
        day = "" if i % 6 == 1 else f"2024-01-{i % 28 + 1:02d}"
        word = "" if i % 4 == 2 else "ab"[i % 2]
        lines.append(f"{x},{flag},{day},{word}")
    return "\n".join(lines) + "\n"


def _as_pandas(path, fill: float) -> np.ndarray:
    frame = pd.read_csv(path)
    x = frame["x"].fillna(fill).to_numpy(dtype=np.float64)
    flag = frame["flag"].map({True: 1.0, False: 0.0}).to_numpy(dtype=np.float64)
    day = (pd.to_datetime(frame["day"]) - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy(dtype=np.float64)
    codes = {w: float(c) for c, w in enumerate(frame["word"].dropna().unique())}
    word = frame["word"].map(codes).to_numpy(dtype=np.float64)
    return np.column_stack([x, flag, day, word])


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [32, 256, 1 << 20])
@pytest.mark.parametrize("fill", [0.0, -1.0])
def test_fill_leaves_missing_booleans_dates_and_categories_nan(tmp_path, block_bytes, workers, fill):
    src = tmp_path / "in.csv"
    src.write_text(_rows(400))
    options = ConvertOptions(fill=fill, datetime=("day",), categorical=("auto",), block_bytes=block_bytes, workers=workers)
    convert([src], tmp_path / "out.h5", options=options)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert list(f["features"].attrs["boolean_columns"]) == ["flag"]
        np.testing.assert_array_equal(f["features"][()].astype(np.float64), _as_pandas(src, fill))
        assert f["stats/nan_count"][()].tolist() == [0, 50 + 70, 67, 100]


def test_a_column_found_to_hold_booleans_after_filled_rows_is_refused(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x,flag\n" + "".join(f"{i},\n" for i in range(300)) + "1,true\n2,false\n")
    options = ConvertOptions(fill=0, infer_bytes=200, block_bytes=100, workers=0)
    with pytest.raises(SchemaError, match=r"in\.csv:302: column 'flag' has 'true', its first value; .* --fill 0 .*--drop flag"):
        convert([src], tmp_path / "out.h5", options=options)
    assert not (tmp_path / "out.h5").exists()
    convert([src], tmp_path / "out.h5", options=ConvertOptions(infer_bytes=200, block_bytes=100, workers=0))  # NaN: fine


def test_a_column_found_to_hold_text_after_filled_rows_is_refused(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x,word\n" + "".join(f"{i},\n" for i in range(300)) + "1,a\n2,b\n")
    options = dict(fill=0, infer_bytes=200, block_bytes=100, workers=0)
    with pytest.raises(SchemaError, match=r"in\.csv:302: column 'word' has 'a', its first value; .*pass --categorical word"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(categorical=("auto",), **options))
    convert([src], tmp_path / "out.h5", options=ConvertOptions(categorical=("word",), **options))  # as advised
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert np.isnan(f["features"][:300, 1]).all() and f["features"][300:, 1].tolist() == [0, 1]


@pytest.mark.parametrize("column", ["flag", "day"])
def test_an_integer_dtype_with_a_missing_boolean_or_date_asks_for_a_float_dtype(tmp_path, column):
    src = tmp_path / "in.csv"
    src.write_text(
        "x,flag,day\n1,true,2024-01-01\n2,false,2024-01-02\n" + ("3,,2024-01-03\n" if column == "flag" else "3,true,\n")
    )
    for fill in (None, 0):
        with pytest.raises(
            BadValueError, match=rf"in\.csv:4: column '{column}' has an empty cell, .*pass a float --dtype \(--fill"
        ):
            convert([src], tmp_path / "out.h5", options=ConvertOptions(dtype="int32", fill=fill, datetime=("day",), workers=0))
