"""``split_rows`` against numpy's set operations on the rows drawn, for rows in file order and not."""

from __future__ import annotations

import types

import numpy as np
from csv2h5.trainer.orders import split_rows
from hypothesis import given, settings
from hypothesis import strategies as st


def _by_sets(rows: np.ndarray, labels: np.ndarray | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The split drawn value by value: each class's distinct rows (or all of them) permuted, the first share to
    validation; each side takes every copy of its rows, sorted."""
    rng = np.random.default_rng([seed, 0x5117])
    drawn = np.unique(rows) if np.unique(rows).size < rows.size else rows  # a row given twice: drawn once
    if labels is None:
        val = rng.permutation(drawn)[: int(round(fraction * drawn.size))]
    else:
        of_rows = labels[drawn]
        parts = [rng.permutation(drawn[of_rows == c])[: int(round(fraction * (of_rows == c).sum()))] for c in np.unique(of_rows)]
        val = np.concatenate(parts)
    to_val = np.array([row in set(val.tolist()) for row in rows], dtype=bool)
    return np.sort(rows[~to_val]), np.sort(rows[to_val])


@st.composite
def _cases(draw):
    file_rows = draw(st.integers(4, 300))
    kind = draw(st.sampled_from(["file order", "shuffled", "repeated", "repeated in order"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = np.sort(rng.choice(file_rows, draw(st.integers(2, file_rows)), replace=False))
    if kind == "shuffled":
        rows = rng.permutation(rows)
    elif kind.startswith("repeated"):  # a row given twice (oversampled): it must not land on both sides
        rows = rng.choice(rows, rows.size + 3)
        rows = np.sort(rows) if kind.endswith("in order") else rows
    classes = draw(st.integers(1, 5))
    labels = rng.integers(0, classes, file_rows).astype(np.uint8) if draw(st.booleans()) else None
    return rows.astype(np.int64), labels, draw(st.sampled_from([0.1, 0.25, 0.5, 0.8])), draw(st.integers(0, 99))


@settings(max_examples=150, deadline=None)
@given(_cases())
def test_a_split_draws_what_the_set_operations_draw(case):
    rows, labels, fraction, seed = case
    info = types.SimpleNamespace(task="classification" if labels is not None else "regression", target=labels)
    want_train, want_val = _by_sets(rows, labels, fraction, seed)
    if want_train.size == 0 or want_val.size == 0:
        return  # refused: tested elsewhere (test_like_training)
    train, val = split_rows(rows, info, fraction, seed=seed, stratify=True)
    np.testing.assert_array_equal(val, want_val)
    np.testing.assert_array_equal(train, want_train)
    assert not np.intersect1d(train, val).size
    assert sorted(train.tolist() + val.tolist()) == sorted(rows.tolist())  # every copy, on one side


def test_rows_given_twice_stay_twice_on_one_side_and_the_share_is_of_distinct_rows():
    """Oversampling (class 0 given twice): a tenth of each class's distinct rows to validation, with both copies;
    training keeps both copies of the rest, so the oversampling it was given."""
    labels = (np.arange(3000) % 3).astype(np.uint8)
    info = types.SimpleNamespace(task="classification", target=labels)
    rows = np.sort(np.concatenate([np.arange(3000), np.arange(0, 3000, 3)]))
    train, val = split_rows(rows, info, 0.1, seed=1, stratify=True)
    assert np.unique(val).size == 300 and np.bincount(labels[np.unique(val)]).tolist() == [100, 100, 100]
    assert np.bincount(labels[val]).tolist() == [200, 100, 100]  # class 0's validation rows, each twice
    assert np.bincount(labels[train]).tolist() == [1800, 900, 900]
    assert not np.intersect1d(train, val).size and (np.diff(train) >= 0).all() and (np.diff(val) >= 0).all()
    shuffled = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 2))
    train, val = split_rows(shuffled, types.SimpleNamespace(task="regression", target=None), 0.3, seed=0, stratify=True)
    assert val.size == 6 and train.size == 14 and (np.bincount(val) % 2 == 0).all() and (np.bincount(train) % 2 == 0).all()


def test_stratified_shares_hold_per_class():
    labels = np.repeat(np.arange(4, dtype=np.uint8), [100, 40, 20, 10])
    info = types.SimpleNamespace(task="classification", target=labels)
    train, val = split_rows(np.arange(labels.size), info, 0.1, seed=3, stratify=True)
    assert np.bincount(labels[val], minlength=4).tolist() == [10, 4, 2, 1]
    assert np.bincount(labels[train], minlength=4).tolist() == [90, 36, 18, 9]
    assert (np.diff(train) > 0).all() and (np.diff(val) > 0).all()
