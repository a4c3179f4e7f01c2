"""Files that hold the same rows: refused when read as one, and as the validation data of the rows trained on.

A merged file beside its own parts (``csv2h5 merge 'parts/*.h5' -o parts/all.h5``, then
``parts/*.h5`` matches both), a part copied under another name, or ``--val`` given the
training file would read rows twice, or score validation on rows the model trains on.
Two files hold the same rows when they are one content (their fingerprints agree), or
when both record one input (the ``sources`` attribute: a CSV's base name, bytes and rows,
see :func:`csv2h5.inputs.input_key`) and that input's rows read alike in both: its
targets, the stored stats when each file holds that input alone (mean, extremes and
NaN count of each column: they cover every value), and about a thousand of its feature
rows (spread over it, and slices at seeded random places: a few chunk reads whatever the
file's size), decoded (class labels and categories as text, float32 values widened as
``csv2h5 merge`` widens them). The rows are compared because two CSVs of one name, size
and row count (``day-01/data.csv`` and ``day-02/data.csv`` of fixed-width lines) may
differ, even in a few rows only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import h5py
import numpy as np

from csv2h5.errors import counted
from csv2h5.featurerows import widen_values
from csv2h5.inputs import input_key
from csv2h5.layout import FEATURES
from csv2h5.schema import float32_range

if TYPE_CHECKING:
    from .fileinfo import FileInfo


# Feature rows compared per shared input: a few chunk reads, whatever the file's size.
_SPREAD_ROWS = 8  # evenly spaced over it
_SLICES, _SLICE_ROWS = 8, 128  # slices of consecutive rows at seeded random places
_MEAN_TOLERANCE = 1e-9  # of a column's largest magnitude: means merged in another order round apart


@dataclasses.dataclass(frozen=True)
class SharedRows:
    """Two files that hold the same rows, and how that was found."""

    first: str
    second: str
    input: str | None  # the input both record ("d1.csv (20 bytes, 4 rows)"); None: the same content

    @property
    def what(self) -> str:
        """What both hold, as messages say it."""
        return f"the rows of the input {self.input}" if self.input else "the same content"


def shared_rows(infos: Sequence[FileInfo], others: Sequence[FileInfo] = ()) -> SharedRows | None:
    """The first two files that hold the same rows: two of ``infos`` or, given ``others``, one of each.

    Each info is one file's (from :func:`.fileinfo.read_info`), not files read as one.
    """
    files = [*infos, *others]
    sides = [0] * len(infos) + [1] * len(others)  # only files of other sides pair, when there are two sides
    by_content: dict[str, list[int]] = {}
    by_input: dict[tuple[str, int, int], list[tuple[int, int]]] = {}  # input -> (file, its first row there)
    for index, info in enumerate(files):

        def paired(earlier: int, index: int = index) -> bool:
            return earlier != index and (not others or sides[earlier] != sides[index])

        for earlier in by_content.get(info.fingerprint, []):
            if paired(earlier):
                return SharedRows(files[earlier].path, info.path, None)
        by_content.setdefault(info.fingerprint, []).append(index)
        for key, start in _inputs(info):
            for earlier, earlier_start in by_input.get(key, []):
                if paired(earlier) and _read_alike(files[earlier], earlier_start, info, start, key[2]):
                    name, size, rows = key
                    return SharedRows(files[earlier].path, info.path, f"{name} ({counted(size, 'byte')}, {counted(rows, 'row')})")
            by_input.setdefault(key, []).append((index, start))
    return None


def _inputs(info: FileInfo) -> list[tuple[tuple[str, int, int], int]]:
    """Each input the file records that can be told apart, with its first row in the file.

    Nothing when the recorded rows do not add up to the file's: where each input's rows lie is then unknown.
    """
    sources = info.header.sources if info.header is not None else []
    counts = [s.get("rows") if isinstance(s.get("rows"), int) else -1 for s in sources]
    if not sources or sum(counts) != info.rows or min(counts) < 0:
        return []
    starts = np.cumsum([0, *counts[:-1]])
    return [(key, int(start)) for source, start in zip(sources, starts) if (key := input_key(source)) is not None]


def _read_alike(a: FileInfo, a_start: int, b: FileInfo, b_start: int, rows: int) -> bool:
    """Whether ``rows`` rows from ``a_start`` in ``a`` read as those from ``b_start`` in ``b``: targets, stats, some features."""
    if (a.target is None) != (b.target is None):
        return False
    if a.target is not None and not _same_targets(a.target[a_start : a_start + rows], a, b.target[b_start : b_start + rows], b):
        return False
    if _holds_one_input(a) and _holds_one_input(b) and not _same_stats(a, b):
        return False
    spread, slices = _picked(rows)
    return _equal(_features(a, a_start, spread, slices), _features(b, b_start, spread, slices))


def _holds_one_input(info: FileInfo) -> bool:
    return info.header is not None and len(info.header.sources) == 1


def _same_stats(a: FileInfo, b: FileInfo) -> bool:
    """Whether the stored stats of two files of one input each agree: NaN counts, and extremes and means of the
    columns not coded as categories (each file codes them in its own order). A stat either file lacks is not compared."""
    stats = {
        name: (np.array(a.stats[name], dtype=np.float64), np.array(b.stats[name], dtype=np.float64))
        for name in ("nan_count", "min", "max", "mean")
        if name in a.stats and name in b.stats
    }
    if any(x.shape != y.shape for x, y in stats.values()):
        return False
    coded = [i for i, name in enumerate(a.columns) if name in a.vocabularies or name in b.vocabularies]
    for name, (x, y) in stats.items():
        if name != "nan_count":
            x[coded] = y[coded] = 0.0
        if name != "mean" and not np.array_equal(x, y, equal_nan=True):
            return False
    if "mean" not in stats:
        return True
    x, y = stats["mean"]
    extremes = [np.abs(stats[name][0]) for name in ("min", "max") if name in stats]
    scale = np.nan_to_num(np.max(extremes, axis=0), nan=0.0, posinf=0.0) if extremes else np.zeros_like(x)
    with np.errstate(invalid="ignore"):
        alike = (x == y) | (np.abs(x - y) <= _MEAN_TOLERANCE * scale) | (np.isnan(x) & np.isnan(y))
    return bool(alike.all())


def _picked(rows: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The rows of an input that are compared: evenly spaced ones, and slices (start, stop) at seeded random places.

    An input of few rows is compared whole.
    """
    if rows <= _SPREAD_ROWS + _SLICES * _SLICE_ROWS:
        return np.zeros(0, dtype=np.int64), [(0, rows)]
    spread = np.unique(np.linspace(0, rows - 1, _SPREAD_ROWS).astype(np.int64))
    starts = np.sort(np.random.default_rng(rows).choice(rows - _SLICE_ROWS + 1, _SLICES, replace=False))
    return spread, [(int(start), int(start) + _SLICE_ROWS) for start in starts]


def _same_targets(a: np.ndarray, a_info: FileInfo, b: np.ndarray, b_info: FileInfo) -> bool:
    """Equal targets: class labels (whatever code each file gives them) or values, NaN equal to NaN."""
    if a.shape != b.shape:
        return False
    if a_info.task != "classification" or b_info.task != "classification":
        return np.array_equal(a.astype(np.float64), b.astype(np.float64), equal_nan=True)
    labels: dict[str, int] = {}
    a_codes, b_codes = ([labels.setdefault(str(c), len(labels)) for c in info.classes] for info in (a_info, b_info))
    return np.array_equal(np.asarray(a_codes)[a.astype(np.intp)], np.asarray(b_codes)[b.astype(np.intp)])


def _features(info: FileInfo, offset: int, spread: np.ndarray, slices: list[tuple[int, int]]) -> np.ndarray:
    """Feature rows from ``offset`` (the ``slices``, then the ``spread`` rows) as the CSV's values: float64 numbers
    (float32 widened as merge widens), categories as text."""
    with h5py.File(info.path, "r") as f:
        ds = f[FEATURES]
        blocks = [ds[offset + start : offset + stop] for start, stop in slices]
        if spread.size:
            blocks.append(ds[offset + spread])
    stored = np.concatenate(blocks)
    exact = stored.dtype != np.float32 or float32_range(info.header.float32_values).float32_equal
    values = widen_values(stored, np.dtype(np.float64), exact=exact).astype(object)
    for name, vocabulary in info.vocabularies.items():
        column = info.columns.index(name)
        values[:, column] = [_category(vocabulary, code) for code in stored[:, column]]
    return values


def _category(vocabulary: list[str], code: float) -> str | None:
    return vocabulary[int(code)] if np.isfinite(code) and 0 <= code < len(vocabulary) else None


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays of numbers or text, missing (NaN) values equal to missing ones."""
    if a.shape != b.shape:
        return False
    a, b = a.ravel(), b.ravel()
    return all(x == y or (_missing(x) and _missing(y)) for x, y in zip(a.tolist(), b.tolist()))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
