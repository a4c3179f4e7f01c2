"""The csv2h5 file format: every dataset and attribute name, the format version, and a file's header.

The one place that spells the format (DESIGN.md, "The file"): other modules
name a dataset or an attribute through the constants here, and read what a
file holds through :class:`FileHeader` (``--like``, ``--append``, ``merge``,
``csv2h5 info`` and the trainer's file info all start from it). The names are
a contract with every file already written: they never change.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from .damage import damaged, read_group, read_json, read_object, read_rows
from .errors import DamagedFileError, InputError, NotCsv2H5FileError, counted, number_text
from .lists import first_difference
from .vocabulary import count_codes, parts_differ

FORMAT_VERSION = 1

# Attributes of the root group: provenance.
FORMAT = "csv2h5_format"
CREATED_BY = "created_by"
CREATED_AT = "created_at"
ROWS = "rows"
SOURCES = "sources"  # JSON: name, bytes, rows of each input
BAD_LINES = "bad_lines"
BAD_LINE_NUMBERS = "bad_line_numbers"  # JSON: the first ones
OPTIONS = "options"  # JSON: the conversion's options
MERGED_FROM = "merged_from"  # JSON: the parts a merged file was joined from

# Datasets and groups.
FEATURES = "features"  # (rows, features)
TARGET = "target"  # (rows,) or (rows, targets); absent when no target was named
STATS = "stats"  # /stats/<name>: float64 per feature column (STAT_NAMES), CLASS_COUNTS per class
CATEGORIES = "categories"  # /categories/<column>: a text column's values, index = stored code
CATEGORY_COUNTS = "category_counts"  # /category_counts/<column>: rows per code of /categories/<column>

# Attributes of /features (COLUMNS also of /target).
COLUMNS = "columns"
SAMPLE_SHAPE = "sample_shape"
# How each stored float32 reads back as its CSV value (see schema.float32_readings).
FLOAT32_VALUES = "float32_values"
# The columns of other kinds than numbers (categorical ones have /categories/<column>).
BOOLEAN_COLUMNS = "boolean_columns"  # true/false, stored as 1/0
DATETIME_COLUMNS = "datetime_columns"  # ISO-8601 dates, stored as seconds since 1970-01-01 UTC
FILL = "fill"  # the value empty cells were stored as (--fill); absent: they are NaN

# Attributes of /target.
TASK = "task"  # "classification" or "regression"
CLASSES = "classes"  # original label values, index = stored code

STAT_NAMES = ("mean", "std", "min", "max", "nan_count")
CLASS_COUNTS = "class_counts"


def stats_path(name: str) -> str:
    return f"{STATS}/{name}"


def categories_path(column: str) -> str:
    return f"{CATEGORIES}/{column}"


def category_counts_path(column: str) -> str:
    return f"{CATEGORY_COUNTS}/{column}"


def attr_value(value: object) -> object:
    """An HDF5 attribute value as plain Python (bytes -> str, numpy scalars -> numbers)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [attr_value(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    return value


def _names(values: object) -> list[str]:
    return [str(attr_value(v)) for v in (values if values is not None else [])]


@dataclasses.dataclass(frozen=True)
class TargetHeader:
    """What ``/target`` holds, without its rows."""

    columns: list[str]
    task: str  # "classification" or "regression"
    classes: list[object]  # index = stored code; empty for regression
    dtype: np.dtype
    shape: tuple[int, ...]  # rows first


@dataclasses.dataclass(frozen=True)
class FileHeader:
    """A csv2h5 file's description: everything but the rows, the stats and the category counts."""

    path: Path
    format: int
    created_by: object
    created_at: object
    stated_rows: int | None  # the root attribute: the rows the writer finished with
    sources: list[dict[str, object]]
    bad_lines: int
    shape: tuple[int, ...]  # of /features
    dtype: np.dtype
    chunks: tuple[int, ...] | None
    compression: str | None
    compression_opts: object
    filtered: bool  # chunks pass through a filter (compression), so cannot be mapped
    columns: list[str]
    sample_shape: tuple[int, ...] | None
    float32_values: str | None
    booleans: list[str]
    datetimes: list[str]
    vocabularies: dict[str, list[str]]  # categorical column -> its values, index = stored code
    target: TargetHeader | None
    fill: float | None = None  # what empty feature cells were stored as (--fill); None: NaN

    @property
    def rows(self) -> int:
        return int(self.shape[0])

    @property
    def task(self) -> str | None:
        return self.target.task if self.target is not None else None

    @property
    def classes(self) -> list[object]:
        return self.target.classes if self.target is not None else []


def is_filtered(ds: h5py.Dataset) -> bool:
    """Whether the dataset's chunks pass through a filter (compression), so cannot be mapped."""
    return ds.compression is not None or bool(ds._filters)


def _holds_csv(path: Path) -> bool:
    """Whether ``path`` starts like a CSV (text, or a compressed stream csv2h5 reads) rather than HDF5 gone bad."""
    from .reader.source import compression_of  # only on this error's path: the reader is not loaded to read a file

    try:
        with open(path, "rb") as fh:
            start = fh.read(4096)
    except OSError:
        return False
    if not start or compression_of(start) is not None:
        return bool(start)
    return b"\0" not in start and b"HDF" not in start[:8]


def open_csv2h5(path: str | Path) -> h5py.File:
    """Open a finished csv2h5 file for reading, or say in one line why it is not one."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; convert your CSV first: csv2h5 convert data.csv -o {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a .h5 file written by csv2h5 convert")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; check the file's permissions")
    try:
        f = h5py.File(path, "r")
    except OSError:
        if _holds_csv(path):  # a CSV given where its converted file belongs: nothing is damaged
            from .reader.source import without_compression_suffix

            converted = without_compression_suffix(path).with_suffix(".h5")
            if converted.name == path.name:  # data.h5 holding a CSV: convert refuses an output that is its input
                converted = path.with_name(f"{path.stem}-converted.h5")
            raise NotCsv2H5FileError(
                f"{path} is not a readable HDF5 file: it holds text (a CSV?); convert it first:"
                f" csv2h5 convert {path} -o {converted}"
            ) from None
        raise NotCsv2H5FileError(f"{path} is not a readable HDF5 file (truncated or damaged?); convert the CSV again") from None
    try:
        version = f.attrs.get(FORMAT)
    except (KeyError, OSError) as exc:  # the root group's object header, damaged
        f.close()
        raise damaged(path, "the root group", exc) from None
    problem = None
    if version is None:
        problem = (
            f"{path} is not a csv2h5 file (no {FORMAT} attribute: unfinished, or made by another tool); "
            "make it with csv2h5 convert"
        )
    elif int(version) > FORMAT_VERSION:
        problem = f"{path} has csv2h5 format {int(version)}, newer than this csv2h5 reads ({FORMAT_VERSION}); upgrade csv2h5"
    elif FEATURES not in f:
        problem = f"{path} has no /{FEATURES} dataset; convert the CSV again"
    if problem is not None:
        f.close()
        raise NotCsv2H5FileError(problem)
    return f


def read_file_header(f: h5py.File, path: str | Path) -> FileHeader:
    """The header of the open csv2h5 file ``f`` (``path``: how messages name it).

    Raises:
        DamagedFileError: a part of the header cannot be read back.
    """
    try:
        return _read_header(f, path)
    except DamagedFileError:
        raise
    except (KeyError, OSError, ValueError) as exc:  # an attribute or a category list that HDF5 cannot read back
        raise damaged(path, "the header", exc) from None


def _read_header(f: h5py.File, path: str | Path) -> FileHeader:
    features = read_object(f, FEATURES, path)
    attrs, root = features.attrs, f.attrs
    target = None
    if TARGET in f:
        t = read_object(f, TARGET, path)
        target = TargetHeader(
            columns=_names(t.attrs.get(COLUMNS)),
            task=str(attr_value(t.attrs.get(TASK, "regression"))),
            classes=[attr_value(c) for c in t.attrs.get(CLASSES, [])],
            dtype=t.dtype,
            shape=tuple(t.shape),
        )
    shape = attrs.get(SAMPLE_SHAPE)
    readings = attrs.get(FLOAT32_VALUES)
    return FileHeader(
        path=Path(path),
        format=int(root.get(FORMAT, FORMAT_VERSION)),
        created_by=attr_value(root.get(CREATED_BY)),
        created_at=attr_value(root.get(CREATED_AT)),
        stated_rows=int(root[ROWS]) if ROWS in root else None,
        sources=read_json(root, SOURCES, "[]", path),
        bad_lines=int(root.get(BAD_LINES, 0)),
        shape=tuple(features.shape),
        dtype=features.dtype,
        chunks=features.chunks,
        compression=features.compression,
        compression_opts=features.compression_opts,
        filtered=is_filtered(features),
        columns=_names(attrs.get(COLUMNS)),
        sample_shape=tuple(int(d) for d in shape) if shape is not None else None,
        float32_values=str(attr_value(readings)) if readings is not None else None,
        # files before 0.3 name neither booleans nor dates
        booleans=_names(attrs.get(BOOLEAN_COLUMNS)),
        datetimes=_names(attrs.get(DATETIME_COLUMNS)),
        vocabularies=read_vocabularies(f, path),
        target=target,
        fill=float(attrs[FILL]) if FILL in attrs else None,
    )


def open_header(path: str | Path) -> FileHeader:
    """Open ``path``, check that it is a finished csv2h5 file, and read its header."""
    with open_csv2h5(path) as f:
        return read_file_header(f, path)


def read_vocabularies(f: h5py.File, path: str | Path | None = None) -> dict[str, list[str]]:
    """Each categorical column's values (index = stored code), by column name (``path``: how messages name the file).

    Raises:
        DamagedFileError: a list of values cannot be read back.
    """
    return {name: [str(attr_value(v)) for v in values] for name, values in read_group(f, CATEGORIES, path).items()}


def read_stats(f: h5py.File, path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Every stored stat (``STAT_NAMES``, and ``CLASS_COUNTS`` with classes), by name (``path``: how messages name the file).

    Raises:
        DamagedFileError: a stat cannot be read back.
    """
    return read_group(f, STATS, path)


_COUNT_ROWS = 1 << 16  # rows read at once when counting the codes of an older file


def read_categories(f: h5py.File, path: str | Path | None = None) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each categorical column's vocabulary and rows per code, by column name (``path``: how messages name the file).

    Files from csv2h5 0.2 and earlier store no counts: their codes are counted
    here, a column at a time, in bounded memory.
    """
    found: dict[str, tuple[list[str], np.ndarray]] = {}
    features = f[FEATURES]
    columns = _names(features.attrs.get(COLUMNS))
    path = f.filename if path is None else path
    stored_counts = read_group(f, CATEGORY_COUNTS, path)  # read now: a damaged one would fail an append's end
    for name, values in read_vocabularies(f, path).items():
        stored = stored_counts.get(name)
        if stored is not None:
            counts = np.asarray(stored, dtype=np.float64)
        else:
            column, counts = columns.index(name), np.zeros(len(values), dtype=np.float64)
            for start in range(0, features.shape[0], _COUNT_ROWS):
                rows = read_rows(features, start, start + _COUNT_ROWS, path, column=column)
                counts += count_codes(rows, len(values))
        found[name] = (values, counts)
    return found


def fill_text(fill: float | None) -> str:
    """How a file stores empty cells, for messages: ``--fill 0``, or ``NaN (no --fill)``."""
    if fill is None:
        return "NaN (no --fill)"
    return f"--fill {number_text(fill)}"


def _shape_text(shape: tuple[int, ...] | None) -> str:
    """A sample shape as ``--sample-shape`` spells it (``28,28,1``), or ``none``."""
    return ",".join(map(str, shape)) if shape is not None else "none"


def parts_disagree(parts: Sequence[FileHeader], *, advice: str) -> str | None:
    """Why files cannot be read or joined as one (in one line, naming the part), or None when they agree.

    They agree on the feature columns (names, in order), which of them hold
    booleans and dates, the target (task and width), the sample shape, what empty
    cells were stored as (``--fill``), and class labels and categorical columns
    that can be united (:func:`csv2h5.vocabulary.parts_differ`).
    ``advice`` starts the fix: "merge files" gives "merge files converted alike".
    """
    first = parts[0]
    for part in parts[1:]:
        if part.columns != first.columns:
            i = first_difference(first.columns, part.columns)
            where = (
                f"column {i + 1} is {part.columns[i]!r} there but {first.columns[i]!r} in {first.path}"
                if i < min(len(first.columns), len(part.columns))
                else f"it has {counted(len(part.columns), 'column')}, {first.path} has {len(first.columns)}"
            )
            return f"{part.path} has other feature columns: {where}; {advice} converted alike"
        for what, mine, theirs in (("booleans", part.booleans, first.booleans), ("dates", part.datetimes, first.datetimes)):
            if set(mine) != set(theirs):
                column = sorted(set(mine) ^ set(theirs))[0]
                holder, other = (part.path, first.path) if column in mine else (first.path, part.path)
                return (
                    f"column {column!r} holds {what} in {holder} but not in {other};"
                    f" {advice} converted alike (csv2h5 convert --like {first.path})"
                )
        if part.task != first.task:
            return (
                f"{part.path} has target {part.task or 'none'} but {first.path} has {first.task or 'none'}; "
                f"{advice} converted with the same --target"
            )
        widths = [len(p.target.columns) if p.target is not None else 0 for p in (part, first)]
        if part.target is not None and part.target.shape[1:] != first.target.shape[1:]:
            return (
                f"{part.path} has {widths[0]} target columns but {first.path} has {widths[1]}; "
                f"{advice} converted with the same --target"
            )
        if part.sample_shape != first.sample_shape:  # the rows would all be read in the first part's shape
            return (
                f"{part.path} has sample shape {_shape_text(part.sample_shape)} but {first.path} has"
                f" {_shape_text(first.sample_shape)}; {advice} converted with the same --sample-shape"
            )
        if part.fill != first.fill:
            return (
                f"{part.path} stores empty cells as {fill_text(part.fill)} but {first.path} as {fill_text(first.fill)};"
                f" {advice} converted with the same --fill"
            )
    return parts_differ([p.path for p in parts], [p.classes for p in parts], [p.vocabularies for p in parts])
