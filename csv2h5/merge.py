"""Join converted files of one schema into one file, by copying (see BENCHMARKS.md for why).

Rows are copied a block at a time through the writer, so the result has the
same layout as a converted file (``/features`` in one run, memory-mappable) and
memory stays bounded. Class labels and the vocabulary of every categorical
column are united by the rule of :mod:`csv2h5.vocabulary` (first seen over the
parts) and each part's codes remapped. Stats are merged exactly from the
parts' stored stats, except those of categorical columns: they are stats of
codes, which remapping changes, so they are recounted from the united codes
while copying.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import h5py
import numpy as np

from ._version import __version__
from .errors import Csv2H5Error, HeaderMismatchError, InputError, OutputError, OutputExistsError
from .info import attr_value, open_csv2h5, read_column_kinds, read_vocabularies
from .lists import first_difference
from .stats import merge_stored
from .schema import FLOAT32_VALUES, ValueRange, class_code_dtype, float32_range, float32_readings
from .scratch import sweep_stale, temporary_path
from .vocabulary import code_table, count_codes, parts_differ, remap_columns, set_code_stats, unite, unite_vocabularies
from .writer import H5Writer, requested_chunk_rows, widen_values

_COPY_BYTES = 16 << 20  # rows copied at once, as bytes: bounds memory whatever the width


@dataclasses.dataclass(frozen=True)
class MergeReport:
    output: Path
    parts: int
    rows: int
    classes: list[object]
    seconds: float

    def summary(self) -> str:
        labels = f", {len(self.classes)} classes" if self.classes else ""
        return f"merged {self.parts} files, {self.rows:,} rows{labels}, into {self.output} in {self.seconds:.1f} s"


@dataclasses.dataclass
class _Part:
    path: Path
    rows: int
    columns: list[str]
    dtype: np.dtype
    task: str | None
    classes: list[object]
    target_shape: tuple[int, ...]
    vocabularies: dict[str, list[str]]  # categorical column -> its values, index = stored code
    kinds: tuple[list[str], list[str]] = ([], [])  # the boolean and the datetime columns
    float32_values: object = None  # how stored float32 values read back (schema.FLOAT32_VALUES)


def _open_part(path: Path) -> _Part:
    with open_csv2h5(path) as f:
        ds = f["features"]
        target = f.get("target")
        return _Part(path, int(ds.shape[0]), [str(attr_value(c)) for c in ds.attrs.get("columns", [])], ds.dtype,
                     str(attr_value(target.attrs.get("task"))) if target is not None else None,
                     [attr_value(c) for c in target.attrs.get("classes", [])] if target is not None else [],
                     tuple(target.shape[1:]) if target is not None else (), read_vocabularies(f), read_column_kinds(f),
                     ds.attrs.get(FLOAT32_VALUES))


def _check_schema(parts: list[_Part]) -> None:
    first = parts[0]
    for part in parts[1:]:
        if part.columns != first.columns:
            differ = first_difference(first.columns, part.columns)
            where = (f"column {differ} is {part.columns[differ]!r} there but {first.columns[differ]!r} in {first.path}"
                     if differ < min(len(first.columns), len(part.columns)) else f"it has {len(part.columns)} columns, {first.path} has {len(first.columns)}")
            raise HeaderMismatchError(f"{part.path} has other feature columns: {where}; merge files converted alike")
        for what, mine, theirs in zip(("booleans", "dates"), part.kinds, first.kinds):
            if set(mine) != set(theirs):
                column = sorted(set(mine) ^ set(theirs))[0]
                raise HeaderMismatchError(f"column {column!r} holds {what} in {part.path if column in mine else first.path}"
                                          " but not in the other; merge files converted alike")
        if part.task != first.task or part.target_shape != first.target_shape:
            raise HeaderMismatchError(f"{part.path} has target {part.task or 'none'} but {first.path} has "
                                      f"{first.task or 'none'}; merge files converted with the same --target")
    problem = parts_differ([p.path for p in parts], [p.classes for p in parts], [p.vocabularies for p in parts])
    if problem:
        raise HeaderMismatchError(problem)


def merge(parts: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *, overwrite: bool = False,
          on_progress: Callable[[int, int], None] | None = None,
          on_notice: Callable[[str], None] | None = None) -> MergeReport:
    """Write the rows of ``parts`` (in order) to ``output`` as one csv2h5 file."""
    started = time.perf_counter()
    paths = [Path(p) for p in parts]
    out = Path(output)
    if len(paths) < 2:
        raise InputError("merge needs two or more files; pass the parts to join")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent} does not exist; create the directory first")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; pass --overwrite to replace it")
    if any(out.resolve() == p.resolve() for p in paths if p.exists()):
        raise OutputError(f"{out} is also an input; write to another file")
    infos = [_open_part(p) for p in paths]
    _check_schema(infos)
    classes = unite(p.classes for p in infos) if infos[0].task == "classification" else []
    total = sum(p.rows for p in infos)
    swept = sweep_stale(out)
    if swept and on_notice is not None:
        on_notice(swept.describe())
    tmp = temporary_path(out)
    writer = H5Writer(tmp, expected_bytes=sum(p.path.stat().st_size for p in infos))
    try:
        _copy(writer, infos, classes, total, on_progress)
        os.replace(tmp, out)
    except Csv2H5Error:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}; nothing was written") from None
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return MergeReport(out, len(infos), total, classes, time.perf_counter() - started)


def _common_dtype(infos: list[_Part]) -> tuple[np.dtype, ValueRange]:
    """The features' dtype for the merge, and how its float32 values read back when it is float32.

    float32 parts keep float32 only when one reading serves them all (as converting the
    joined CSV would decide); a part of exact float32 dumps beside one of short
    decimals makes the merge float64, each part widened by its own reading.
    """
    dtype = np.result_type(*(p.dtype for p in infos))
    ranges = [float32_range(p.float32_values) for p in infos if p.dtype == np.float32]
    readings = ValueRange(integral=False, float32_equal=all(r.float32_equal for r in ranges),
                          float32_shortest=all(r.float32_shortest for r in ranges), float16_exact=False, empty=False)
    if dtype == np.float32 and not (readings.float32_equal or readings.float32_shortest):
        dtype = np.dtype(np.float64)
    return dtype, readings


def _copy(writer: H5Writer, infos: list[_Part], classes: list[object], total: int,
          on_progress: Callable[[int, int], None] | None) -> None:
    first = infos[0]
    with h5py.File(first.path, "r") as f:
        ds = f["features"]
        compression = (ds.compression, ds.compression_opts)
        sample_shape = ds.attrs.get("sample_shape")
        target_attrs = dict(f["target"].attrs) if "target" in f else None
        chunk_rows = requested_chunk_rows(ds)  # a small part's chunk, cut to its rows, is not kept
    common, readings = _common_dtype(infos)
    vocabularies, part_tables, dtype = unite_vocabularies(first.columns, [p.vocabularies for p in infos], common)
    columns = {name: first.columns.index(name) for name in vocabularies}
    writer.create_features(first.columns, dtype, chunk_rows=chunk_rows, compression=compression)
    writer.set_column_kinds(boolean=first.kinds[0], datetime=first.kinds[1])
    if dtype == np.float32:
        writer.set_attrs("features", {FLOAT32_VALUES: float32_readings(readings)})
    if sample_shape is not None:
        writer.set_attrs("features", {"sample_shape": sample_shape})
    counts = {name: np.zeros(len(values)) for name, values in vocabularies.items()}
    targets: list[np.ndarray] = []
    stats: list[tuple[dict[str, np.ndarray], int]] = []
    sources: list[object] = []
    done = 0
    for part, tables in zip(infos, part_tables):
        with h5py.File(part.path, "r") as f:
            ds = f["features"]
            step = max(1, _COPY_BYTES // max(1, ds.shape[1] * ds.dtype.itemsize))
            exact = part.dtype != np.float32 or float32_range(part.float32_values).float32_equal
            for start in range(0, part.rows, step):
                # float32 values that stand for their shortest decimal widen through it (0.1 stays 0.1)
                block = remap_columns(widen_values(ds[start:start + step], writer.dtype, exact=exact), tables,
                                      writer.dtype)
                for name, column in columns.items():  # stats of codes are recounted from the united codes
                    counts[name] += count_codes(block[:, column], len(vocabularies[name]))
                writer.append(block)
                done += min(step, part.rows - start)
                if on_progress is not None:
                    on_progress(done, total)
            if "target" in f:
                codes = f["target"][()]
                if classes:
                    codes = code_table(part.classes, classes)[codes.astype(np.int64)]
                targets.append(codes)
            stats.append(({name: f["stats"][name][()] for name in f.get("stats", {})}, part.rows))
            sources.extend(json.loads(str(attr_value(f.attrs.get("sources", "[]")))))
    writer.end_features()
    if targets:
        values = np.concatenate(targets)
        if classes:
            values = values.astype(class_code_dtype(len(classes)))
        attrs = {k: v for k, v in target_attrs.items() if k != "classes"}
        if classes:
            attrs["classes"] = classes if not all(isinstance(c, str) for c in classes) else [str(c) for c in classes]
        writer.create_target(values.shape[1:], values.dtype, attrs=attrs, rows=values.shape[0])
        writer.append_target(values)
    merged = merge_stored([({k: v for k, v in s.items() if k != "class_counts"}, rows) for s, rows in stats])
    for name, column in columns.items():
        set_code_stats(merged, column, counts[name])
    for name, values in merged.items():
        writer.write_array(f"stats/{name}", values)
    if classes:
        writer.write_array("stats/class_counts", np.bincount(np.concatenate(targets).astype(np.int64),
                                                             minlength=len(classes)).astype(np.float64))
    for name, values in vocabularies.items():
        writer.write_categories(name, values, counts[name])
    writer.finish(created_by=f"csv2h5 {__version__}", rows=total, sources=sources,
                  extra={"merged_from": json.dumps([str(p.path) for p in infos])})
