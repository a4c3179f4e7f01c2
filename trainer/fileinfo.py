"""What a csv2h5 file holds, read once in the main process: ``FileInfo``.

Several files of one schema read as one (a list or a glob pattern) give one
``FileInfo`` whose class labels and vocabularies are united as ``csv2h5 merge``
unites them; the row readers that go with it are in :mod:`.rows`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from csv2h5.damage import check_codes, damaged, read_rows
from csv2h5.errors import Csv2H5Error
from csv2h5.featurerows import requested_chunk_rows
from csv2h5.inputs import expand_patterns, given_twice
from csv2h5.layout import (
    CLASS_COUNTS,
    FEATURES,
    TARGET,
    FileHeader,
    attr_value,
    open_csv2h5,
    parts_disagree,
    read_categories,
    read_file_header,
    read_stats,
)
from csv2h5.schema import chunk_rows_for, class_code_dtype
from csv2h5.stats import merge_stored
from csv2h5.vocabulary import code_table, set_code_stats, unite, unite_vocabularies, united_counts

from .errors import DataFileError
from .overlap import shared_rows


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a csv2h5 file holds, read once in the main process (small arrays only)."""

    path: str
    rows: int
    num_features: int
    dtype: np.dtype
    columns: list[str]
    chunk_rows: int
    compressed: bool
    sample_shape: tuple[int, ...] | None
    target: np.ndarray | None  # whole target (codes or float32), small next to the features
    task: str | None
    classes: list[object]
    stats: dict[str, np.ndarray]
    fingerprint: str
    target_columns: list[str] = dataclasses.field(default_factory=list)  # the CSV names of /target
    parts: tuple[str, ...] = ()  # several files read as one: their paths, in row order
    part_starts: tuple[int, ...] = ()  # first row of each part
    part_codes: tuple[dict[int, np.ndarray], ...] = ()  # per part: feature column -> code lookup table
    vocabularies: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # categorical column -> values by code
    boolean_columns: tuple[str, ...] = ()  # true/false columns stored as 1/0
    datetime_columns: tuple[str, ...] = ()  # dates stored as seconds since 1970 UTC
    header: FileHeader | None = dataclasses.field(default=None, repr=False, compare=False)  # of the first file

    @property
    def named(self) -> str:
        """The data as messages name it: its file, or the parts read as one (``path`` is then the first part's)."""
        if len(self.parts) < 2:
            return self.path
        between = " and " if len(self.parts) == 2 else ", ..., "
        return f"{self.parts[0]}{between}{self.parts[-1]} ({len(self.parts)} files read as one)"


def read_info(path: str | Path) -> FileInfo:
    """Open ``path``, check it is a complete csv2h5 file, and read its small parts."""
    path = Path(path)
    try:
        f = open_csv2h5(path)
    except Csv2H5Error as exc:  # the same checks as csv2h5 info, as the trainer's error
        raise DataFileError(str(exc)) from None
    with f:
        try:
            header = read_file_header(f, path)
        except Csv2H5Error as exc:  # a damaged header
            raise DataFileError(str(exc)) from None
        if len(header.shape) != 2:
            raise DataFileError(f"{path}: /{FEATURES} has shape {header.shape}; csv2h5 files have (rows, features)")
        rows = header.rows
        if header.stated_rows is not None and header.stated_rows != rows:
            raise DataFileError(f"{path} is incomplete: it says {header.stated_rows} rows but holds {rows}; convert it again")
        target = None
        if header.target is not None:
            if header.target.shape[0] != rows:
                raise DataFileError(
                    f"{path}: /{TARGET} has {header.target.shape[0]} rows but /{FEATURES} has {rows}; convert it again"
                )
            try:
                target = read_rows(f[TARGET], 0, rows, path)
                if header.task == "classification" and target.ndim == 1:  # overwritten rows kept without a checksum
                    check_codes(target, len(header.classes), path, "the target", 0, kind="classes")
            except Csv2H5Error as exc:  # a damaged chunk of the target
                raise DataFileError(str(exc)) from None
        try:
            stats = read_stats(f, path)
        except Csv2H5Error as exc:  # a damaged stat
            raise DataFileError(str(exc)) from None
        try:
            fingerprint = _fingerprint(path, f, target, stats)
        except (KeyError, OSError, ValueError) as exc:  # a root attribute that HDF5 cannot read back
            raise DataFileError(str(damaged(path, "the root group's attributes", exc))) from None
    return _file_info(header, target, stats, fingerprint)


def _file_info(header: FileHeader, target: np.ndarray | None, stats: dict[str, np.ndarray], fingerprint: str) -> FileInfo:
    return FileInfo(
        path=str(header.path),
        rows=header.rows,
        num_features=int(header.shape[1]),
        dtype=header.dtype,
        columns=header.columns,
        chunk_rows=int(header.chunks[0]) if header.chunks else header.rows,
        compressed=header.filtered,
        sample_shape=header.sample_shape,
        target=target,
        task=header.task,
        classes=header.classes,
        stats=stats,
        fingerprint=fingerprint,
        target_columns=header.target.columns if header.target is not None else [],
        vocabularies=header.vocabularies,
        boolean_columns=tuple(header.booleans),
        datetime_columns=tuple(header.datetimes),
        header=header,
    )


def expand_paths(spec: str | Path | Sequence[str | Path]) -> list[str]:
    """One path, a glob pattern (``parts/day-*.h5``, sorted; see :func:`csv2h5.inputs.expand_patterns`), or a list of them."""
    try:
        paths = [str(p) for p in expand_patterns([spec] if isinstance(spec, (str, Path)) else list(spec))]
    except Csv2H5Error as exc:
        raise DataFileError(str(exc)) from None
    if isinstance(spec, (str, Path)):
        return paths
    if not paths:
        raise DataFileError("no data files given")
    twice = given_twice(paths)
    if twice:  # its rows would be read twice, and split(), on both sides of it
        raise DataFileError(f"{twice}; its rows would be read twice: pass each file once")
    return paths


def open_info(spec: str | Path | Sequence[str | Path]) -> FileInfo:
    """What a data argument (a file, a glob pattern or a list of files) holds."""
    return read_infos(expand_paths(spec))


def read_infos(paths: Sequence[str]) -> FileInfo:
    """Several csv2h5 files of one schema as one row space (rows in file order).

    Class labels and the vocabularies of categorical columns are united as
    ``csv2h5 merge`` unites them (first seen over the parts, see
    :mod:`csv2h5.vocabulary`): targets are remapped here, feature codes on read
    through ``part_codes``. The result reads like the merged file.
    """
    infos = [read_info(p) for p in paths]
    first = infos[0]
    if len(infos) == 1:
        return first
    shared = shared_rows(infos)
    if shared:  # a merged file beside its parts, a part copied: split() would put its rows on both sides too
        raise DataFileError(
            f"{shared.first} and {shared.second} hold the same content, whose rows would be read twice: leave one of them out"
            if shared.input is None
            else f"{shared.first} and {shared.second} both hold {shared.what}, which would be read twice: leave one of them"
            " out (a merged file beside its parts: leave it out of the pattern, or write merges outside the parts' folder)"
        )
    problem = parts_disagree([i.header for i in infos], advice="files read as one must be")
    if problem:
        raise DataFileError(problem)
    categories = [_categories(i.path) for i in infos]
    vocabularies, part_codes, dtype = unite_vocabularies(
        first.columns,
        [{name: values for name, (values, _) in found.items()} for found in categories],
        np.result_type(*(i.dtype for i in infos)),
    )
    stats = {}
    if all(i.stats for i in infos):
        stats = merge_stored([({k: v for k, v in i.stats.items() if k != CLASS_COUNTS}, i.rows) for i in infos])
        for name, values in vocabularies.items():  # stats of codes: from the rows per united code
            counts = united_counts([(found[name][1], code_table(found[name][0], values)) for found in categories], len(values))
            set_code_stats(stats, first.columns.index(name), counts)
    classes, target = first.classes, None
    if first.task == "classification":
        classes = unite(i.classes for i in infos)
        target = np.concatenate([code_table(i.classes, classes)[i.target.astype(np.intp)] for i in infos])
        target = target.astype(class_code_dtype(len(classes)))
        if stats:
            stats[CLASS_COUNTS] = np.bincount(target, minlength=len(classes)).astype(np.float64)
    elif first.target is not None:
        target = np.concatenate([i.target for i in infos])
    starts = np.cumsum([0] + [i.rows for i in infos[:-1]])
    rows = sum(i.rows for i in infos)
    digest = hashlib.sha256("".join(i.fingerprint for i in infos).encode()).hexdigest()[:32]
    return dataclasses.replace(
        first,
        rows=rows,
        dtype=dtype,
        chunk_rows=_merged_chunk_rows(first.header, dtype, rows),
        compressed=any(i.compressed for i in infos),
        target=target,
        classes=classes,
        stats=stats,
        fingerprint=f"sha256:{digest}",
        parts=tuple(i.path for i in infos),
        part_starts=tuple(int(x) for x in starts),
        part_codes=tuple(part_codes),
        vocabularies=vocabularies,
    )


def _merged_chunk_rows(first: FileHeader, dtype: np.dtype, rows: int) -> int:
    """The chunk rows ``csv2h5 merge`` gives the parts' merge: the orders cut by chunks (``window``, ``blocks``)
    then equal the merged file's. The first part's chunk when it was asked for, else about 1 MiB of rows
    in the united dtype, cut to the rows when they are fewer (as a small file's one chunk)."""
    requested = requested_chunk_rows(first)
    if requested is not None:
        return requested
    return max(1, min(chunk_rows_for(int(first.shape[1]), dtype.itemsize), rows))


def _categories(path: str) -> dict[str, tuple[list[str], np.ndarray]]:
    try:
        f = open_csv2h5(path)
    except Csv2H5Error as exc:
        raise DataFileError(str(exc)) from None
    with f:
        try:
            return read_categories(f)
        except Csv2H5Error as exc:  # a damaged chunk of an older file, whose codes are counted here
            raise DataFileError(str(exc)) from None


def single_class(info: FileInfo, rows: np.ndarray | None) -> object | None:
    """The class label when ``rows`` (None: every row) hold a single class; None otherwise."""
    if info.task != "classification" or info.target is None:
        return None
    codes = info.target if rows is None else info.target[rows]
    present = np.flatnonzero(np.bincount(codes.astype(np.intp), minlength=len(info.classes)))
    return info.classes[int(present[0])] if present.size == 1 else None


def infinite_target(info: FileInfo, rows: np.ndarray | None) -> tuple[int, str, float] | None:
    """The first file row of ``rows`` (None: every row) with an infinite regression target: (row, column, value)."""
    if info.task != "regression" or info.target is None:
        return None
    values = info.target if rows is None else info.target[rows]
    found = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    if not found.size:
        return None
    row = int(found[0])
    flat = values.reshape(len(values), -1)[row]
    column = int(np.flatnonzero(~np.isfinite(flat))[0])
    names = info.target_columns or ["target"]
    return (row if rows is None else int(rows[row])), names[min(column, len(names) - 1)], float(flat[column])


def _fingerprint(path: Path, f: h5py.File, target: np.ndarray | None, stats: dict[str, np.ndarray]) -> str:
    """A content hash that is cheap for any size: provenance, stats, target, and the file's two ends.

    The stats cover every feature value (means, extremes, NaN counts), so a
    changed file all but surely changes the hash without reading all of it.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps({k: str(attr_value(v)) for k, v in sorted(f.attrs.items())}).encode())
    for name in sorted(stats):
        digest.update(name.encode() + np.ascontiguousarray(stats[name]).tobytes())
    if target is not None:
        digest.update(np.ascontiguousarray(target).tobytes())
    size = path.stat().st_size
    with open(path, "rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return f"sha256:{digest.hexdigest()[:32]}"
