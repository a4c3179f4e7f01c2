"""Target labels: several target columns, and refused labels named by their line and cell."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert


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
