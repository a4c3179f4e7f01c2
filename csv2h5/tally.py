"""What a conversion counts on the way: rows (per source), bad lines, integer columns with empty cells, bytes read.

It also tells the caller how far the conversion is (``Progress``) after each block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .options import ConvertOptions
from .reader import ParsedBlock, Source, TextBlock
from .reader.source import is_stdin, source_name
from .report import Progress

MAX_BAD_LINE_NUMBERS = 100  # first bad line numbers kept in the report and the file


class Tally:
    """Counts of one conversion's input, and its progress."""

    def __init__(self, sources: Sequence[Path], on_progress: Callable[[Progress], None] | None) -> None:
        self.on_progress = on_progress
        self.total_bytes = sum(p.stat().st_size for p in sources if not is_stdin(p) and p.is_file())
        self.from_pipe = any(is_stdin(p) or (p.exists() and not p.is_file() and not p.is_dir()) for p in sources)
        self.rows = 0
        self.rows_by_source: dict[str, int] = {}
        self.bad_lines = 0
        self.commented_lines = 0  # of bad_lines, those with a comment right after a closing quote
        self.no_target_lines = 0  # of bad_lines, rows with no target
        self.bad_line_numbers: list[int] = []
        self.bad_line_sources: list[str] = []  # the source of each of bad_line_numbers
        self.several = len(sources) > 1
        self.empty_cell_columns: list[str] = []  # integer columns stored as float because of empty cells
        self.whole_if_filled = True  # every value an integer once a --fill goes into those columns' empty cells
        self.bytes_done = 0  # of the sources read to their end
        self.bytes_done_current = 0  # of the source being read

    @property
    def expected_bytes(self) -> int | None:
        """Roughly how much data is coming (None: unknown, from a pipe)."""
        return None if self.from_pipe else self.total_bytes

    def block_read(self, block: TextBlock, source: Source) -> None:
        """A block of ``source`` was handed on: its bytes count as read."""
        # With parser processes, a plain file is cut by offsets: they read its bytes, not this process.
        self.bytes_done_current = block.offset + block.size if block.data is None else source.bytes_read

    def source_read(self, source: Source) -> None:
        self.bytes_done += source.size or source.position  # a pipe: the bytes it gave
        self.bytes_done_current = 0

    def add(self, parsed: ParsedBlock) -> None:
        """Count a block that was written, and tell the caller."""
        if parsed.bad_lines:
            self.bad_lines += len(parsed.bad_lines)
            self.commented_lines += parsed.commented_lines
            self.no_target_lines += parsed.no_target_lines
            room = MAX_BAD_LINE_NUMBERS - len(self.bad_line_numbers)
            kept = parsed.bad_lines[: max(room, 0)]
            self.bad_line_numbers.extend(line for line, _ in kept)
            self.bad_line_sources.extend(parsed.source for _ in kept)
        self.whole_if_filled = self.whole_if_filled and parsed.whole_if_filled
        for name in parsed.int_columns_with_empty:
            if name not in self.empty_cell_columns:
                self.empty_cell_columns.append(name)
        self.rows += parsed.rows
        self.rows_by_source[parsed.source] = self.rows_by_source.get(parsed.source, 0) + parsed.rows
        if self.on_progress is not None:
            if self.from_pipe:
                self.on_progress(Progress(self.bytes_done, None, self.rows))
            else:
                done = min(self.bytes_done + self.bytes_done_current, self.total_bytes)
                self.on_progress(Progress(done, self.total_bytes, self.rows))

    def empty_cell_fields(self, options: ConvertOptions) -> dict[str, object]:
        """The report's integer columns with empty cells, and whether a --fill would have kept the features integer.

        Not with decimals elsewhere, an explicit --dtype, or the dtype and fill of an existing file (--like, --append).
        """
        keeps = self.whole_if_filled and options.dtype == "auto" and not options.append and options.like is None
        return {"empty_cell_columns": self.empty_cell_columns, "fill_keeps_integer": bool(self.empty_cell_columns) and keeps}

    def bad_line_fields(self) -> dict[str, object]:
        """The report's counts of bad lines; where they are says the file too when there were several."""
        places = [
            f"{source}:{line}" if self.several else str(line)
            for source, line in zip(self.bad_line_sources, self.bad_line_numbers)
        ]
        return {
            "bad_lines": self.bad_lines,
            "bad_line_numbers": self.bad_line_numbers,
            "bad_line_places": places,
            "commented_lines": self.commented_lines,
            "no_target_lines": self.no_target_lines,
        }

    def sources_record(self, sources: Sequence[Path]) -> list[dict[str, object]]:
        """Each source's name, size and rows, as the file records them."""
        return [
            {
                "name": source_name(p) if is_stdin(p) else p.name,
                "bytes": 0 if is_stdin(p) else p.stat().st_size,
                "rows": self.rows_by_source.get(source_name(p), 0),
            }
            for p in sources
        ]
