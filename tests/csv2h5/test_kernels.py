"""The reader's compute kernels by name give what pyarrow.compute's functions give, through either module."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from csv2h5.reader import kernels

STRINGS = pa.chunked_array([pa.array([" 1 ", "TRUE", None, "0x1F", "2,5", "2024-01-02", ""]), pa.array(["false", None])])
NUMBERS = pa.array([3, None, -7, 2**60])


def _cases():
    return [
        (kernels.utf8_trim_whitespace, pc.utf8_trim_whitespace, (STRINGS,)),
        (kernels.utf8_lower, pc.utf8_lower, (STRINGS,)),
        (kernels.binary_length, pc.binary_length, (STRINGS,)),
        (kernels.is_null, lambda v: v.is_null(), (STRINGS,)),
        (kernels.is_valid, lambda v: v.is_valid(), (STRINGS,)),
        (kernels.drop_null, pc.drop_null, (STRINGS,)),
        (kernels.dictionary_encode, pc.dictionary_encode, (STRINGS,)),
        (kernels.is_in, lambda v, s: pc.is_in(v, value_set=s), (STRINGS, pa.array(["false", "TRUE"]))),
        (kernels.match_substring, pc.match_substring, (STRINGS, ",")),
        (kernels.match_substring_regex, pc.match_substring_regex, (STRINGS, r"^[+-]?0[xX]")),
        (kernels.replace_substring, pc.replace_substring, (STRINGS, ",", ".")),
        (kernels.take, lambda v, i: v.take(i), (STRINGS, pa.array([8, 0, 2]))),
        (kernels.filtered, lambda v, m: v.filter(m), (NUMBERS, pa.array([True, True, False, True]))),
        (kernels.cast, pc.cast, (pa.array(["1", None, "-2.5e3"]), pa.float64())),
        (kernels.cast, lambda v, t: v.cast(t), (pa.array([True, None, False]), pa.float64())),
        (kernels.cast, pc.cast, (pa.array(["2024-01-02T03:04:05", None]), pa.timestamp("ns"))),
        (kernels.fill_null, pc.fill_null, (NUMBERS, pa.array([9])[0])),
        (kernels.if_else, pc.if_else, (pa.array([True, False, None]), pa.array(["x"])[0], pa.array(["a", "b", "c"]))),
        (kernels.any_true, pc.any, (pa.array([False, None, True]),)),
        (kernels.all_true, pc.all, (pa.array([True, None, False]),)),
        (kernels.all_true, pc.all, (pa.array([None], type=pa.bool_()),)),
        (kernels.smallest, pc.min, (NUMBERS,)),
    ]


@pytest.mark.parametrize("module", ["private", "public"])
def test_each_kernel_gives_what_pyarrow_compute_gives(monkeypatch, module):
    if module == "public":  # the fallback for a pyarrow without its private module
        monkeypatch.setattr(kernels, "_compute", lambda: pc)
    for ours, theirs, args in _cases():
        got, expected = ours(*args), theirs(*args)
        assert got.type == expected.type, ours.__name__
        assert got.equals(expected), (ours.__name__, got, expected)


def test_a_cast_that_fails_raises_as_pyarrow_compute_does():
    with pytest.raises(pa.ArrowInvalid):
        kernels.cast(pa.array(["1", "x"]), pa.float64())
    with pytest.raises(pa.ArrowInvalid):  # safe: no silent truncation
        kernels.cast(pa.array([1.5]), pa.int64())
    assert np.isnan(kernels.cast(pa.array(["nan"]), pa.float64())[0].as_py())
