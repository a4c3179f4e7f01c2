"""Blocks' summaries merged in batches, and block records through the parser pipes."""

from __future__ import annotations

import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

from csv2h5 import pool  # noqa: F401  (registers the compact pickling)
from csv2h5.reader import ParsedBlock, TextBlock
from csv2h5.schema import ValueRange
from csv2h5.shared import SharedArray
from csv2h5.stats import ColumnStats


def _table(rows: int = 9_000) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(1e3, 5.0, size=(rows, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 2] = np.nan  # empty in every block
    x[rows // 2 :, 3] = np.nan  # empty in the later blocks
    x[:, 4] = np.round(x[:, 4])
    return x


@pytest.mark.parametrize("step", [1_000, 777, 9_000])
def test_blocks_combined_at_once_give_numpy_s_figures(step):
    x = _table()
    parts = [ColumnStats.of(x[i : i + step]) for i in range(0, x.shape[0], step)]
    stored = ColumnStats.combine(parts).finish()
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):  # numpy warns about the empty column
        expected = {"mean": np.nanmean(x, axis=0), "std": np.nanstd(x, axis=0)}
    np.testing.assert_allclose(stored["mean"], expected["mean"], rtol=1e-13)
    np.testing.assert_allclose(stored["std"], expected["std"], rtol=1e-10)
    np.testing.assert_array_equal(stored["nan_count"], np.isnan(x).sum(axis=0))
    present = ~np.isnan(x).all(axis=0)
    np.testing.assert_array_equal(stored["min"][present], np.nanmin(x[:, present], axis=0))
    np.testing.assert_array_equal(stored["max"][present], np.nanmax(x[:, present], axis=0))
    assert np.isnan(stored["min"][2]) and np.isnan(stored["mean"][2])


def test_infinite_values_combine_as_they_merge():
    x = _table()
    x[5, 0] = np.inf
    x[7_000, 1] = -np.inf
    parts = [ColumnStats.of(x[i : i + 1_000]) for i in range(0, x.shape[0], 1_000)]
    one_by_one = parts[0]
    for part in parts[1:]:
        one_by_one = one_by_one.merge(part)
    combined, merged = ColumnStats.combine(parts).finish(), one_by_one.finish()
    for name in merged:
        np.testing.assert_array_equal(combined[name], merged[name], err_msg=name)
    assert combined["mean"][0] == np.inf and combined["mean"][1] == -np.inf


def test_block_records_come_through_the_pipe_whole():
    stats = ColumnStats.of(_table(500))
    parsed = ParsedBlock(
        3, "d.csv", 500, SharedArray("csv2h5-1-ab-2", (500, 6), "<f8"), ValueRange(integral=False, low=-2, high=2**70), stats,
        np.arange(500.0), {1: ["a", "b"]}, [(7, 3)], ["c"], 12, np.arange(6, dtype=np.uint8), None, np.array([0.0, 1.0]),
    )  # fmt: skip
    back = pickle.loads(ForkingPickler.dumps(parsed))
    assert isinstance(back, ParsedBlock) and back.features == parsed.features and back.value_range == parsed.value_range
    assert (back.index, back.source, back.rows, back.categories, back.bad_lines) == (3, "d.csv", 500, {1: ["a", "b"]}, [(7, 3)])
    assert (back.int_columns_with_empty, back.first_row_line, back.refusal) == (["c"], 12, None)
    for name in ("count", "mean", "m2", "min", "max", "nan_count"):
        np.testing.assert_array_equal(getattr(back.stats, name), getattr(stats, name), err_msg=name)
    np.testing.assert_array_equal(back.target, parsed.target)
    np.testing.assert_array_equal(back.cells, parsed.cells)
    block = TextBlock("d.csv", 4, 0, None, 100, 50, speculative=True)
    assert pickle.loads(ForkingPickler.dumps(block)) == block
