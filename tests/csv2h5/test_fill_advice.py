"""The summary advises --fill VALUE only where converting again with it would give integer features."""

from __future__ import annotations

import numpy as np
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import Csv2H5Error

ADVICE = "--fill VALUE keeps them integer"
NAN_LINE = "integer columns with empty cells, stored as NaN: a"
INTEGERS = "a,b\n1,2\n4,3\n"


def _convert_again_with_fill(src, out, options: ConvertOptions) -> np.dtype | None:
    """The features' dtype when converted again with --fill 0 (None: the fill is refused)."""
    fields = {name: getattr(options, name) for name in ("dtype", "categorical", "datetime", "like", "append")}
    try:
        report = convert([src], out, options=ConvertOptions(**fields, fill=0, overwrite=not options.append))
    except Csv2H5Error:
        return None
    return np.dtype(report.dtype)


@pytest.mark.parametrize(
    "text, options, advised",
    [
        ("a,b\n1,2\n,3\n", {}, True),
        ("a,b\n1,0.5\n,2.5\n", {}, False),  # decimals elsewhere: float anyway
        ("a,b\n1,1e300\n,2\n", {}, False),  # a whole number no integer type holds
        ("a,b\n1,2\n,3\n", {"dtype": "float32"}, False),  # float as asked
        ("a,c\n1,x\n,\n", {"categorical": ("c",)}, False),  # a missing category stays NaN with --fill
        ("a,c\n1,x\n,\n", {"categorical": ("auto",)}, False),
        ("a,c\n1,2020-01-01\n,\n", {"datetime": ("c",)}, False),  # so does a missing date
        ("a,c\n1,true\n,\n", {}, False),  # and a missing boolean
    ],
    ids=["integers", "decimals", "huge", "dtype float32", "category", "category auto", "date", "boolean"],
)
def test_fill_is_advised_where_it_gives_integers(tmp_path, text, options, advised):
    src = tmp_path / "f.csv"
    src.write_text(text)
    options = ConvertOptions(**options)
    summary = convert([src], tmp_path / "f.h5", options=options).summary()
    assert (ADVICE in summary) == advised and (NAN_LINE in summary) != advised
    again = _convert_again_with_fill(src, tmp_path / "again.h5", options)
    assert (again is not None and again.kind in "iu") == advised


@pytest.mark.parametrize("how", ["append", "like"])
def test_fill_is_not_advised_where_the_file_taken_from_decides(tmp_path, how):
    (tmp_path / "old.csv").write_text(INTEGERS)
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,2\n,3\n")
    convert([tmp_path / "old.csv"], tmp_path / "old.h5")
    out = tmp_path / ("old.h5" if how == "append" else "f.h5")
    options = ConvertOptions(append=True) if how == "append" else ConvertOptions(like=str(tmp_path / "old.h5"))
    summary = convert([src], out, options=options).summary()
    assert ADVICE not in summary and NAN_LINE in summary
    assert _convert_again_with_fill(src, out, options) is None  # old.h5 stores empty cells as NaN: --fill is refused


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
def test_decimals_in_any_block_take_the_advice_back(tmp_path, block_bytes):
    src = tmp_path / "f.csv"
    src.write_text("a,b,c\n" + "1,,2\n3,4,5\n" * 20 + "5,6,7.5\n")  # the decimal in the last block
    summary = convert([src], tmp_path / "f.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0)).summary()
    assert ADVICE not in summary and "integer columns with empty cells, stored as NaN: b" in summary
