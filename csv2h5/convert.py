"""The conversion engine: read blocks -> parse (in parallel) -> schema -> write.

No typer or rich here: options come in as a ConvertOptions, progress goes out
through a callback, problems leave as Csv2H5Error subclasses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import BadValueError, HeaderMismatchError, SchemaError
from .kinds import BOOLEAN, CATEGORY, DATETIME, ColumnKinds, StoredKinds, identifiers_as_codes
from .layout import (BAD_LINE_NUMBERS, BAD_LINES, CLASS_COUNTS, FEATURES, FLOAT32_VALUES, OPTIONS, SAMPLE_SHAPE, SOURCES,
                     TARGET, FileHeader, read_categories, read_file_header, read_stats, stats_path)
from .like import Template, read_template
from .lists import first_difference
from .options import ConvertOptions, parse_compression
from .pool import parse_in_order, worker_count, worker_pool
from .reader import Dialect, ParsedBlock, ParsePlan, Source, TextBlock, iter_blocks, iter_blocks_at_offsets, read_header
from .reader.source import default_delimiter, is_stdin, source_name
from .output import AtomicOutput, check_output
from .schema import (FLOAT64_MAX_EXACT_INT, ColumnRoles, ValueRange, check_sample_shape, check_storable_text, float32_range,
                     float32_readings, holds, resolve_columns, smallest_dtype, value_range)
from .stats import ColumnStats
from .target import TargetCollector
from .vocabulary import count_codes, unite
from .writer import H5Writer, widen_values

MAX_BAD_LINE_NUMBERS = 100  # first bad line numbers kept in the report and the file


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """Where a conversion is: input bytes consumed (compressed bytes for compressed input)."""

    bytes_done: int
    bytes_total: int | None  # None when an input is a pipe, whose size is unknown
    rows: int


@dataclasses.dataclass(frozen=True, slots=True)
class ConversionReport:
    """What a conversion did."""

    output: Path
    rows: int
    feature_names: list[str]
    dtype: str
    target_names: list[str]
    task: str | None
    classes: list[object]
    input_bytes: int
    output_bytes: int
    seconds: float
    bad_lines: int
    bad_line_numbers: list[int]
    widened: list[str]  # dtype changes made on the way, e.g. "uint8 -> float32 at row 4096"
    empty_cell_columns: list[str]  # integer columns stored as float because of empty cells
    appended: bool = False
    warnings: tuple[str, ...] = ()  # one line each: things that converted but deserve a look
    categorical_columns: tuple[str, ...] = ()  # stored as codes (named, or found by --categorical auto)
    boolean_columns: tuple[str, ...] = ()  # true/false, stored as 1/0
    datetime_columns: tuple[str, ...] = ()  # stored as seconds since 1970-01-01 UTC

    @property
    def mb_per_s(self) -> float:
        return self.input_bytes / 1e6 / self.seconds if self.seconds > 0 else float("inf")

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        """A few lines for people."""
        cols = len(self.feature_names)
        target = ""
        if self.task:
            target = f", target {', '.join(self.target_names)} ({self.task}"
            count = len(self.classes)
            target += f", {count} class{'es' if count != 1 else ''})" if self.task == "classification" else ")"
        lines = [
            f"{'appended' if self.appended else 'wrote'} {self.rows:,} rows x {cols:,} features ({self.dtype}){target}"
            f" to {self.output} ({self.output_bytes / 1e6:,.1f} MB)",
            f"read {self.input_bytes / 1e6:,.1f} MB in {self.seconds:.1f} s:"
            f" {self.mb_per_s:,.1f} MB/s, {self.rows_per_s:,.0f} rows/s",
        ]
        if self.bad_lines:
            shown = ", ".join(map(str, self.bad_line_numbers[:10]))
            lines.append(f"skipped {self.bad_lines:,} bad lines (first: {shown})")
        if self.widened:
            lines.append("dtype widened: " + "; ".join(self.widened))
        if self.empty_cell_columns:
            lines.append(f"integer columns stored as float because of empty cells (NaN): {_names(self.empty_cell_columns)};"
                         " --fill VALUE keeps them integer")
        for what, names in (("text stored as codes", self.categorical_columns), ("booleans stored as 1/0", self.boolean_columns),
                            ("dates stored as seconds since 1970 UTC", self.datetime_columns)):
            if names:
                lines.append(f"{what}: {_names(names)}")
        return "\n".join(lines)


def _names(names: Sequence[str], shown: int = 10) -> str:
    """Up to ``shown`` names, then how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _check_paths(sources: Sequence[Path], output: Path, options: ConvertOptions) -> None:
    if not sources:
        raise SchemaError("no input files given; pass one or more CSV files")
    check_output(output, inputs=[s for s in sources if not is_stdin(s)], overwrite=options.overwrite,
                 append=options.append)


class _Conversion:
    """State of one conversion; ``run`` drives it."""

    def __init__(self, sources: list[Path], output_file: AtomicOutput, options: ConvertOptions,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.sources = sources
        self.output_file = output_file  # written all or nothing
        self.output = output_file.output
        self.options = options
        self.on_progress = on_progress
        self.tmp = output_file.temporary
        self.scratch = output_file.scratch("target.tmp")
        self.writer: H5Writer | None = None
        self.pool: ProcessPoolExecutor | None = None
        self.targets: TargetCollector | None = None
        self.total_bytes = sum(p.stat().st_size for p in sources if not is_stdin(p) and p.is_file())
        self.from_pipe = any(is_stdin(p) or (p.exists() and not p.is_file() and not p.is_dir()) for p in sources)
        self.value_range = ValueRange()
        self.stats: ColumnStats | None = None
        self.categories: dict[int, dict[str, int]] = {}
        self.category_counts: dict[int, np.ndarray] = {}  # rows per code, for reading parts with other vocabularies
        self.template: Template | None = read_template(options.like) if options.like else None
        self.warnings: list[str] = []
        self.bad_lines = 0
        self.bad_line_numbers: list[int] = []
        self.widened: list[str] = []
        self.empty_cell_columns: list[str] = []
        self.rows = 0
        self.existing_rows = 0
        self.rows_by_source: dict[str, int] = {}
        self.bytes_done = 0

    # -- set-up -------------------------------------------------------------------------

    def _roles(self, names: list[str]) -> ColumnRoles:
        o = self.options
        if self.template is not None:
            roles, warnings = self.template.roles(names, source=str(self.sources[0]))
            self.warnings.extend(warnings)
            return roles
        return resolve_columns(names, target=o.target, features=o.features, drop=o.drop,
                               categorical=o.categorical, datetime=o.datetime, header=o.header)

    def _headers(self) -> Iterator[tuple[Source, object]]:
        o = self.options
        dialect = Dialect(delimiter=o.delimiter or default_delimiter(self.sources[0], o.decimal), comment=o.comment,
                          decimal=o.decimal)
        first_names: list[str] | None = None
        for path in self.sources:
            source = Source(path, encoding=o.encoding)
            try:
                header = read_header(source, dialect=dialect, header=o.header, names=o.names,
                                     skip_rows=o.skip_rows, block_bytes=o.block_bytes)
                if first_names is None:
                    first_names = header.names
                    dialect = header.dialect  # a sniffed delimiter is kept for every file
                elif header.names != first_names:
                    raise HeaderMismatchError(_header_difference(self.sources[0], first_names, source.name, header.names))
                yield source, header
            finally:
                source.close()

    def run(self) -> ConversionReport:
        started = time.perf_counter()
        o = self.options
        roles: ColumnRoles | None = None
        pools = contextlib.ExitStack()
        headers = self._headers()
        self.output_file.on_failure(self._close)
        try:
            workers = worker_count(o, self.total_bytes if not self.from_pipe else 1 << 62)

            # The pool lives as long as the conversion: the writer's chunk encoders run in it too.
            self.pool = pools.enter_context(worker_pool(workers))
            self.workers = workers

            def all_blocks() -> Iterator[TextBlock]:
                nonlocal roles
                index = data_bytes = 0
                for source, header in headers:
                    if roles is None:
                        roles = self._roles(header.names)
                        self._start(roles, ParsePlan(tuple(header.names), header.dialect, roles.features, roles.target,
                                                     roles.categorical, o.dtype, o.fill, o.on_bad_lines))
                    # The rows that decide the columns' kinds end a block of their own, whatever the block size.
                    deciding = self.kinds.deciding and data_bytes < o.infer_bytes
                    # With parser processes, a plain file is cut by offsets: they read and count its bytes, not this process.
                    cut = iter_blocks_at_offsets if self.pool is not None and source.plain else iter_blocks
                    for block in cut(source, header, block_bytes=o.block_bytes, start_index=index,
                                     cut_at=o.infer_bytes - data_bytes if deciding else None):
                        index += 1
                        data_bytes += block.size
                        yield block
                        self.bytes_done_current = block.offset + block.size if block.data is None else source.bytes_read
                    self.bytes_done += source.size or source.position  # a pipe: the bytes it gave
                    self.bytes_done_current = 0

            self.bytes_done_current = 0
            blocks = all_blocks()
            first = next(blocks, None)
            if first is None:
                raise SchemaError(f"{self.sources[0]}: no data rows after the header; nothing to convert")

            def chained() -> Iterator[TextBlock]:
                yield first
                yield from blocks

            for block, parsed in parse_in_order(chained(), lambda: self.kinds.plan, self.pool, workers):
                for ready, readable in self.kinds.admit(block, parsed):  # held back while kinds are decided
                    self._consume(readable, ready)
            for ready, readable in self.kinds.flush():
                self._consume(readable, ready)
            if self.rows == 0 and not o.append:  # e.g. only blank lines, or every line skipped as bad
                raise SchemaError(f"{self.sources[0]}: no data rows after the header; nothing to convert")
            self._finish(roles)
            pools.close()
            self.output_file.commit()
        except BaseException as exc:  # nothing is left at the output; a failed write becomes an OutputError
            self.output_file.abandon(exc)
        finally:
            headers.close()  # a failure leaves it waiting at an open input: close that now, not at garbage collection
            pools.close()
        seconds = time.perf_counter() - started
        return ConversionReport(
            output=self.output, rows=self.rows, feature_names=roles.feature_names,
            dtype=str(self.final_dtype), target_names=roles.target_names,
            task=self.summary.task if self.summary else None,
            classes=self.summary.classes if self.summary else [],
            input_bytes=self.bytes_done, output_bytes=self.output.stat().st_size, seconds=seconds,
            bad_lines=self.bad_lines, bad_line_numbers=self.bad_line_numbers, widened=self.widened,
            empty_cell_columns=self.empty_cell_columns, appended=o.append, warnings=tuple(self.warnings),
            categorical_columns=tuple(self.kinds.names_of(CATEGORY)), boolean_columns=tuple(self.kinds.names_of(BOOLEAN)),
            datetime_columns=tuple(self.kinds.names_of(DATETIME)),
        )

    def _expected_bytes(self) -> int | None:
        """Roughly how much data is coming (None: unknown, from a pipe)."""
        return None if self.from_pipe else self.total_bytes

    def _encoders(self) -> dict[str, object]:
        """Compress chunks in the parser processes, a few chunks ahead per process."""
        if self.pool is None:
            return {}
        return {"submit": self.pool.submit, "encode_ahead": 2 * self.workers}

    def _start(self, roles: ColumnRoles, plan: ParsePlan) -> None:
        o = self.options
        template = self.template
        sample_shape = o.sample_shape or (template.sample_shape if template is not None else None)
        check_sample_shape(sample_shape, len(roles.features))
        floor = template.floor() if template is not None and o.dtype == "auto" else ValueRange()
        appended: FileHeader | None = None  # the file appended to
        self.value_range = floor  # --like starts from the template's dtype and widens only if needed
        if o.append:
            shutil.copyfile(self.output, self.tmp)  # the original stays untouched until the rename
            self.writer = H5Writer(self.tmp, mode="r+", expected_bytes=self._expected_bytes(), **self._encoders())
            appended = read_file_header(self.writer.file, self.output)
            self._adopt(roles, appended)
            self.value_range = self.value_range.merge(floor)
        else:
            self.writer = H5Writer(self.tmp, expected_bytes=self._expected_bytes(), **self._encoders())
            start_dtype = np.dtype(o.dtype) if o.dtype != "auto" else smallest_dtype(self.value_range)
            self.writer.create_features(roles.feature_names, start_dtype, chunk_rows=o.chunk_rows,
                                        compression=parse_compression(o.compression))
            if sample_shape:
                self.writer.set_attrs(FEATURES, {SAMPLE_SHAPE: list(sample_shape)})
            self.stats = ColumnStats.empty(len(roles.features))
        if template is not None:  # after the file appended to: its codes come first
            for name, values in template.vocabularies.items():
                vocab = self.categories.setdefault(roles.feature_names.index(name), {})
                for value in values:
                    vocab.setdefault(value, len(vocab))
        stored = self._stored_kinds if o.append else (template.kinds() if template is not None else None)
        self.kinds = ColumnKinds(roles, plan, max_categories=o.max_categories, infer_bytes=o.infer_bytes, stored=stored)
        if roles.target:
            known, known_from = None, ""
            if o.append and appended.task == "classification":
                known, known_from = appended.classes, str(self.output)
            if template is not None and template.classes:
                known, known_from = unite([known or [], template.classes]), known_from or str(template.path)
            task = o.task
            if template is not None and template.task is not None:
                task = template.task
            if o.append and appended.task is not None:
                task = appended.task
            self.targets = TargetCollector(self.scratch, names=roles.target_names, task=task, known_classes=known,
                                           known_from=known_from)

    def _adopt(self, roles: ColumnRoles, header: FileHeader) -> None:
        """Check that the appended-to file has this input's schema; load its stats."""
        f = self.writer.file
        o = self.options
        if header.columns != roles.feature_names:
            raise HeaderMismatchError(_header_difference(self.output, header.columns, str(self.sources[0]),
                                                         roles.feature_names, what="feature columns"))
        stored_target = header.target.columns if header.target is not None else []
        if stored_target != roles.target_names:
            raise HeaderMismatchError(f"{self.output} has target {stored_target or 'none'} but --target gives"
                                      f" {roles.target_names or 'none'}; use the same --target as when it was made")
        self.writer.adopt_features(o.chunk_rows, parse_compression(o.compression))
        self.existing_rows = header.rows
        self.stats = ColumnStats.from_stored(read_stats(f), self.existing_rows)
        # The stored dtype already holds the old rows; it is where widening starts.
        self.value_range = _range_of_dtype(header.dtype, self.stats, header.float32_values)
        vocabularies = read_categories(f)
        for name, (values, counts) in vocabularies.items():
            j = roles.feature_names.index(name)
            self.categories[j] = {v: i for i, v in enumerate(values)}
            self.category_counts[j] = counts
        self._stored_kinds = StoredKinds(str(self.output), frozenset(vocabularies), frozenset(header.booleans),
                                         frozenset(header.datetimes))
        if header.target is not None:
            # Old target rows are re-read from the file and written again with the new ones.
            old = f[TARGET][()]
            if header.task == "classification":
                classes = header.classes
                labels = np.asarray(classes, dtype=object) if all(isinstance(c, str) for c in classes) else np.asarray(classes)
                self._old_target = labels[old]
            else:
                self._old_target = old.astype(np.float64)

    # -- per block ------------------------------------------------------------------------

    def _consume(self, parsed: ParsedBlock, block: TextBlock) -> None:
        if parsed.refusal:  # after the kinds check, which names a text cell first
            raise BadValueError(parsed.refusal)
        o = self.options
        if self.targets is not None and hasattr(self, "_old_target"):
            old, self._old_target = self._old_target, None
            del self._old_target
            if old is not None and len(old):
                self.targets.add(old, source=str(self.output), first_line=0, lines=None)
        features = parsed.features
        vr = parsed.value_range
        stats = parsed.stats
        if parsed.categories:
            features, vr, stats = self._global_codes(parsed, block)
        written = self.value_range  # of the rows before this block: how stored float32 values read back
        self.value_range = written.merge(vr)
        needed = np.dtype(o.dtype) if o.dtype != "auto" else smallest_dtype(self.value_range)
        if not holds(needed, self.value_range):
            if needed == np.float32:
                raise BadValueError(
                    "--dtype float32 cannot give back every value of these features read one way: there are"
                    " integers beyond 2**24, or float32 numbers written out in full (read as they are) beside"
                    " short decimals (read as their shortest decimal); pass --dtype float64"
                )
            if needed == np.float64:  # nothing wider exists
                raise BadValueError(
                    f"{parsed.source}: the features hold integers beyond 2**53 (up to"
                    f" {max(-self.value_range.low, self.value_range.high)}), which a float dtype (for decimals, empty"
                    " cells, or --dtype) cannot hold exactly; --drop the column of large integers, or pass it as --categorical"
                )
            raise BadValueError(
                f"features need a dtype that holds both integers beyond 2**24 and decimals, or codes beyond {needed};"
                " pass --dtype float64, or drop the columns that differ"
            )
        writer = self.writer
        exact = written.float32_equal  # else the stored float32 values stand for their shortest decimals
        if needed != writer.dtype and (o.dtype == "auto" and np.can_cast(writer.dtype, needed, "safe") or o.dtype != "auto"):
            if writer.rows:
                self.widened.append(f"{writer.dtype} -> {needed} at row {writer.rows:,}")
            writer.widen(needed, float32_exact=exact)
        elif needed != writer.dtype:
            # e.g. int16 data then float32-exact decimals: go to a type that holds both
            wider = np.promote_types(writer.dtype, needed)
            self.widened.append(f"{writer.dtype} -> {wider} at row {writer.rows:,}")
            writer.widen(wider, float32_exact=exact)
        writer.append(widen_values(features, writer.dtype, exact=vr.float32_equal))
        self.stats = self.stats.merge(stats)
        if parsed.bad_lines:
            self.bad_lines += len(parsed.bad_lines)
            room = MAX_BAD_LINE_NUMBERS - len(self.bad_line_numbers)
            self.bad_line_numbers.extend(line for line, _ in parsed.bad_lines[:max(room, 0)])
        for name in parsed.int_columns_with_empty:
            if name not in self.empty_cell_columns:
                self.empty_cell_columns.append(name)
        if self.targets is not None and parsed.target is not None:
            self.targets.add(parsed.target, source=parsed.source, first_line=parsed.first_row_line, lines=None,
                             distinct=parsed.target_distinct)
        self.rows += parsed.rows
        self.rows_by_source[parsed.source] = self.rows_by_source.get(parsed.source, 0) + parsed.rows
        if self.on_progress is not None:
            if self.from_pipe:
                self.on_progress(Progress(self.bytes_done, None, self.rows))
            else:
                done = min(self.bytes_done + self.bytes_done_current, self.total_bytes)
                self.on_progress(Progress(done, self.total_bytes, self.rows))

    def _global_codes(self, parsed: ParsedBlock, block: TextBlock) -> tuple[np.ndarray, ValueRange, ColumnStats]:
        features = parsed.features.copy()
        cols = sorted(parsed.categories)
        for j in cols:
            vocab = self.categories.setdefault(j, {})
            lookup = np.array([vocab.setdefault(v, len(vocab)) for v in parsed.categories[j]], dtype=np.float64)
            codes = features[:, j]
            valid = ~np.isnan(codes)
            codes[valid] = lookup[codes[valid].astype(np.int64)] if lookup.size else codes[valid]
            if len(vocab) > self.options.max_categories and self.kinds.bounded(j):
                row = int(np.flatnonzero(codes == self.options.max_categories)[0])
                before = self.category_counts.get(j)
                cells = int(before.sum() if before is not None else 0) + int(np.count_nonzero(valid[: row + 1]))
                raise self.kinds.too_many_values(j, block, row, cells)
            self._count_codes(j, codes, len(vocab))
        vr = parsed.value_range.merge(value_range(features[:, cols]))
        stats = ColumnStats(*(np.array(getattr(parsed.stats, f.name), copy=True) for f in dataclasses.fields(ColumnStats)))
        stats.replace_columns(cols, ColumnStats.of(features[:, cols]))
        return features, vr, stats

    def _count_codes(self, column: int, codes: np.ndarray, size: int) -> None:
        counts = count_codes(codes, size)
        before = self.category_counts.get(column)
        if before is not None:
            counts[: before.size] += before
        self.category_counts[column] = counts

    # -- the end --------------------------------------------------------------------------

    def _finish(self, roles: ColumnRoles) -> None:
        writer = self.writer
        writer.end_features()  # the last chunk goes right after the others, before target and stats
        self.summary = None
        if self.targets is not None:
            self.summary = self.targets.finish(writer, chunk_rows=writer.features.chunks[0])
            self.targets.close()
            if self.summary.warning:
                self.warnings.append(self.summary.warning)
        stored = self.stats.finish()
        for name, values in stored.items():
            writer.write_array(stats_path(name), values)
        if self.summary is not None and self.summary.class_counts is not None:
            writer.write_array(stats_path(CLASS_COUNTS), self.summary.class_counts.astype(np.float64))
        elif stats_path(CLASS_COUNTS) in writer.file:
            del writer.file[stats_path(CLASS_COUNTS)]
        for j, vocab in self.categories.items():
            name = roles.feature_names[j]
            check_storable_text(list(vocab), column=name)
            counts = np.zeros(len(vocab))
            seen = self.category_counts.get(j, counts)
            counts[: seen.size] = seen
            writer.write_categories(name, list(vocab), counts)
        writer.set_column_kinds(boolean=self.kinds.names_of(BOOLEAN), datetime=self.kinds.names_of(DATETIME))
        dates = self.kinds.dates_as_codes()
        for name in dates:
            self.warnings.append(f"column {name!r} looks like dates and is stored as categorical codes;"
                                 f" pass --datetime {name} for seconds since 1970 instead")
        for name in [n for n in identifiers_as_codes(roles.feature_names, self.category_counts) if n not in dates]:
            self.warnings.append(f"column {name!r} looks like an identifier (a distinct value in almost every row)"
                                 f" and is stored as categorical codes, which mean nothing to a model; --drop {name}")
        self.final_dtype = writer.dtype
        if writer.dtype == np.float32:
            writer.set_attrs(FEATURES, {FLOAT32_VALUES: float32_readings(self.value_range)})
        elif FLOAT32_VALUES in writer.features.attrs:  # a float32 file appended to and widened
            del writer.features.attrs[FLOAT32_VALUES]
        total_rows = self.existing_rows + self.rows
        previous_sources = json.loads(writer.file.attrs.get(SOURCES, "[]")) if self.options.append else []
        sources = previous_sources + [
            {"name": source_name(p) if is_stdin(p) else p.name, "bytes": 0 if is_stdin(p) else p.stat().st_size,
             "rows": self.rows_by_source.get(source_name(p), 0)}
            for p in self.sources
        ]
        previous_bad = int(writer.file.attrs.get(BAD_LINES, 0)) if self.options.append else 0
        extra = {
            BAD_LINES: previous_bad + self.bad_lines,
            BAD_LINE_NUMBERS: json.dumps(self.bad_line_numbers),
            OPTIONS: json.dumps(_options_record(self.options)),
        }
        writer.finish(created_by=f"csv2h5 {__version__}", rows=total_rows, sources=sources, extra=extra)

    def _close(self) -> None:
        """Close the files being written after a failure (``self.output_file`` removes them)."""
        if self.writer is not None:
            self.writer.close()
        if self.targets is not None:
            self.targets.close()


def _range_of_dtype(dtype: np.dtype, stats: ColumnStats, float32_values: object = None) -> ValueRange:
    """A ValueRange that the stored rows fit in, from their stored min/max (and, for float32, how they read back)."""
    has = stats.count > 0
    if dtype.kind in "iu":
        low = int(stats.min[has].min()) if has.any() else 0
        high = int(stats.max[has].max()) if has.any() else 0
        # The stats are float64: beyond 2**53 they cannot tell 2**53 from 2**53 + 1 (so count such a
        # bound as beyond: no float type may hold these rows), and 2**63 - 1 reads as 2**63.
        low = max(-(2**63), low - 1 if low <= -FLOAT64_MAX_EXACT_INT else low)
        high = min(2**63 - 1, high + 1 if high >= FLOAT64_MAX_EXACT_INT else high)
        return value_range(np.array([low, high], dtype=np.int64))
    if dtype == np.float32:
        return float32_range(float32_values)
    small = dtype.itemsize <= 2  # float16: every value is a float32 too
    return ValueRange(integral=False, float32_equal=small, float32_shortest=small, float16_exact=small, empty=False)


def _options_record(options: ConvertOptions) -> dict[str, object]:
    record = dataclasses.asdict(options)
    record.pop("workers")
    record.pop("block_bytes")
    return record


def _header_difference(first: object, a: list[str], second: object, b: list[str], *, what: str = "columns") -> str:
    i = first_difference(a, b)
    if i is not None and i < min(len(a), len(b)):
        return (f"{second} does not match {first}: {what} {i} is {b[i]!r} there but {a[i]!r} here;"
                " inputs converted together must share one header")
    return (f"{second} has {len(b)} {what} but {first} has {len(a)};"
            " inputs converted together must share one header")


def convert(sources: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], output: str | os.PathLike[str], *,
            options: ConvertOptions | None = None,
            on_progress: Callable[[Progress], None] | None = None,
            on_notice: Callable[[str], None] | None = None) -> ConversionReport:
    """Convert CSV files into one chunked HDF5 file (see DESIGN: the file, format 1).

    Args:
        sources: one or more CSV files (plain, .gz, .bz2, .xz, or .zst), sharing one header.
        output: the HDF5 file to write; written under a temporary name and renamed at the end.
        options: how to read and store the data.
        on_progress: called after each block with the bytes consumed so far.
        on_notice: called with a line for people about something done on the way, such as
            removing the temporary files a killed conversion to the same output left.

    Returns:
        A ConversionReport.

    Raises:
        Csv2H5Error: bad input or options; nothing is left at ``output``.
    """
    options = options or ConvertOptions()
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = [Path(s) for s in sources]
    out = Path(output)
    _check_paths(paths, out, options)
    return _Conversion(paths, AtomicOutput(out, on_notice=on_notice), options, on_progress).run()
