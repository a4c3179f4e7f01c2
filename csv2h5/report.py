"""What a conversion tells its caller: ``Progress`` on the way, a ``ConversionReport`` at the end."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from .errors import counted


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
    empty_cell_columns: list[str]  # integer columns whose empty cells are NaN, so stored as float
    appended: bool = False
    warnings: tuple[str, ...] = ()  # one line each: things that converted but deserve a look
    categorical_columns: tuple[str, ...] = ()  # stored as codes (named, or found by --categorical auto)
    boolean_columns: tuple[str, ...] = ()  # true/false, stored as 1/0
    datetime_columns: tuple[str, ...] = ()  # stored as seconds since 1970-01-01 UTC
    bad_line_places: list[str] = dataclasses.field(default_factory=list)  # "12", or "day-2.csv:12" from several inputs
    # Whether --fill VALUE would have kept the features integer: they are float because of those empty cells alone
    # (not of decimals elsewhere, an explicit --dtype, or the file --append or --like took its dtype and fill from).
    fill_keeps_integer: bool = False
    commented_lines: int = 0  # of bad_lines, those with a --comment character right after a closing quote ("abc"#x)
    no_target_lines: int = 0  # of bad_lines, rows whose target is empty (or missing by --na-values)

    @property
    def first_bad_lines(self) -> str:
        """The first ten bad lines, for a message: line numbers, and their files when several were read."""
        return ", ".join((self.bad_line_places or list(map(str, self.bad_line_numbers)))[:10])

    @property
    def bad_lines_skipped(self) -> str:
        """The warning of --on-bad-lines warn: how many lines were skipped, and the first of them."""
        why = [
            *(["the wrong number of fields"] if self.bad_lines > self.commented_lines + self.no_target_lines else []),
            *(["a --comment character right after a closing quote"] if self.commented_lines else []),
            *(["no target"] if self.no_target_lines else []),
        ]
        return f"skipped {counted(self.bad_lines, 'line')} with {' or '.join(why)} (first: {self.first_bad_lines})"

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
            f"{'appended' if self.appended else 'wrote'} {counted(self.rows, 'row')} x {counted(cols, 'feature')}"
            f" ({self.dtype}){target}"
            f" to {self.output} ({self.output_bytes / 1e6:,.1f} MB)",
            f"read {self.input_bytes / 1e6:,.1f} MB in {self.seconds:.1f} s:"
            f" {self.mb_per_s:,.1f} MB/s, {self.rows_per_s:,.0f} rows/s",
        ]
        if self.bad_lines:
            lines.append(f"skipped {counted(self.bad_lines, 'bad line')} (first: {self.first_bad_lines})")
        if self.widened:
            lines.append("dtype widened: " + "; ".join(self.widened))
        if self.fill_keeps_integer:
            lines.append(
                f"integer columns stored as float because of empty cells (NaN): {_names(self.empty_cell_columns)};"
                " --fill VALUE keeps them integer"
            )
        elif self.empty_cell_columns:
            lines.append(f"integer columns with empty cells, stored as NaN: {_names(self.empty_cell_columns)}")
        for what, names in (
            ("text stored as codes", self.categorical_columns),
            ("booleans stored as 1/0", self.boolean_columns),
            ("dates stored as seconds since 1970 UTC", self.datetime_columns),
        ):
            if names:
                lines.append(f"{what}: {_names(names)}")
        return "\n".join(lines)


def _names(names: Sequence[str], shown: int = 10) -> str:
    """Up to ``shown`` names, then how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
