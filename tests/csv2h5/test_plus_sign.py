"""An integer written with a leading + (+1) is an integer, as pandas reads it, whichever path reads its block."""

from __future__ import annotations

from unittest import mock

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError
from csv2h5.reader import parse as parse_module


@pytest.mark.parametrize("typed", [True, False])
@pytest.mark.parametrize("text", ["a,b\n+1,9007199254740993\n2,3\n", "a,b\n+1,-5\n+0,3\n-2,+7\n"])
def test_a_plus_sign_keeps_an_integer_integer(tmp_path, text, typed):
    src, out = tmp_path / "p.csv", tmp_path / "p.h5"
    src.write_text(text)
    with mock.patch.object(parse_module, "parse_typed", parse_module.parse_typed if typed else lambda *args: None):
        convert([src], out, options=ConvertOptions(workers=0))
    expected = pd.read_csv(src)
    assert (expected.dtypes == np.int64).all()
    with h5py.File(out, "r") as f:
        assert f["features"].dtype.kind in "iu"
        np.testing.assert_array_equal(f["features"][()], expected.to_numpy())


def test_beside_empty_cells_the_refusal_says_empty_cells_and_fill(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("a,b\n+1,9007199254740993\n,3\n")
    with pytest.raises(BadValueError, match=r"while column 'a' holds empty cells; .*: --fill VALUE, --drop b, or --drop a"):
        convert([src], tmp_path / "p.h5", options=ConvertOptions(workers=0))
    convert([src], tmp_path / "p.h5", options=ConvertOptions(workers=0, fill=0))
    with h5py.File(tmp_path / "p.h5", "r") as f:
        np.testing.assert_array_equal(f["features"][()], pd.read_csv(src).fillna(0).astype(np.int64).to_numpy())
