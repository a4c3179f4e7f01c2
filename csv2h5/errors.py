"""Errors the user can fix. Each message says what was found, where, and how to fix it.

Every class takes a single message string, so errors raised in parser worker
processes pickle back to the main process unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class Csv2H5Error(Exception):
    """A problem the user can fix: bad input, bad options."""


class OptionError(Csv2H5Error, ValueError):
    """An option value that is not allowed, or options that contradict each other."""


class InputError(Csv2H5Error, OSError):
    """An input that cannot be read: missing, a directory, unreadable, truncated."""


class DamagedFileError(InputError):
    """A csv2h5 file whose header or rows cannot be read back: damaged since it was written."""


class OutputExistsError(Csv2H5Error, FileExistsError):
    """The output file exists and neither --overwrite nor --append was given."""


class OutputError(Csv2H5Error, OSError):
    """The output cannot be written: missing directory, disk full, no permission."""


class ColumnNotFoundError(Csv2H5Error, KeyError):
    """A column named in the options is not in the header."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class HeaderMismatchError(Csv2H5Error):
    """Several inputs, or an input and the file appended to, disagree on columns."""


class BadLineError(Csv2H5Error):
    """A CSV line that cannot be read as the header says it should."""


class BadValueError(Csv2H5Error, ValueError):
    """A cell that cannot be stored: not a number, or not held by the chosen dtype."""


class SchemaError(Csv2H5Error):
    """Data whose shape does not fit what was asked (sample shape, task, append)."""


class NotCsv2H5FileError(Csv2H5Error):
    """An HDF5 file that was not written by csv2h5, or by a newer version."""


# Hints for lines that may be comments, when no --comment was given. Only ``#``: --comment ends a
# line at its character wherever it is, and ``%`` or ``/`` in cells (50%, 1/2/2026) would be cut.
COMMENT_LINE_HINT = "a comment line? pass --comment '#'"
COMMENTED_HEADER_HINT = "the header begins with '#': a comment line above the real header? pass --comment '#'"


def begins_comment(text: str | bytes) -> bool:
    """Whether a line (or header name) begins with ``#``, after spaces and tabs."""
    return text.lstrip(" \t" if isinstance(text, str) else b" \t")[:1] in ("#", b"#")


def column_not_found(name: str, columns: Sequence[str], *, option: str) -> ColumnNotFoundError:
    """Build the error for an unknown column, suggesting the closest header name."""
    same_case = [c for c in columns if c.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, list(columns), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    split = [i for i, c in enumerate(columns) if "," in str(c) and name in str(c).split(",")]
    if split:  # a list option cut the name at its comma
        shown = columns[split[0]]
        hint = f"column {shown!r} holds a comma, which separates names in {option}: give its index ({option} {split[0]}); "
    if not close and columns and str(columns[0]).startswith("#"):
        hint = f"{COMMENTED_HEADER_HINT}; "
    shown = ", ".join(repr(c) for c in columns[:8]) + (", ..." if len(columns) > 8 else "")
    return ColumnNotFoundError(f"{option} {name!r} is not a column; {hint}the columns are {shown} ({len(columns)} in all)")


def excerpt(text: object, limit: int = 40) -> str:
    """Return ``text`` shortened for a one-line message (cells can be huge)."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def number_text(value: float) -> str:
    """A number as messages show it: a whole one without ``.0`` (``--fill 0``), a huge or fractional one as Python prints it."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) <= 2**53 else repr(value)  # 1e+300, not its 301 digits


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 row``, ``1,234 rows``: a count and its noun, for messages and summaries (``plural``: when not noun + s)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {plural or noun + 's'}"
