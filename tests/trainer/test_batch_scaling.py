"""HDF5Sequence's numpy scaling: fast paths give the very numbers of plain broadcasting."""

from __future__ import annotations

import numpy as np
import pytest

from csv2h5.trainer import HDF5Sequence


@pytest.mark.parametrize("rows,width,dtype,layout", [
    (256, 785, np.float32, "c"),  # narrow rows: scaled many rows at a time
    (300, 785, np.float32, "c"),  # with rows left over past the last whole group
    (7, 785, np.float32, "c"),  # fewer rows than a group
    (1, 785, np.float32, "c"),
    (64, 20_000, np.float32, "c"),  # wide rows: row by row
    (256, 785, np.float64, "c"),
    (256, 785, np.float32, "f"),  # not C-ordered: plain broadcasting
])
def test_scaling_gives_the_numbers_of_plain_broadcasting(tmp_path, make_data, rows, width, dtype, layout):
    path, _, _ = make_data(tmp_path, rows=40)
    prepare = HDF5Sequence(path, scale="standard")._prepare
    rng = np.random.default_rng(rows + width)
    prepare.offset = rng.normal(100, 50, width).astype(np.float32)  # as stored stats are: float32, per column
    prepare.factor = (1 / rng.uniform(1, 90, width)).astype(np.float32)
    prepare._tiles.clear()
    for _ in range(2):  # the second time through the repeated rows kept from the first
        x = np.asarray(rng.integers(0, 256, (rows, width)), dtype=dtype, order=layout.upper())
        expected = (x - prepare.offset.astype(dtype)) * prepare.factor.astype(dtype)  # the oracle: numpy broadcasting
        got = prepare(x.copy(order="K"))
        assert got.dtype == dtype and got.shape == (rows, width)
        np.testing.assert_array_equal(got, expected)  # bit for bit
