"""float32 is chosen only when one reading gives every value back, and widening keeps that reading."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from csv2h5 import ConvertOptions, convert

FULL = [f"{np.float32(i / 9.0):.18e}" for i in range(1, 200)]  # float32 values written in full
SHORT = [f"{i / 8.0 + 0.1:.4g}" for i in range(1, 200)]  # short decimals


def _convert(tmp_path, cells, **options):
    src = tmp_path / "in.csv"
    src.write_text("a\n" + "\n".join(cells) + "\n")
    convert([src], tmp_path / "out.h5", options=ConvertOptions(workers=0, overwrite=True, **options))
    with h5py.File(tmp_path / "out.h5", "r") as f:
        return f["features"][:, 0], str(f["features"].attrs.get("float32_values", ""))


def test_float32_values_written_in_full_are_stored_exactly(tmp_path):
    stored, readings = _convert(tmp_path, FULL)
    assert stored.dtype == np.float32 and readings == "exact"
    assert stored.astype(np.float64).tolist() == [float(c) for c in FULL]


def test_short_decimals_are_stored_as_their_float32(tmp_path):
    stored, readings = _convert(tmp_path, SHORT)
    assert stored.dtype == np.float32 and readings == "shortest decimal"
    assert [float(str(v)) for v in stored] == [float(c) for c in SHORT]


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_the_two_readings_together_need_float64(tmp_path, block_bytes):
    cells = FULL + SHORT  # the full ones first: written as float32, then widened
    stored, _ = _convert(tmp_path, cells, block_bytes=block_bytes)
    assert stored.dtype == np.float64 and stored.tolist() == [float(c) for c in cells]


def test_appending_the_other_reading_widens_exactly(tmp_path):
    first, readings = _convert(tmp_path, FULL)
    assert readings == "exact"
    src = tmp_path / "more.csv"
    src.write_text("a\n" + "\n".join(SHORT) + "\n")
    convert([src], tmp_path / "out.h5", options=ConvertOptions(append=True, workers=0))
    with h5py.File(tmp_path / "out.h5", "r") as f:
        stored = f["features"][:, 0]
        assert stored.dtype == np.float64 and "float32_values" not in f["features"].attrs
    assert stored.tolist() == [float(c) for c in FULL + SHORT]


def test_forced_float32_refuses_two_readings(tmp_path):
    from csv2h5.errors import BadValueError

    with pytest.raises(BadValueError, match=r"--dtype float32 cannot give back every value.*pass --dtype float64"):
        _convert(tmp_path, FULL[:3] + SHORT[:3], dtype="float32")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
