"""The conversion engine: read blocks -> parse (in parallel) -> schema -> write.

No typer or rich here: options come in as a ConvertOptions, progress goes out
through a callback, problems leave as Csv2H5Error subclasses.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._version import __version__
from .errors import BadValueError, SchemaError
from .featurerows import widen_values
from .inputs import expand_patterns, given_twice
from .kinds import BOOLEAN, CATEGORY, DATETIME, code_warnings
from .layout import BAD_LINE_NUMBERS, BAD_LINES, CLASS_COUNTS, OPTIONS, SOURCES, stats_path
from .options import ConvertOptions, options_record, worker_count
from .output import AtomicOutput, check_output, output_path
from .reader import (
    Dialect,
    ParsedBlock,
    ParsePlan,
    Source,
    TextBlock,
    iter_blocks,
    iter_blocks_at_offsets,
    parse_block,
    read_headers,
    row_lines,
)
from .reader.source import default_delimiter, is_stdin
from .report import ConversionReport, Progress
from .schema import ColumnRoles, resolve_columns
from .shared import SharedArray, received
from .start import Start, settled_options, start
from .stats import ColumnStats
from .tally import Tally
from .target import TargetSummary

if TYPE_CHECKING:  # the parser processes' modules (and multiprocessing) load only when a pool starts
    from .like import Template  # and the template's only with --like
    from .processes import ParserProcesses

__all__ = ["ConversionReport", "Progress", "convert"]

Headers = Iterator[tuple[Source, object]]  # each input, open, with its header
# Parsers' results taken at once by the main process (``pool.parse_in_order``), once the kinds are decided.
_BATCH = 4
# Blocks' summaries merged at once: one pass over 16 blocks' columns costs about what one merge did.
_STATS_BATCH = 16


def _check_paths(sources: Sequence[Path], output: Path, options: ConvertOptions) -> None:
    if not sources:
        raise SchemaError("no input files given; pass one or more CSV files")
    files = [s for s in sources if not is_stdin(s)]
    if len(sources) - len(files) > 1:  # the second would find it empty
        raise SchemaError("- (standard input) is given more than once; it can be read once: pass it once")
    if twice := given_twice(files):
        raise SchemaError(f"{twice}; its rows would be stored twice: pass each input once")
    check_output(output, inputs=files, overwrite=options.overwrite, append=options.append)


def _headers(sources: Sequence[Path], options: ConvertOptions) -> Headers:
    """Each input opened with its header read, in the dialect the options give (``read_headers``)."""
    o = options
    delimiter = o.delimiter or default_delimiter(sources[0], o.decimal)
    dialect = Dialect(delimiter=delimiter, comment=o.comment, decimal=o.decimal, na_values=o.na_values)
    return read_headers(
        sources,
        dialect=dialect,
        encoding=o.encoding,
        header=o.header,
        names=o.names,
        skip_rows=o.skip_rows,
        block_bytes=o.block_bytes,
        skip_bad=o.on_bad_lines != "error",
    )


def _roles(names: list[str], options: ConvertOptions, template: Template | None, source: str, warnings: list[str]) -> ColumnRoles:
    o = options
    if template is not None:
        roles, found = template.roles(names, source=source)
        warnings.extend(found)
        return roles
    return resolve_columns(
        names, target=o.target, features=o.features, drop=o.drop, categorical=o.categorical, datetime=o.datetime, header=o.header
    )


class _Conversion:
    """One conversion's streaming and finishing, through parts built before it starts (``Start``)."""

    def __init__(
        self, sources: list[Path], options: ConvertOptions, roles: ColumnRoles, begun: Start, tally: Tally, warnings: list[str]
    ) -> None:
        self.sources = sources
        self.options = options
        self.roles = roles
        self.writer = begun.writer
        self.kinds = begun.kinds
        self.dtype = begun.dtype
        self.vocabularies = begun.vocabularies
        self.stats = begun.stats
        self._block_stats: list[ColumnStats] = []  # blocks' summaries not merged yet (merged in batches)
        self.targets = begun.targets
        if self.targets is not None:  # numeric labels a parser process left in shared memory are copied by one
            self.targets.copies = self.writer.row_copies
        self.existing_rows = begun.existing_rows
        self.tally = tally
        self.warnings = warnings
        self.summary: TargetSummary | None = None  # of the target, once finished
        self.final_dtype = self.writer.dtype  # the features' dtype, kept for the report: the writer closes the file

    def stream(self, headers: Iterable[tuple[Source, object]], pool: ParserProcesses | None, workers: int) -> None:
        """Parse, check and write every block of every input."""
        blocks = self._blocks(headers, pool)
        first = next(blocks, None)
        if first is None:
            raise SchemaError(f"{self.sources[0]}: no data rows after the header; nothing to convert")
        # Each block is parsed with the plan of its time: deciding the kinds changes it (codes for a text column).
        chained = itertools.chain([first], blocks)
        if pool is None:
            parsed_blocks = self._parse_here(chained)
        else:
            from .pool import parse_in_order

            parsed_blocks = parse_in_order(
                chained, lambda: self.kinds.plan, pool, workers, self.writer.row_copies, self._flush_held, self._batch
            )
        with contextlib.closing(parsed_blocks):  # an error here cleans up the parsers' shared files at once
            for block, parsed in parsed_blocks:
                if not self._rows_by_parsers(block):
                    parsed.features = received(parsed.features)
                if self.kinds.deciding:  # held back, perhaps until the parsers' shared files are cleaned up
                    parsed.target = received(parsed.target)
                for ready, readable in self.kinds.admit(block, parsed):  # held back while kinds are decided
                    self._consume(readable, ready)
        if self.tally.rows == 0 and not self.options.append:  # e.g. only blank lines, or every line skipped as bad
            raise SchemaError(f"{self.sources[0]}: no data rows after the header; nothing to convert")

    def _parse_here(self, blocks: Iterator[TextBlock]) -> Iterator[tuple[TextBlock, ParsedBlock]]:
        """Each block parsed in this process, with the plan of its time (no parser processes: a small input)."""
        for block in blocks:
            yield block, parse_block(block, self.kinds.plan)
        self._flush_held()

    def _batch(self) -> int:
        """Parsers' results to take at once: one while the kinds are decided (blocks sent before it may be parsed again)."""
        return 1 if self.kinds.deciding else _BATCH

    def _flush_held(self) -> None:
        """The blocks still held to decide the kinds (a short input), written before the parsers' shared files go."""
        for ready, readable in self.kinds.flush():
            self._consume(readable, ready)

    def _blocks(self, headers: Iterable[tuple[Source, object]], pool: ParserProcesses | None) -> Iterator[TextBlock]:
        o = self.options
        index = data_bytes = 0
        for source, header in headers:
            # The rows that decide the columns' kinds end a block of their own, whatever the block size.
            deciding = self.kinds.deciding and data_bytes < o.infer_bytes
            # With parser processes, a plain file is cut by offsets: they read and count its bytes, not this process.
            cut = iter_blocks_at_offsets if pool is not None and source.plain else iter_blocks
            for block in cut(
                source,
                header,
                block_bytes=o.block_bytes,
                start_index=index,
                cut_at=o.infer_bytes - data_bytes if deciding else None,
            ):
                index += 1
                data_bytes += block.size
                yield block
                self.tally.block_read(block, source)
            self.tally.source_read(source)

    def _rows_by_parsers(self, block: TextBlock) -> bool:
        """Whether a block's rows may stay in shared memory, to be copied into the output by a parser process.

        Only for new, uncompressed output (the writer decides), blocks the parsers read by
        offset from a plain file, and with no categorical column (its codes are rewritten
        here). Blocks held while the kinds are decided qualify too: one that a decision makes
        categorical is parsed again here, and the advice that counts a column's values maps
        the rows it needs. Else the rows come here.
        """
        return self.writer.places_rows and block.data is None and not self.kinds.plan.categorical

    def _consume(self, parsed: ParsedBlock, block: TextBlock) -> None:
        if parsed.refusal:  # after the kinds check, which names a text cell first
            raise BadValueError(parsed.refusal)
        features = parsed.features
        vr = parsed.value_range
        stats = parsed.stats
        if parsed.categories:
            features, vr, stats = self.vocabularies.global_codes(parsed, block, self.kinds)
        self.dtype.admit(vr, self.writer, parsed.source, fill=self.options.fill if parsed.took_fill else None)
        if isinstance(features, SharedArray):  # rows a parser copies into the file, if the file takes them as they are
            if self.writer.place(features.name, features.shape[0], np.dtype(features.dtype)):
                features = None
            else:
                features = received(features)
        if features is not None:
            self.writer.append(widen_values(features, self.writer.dtype, exact=vr.float32_equal))
        self._block_stats.append(stats)
        if len(self._block_stats) >= _STATS_BATCH:
            self._merge_stats()
        if self.targets is not None and parsed.target is not None:
            self.targets.add(
                parsed.target,
                source=parsed.source,
                first_line=parsed.first_row_line,
                lines=lambda: row_lines(block, self.kinds.plan),  # found again only for an error
                distinct=parsed.target_distinct,
                rounded=parsed.target_rounded,
            )
        self.tally.add(parsed)

    def _merge_stats(self) -> None:
        if self._block_stats:
            self.stats = self.stats.merge(ColumnStats.combine(self._block_stats))
            self._block_stats = []

    # -- the end --------------------------------------------------------------------------

    def finish(self) -> None:
        writer = self.writer
        writer.end_features()  # the last chunk goes right after the others, before target and stats
        if self.targets is not None:
            self.summary = self.targets.finish(writer, chunk_rows=writer.features.chunks[0])
            self.targets.close()
            self.warnings.extend(self.summary.warnings)
        self._merge_stats()
        for name, values in self.stats.finish().items():
            writer.write_array(stats_path(name), values)
        if self.summary is not None and self.summary.class_counts is not None:
            writer.write_array(stats_path(CLASS_COUNTS), self.summary.class_counts.astype(np.float64))
        elif stats_path(CLASS_COUNTS) in writer.file:
            del writer.file[stats_path(CLASS_COUNTS)]
        self.vocabularies.write(writer, self.roles.feature_names)
        writer.set_column_kinds(boolean=self.kinds.names_of(BOOLEAN), datetime=self.kinds.names_of(DATETIME))
        kinds, names = self.kinds, self.roles.feature_names
        self.warnings.extend(
            code_warnings(kinds.dates_as_codes(), names, self.vocabularies.counts, self.stats, like=self.options.like)
        )
        self.final_dtype = writer.dtype
        self.dtype.write(writer)
        appended = self.options.append
        previous_sources = json.loads(writer.file.attrs.get(SOURCES, "[]")) if appended else []
        previous_bad = int(writer.file.attrs.get(BAD_LINES, 0)) if appended else 0
        extra = {
            BAD_LINES: previous_bad + self.tally.bad_lines,
            BAD_LINE_NUMBERS: json.dumps(self.tally.bad_line_numbers),
            OPTIONS: json.dumps(options_record(self.options)),
        }
        writer.finish(
            created_by=f"csv2h5 {__version__}",
            rows=self.existing_rows + self.tally.rows,
            sources=previous_sources + self.tally.sources_record(self.sources),
            extra=extra,
        )

    def report(self, output: Path, seconds: float) -> ConversionReport:
        t = self.tally
        summary = self.summary
        return ConversionReport(
            output=output,
            rows=t.rows,
            feature_names=self.roles.feature_names,
            dtype=str(self.final_dtype),
            target_names=self.roles.target_names,
            task=summary.task if summary else None,
            classes=summary.classes if summary else [],
            input_bytes=t.bytes_done,
            output_bytes=output.stat().st_size,
            seconds=seconds,
            **t.bad_line_fields(),
            widened=self.dtype.widened,
            **t.empty_cell_fields(self.options),
            appended=self.options.append,
            warnings=tuple(self.warnings),
            categorical_columns=tuple(self.kinds.names_of(CATEGORY)),
            boolean_columns=tuple(self.kinds.names_of(BOOLEAN)),
            datetime_columns=tuple(self.kinds.names_of(DATETIME)),
        )


def _run(
    sources: list[Path],
    output_file: AtomicOutput,
    options: ConvertOptions,
    template: Template | None,
    on_progress: Callable[[Progress], None] | None,
) -> ConversionReport:
    """Set up (the pool, the first header, the writer and the columns' kinds), stream, finish; all or nothing."""
    started = time.perf_counter()
    o = options
    tally = Tally(sources, on_progress)
    pools = contextlib.ExitStack()
    headers = _headers(sources, o)
    try:
        workers = worker_count(o, tally.total_bytes if not tally.from_pipe else 1 << 62)
        # The pool lives as long as the conversion: the writer's chunk encoders run in it too.
        pool = pools.enter_context(_worker_pool(workers))
        encoders = {"submit": pool.submit, "encode_ahead": 2 * workers} if pool is not None else {}
        if pool is not None and not o.like:  # --append's file and compressed output decline it in the writer
            encoders["rows_by_parsers"] = True
        first = next(headers)  # the inputs are checked to be there: a first one exists
        _, header = first
        warnings: list[str] = []
        roles = _roles(header.names, o, template, str(sources[0]), warnings)
        plan = ParsePlan(
            tuple(header.names), header.dialect, roles.features, roles.target, roles.categorical, o.dtype, o.fill, o.on_bad_lines
        )
        begun = start(
            roles, plan, o, output_file, template, source=str(sources[0]), expected_bytes=tally.expected_bytes, encoders=encoders
        )
        conversion = _Conversion(sources, o, roles, begun, tally, warnings)
        conversion.stream(itertools.chain([first], headers), pool, workers)
        conversion.finish()
        pools.close()
        output_file.commit()
    except BaseException as exc:  # nothing is left at the output; a failed write becomes an OutputError
        output_file.abandon(exc)
    finally:
        headers.close()  # a failure leaves it waiting at an open input: close that now, not at garbage collection
        pools.close()
    return conversion.report(output_file.output, time.perf_counter() - started)


def _worker_pool(workers: int) -> contextlib.AbstractContextManager[ParserProcesses | None]:
    """The parser processes, or None for none: then their modules (and multiprocessing) are not even loaded."""
    if workers <= 0:
        return contextlib.nullcontext()
    from .pool import worker_pool

    return worker_pool(workers)


def convert(
    sources: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    options: ConvertOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> ConversionReport:
    """Convert CSV files into one chunked HDF5 file (see DESIGN: the file, format 1).

    Args:
        sources: one or more CSV files (plain, .gz, .bz2, .xz, or .zst), sharing one header, or glob
            patterns (``parts/*.csv``, sorted by name) for them; ``-`` is standard input.
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
    paths = expand_patterns([sources] if isinstance(sources, (str, os.PathLike)) else sources)
    out = output_path(output)
    _check_paths(paths, out, options)
    output_file = AtomicOutput(out, on_notice=on_notice)
    template = None
    if options.like:
        from .like import read_template

        template = read_template(options.like)
    return _run(paths, output_file, settled_options(options, out, template), template, on_progress)
