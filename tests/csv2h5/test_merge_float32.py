"""merge keeps every value as its CSV text gave it, whatever float32 reading each part stored."""

from __future__ import annotations

import h5py
import numpy as np

from csv2h5 import ConvertOptions, convert
from csv2h5.merge import merge

SHORT = ["0.1", "0.25", "-3.7"]  # decimals of few digits: float32 gives them back through the shortest decimal
FULL = [f"{float(np.float32(v)):.18e}" for v in (0.1, 1 / 3, 2.5e-5)]  # float32 values written out in full


def _part(tmp_path, name, cells):
    csv = tmp_path / f"{name}.csv"
    csv.write_text("x,label\n" + "".join(f"{c},{i % 2}\n" for i, c in enumerate(cells)))
    out = tmp_path / f"{name}.h5"
    convert([csv], out, options=ConvertOptions(target=("label",)))
    with h5py.File(out) as f:
        assert f["features"].dtype == np.float32  # the premise: each part alone is float32
    return out


def _values(path):
    with h5py.File(path) as f:
        return f["features"][:, 0], f["features"].dtype, f["features"].attrs.get("float32_values")


def test_parts_of_two_readings_merge_to_float64_with_every_text_value(tmp_path):
    merged = tmp_path / "merged.h5"
    merge([_part(tmp_path, "short", SHORT), _part(tmp_path, "full", FULL)], merged)
    values, dtype, _ = _values(merged)
    assert dtype == np.float64
    assert values.tolist() == [float(c) for c in SHORT + FULL]  # 0.1 stays 0.1, not 0.10000000149011612


def test_parts_of_one_reading_stay_float32_and_record_it(tmp_path):
    merged = tmp_path / "merged.h5"
    merge([_part(tmp_path, "a", SHORT), _part(tmp_path, "b", ["0.5", "7.25", "1e-3"])], merged)
    values, dtype, readings = _values(merged)
    assert dtype == np.float32 and readings is not None and "shortest decimal" in str(readings)
    assert [float(str(v)) for v in values] == [float(c) for c in SHORT + ["0.5", "7.25", "1e-3"]]
    # appending decimals that need float64 widens the merged rows back to their text's values
    more = tmp_path / "more.csv"
    more.write_text("x,label\n0.123456789,0\n0.1,1\n")
    convert([more], merged, options=ConvertOptions(target=("label",), append=True))
    values, dtype, _ = _values(merged)
    assert dtype == np.float64
    assert values.tolist() == [float(c) for c in SHORT + ["0.5", "7.25", "1e-3", "0.123456789", "0.1"]]
