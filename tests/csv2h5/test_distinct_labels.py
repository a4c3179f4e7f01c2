"""A block's distinct labels, against Python's own set of the values and against ``np.unique``."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from csv2h5.target import distinct_labels, sorted_distinct

_LABELS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.0, math.nan, math.inf, -math.inf, 2.0**53, 0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _oracle(values: np.ndarray) -> list[float]:
    """Sorted distinct values by Python's comparisons (0.0 and -0.0 one value), every NaN as one, last."""
    numbers = sorted({float(v) for v in values if not math.isnan(v)})
    return numbers + ([math.nan] if any(math.isnan(v) for v in values) else [])


@given(arrays(np.float64, st.integers(0, 60), elements=_LABELS))
def test_sorted_distinct_is_the_sorted_set_with_one_nan_last(values: np.ndarray) -> None:
    found = sorted_distinct(values.copy())
    expected = _oracle(values)
    assert len(found) == len(expected)
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(found.tolist(), expected, strict=True))
    np.testing.assert_array_equal(found, np.unique(values))  # numpy's answer, signs of zero aside


@given(arrays(np.int64, st.integers(0, 60), elements=st.integers(-(2**40), 2**40)))
def test_sorted_distinct_of_integers(values: np.ndarray) -> None:
    assert sorted_distinct(values).tolist() == sorted(set(values.tolist()))


def test_distinct_labels_past_the_limit_is_none() -> None:
    labels = np.array([3, 1, 2, 3, 1], dtype=np.int64)
    assert distinct_labels(labels, limit=3).tolist() == [1.0, 2.0, 3.0]
    assert distinct_labels(labels, limit=2) is None


def test_a_block_s_labels_are_tallied_without_loading_numpy_ma() -> None:
    """numpy.ma costs every parser process 10-25 ms on its first block; the tally must not need it."""
    code = (
        "import sys, numpy as np\n"
        "from csv2h5.target import distinct_labels\n"
        "distinct_labels(np.array([1.0, 0.0, np.nan, 1.0]))\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
