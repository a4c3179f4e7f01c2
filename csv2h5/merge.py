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
from .damage import check_codes, read_rows
from .errors import HeaderMismatchError, InputError, counted
from .featurerows import requested_chunk_rows, widen_values
from .inputs import expand_patterns, given_twice, input_key
from .layout import (
    CLASS_COUNTS,
    CLASSES,
    COLUMNS,
    FEATURES,
    FILL,
    FLOAT32_VALUES,
    MERGED_FROM,
    SAMPLE_SHAPE,
    TARGET,
    TASK,
    FileHeader,
    TargetHeader,
    open_header,
    parts_disagree,
    read_stats,
    stats_path,
)
from .output import AtomicOutput, check_output, output_path
from .schema import ValueRange, class_code_dtype, float32_range, float32_readings
from .stats import merge_stored
from .vocabulary import code_table, count_codes, remap_columns, set_code_stats, unite, unite_vocabularies
from .writer import H5Writer

_COPY_BYTES = 16 << 20  # rows copied at once, as bytes: bounds memory whatever the width


@dataclasses.dataclass(frozen=True)
class MergeReport:
    output: Path
    parts: int
    rows: int
    classes: list[object]
    seconds: float

    def summary(self) -> str:
        labels = f", {counted(len(self.classes), 'class', 'classes')}" if self.classes else ""
        return f"merged {self.parts} files, {counted(self.rows, 'row')}{labels}, into {self.output} in {self.seconds:.1f} s"


def merge(
    parts: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> MergeReport:
    """Write the rows of ``parts`` (in order) to ``output`` as one csv2h5 file.

    ``parts`` may hold glob patterns (their files sorted by name). ``on_notice`` is told of
    an input that several parts hold (its rows would be in the output more than once) and
    of the temporaries an earlier killed merge left.
    """
    started = time.perf_counter()
    paths = expand_patterns([parts] if isinstance(parts, (str, os.PathLike)) else parts)
    out = output_path(output, example="merged.h5")
    if len(paths) < 2:
        raise InputError("merge needs two or more files; pass the parts to join")
    check_output(out, inputs=paths, overwrite=overwrite, example="merged.h5")
    infos = [open_header(p) for p in paths]  # each part readable, and csv2h5's, before the set is judged
    twice = given_twice(paths)
    if twice:
        raise InputError(f"{twice}; its rows would be stored twice: pass each part once")
    problem = parts_disagree(infos, advice="merge files")
    if problem:
        raise HeaderMismatchError(problem)
    for line in _repeated_inputs(infos) if on_notice is not None else ():
        on_notice(line)
    classes = unite(p.classes for p in infos) if infos[0].task == "classification" else []
    total = sum(p.rows for p in infos)
    with AtomicOutput(out, on_notice=on_notice) as output_file:
        writer = H5Writer(output_file.temporary, expected_bytes=sum(p.path.stat().st_size for p in infos))
        output_file.on_failure(writer.close)
        _copy(writer, infos, classes, total, on_progress)
        output_file.commit()
    return MergeReport(out, len(infos), total, classes, time.perf_counter() - started)


def _repeated_inputs(parts: Sequence[FileHeader]) -> list[str]:
    """A line for each set of parts that hold one input (a CSV) alike: its rows would be in the output more than once.

    As when a merged file is merged again with one of its own parts. Each part's
    ``sources`` records its inputs' base names (``data.csv`` of ``day-01/data.csv``),
    bytes and rows; an input is the same when all three agree, so two days' ``data.csv``
    of other sizes are told apart. Two CSVs may still agree on all three, hence a notice,
    not a refusal. Standard input (recorded as 0 bytes: its size is not known) and inputs
    without rows are left out.
    """
    holders: dict[tuple[str, int, int], dict[str, int]] = {}  # input -> the parts holding it, and how often each
    for part in parts:
        for key in filter(None, map(input_key, part.sources)):
            held = holders.setdefault(key, {})
            held[str(part.path)] = held.get(str(part.path), 0) + 1
    shared: dict[tuple[tuple[str, ...], int], list[tuple[str, int, int]]] = {}
    for key, held in holders.items():
        if len(held) > 1:
            shared.setdefault((tuple(held), sum(held.values())), []).append(key)
    return [_repeated(holding, times, inputs) for (holding, times), inputs in shared.items()]


def _repeated(holding: tuple[str, ...], times: int, inputs: list[tuple[str, int, int]], shown: int = 3) -> str:
    where = f"{', '.join(holding[:-1])} and {holding[-1]} {'both' if len(holding) == 2 else 'all'}"
    listed = ", ".join(f"{name} ({counted(size, 'byte')}, {counted(rows, 'row')})" for name, size, rows in inputs[:shown])
    more = f" and {len(inputs) - shown} more" if len(inputs) > shown else ""
    one = len(inputs) == 1
    return (
        f"{where} hold the input{'' if one else 's'} {listed}{more}: {'its' if one else 'their'} rows will be in the output"
        f" {'twice' if times == 2 else f'{times} times'}, unless these are different CSVs that share a name, size and row count"
    )


def _common_dtype(infos: list[FileHeader]) -> tuple[np.dtype, ValueRange]:
    """The features' dtype for the merge, and how its float32 values read back when it is float32.

    float32 parts keep float32 only when one reading serves them all (as converting the
    joined CSV would decide); a part of exact float32 dumps beside one of short
    decimals makes the merge float64, each part widened by its own reading.
    """
    dtype = np.result_type(*(p.dtype for p in infos))
    ranges = [float32_range(p.float32_values) for p in infos if p.dtype == np.float32]
    readings = ValueRange(
        integral=False,
        float32_equal=all(r.float32_equal for r in ranges),
        float32_shortest=all(r.float32_shortest for r in ranges),
        float16_exact=False,
        empty=False,
    )
    if dtype == np.float32 and not (readings.float32_equal or readings.float32_shortest):
        dtype = np.dtype(np.float64)
    return dtype, readings


def _copy(
    writer: H5Writer, infos: list[FileHeader], classes: list[object], total: int, on_progress: Callable[[int, int], None] | None
) -> None:
    first = infos[0]
    common, readings = _common_dtype(infos)
    vocabularies, part_tables, dtype = unite_vocabularies(first.columns, [p.vocabularies for p in infos], common)
    columns = {name: first.columns.index(name) for name in vocabularies}
    # a small part's chunk, cut to its rows, is not kept
    writer.create_features(
        first.columns, dtype, chunk_rows=requested_chunk_rows(first), compression=(first.compression, first.compression_opts)
    )
    writer.set_column_kinds(boolean=first.booleans, datetime=first.datetimes)
    if dtype == np.float32:
        writer.set_attrs(FEATURES, {FLOAT32_VALUES: float32_readings(readings)})
    if first.sample_shape is not None:
        writer.set_attrs(FEATURES, {SAMPLE_SHAPE: list(first.sample_shape)})
    if first.fill is not None:  # the parts agree on it (parts_disagree)
        writer.set_attrs(FEATURES, {FILL: first.fill})
    counts = {name: np.zeros(len(values)) for name, values in vocabularies.items()}
    targets: list[np.ndarray] = []
    stats: list[tuple[dict[str, np.ndarray], int]] = []
    done = 0
    for part, tables in zip(infos, part_tables):
        with h5py.File(part.path, "r") as f:
            ds = f[FEATURES]
            step = max(1, _COPY_BYTES // max(1, ds.shape[1] * ds.dtype.itemsize))
            exact = part.dtype != np.float32 or float32_range(part.float32_values).float32_equal
            for start in range(0, part.rows, step):
                # float32 values that stand for their shortest decimal widen through it (0.1 stays 0.1)
                rows = read_rows(ds, start, start + step, part.path)
                for name, column in columns.items():
                    check_codes(rows[:, column], len(part.vocabularies[name]), part.path, f"column {name!r}", start)
                block = remap_columns(widen_values(rows, writer.dtype, exact=exact), tables, writer.dtype)
                for name, column in columns.items():  # stats of codes are recounted from the united codes
                    counts[name] += count_codes(block[:, column], len(vocabularies[name]))
                writer.append(block)
                done += min(step, part.rows - start)
                if on_progress is not None:
                    on_progress(done, total)
            if part.target is not None:
                codes = read_rows(f[TARGET], 0, part.rows, part.path)
                if classes:
                    check_codes(codes, len(part.classes), part.path, "the target", 0, kind="classes")
                    codes = code_table(part.classes, classes)[codes.astype(np.int64)]
                targets.append(codes)
            stats.append((read_stats(f, part.path), part.rows))
    writer.end_features()
    if targets:
        _write_target(writer, first.target, np.concatenate(targets), classes)
    merged = merge_stored([({k: v for k, v in s.items() if k != CLASS_COUNTS}, rows) for s, rows in stats])
    for name, column in columns.items():
        set_code_stats(merged, column, counts[name])
    for name, values in merged.items():
        writer.write_array(stats_path(name), values)
    if classes:
        writer.write_array(
            stats_path(CLASS_COUNTS),
            np.bincount(np.concatenate(targets).astype(np.int64), minlength=len(classes)).astype(np.float64),
        )
    for name, values in vocabularies.items():
        writer.write_categories(name, values, counts[name])
    writer.finish(
        created_by=f"csv2h5 {__version__}",
        rows=total,
        sources=[s for p in infos for s in p.sources],
        extra={MERGED_FROM: json.dumps([str(p.path) for p in infos])},
    )


def _write_target(writer: H5Writer, first: TargetHeader, values: np.ndarray, classes: list[object]) -> None:
    attrs: dict[str, object] = {COLUMNS: first.columns, TASK: first.task}
    if classes:
        values = values.astype(class_code_dtype(len(classes)))
        attrs[CLASSES] = classes if not all(isinstance(c, str) for c in classes) else [str(c) for c in classes]
    writer.create_target(values.shape[1:], values.dtype, attrs=attrs, rows=values.shape[0])
    writer.append_target(values)
