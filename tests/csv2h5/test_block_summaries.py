"""A block's value range and statistics, against value-by-value oracles, in either memory order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from csv2h5.schema import value_range
from csv2h5.stats import ColumnStats


def _digits_fit(x: float, digits: int, limit: float, tiny: float) -> bool:
    """Whether ``x`` is the float64 of a decimal of at most ``digits`` significant digits (in the range tested)."""
    if x == 0 or not math.isfinite(x):
        return True
    return tiny <= abs(x) <= limit and float(f"{x:.{digits}g}") == x


def _oracle(values: np.ndarray) -> dict[str, object]:
    with np.errstate(over="ignore"):  # a float32 or float16 of 1e300 is inf, and so not 1e300
        return _answers(values)


def _answers(values: np.ndarray) -> dict[str, object]:
    cells = [float(v) for v in values.ravel()]
    finite = [v for v in cells if math.isfinite(v)]
    integral = len(finite) == len(cells) and all(v.is_integer() and abs(v) <= 2**53 for v in cells)
    equal = all(math.isnan(v) or float(np.float32(v)) == v for v in cells)
    shortest = all(_digits_fit(v, 6, 3.4e38, 1.18e-38) or (v.is_integer() and abs(v) <= 2**24) for v in finite)
    half = all(
        math.isnan(v) or float(np.float16(v)) == v or _digits_fit(v, 3, 65504.0, 6.11e-5) for v in cells
    )  # fmt: skip
    return {
        "integral": integral,
        "low": int(min(cells)) if integral else 0,
        "high": int(max(cells)) if integral else 0,
        "float32_equal": equal,
        "float32_shortest": shortest,
        "float16_exact": (equal or shortest) and half,
    }


def _block(odd: float, row: int, rows: int = 400, columns: int = 5, base: str = "float32") -> np.ndarray:
    """A block of plain values of one kind, with ``odd`` at ``row`` (past the rows sampled first, or in them)."""
    rng = np.random.default_rng(row)
    if base == "float32":
        x = rng.normal(0, 3, (rows, columns)).astype(np.float32).astype(np.float64)
    elif base == "whole":
        x = rng.integers(-1000, 1000, (rows, columns)).astype(np.float64)
    else:  # short decimals
        x = np.round(rng.normal(0, 3, (rows, columns)), 2)
    x[row, columns // 2] = odd
    return x


ODD = [np.nan, np.inf, -np.inf, -0.0, 2.0**53, 2.0**53 + 2, -(2.0**60), 0.1, 1 / 3, 70000.5, 2.5, 1e-7, 7.0, 1e300]


@pytest.mark.parametrize("base", ["float32", "whole", "short"])
@pytest.mark.parametrize("row", [0, 3, 399])  # among the first rows tried, and after them
@pytest.mark.parametrize("odd", ODD)
def test_value_range_is_the_value_by_value_answer_in_either_memory_order(odd, row, base):
    x = _block(odd, row, base=base)
    expected = _oracle(x)
    for layout in (x, np.asfortranarray(x), x[:, 1:4], x[:, 2]):
        vr = value_range(layout)
        got = {name: getattr(vr, name) for name in expected}
        want = expected if layout is x or layout.ndim == 2 and layout.shape == x.shape else _oracle(layout)
        assert got == want, (odd, row, base, layout.flags.f_contiguous)


def test_value_range_of_empty_cells_only():
    vr = value_range(np.full((300, 3), np.nan, order="F"))
    assert (vr.integral, vr.float32_equal, vr.float32_shortest, vr.float16_exact) == (False, True, True, True)


def _numpy_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning) if np.isnan(x).all(axis=0).any() else _nothing():
        return {
            "mean": np.nanmean(x, axis=0),
            "std": np.nanstd(x, axis=0),
            "min": np.nanmin(x, axis=0),
            "max": np.nanmax(x, axis=0),
            "nan_count": np.isnan(x).sum(axis=0),
        }


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("empty", [False, True])
def test_statistics_are_numpy_s_and_the_same_to_the_bit_in_either_memory_order(empty):
    rng = np.random.default_rng(3)
    x = rng.normal(5e3, 2.0, (2_000, 6))
    x[:, 1] = np.round(x[:, 1])
    x[7, 2] = -0.0
    if empty:
        x[rng.random(x.shape) < 0.1] = np.nan
        x[:, 4] = np.nan
    c, f = ColumnStats.of(x).finish(), ColumnStats.of(np.asfortranarray(x)).finish()
    expected = _numpy_stats(x)
    for name in expected:
        np.testing.assert_array_equal(c[name], f[name], err_msg=name)  # bit for bit
        np.testing.assert_allclose(c[name], expected[name], rtol=1e-12, err_msg=name)


def test_integer_statistics_are_the_same_in_either_memory_order():
    x = np.random.default_rng(4).integers(-(10**6), 10**6, (3_000, 4))
    c, f = ColumnStats.of(x).finish(), ColumnStats.of(np.asfortranarray(x)).finish()
    for name in c:
        np.testing.assert_array_equal(c[name], f[name], err_msg=name)
    np.testing.assert_allclose(c["std"], x.std(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(c["mean"], x.mean(axis=0))
