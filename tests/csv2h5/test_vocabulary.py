"""The one order rule for united labels, lookup tables, and stats of codes from counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from csv2h5.vocabulary import code_dtype, code_table, is_identity, remap_columns, set_code_stats, unite, united_counts

labels = st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10)


@given(lists=st.lists(labels, min_size=1, max_size=5))
def test_unite_is_first_seen_and_tables_find_every_label(lists):
    united = unite(lists)
    assert sorted(united) == sorted({x for part in lists for x in part}) and len(set(united)) == len(united)
    assert united[: len(lists[0])] == lists[0]  # the first file keeps its codes
    seen: list[str] = []
    for part in lists:  # hand-made oracle: walk the parts in order
        seen += [x for x in part if x not in seen]
    assert united == seen
    for part in lists:
        table = code_table(part, united)
        assert [united[code] for code in table] == part
        assert is_identity(table) == (united[: len(part)] == part)


@settings(max_examples=50)
@given(counts=st.lists(st.integers(0, 50), min_size=1, max_size=12), missing=st.integers(0, 5))
def test_stats_from_counts_are_the_stats_of_the_codes(counts, missing):
    codes = np.repeat(np.arange(len(counts), dtype=np.float64), counts)
    stats = {name: np.array([7.0, -1.0]) for name in ("mean", "std", "min", "max")}
    stats["nan_count"] = np.array([0.0, float(missing)])
    set_code_stats(stats, 1, np.asarray(counts, dtype=np.float64))
    assert stats["mean"][0] == 7.0 and stats["nan_count"][1] == missing  # other columns, missing cells untouched
    if codes.size == 0:
        assert all(np.isnan(stats[name][1]) for name in ("mean", "std", "min", "max"))
        return
    np.testing.assert_allclose(
        [stats[n][1] for n in ("mean", "std", "min", "max")],
        [codes.mean(), codes.std(), codes.min(), codes.max()],
        rtol=1e-12,
        atol=1e-12,
    )


def test_remap_keeps_missing_cells_and_widens_for_many_codes():
    block = np.array([[0.5, 0.0], [1.5, np.nan], [2.5, 1.0]], dtype=np.float32)
    out = remap_columns(block.copy(), {1: np.array([3, 0])}, np.dtype(np.float32))
    np.testing.assert_array_equal(out, [[0.5, 3.0], [1.5, np.nan], [2.5, 0.0]])
    assert code_dtype(np.dtype("uint8"), 256) == np.uint8 and code_dtype(np.dtype("uint8"), 257) == np.uint16
    assert code_dtype(np.dtype("int8"), 300) == np.int16 and code_dtype(np.dtype("float16"), 5000) == np.float32
    assert code_dtype(np.dtype("float16"), 2049) == np.float16 and code_dtype(np.dtype("float16"), 2050) == np.float32
    assert code_dtype(np.dtype("float32"), 2**24 + 1) == np.float32 and code_dtype(np.dtype("float32"), 2**24 + 2) == np.float64
    wide = remap_columns(np.array([[0, 1]], dtype=np.uint8), {1: np.array([0, 300])}, np.dtype(np.uint16))
    assert wide.dtype == np.uint16 and wide.tolist() == [[0, 300]]
    assert united_counts([(np.array([2.0, 3.0]), np.array([1, 0])), (np.array([4.0]), np.array([1]))], 3).tolist() == [3, 6, 0]
