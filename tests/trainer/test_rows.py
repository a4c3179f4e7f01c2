"""The memory map reads any converted layout at numpy speed, including data at an odd byte offset."""

from __future__ import annotations

import h5py
import numpy as np
from csv2h5.trainer.rows import MappedRows


def test_rows_at_an_odd_byte_offset_are_gathered_as_bytes(tmp_path):
    # HDF5 places data where it has room: here right after 3 bytes of another dataset,
    # so the float32 rows start at an odd offset (a map of them would be unaligned).
    path = tmp_path / "odd.h5"
    values = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    values[4, 1] = np.nan
    with h5py.File(path, "w") as f:
        f.create_dataset("before", data=np.arange(3, dtype=np.uint8))
        f.create_dataset("features", data=values, chunks=(10, 3), maxshape=(None, 3))
    with h5py.File(path, "r") as f:
        assert f["features"].id.get_chunk_info(0).byte_offset % 4 != 0  # the case under test
        rows = MappedRows(str(path), f["features"])
    assert rows.as_bytes
    picked = np.array([0, 4, 4, 17, 49])
    taken = rows.take(picked)
    assert taken.dtype == np.float32 and taken.flags.aligned
    np.testing.assert_array_equal(taken, values[picked])
